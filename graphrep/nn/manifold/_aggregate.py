"""The one place where the manifold layers reach the fused aggregation of :mod:`graphrep.ops`.

Neighbour sums go through the fused :func:`graphrep.ops.aggregate` (no [E, F] gather); per-edge messages that
depend on both endpoints (aggregation at each node's own point) are scattered. Semantics: for edges ``j -> i`` given as
``edge_index = [sources; destinations]``, ``out[i] = sum_j w_ji * x[j]``.
"""

from __future__ import annotations

import torch
from torch_geometric.utils import scatter

from ...ops import CSR, aggregate


def aggregate_sum(
    x: torch.Tensor, edge_index: torch.Tensor, num_nodes: int, edge_weight: torch.Tensor | None = None
) -> torch.Tensor:
    r""":math:`\text{out}_i = \sum_{j\to i} w_{ji} x_j`.

    Shapes: x (N, F), edge_index (2, E), edge_weight (E,) or None -> (N, F)
    """
    return aggregate(x, CSR.of(edge_index, num_nodes), reduce="sum", edge_weight=edge_weight)


def scatter_sum(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    r"""Sum of rows of ``src`` into ``dim_size`` groups (per-edge messages, graph pooling).

    Shapes: src (M, F), index (M,) -> (dim_size, F)
    """
    return scatter(src, index, dim=0, dim_size=dim_size, reduce="sum")
