r"""Dynamic k-nearest-neighbour graphs in feature space (Vision GNN, Han et al. 2022; DGCNN, Wang et al. 2019).

At every layer the edges are rebuilt from the current node features: node ``i`` receives from its ``k`` nearest nodes
of the same graph,

.. math::
    \mathcal N_k(i) = \operatorname{arg\,topk}_{j \ne i,\ \mathrm{graph}(j) = \mathrm{graph}(i)} -\lVert h_i - h_j \rVert_2,

with edges ``j -> i``. All graphs of a batch are searched at once on a padded ``[B, n_max, n_max]`` distance tensor
(no Python loop over graphs); a graph with ``n`` nodes contributes ``min(k, n - 1)`` edges per node.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

__all__ = ["knn_edges", "DynamicKNNConv"]


def knn_edges(x: Tensor, batch: Tensor | None, k: int) -> Tensor:
    """Edges ``j -> i`` from each node's ``k`` nearest neighbours (Euclidean, self excluded) within its graph.

    Ties are broken towards the lower node index. Distances are computed without gradient (the edge set is discrete).

    Shapes:
        x ``[N, F]``, batch ``[N]`` (sorted graph ids; ``None``: one graph) -> edge_index ``[2, sum_i min(k, n_i - 1)]``
        sorted by target, then by distance
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if batch is None:
        batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
    with torch.no_grad():
        dense, mask = to_dense_batch(x.detach(), batch)  # [B, n_max, F], [B, n_max]
        b, n_max, _ = dense.shape
        dist = torch.cdist(dense, dense)  # [B, n_max, n_max]
        invalid = ~mask[:, None, :] | torch.eye(n_max, dtype=torch.bool, device=x.device)[None]
        dist = dist.masked_fill(invalid, float("inf"))
        kk = min(k, max(n_max - 1, 1))
        # a stable sort keeps ties in index order (topk does not promise it)
        order = torch.sort(dist, dim=-1, stable=True).indices[..., :kk]  # [B, n_max, kk]
        found = torch.gather(dist, -1, order).isfinite() & mask[..., None]
        start = torch.cumsum(mask.sum(1), 0) - mask.sum(1)  # first global node id per graph
        src = (order + start[:, None, None])[found]
        dst = (torch.arange(n_max, device=x.device)[None, :, None] + start[:, None, None]).expand_as(order)[found]
    return torch.stack([src, dst])


class DynamicKNNConv(nn.Module):
    """A graph convolution applied on the k-NN graph of its own input features (rebuilt at every call).

    Args:
        conv: any layer called as ``conv(x, edge_index)`` (e.g. :class:`graphrep.nn.GINConv`, ``SAGEConv``).
        k: neighbours per node.

    Shapes: x ``[N, F_in]``, batch ``[N]`` -> ``[N, F_out]``
    """

    def __init__(self, conv: Callable[[Tensor, Tensor], Tensor], k: int = 8):
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.conv, self.k = conv, k

    def forward(self, x: Tensor, batch: Tensor | None = None) -> Tensor:
        return self.conv(x, knn_edges(x, batch, self.k))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.conv}, k={self.k})"
