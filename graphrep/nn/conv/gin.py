"""GIN convolution on the fused sum aggregation."""

from __future__ import annotations

from typing import Callable, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.nn.inits import reset

from graphrep.ops import CSR, aggregate

from .fused import FusedMessagePassing, as_csr


class GINConv(FusedMessagePassing):
    r"""Graph isomorphism operator (Xu et al., 2019), equal to PyG's ``GINConv`` with the same weights:

    .. math::
        \mathbf{x}^{\prime}_i = h_{\mathbf{\Theta}} \Big( (1 + \epsilon) \mathbf{x}_i
        + \sum_{j \in \mathcal{N}(i)} \mathbf{x}_j \Big)

    Args:
        nn: the network :math:`h_{\mathbf{\Theta}}` (e.g. an MLP).
        eps: initial :math:`\epsilon`; ``train_eps`` makes it a parameter.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})` or a bipartite pair
          :math:`((|\mathcal{V}_s|, F_{in}), (|\mathcal{V}_t|, F_{in}))`, ``edge_index`` :math:`(2, |\mathcal{E}|)` or
          a :class:`graphrep.ops.CSR`
        - **output:** :math:`(|\mathcal{V}_t|, F_{out})`
    """

    def __init__(self, nn: Callable, eps: float = 0.0, train_eps: bool = False, **kwargs):
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.nn = nn
        self.initial_eps = eps
        if train_eps:
            self.eps = torch.nn.Parameter(torch.empty(1))
        else:
            self.register_buffer("eps", torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        reset(self.nn)
        self.eps.data.fill_(self.initial_eps)

    def forward(self, x: Union[Tensor, Tuple[Tensor, Tensor]], edge_index: Union[Tensor, CSR]) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        csr = as_csr(edge_index, x_src.size(0), x_dst.size(0))
        out = self.propagate(csr, x=x_src)
        return self.nn(out + (1 + self.eps) * x_dst)

    def message_and_aggregate(self, csr: CSR, x: Tensor) -> Tensor:
        return aggregate(x, csr, "sum")

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(nn={self.nn})"
