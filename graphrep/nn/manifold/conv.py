r"""Graph convolution on a manifold that aggregates in a tangent space (HGCN, Chami et al. 2019)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from geometries import Manifold

from ._aggregate import aggregate_sum, scatter_sum
from .linear import ManifoldLinear


class ManifoldGCNConv(nn.Module):
    r"""Manifold GCN layer: Mobius linear map, neighbourhood aggregation in a tangent space, optional activation.

    With :math:`h_i = (W\otimes x_i)\oplus b` and GCN weights :math:`w_{ji}` (symmetric normalisation with self-loops
    by default):

    - at the origin (default, fused): :math:`y_i = \exp_0\big(\sigma(\sum_{j\to i} w_{ji}\log_0 h_j)\big)`; the sum is
      one call of the fused aggregation over node features;
    - at each node's own point (``local=True``): :math:`y_i = \exp_{h_i}\big(\sum_{j\to i} w_{ji}\log_{h_i} h_j\big)`,
      then :math:`\sigma` through the origin's tangent space; its messages depend on both endpoints, so it
      materialises one ``(E, D)`` tensor of log maps and scatters it.

    Args:
        manifold: manifold of the input and of the linear map.
        in_channels, out_channels: intrinsic dimensions.
        local: aggregate at each node's own point instead of the origin.
        act: activation on intrinsic tangent coordinates (``None``: none).
        manifold_out: manifold of the output (default ``manifold``), e.g. a different learnable curvature.
        bias, normalize, add_self_loops: as in :class:`torch_geometric.nn.GCNConv`.

    Shapes:
        x (N, manifold.point_dim(in_channels)), edge_index (2, E), edge_weight (E,) or None
        -> (N, manifold_out.point_dim(out_channels))
    """

    def __init__(
        self,
        manifold: Manifold,
        in_channels: int,
        out_channels: int,
        *,
        local: bool = False,
        act: Callable[[torch.Tensor], torch.Tensor] | None = None,
        manifold_out: Manifold | None = None,
        bias: bool = True,
        normalize: bool = True,
        add_self_loops: bool = True,
    ):
        super().__init__()
        self.manifold = manifold
        self.manifold_out = manifold if manifold_out is None else manifold_out
        self.lin = ManifoldLinear(manifold, in_channels, out_channels, bias=bias)
        self.local, self.act = local, act
        self.normalize, self.add_self_loops = normalize, add_self_loops

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor | None = None) -> torch.Tensor:
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
        n = x.size(0)
        if edge_index.numel() and int(edge_index.max()) >= n:
            raise ValueError(f"edge_index refers to node {int(edge_index.max())} but x has only {n} rows")
        if self.normalize:
            edge_index, edge_weight = gcn_norm(
                edge_index, edge_weight, n, improved=False, add_self_loops=self.add_self_loops, dtype=x.dtype
            )
        m = self.manifold
        h = self.lin(x)
        if not self.local:
            v = aggregate_sum(m.to_tangent0(h), edge_index, n, edge_weight)
        else:
            src, dst = edge_index
            msg = m.logmap(h.index_select(0, dst), h.index_select(0, src))
            if edge_weight is not None:
                msg = msg * edge_weight.unsqueeze(-1).to(msg.dtype)
            y = m.expmap(h, scatter_sum(msg, dst, n))
            if self.act is None and self.manifold_out is m:
                return y
            v = m.to_tangent0(y)
        if self.act is not None:
            v = self.act(v)
        return self.manifold_out.from_tangent0(v)
