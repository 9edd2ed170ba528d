"""GraphSAGE convolution: PyG's ``SAGEConv`` whose hot path is graphrep's fused mean/sum/max/min aggregation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torch_geometric.nn as pyg
from torch import Tensor
from torch_geometric.typing import Adj, OptPairTensor, Size

from graphrep.ops import aggregate

from .fused import FusedDispatch


class SAGEConv(FusedDispatch, pyg.SAGEConv):
    r"""GraphSAGE operator (Hamilton et al., 2017): PyG's ``SAGEConv`` (same arguments, parameters and call forms)
    whose hot path is graphrep's fused aggregation:

    .. math::
        \mathbf{x}^{\prime}_i = \mathbf{W}_1 \mathbf{x}_i + \mathbf{W}_2 \cdot
        \mathrm{aggr}_{j \in \mathcal{N}(i)} \mathbf{x}_j

    ``aggr`` ``"mean"``, ``"sum"``/``"add"``, ``"max"`` and ``"min"`` run fused (nodes without in-edges get 0, as in
    PyG); every other aggregation PyG offers (``"lstm"``, ``"std"``, lists, ``Aggregation`` modules) runs on PyG's
    path. ``edge_index`` may also be a :class:`graphrep.ops.CSR`. Which calls take which path:
    :mod:`graphrep.nn.conv.fused`.

    Shapes:
        - **input:** :math:`(|\mathcal{V}|, F_{in})` or :math:`((|\mathcal{V_s}|, F_{s}), (|\mathcal{V_t}|, F_{t}))`
          (``x_t`` may be ``None`` with ``size``), ``edge_index`` :math:`(2, |\mathcal{E}|)`, a CSR or ``adj_t``
        - **output:** :math:`(|\mathcal{V}_t|, F_{out})`
    """

    # PyG reads the signature of its generated `propagate` from these; it cannot parse it from this subclass
    propagate_type = {"x": OptPairTensor}

    def forward(self, x: Tensor | OptPairTensor, edge_index: Adj, size: Size = None) -> Tensor:
        if not torch.jit.is_scripting():
            sizes = self._fused_sizes(x, edge_index, size) if self._reduce() is not None else None
            if sizes is not None:
                return self._fused_forward(*sizes, edge_index)
            edge_index, size = self._pyg_graph(edge_index, size)
        return super().forward(x, edge_index, size)

    def _fused_forward(self, x_src: Tensor, x_dst: Tensor | None, num_dst: int, edge_index) -> Tensor:
        csr = self._fused_csr(edge_index, x_src.size(0), num_dst)
        if self.project and hasattr(self, "lin"):
            x_src = self.lin(x_src).relu()
        out = self.lin_l(aggregate(x_src, csr, self._reduce()))
        if self.root_weight and x_dst is not None:
            out = out + self.lin_r(x_dst)
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return out
