"""GCN convolution on the fused weighted-sum aggregation, with the symmetric normalisation done on the CSR."""

from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import zeros

from graphrep.ops import CSR, aggregate, segment

from .fused import FusedMessagePassing, as_csr


def gcn_norm(
    csr: CSR, edge_weight: Optional[Tensor] = None, improved: bool = False, add_self_loops: bool = True,
    dtype: Optional[torch.dtype] = None,
) -> Tuple[CSR, Tensor]:
    r"""Symmetric GCN normalisation :math:`\hat{D}^{-1/2} \hat{A} \hat{D}^{-1/2}` with
    :math:`\hat{A} = A + \mathrm{fill} \cdot I` (fill 1, or 2 when ``improved``), as PyG's ``gcn_norm`` with
    ``add_remaining_self_loops``: every node ends with exactly one self-loop, keeping the weight of an existing one
    (the last, in edge order, if there are several). Degrees are in-degrees (weighted).

    Unlike PyG, ``improved=True`` also gives the added loops weight 2 when ``edge_weight`` is None (PyG then
    falls back to weight 1 for all edges).

    Returns the graph the weights belong to (``csr.with_self_loops()`` when loops are added) and the normalised
    weights [E'] in its edge order.
    """
    w = edge_weight
    if w is None:
        w = torch.ones(csr.num_edges, dtype=dtype or torch.float32, device=csr.device)
    if add_self_loops:
        graph = csr.with_self_loops()
        n = csr.num_dst
        kept = graph._derived["source_edge"][: graph.num_edges - n]
        loops = graph._derived["removed_loops"]
        loop_w = torch.full((n,), 2.0 if improved else 1.0, dtype=w.dtype, device=w.device)
        if edge_weight is not None and loops.numel() > 0:
            nodes = csr.col[csr.inv_perm[loops]]
            last = torch.full((n,), -1, dtype=torch.long, device=w.device).scatter_reduce(0, nodes, loops, "amax")
            has = last >= 0
            loop_w = torch.where(has, w[last.clamp(min=0)], loop_w)
        w = torch.cat([w[kept], loop_w])
    else:
        graph = csr
    deg = segment(w[graph.perm].unsqueeze(1), graph.rowptr, "sum").squeeze(1)
    dinv = deg.pow(-0.5)
    dinv = dinv.masked_fill(dinv == float("inf"), 0.0)
    src, dst = graph.col[graph.inv_perm], graph.row[graph.inv_perm]
    return graph, dinv[src] * w * dinv[dst]


class GCNConv(FusedMessagePassing):
    r"""Graph convolution (Kipf and Welling, 2017), equal to PyG's ``GCNConv`` with the same weights:

    .. math::
        \mathbf{X}^{\prime} = \hat{\mathbf{D}}^{-1/2} \hat{\mathbf{A}} \hat{\mathbf{D}}^{-1/2} \mathbf{X}
        \mathbf{\Theta} + \mathbf{b}

    Args:
        in_channels, out_channels: sizes. improved: :math:`\hat{A} = A + 2I`. cached: keep the normalised graph of
        the first call (transductive use). add_self_loops: default ``normalize``. normalize: apply ``gcn_norm``.
        bias: add :math:`\mathbf{b}`.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, ``edge_index`` :math:`(2, |\mathcal{E}|)` or a
          :class:`graphrep.ops.CSR`, edge weights :math:`(|\mathcal{E}|)` *(optional)*
        - **output:** :math:`(|\mathcal{V}|, F_{out})`
    """

    def __init__(
        self, in_channels: int, out_channels: int, improved: bool = False, cached: bool = False,
        add_self_loops: Optional[bool] = None, normalize: bool = True, bias: bool = True, **kwargs,
    ):
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError("GCNConv adds self-loops only together with normalize=True")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached = improved, cached
        self.add_self_loops, self.normalize = add_self_loops, normalize
        self._cached_graph: Optional[Tuple[CSR, Tensor]] = None
        self.lin = Linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        if bias:
            self.bias = Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        self.lin.reset_parameters()
        zeros(self.bias)
        self._cached_graph = None

    def forward(self, x: Tensor, edge_index: Union[Tensor, CSR], edge_weight: Optional[Tensor] = None) -> Tensor:
        if not isinstance(x, Tensor):
            raise ValueError("GCNConv takes one node-feature tensor (no bipartite input); try SAGEConv")
        csr = as_csr(edge_index, x.size(0))
        if self.normalize:
            if self._cached_graph is not None:
                csr, edge_weight = self._cached_graph
            else:
                csr, edge_weight = gcn_norm(csr, edge_weight, self.improved, self.add_self_loops, x.dtype)
                if self.cached:
                    self._cached_graph = (csr, edge_weight)
        out = self.propagate(csr, x=self.lin(x), edge_weight=edge_weight)
        if self.bias is not None:
            out = out + self.bias
        return out

    def message_and_aggregate(self, csr: CSR, x: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        return aggregate(x, csr, "sum", edge_weight)
