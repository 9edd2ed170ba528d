"""GraphSAGE convolution on the fused mean/max/min/sum aggregation."""

from __future__ import annotations

from typing import Tuple, Union

import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.dense.linear import Linear

from graphrep.ops import CSR, aggregate

from .fused import AGGR, FusedMessagePassing, as_csr


class SAGEConv(FusedMessagePassing):
    r"""GraphSAGE operator (Hamilton et al., 2017), equal to PyG's ``SAGEConv`` with the same weights:

    .. math::
        \mathbf{x}^{\prime}_i = \mathbf{W}_1 \mathbf{x}_i + \mathbf{W}_2 \cdot
        \mathrm{aggr}_{j \in \mathcal{N}(i)} \mathbf{x}_j

    Args:
        in_channels: int, or a pair (source, target) for bipartite graphs.
        out_channels: output size.
        aggr: ``"mean"`` (default), ``"max"``, ``"min"`` or ``"sum"``/``"add"`` (nodes without in-edges aggregate to 0).
        normalize: L2-normalise the output. root_weight: add :math:`\mathbf{W}_1 \mathbf{x}_i`.
        project: first map source features through ``relu(lin(x))``. bias: bias of :math:`\mathbf{W}_2`.

    Shapes:
        - **input:** :math:`(|\mathcal{V}|, F_{in})` or :math:`((|\mathcal{V_s}|, F_{s}), (|\mathcal{V_t}|, F_{t}))`,
          ``edge_index`` :math:`(2, |\mathcal{E}|)` or a :class:`graphrep.ops.CSR`
        - **output:** :math:`(|\mathcal{V}_t|, F_{out})`
    """

    def __init__(
        self,
        in_channels: Union[int, Tuple[int, int]],
        out_channels: int,
        aggr: str = "mean",
        normalize: bool = False,
        root_weight: bool = True,
        project: bool = False,
        bias: bool = True,
        **kwargs,
    ):
        if aggr not in AGGR:
            raise ValueError(f"SAGEConv aggr must be one of {sorted(AGGR)}, got {aggr!r}")
        self.reduce = AGGR[aggr]
        super().__init__(aggr=aggr, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.normalize = normalize
        self.root_weight = root_weight
        self.project = project
        if isinstance(in_channels, int):
            in_channels = (in_channels, in_channels)
        if project:
            self.lin = Linear(in_channels[0], in_channels[0], bias=True)
        self.lin_l = Linear(in_channels[0], out_channels, bias=bias)
        if root_weight:
            self.lin_r = Linear(in_channels[1], out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        if self.project:
            self.lin.reset_parameters()
        self.lin_l.reset_parameters()
        if self.root_weight:
            self.lin_r.reset_parameters()

    def forward(self, x: Union[Tensor, Tuple[Tensor, Tensor]], edge_index: Union[Tensor, CSR]) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        csr = as_csr(edge_index, x_src.size(0), x_dst.size(0))
        if self.project:
            x_src = self.lin(x_src).relu()
        out = self.lin_l(self.propagate(csr, x=x_src))
        if self.root_weight:
            out = out + self.lin_r(x_dst)
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return out

    def message_and_aggregate(self, csr: CSR, x: Tensor) -> Tensor:
        return aggregate(x, csr, self.reduce)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, aggr={self.reduce})"
