r"""Graph convolution on a manifold that aggregates in a tangent space (HGCN, Chami et al. 2019)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from geometries import Manifold

from ...ops import CSR, aggregate
from ..conv.gcn import csr_gcn_norm
from .linear import ManifoldLinear


class ManifoldGCNConv(nn.Module):
    r"""Manifold GCN layer: Mobius linear map, neighbourhood aggregation in a tangent space, optional activation.

    With :math:`h_i = (W\otimes x_i)\oplus b` and GCN weights :math:`w_{ji}` (symmetric normalisation with self-loops
    by default):

    - at the origin (default, fused): :math:`y_i = \exp_0\big(\sigma(\sum_{j\to i} w_{ji}\log_0 h_j)\big)`; the sum is
      one call of the fused aggregation over node features;
    - at each node's own point (``local=True``): :math:`y_i = \exp_{h_i}\big(\sum_{j\to i} w_{ji}\log_{h_i} h_j\big)`,
      then :math:`\sigma` through the origin's tangent space; its messages depend on both endpoints, so it
      materialises one ``(E, D)`` tensor of log maps, reduced per node in CSR order.

    The graph may be an ``edge_index`` (its CSR is built once per tensor and cached, see
    :meth:`graphrep.ops.CSR.of`) or a prebuilt :class:`graphrep.ops.CSR`; the normalisation is
    :func:`graphrep.nn.conv.csr_gcn_norm` (cached on the CSR for unweighted graphs), the same as graphrep's ``GCNConv``.

    Args:
        manifold: manifold of the input and of the linear map.
        in_channels, out_channels: intrinsic dimensions.
        local: aggregate at each node's own point instead of the origin.
        act: activation on intrinsic tangent coordinates (``None``: none).
        manifold_out: manifold of the output (default ``manifold``), e.g. a different learnable curvature.
        bias, normalize, add_self_loops: as in :class:`torch_geometric.nn.GCNConv`.

    Shapes:
        x (N, manifold.point_dim(in_channels)), edge_index (2, E) or a CSR over N nodes, edge_weight (E,) or None
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

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | CSR,
                edge_weight: torch.Tensor | None = None) -> torch.Tensor:
        n = x.size(0)
        if isinstance(edge_index, CSR):
            if (edge_index.num_src, edge_index.num_dst) != (n, n):
                raise ValueError(f"the CSR is for {edge_index.num_src} -> {edge_index.num_dst} nodes but x has "
                                 f"{n} rows")
            csr = edge_index
        else:
            if not isinstance(edge_index, torch.Tensor) or edge_index.dim() != 2 or edge_index.size(0) != 2:
                raise ValueError(f"edge_index must have shape (2, E), got {tuple(getattr(edge_index, 'shape', ()))}")
            if edge_index.numel() and int(edge_index.max()) >= n:
                raise ValueError(f"edge_index refers to node {int(edge_index.max())} but x has only {n} rows")
            csr = CSR.of(edge_index, n)
        if self.normalize:
            csr, edge_weight = csr_gcn_norm(csr, edge_weight, add_self_loops=self.add_self_loops, dtype=x.dtype)
        m = self.manifold
        h = self.lin(x)
        if not self.local:
            v = aggregate(m.to_tangent0(h), csr, "sum", edge_weight)
        else:
            src, dst = csr.edge_index()
            msg = m.logmap(h.index_select(0, dst), h.index_select(0, src))
            if edge_weight is not None:
                msg = msg * edge_weight.unsqueeze(-1).to(msg.dtype)
            y = m.expmap(h, aggregate(msg, csr.edges_to_rows(), "sum"))
            if self.act is None and self.manifold_out is m:
                return y
            v = m.to_tangent0(y)
        if self.act is not None:
            v = self.act(v)
        return self.manifold_out.from_tangent0(v)
