"""GAT convolution: attention scores per edge, fused edge softmax, then a fused weighted sum per head."""

from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros

from graphrep.ops import CSR, aggregate, edge_softmax

from .fused import FusedMessagePassing, as_csr


class GATConv(FusedMessagePassing):
    r"""Graph attention operator (Velickovic et al., 2018), equal to PyG's ``GATConv`` (without ``edge_dim``) with
    the same weights:

    .. math::
        \alpha_{ij} = \mathrm{softmax}_{j \in \mathcal{N}(i) \cup \{i\}} \Big( \mathrm{LeakyReLU}\big(
        \mathbf{a}_s^\top \mathbf{\Theta}_s \mathbf{x}_j + \mathbf{a}_t^\top \mathbf{\Theta}_t \mathbf{x}_i \big)
        \Big), \qquad
        \mathbf{x}^{\prime}_i = \sum_{j} \alpha_{ij} \mathbf{\Theta}_s \mathbf{x}_j \quad \text{(per head)}

    Args:
        in_channels: int, or (source, target) sizes for separate source/target maps (bipartite graphs).
        out_channels: per head. heads: number of heads. concat: concatenate heads (else average).
        negative_slope: of the LeakyReLU. dropout: on the attention coefficients while training.
        add_self_loops: replace self-loops by one per node (square graphs). bias, residual: as in PyG.

    Shapes:
        - **input:** :math:`(|\mathcal{V}|, F_{in})` or :math:`((|\mathcal{V}_s|, F_s), (|\mathcal{V}_t|, F_t))`,
          ``edge_index`` :math:`(2, |\mathcal{E}|)` or a :class:`graphrep.ops.CSR`
        - **output:** :math:`(|\mathcal{V}_t|, H \cdot F_{out})` if ``concat`` else :math:`(|\mathcal{V}_t|, F_{out})`
    """

    def __init__(
        self, in_channels: Union[int, Tuple[int, int]], out_channels: int, heads: int = 1, concat: bool = True,
        negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True, bias: bool = True,
        residual: bool = False, **kwargs,
    ):
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.heads, self.concat = heads, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.add_self_loops, self.residual = add_self_loops, residual
        self.lin = self.lin_src = self.lin_dst = None
        if isinstance(in_channels, int):
            self.lin = Linear(in_channels, heads * out_channels, bias=False, weight_initializer="glorot")
        else:
            self.lin_src = Linear(in_channels[0], heads * out_channels, False, weight_initializer="glorot")
            self.lin_dst = Linear(in_channels[1], heads * out_channels, False, weight_initializer="glorot")
        self.att_src = Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = Parameter(torch.empty(1, heads, out_channels))
        total = out_channels * (heads if concat else 1)
        if residual:
            n_in = in_channels if isinstance(in_channels, int) else in_channels[1]
            self.res = Linear(n_in, total, bias=False, weight_initializer="glorot")
        else:
            self.register_parameter("res", None)
        if bias:
            self.bias = Parameter(torch.empty(total))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        for lin in (self.lin, self.lin_src, self.lin_dst, self.res):
            if lin is not None:
                lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    def forward(self, x: Union[Tensor, Tuple[Tensor, Tensor]], edge_index: Union[Tensor, CSR]) -> Tensor:
        H, C = self.heads, self.out_channels
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        csr = as_csr(edge_index, x_src.size(0), x_dst.size(0))
        res = self.res(x_dst) if self.res is not None else None
        if self.lin is not None:
            h_src = self.lin(x_src).view(-1, H, C)
            h_dst = h_src if x_dst is x_src else self.lin(x_dst).view(-1, H, C)
        else:
            h_src = self.lin_src(x_src).view(-1, H, C)
            h_dst = self.lin_dst(x_dst).view(-1, H, C)
        a_src = (h_src * self.att_src).sum(-1)
        a_dst = (h_dst * self.att_dst).sum(-1)
        if self.add_self_loops:
            if csr.num_src != csr.num_dst:
                raise ValueError("GATConv(add_self_loops=True) needs a square graph; pass add_self_loops=False")
            csr = csr.with_self_loops()
        out = self.propagate(csr, x=h_src, a_src=a_src, a_dst=a_dst)
        out = out.reshape(-1, H * C) if self.concat else out.mean(dim=1)
        if res is not None:
            out = out + res
        if self.bias is not None:
            out = out + self.bias
        return out

    def attention(self, csr: CSR, a_src: Tensor, a_dst: Tensor) -> Tensor:
        """Attention coefficients [E, H] in the CSR's edge order (after dropout when training)."""
        src, dst = csr.col[csr.inv_perm], csr.row[csr.inv_perm]
        scores = F.leaky_relu(a_src[src] + a_dst[dst], self.negative_slope)
        alpha = edge_softmax(scores, csr)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def message_and_aggregate(self, csr: CSR, x: Tensor, a_src: Tensor, a_dst: Tensor) -> Tensor:
        alpha = self.attention(csr, a_src, a_dst)
        heads = [aggregate(x[:, h], csr, "sum", alpha[:, h]) for h in range(self.heads)]
        return torch.stack(heads, dim=1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"
