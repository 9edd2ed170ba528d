"""Assemble a PyG ``Batch`` directly from batched tensors, keeping ``to_data_list()`` / ``get_example()`` working.

Vectorised transforms produce the node and edge tensors of many graphs at once; going through ``Data`` objects and
``Batch.from_data_list`` would reintroduce the per-graph Python loop they exist to avoid. This builder writes the same
bookkeeping (``batch``, ``ptr``, slice and increment dictionaries) that ``from_data_list`` writes.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from graphrep.data.transforms.segments import exclusive_cumsum


def build_batch(
    *,
    x: Tensor,
    edge_index: Tensor,
    edge_attr: Tensor | None,
    node_graph: Tensor,
    edge_graph: Tensor,
    num_graphs: int,
    graph_attrs: dict[str, Tensor] | None = None,
) -> Batch:
    """A ``Batch`` of ``num_graphs`` graphs.

    Nodes and edges must already be grouped by graph (``node_graph`` and ``edge_graph`` non-decreasing); ``edge_index``
    holds batch-global node indices.

    Shapes:
        x: [N, ...], edge_index: [2, E], edge_attr: [E, F] or None, node_graph: [N], edge_graph: [E],
        graph_attrs: name -> [num_graphs] (one value per graph)
    """
    device = x.device
    node_ptr = exclusive_cumsum(torch.bincount(node_graph, minlength=num_graphs))
    edge_ptr = exclusive_cumsum(torch.bincount(edge_graph, minlength=num_graphs))
    zeros = torch.zeros(num_graphs, dtype=torch.long, device=device)
    graph_ptr = torch.arange(num_graphs + 1, device=device)

    out = Batch(_base_cls=Data)
    out.x = x
    out.edge_index = edge_index
    slice_dict: dict[str, Tensor] = {"x": node_ptr, "edge_index": edge_ptr}
    inc_dict: dict[str, Tensor] = {"x": zeros, "edge_index": node_ptr[:-1]}
    if edge_attr is not None:
        out.edge_attr = edge_attr
        slice_dict["edge_attr"] = edge_ptr
        inc_dict["edge_attr"] = zeros
    for name, value in (graph_attrs or {}).items():
        out[name] = value
        slice_dict[name] = graph_ptr
        inc_dict[name] = zeros
    out.batch = node_graph
    out.ptr = node_ptr
    out._num_graphs = num_graphs
    out._slice_dict = slice_dict
    out._inc_dict = inc_dict
    return out
