r"""A city's venue transition graph from its training check-ins, and the undirected weighting a GNN reads it with.

Consecutive training check-ins of one trajectory (:func:`~graphrep.data.mobility.checkins.trajectory_ids`) give the
directed edges of :func:`graphrep.data.modalities.trajectory.transition_graph` (weight = transition count). For message
passing, :func:`gnn_edges` merges the two directions and compresses the counts:

.. math::
    w_{uv} = w_{vu} = \log\big(1 + n_{u \to v} + n_{v \to u}\big), \qquad u \ne v,

(self-transitions dropped: a venue's own embedding already enters the residual update).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from ..errors import InvalidInputError
from ..modalities.trajectory import transition_graph
from .checkins import CheckIns

__all__ = ["training_transition_graph", "gnn_edges"]


def training_transition_graph(checkins: CheckIns, rows: np.ndarray, trajectory: np.ndarray) -> Data:
    """The directed transition graph over all ``checkins.num_venues`` venues from the check-ins selected by ``rows``.

    Shapes: ``rows`` ``[N]`` bool (the training rows; a trajectory's selected rows must be consecutive check-ins, as a
    chronological split's are), ``trajectory`` ``[N]`` non-decreasing ids. Selected trajectory pieces with a single
    check-in have no transition; their number is ``data.skipped_short``.
    """
    if rows.shape != (len(checkins),) or trajectory.shape != (len(checkins),):
        raise InvalidInputError(f"rows {rows.shape} and trajectory {trajectory.shape} must both be [{len(checkins)}]")
    index = np.flatnonzero(rows)
    if index.size == 0:
        raise InvalidInputError(f"{checkins.city}: no training check-ins to build the transition graph from")
    pieces = np.split(index, np.flatnonzero(np.diff(trajectory[index])) + 1)
    visits = [np.stack([checkins.venue[p], checkins.time[p]], 1) for p in pieces]
    if all(len(v) < 2 for v in visits):  # a graph with no edge (transition_graph refuses it)
        return Data(edge_index=torch.zeros(2, 0, dtype=torch.long), edge_weight=torch.zeros(0),
                    num_nodes=checkins.num_venues, skipped_short=len(visits))
    return transition_graph(visits, num_venues=checkins.num_venues, skip_short=True)


def gnn_edges(graph: Data) -> tuple[Tensor, Tensor]:
    """``(edge_index [2, E'], edge_weight [E'])``: both directions, log-compressed counts, no self-loops (formula
    above)."""
    ei, w = graph.edge_index, graph.edge_weight
    keep = ei[0] != ei[1]
    ei, w = to_undirected(ei[:, keep], w[keep], num_nodes=graph.num_nodes, reduce="sum")
    return ei, torch.log1p(w)
