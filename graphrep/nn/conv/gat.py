"""GAT convolution: PyG's ``GATConv`` whose hot path computes attention scores per edge, a fused edge softmax and a
fused weighted sum per head on a CSR."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
import torch_geometric.nn as pyg
from torch import Tensor
from torch_geometric.typing import Adj, OptPairTensor, OptTensor, Size
from torch_geometric.utils.loop import compute_loop_attr

from graphrep.ops import CSR, aggregate, edge_softmax

from .fused import FusedDispatch


class GATConv(FusedDispatch, pyg.GATConv):
    r"""Graph attention operator (Velickovic et al., 2018): PyG's ``GATConv`` (same arguments, parameters and call
    forms: ``edge_dim``/``edge_attr``, ``fill_value``, bipartite input, ``return_attention_weights``) whose hot path
    runs on graphrep's fused ops:

    .. math::
        \alpha_{ij} = \mathrm{softmax}_{j \in \mathcal{N}(i) \cup \{i\}} \Big( \mathrm{LeakyReLU}\big(
        \mathbf{a}_s^\top \mathbf{\Theta}_s \mathbf{x}_j + \mathbf{a}_t^\top \mathbf{\Theta}_t \mathbf{x}_i
        + \mathbf{a}_e^\top \mathbf{\Theta}_e \mathbf{e}_{ji} \big) \Big), \qquad
        \mathbf{x}^{\prime}_i = \sum_{j} \alpha_{ij} \mathbf{\Theta}_s \mathbf{x}_j \quad \text{(per head)}

    Self-loops (``add_self_loops``) replace existing ones, for nodes ``0..min(N_s, N_t)-1`` (PyG's rule), with edge
    features from ``fill_value``. ``edge_index`` may also be a :class:`graphrep.ops.CSR` (its self-looped graph is
    cached on it). ``aggr`` ``"add"``/``"sum"``, ``"mean"``, ``"max"`` and ``"min"`` run fused;
    ``flow="target_to_source"`` and other aggregations run on PyG's path. Which calls take which path:
    :mod:`graphrep.nn.conv.fused`.

    Shapes:
        - **input:** :math:`(|\mathcal{V}|, F_{in})` or :math:`((|\mathcal{V}_s|, F_s), (|\mathcal{V}_t|, F_t))`,
          ``edge_index`` :math:`(2, |\mathcal{E}|)`, a CSR or ``adj_t``, ``edge_attr`` :math:`(|\mathcal{E}|, D)`
          *(optional)*
        - **output:** :math:`(|\mathcal{V}_t|, H \cdot F_{out})` if ``concat`` else :math:`(|\mathcal{V}_t|, F_{out})`;
          with ``return_attention_weights``, also ``(edge_index, alpha)`` with ``alpha`` :math:`(|\mathcal{E}'|, H)`
    """

    # PyG reads the signature of its generated `propagate` from these; it cannot parse it from this subclass
    propagate_type = {"x": OptPairTensor, "alpha": Tensor}
    edge_updater_type = {"alpha": OptPairTensor, "edge_attr": OptTensor}

    def forward(self, x: Tensor | OptPairTensor, edge_index: Adj, edge_attr: OptTensor = None, size: Size = None,
                return_attention_weights: Optional[bool] = None):
        if not torch.jit.is_scripting():
            fused = self.flow == "source_to_target" and self._reduce() is not None
            sizes = self._fused_sizes(x, edge_index, size) if fused else None
            if sizes is not None and (edge_attr is None or isinstance(edge_attr, Tensor)):
                x_src, x_dst, num_dst = sizes
                loops = min(size) if size is not None else min(x_src.size(0), num_dst if x_dst is not None
                                                              else x_src.size(0))
                square_attr = edge_attr is None or self.lin_edge is None or x_src.size(0) == num_dst
                if square_attr:
                    return self._fused_forward(x, x_src, x_dst, num_dst, edge_index, edge_attr, loops,
                                               return_attention_weights)
            edge_index, size = self._pyg_graph(edge_index, size)
        return super().forward(x, edge_index, edge_attr, size, return_attention_weights)

    def _fused_forward(self, x, x_src: Tensor, x_dst: Optional[Tensor], num_dst: int, edge_index,
                       edge_attr: Optional[Tensor], loops: int, return_attention_weights: Optional[bool]):
        H, C = self.heads, self.out_channels
        csr = self._fused_csr(edge_index, x_src.size(0), num_dst)
        res = self.res(x_dst) if self.res is not None and x_dst is not None else None
        lin_src = self.lin if self.lin is not None else self.lin_src
        lin_dst = self.lin if self.lin is not None else self.lin_dst
        h_src = lin_src(x_src).view(-1, H, C)
        h_dst = None
        if x_dst is not None:
            h_dst = h_src if (x_dst is x_src and lin_dst is lin_src) else lin_dst(x_dst).view(-1, H, C)
        a_src = (h_src * self.att_src).sum(-1)
        a_dst = None if h_dst is None else (h_dst * self.att_dst).sum(-1)
        if self.lin_edge is None:
            edge_attr = None
        if self.add_self_loops:
            looped = csr.add_self_loops(loops)
            if edge_attr is not None:
                kept = looped.source_edge[: looped.csr.num_edges - loops]
                kept_attr = edge_attr[kept]
                loop_attr = compute_loop_attr(csr.edge_index()[:, kept], kept_attr, loops, False, self.fill_value)
                edge_attr = torch.cat([kept_attr, loop_attr], 0)
            csr = looped.csr
        alpha = self._attention(csr, a_src, a_dst, edge_attr)
        # one fused call for all heads, on the graph copied per head (cached on the CSR)
        out = aggregate(h_src.reshape(-1, C), csr.per_head(H), self._reduce(), alpha.reshape(-1)).view(-1, H, C)
        out = out.reshape(-1, H * C) if self.concat else out.mean(dim=1)
        if res is not None:
            out = out + res
        if self.bias is not None:
            out = out + self.bias
        if return_attention_weights:
            return out, (csr.edge_index(), alpha)
        return out

    def _attention(self, csr: CSR, a_src: Tensor, a_dst: Optional[Tensor], edge_attr: Optional[Tensor]) -> Tensor:
        """Attention coefficients [E, H] in the CSR's edge order (after dropout when training)."""
        src, dst = csr.edge_index()
        scores = a_src.index_select(0, src)
        if a_dst is not None:
            scores = scores + a_dst.index_select(0, dst)
        if edge_attr is not None:
            e = self.lin_edge(edge_attr.view(-1, 1) if edge_attr.dim() == 1 else edge_attr)
            scores = scores + (e.view(-1, self.heads, self.out_channels) * self.att_edge).sum(-1)
        if csr.num_edges == 0:
            return scores
        alpha = edge_softmax(F.leaky_relu(scores, self.negative_slope), csr)
        return F.dropout(alpha, p=self.dropout, training=self.training)
