"""The one place where the manifold layers reach the fused aggregation of :mod:`graphrep.ops`.

Until ``graphrep.ops`` is merged the layers fall back to :func:`torch_geometric.utils.scatter`; after the merge
this module can import ``aggregate``/``CSR`` directly. Semantics (both paths): for edges ``j -> i`` given as
``edge_index = [sources; destinations]``, ``out[i] = sum_j w_ji * x[j]``.
"""

from __future__ import annotations

import torch
from torch_geometric.utils import scatter

try:  # pragma: no cover - depends on which branches are merged
    from graphrep.ops import CSR, aggregate

    HAVE_OPS = True
except ImportError:  # graphrep.ops not available yet
    CSR = aggregate = None
    HAVE_OPS = False


def aggregate_sum(
    x: torch.Tensor, edge_index: torch.Tensor, num_nodes: int, edge_weight: torch.Tensor | None = None
) -> torch.Tensor:
    r""":math:`\text{out}_i = \sum_{j\to i} w_{ji} x_j`.

    Shapes: x (N, F), edge_index (2, E), edge_weight (E,) or None -> (N, F)
    """
    if HAVE_OPS:
        csr = CSR.from_edge_index(edge_index, num_nodes)
        return aggregate(x, csr, reduce="sum", edge_weight=edge_weight)
    msg = x.index_select(0, edge_index[0])
    if edge_weight is not None:
        msg = msg * edge_weight.unsqueeze(-1).to(msg.dtype)
    return scatter(msg, edge_index[1], dim=0, dim_size=num_nodes, reduce="sum")


def scatter_sum(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    r"""Sum of rows of ``src`` into ``dim_size`` groups (per-edge messages, graph pooling).

    Shapes: src (M, F), index (M,) -> (dim_size, F)
    """
    return scatter(src, index, dim=0, dim_size=dim_size, reduce="sum")
