"""GIN and GINE convolutions: PyG's ``GINConv``/``GINEConv`` whose hot path runs on graphrep's fused ops."""

from __future__ import annotations

import torch
import torch_geometric.nn as pyg
from torch import Tensor
from torch_geometric.typing import Adj, OptPairTensor, OptTensor, Size

from graphrep.ops import CSR, aggregate
from graphrep.ops.edge_relu import relu_edge_sum
from graphrep.ops.edge_relu import supports as relu_edge_sum_supports
from graphrep.ops.gin_sum import gin_sum
from graphrep.ops.gin_sum import supports as gin_sum_supports

from .fused import FusedDispatch


class GINConv(FusedDispatch, pyg.GINConv):
    r"""Graph isomorphism operator (Xu et al., 2019): PyG's ``GINConv`` (same arguments, parameters and call forms)
    whose neighbour sum is graphrep's fused aggregation (no ``[E, F]`` gather; eager float32 CPU sums with their
    root term are one autograd node, :func:`graphrep.ops.gin_sum.gin_sum`, a bag sum over the edges grouped per
    node, the other calls :func:`graphrep.ops.aggregate`):

    .. math::
        \mathbf{x}^{\prime}_i = h_{\mathbf{\Theta}} \Big( (1 + \epsilon) \mathbf{x}_i
        + \sum_{j \in \mathcal{N}(i)} \mathbf{x}_j \Big)

    ``edge_index`` may also be a :class:`graphrep.ops.CSR`. Which calls take which path:
    :mod:`graphrep.nn.conv.fused`.

    Shapes:
        - **input:** :math:`(|\mathcal{V}|, F_{in})` or :math:`((|\mathcal{V}_s|, F_{in}), (|\mathcal{V}_t|, F_{in}))`
          (``x_t`` may be ``None`` with ``size``), ``edge_index`` :math:`(2, |\mathcal{E}|)`, a CSR or ``adj_t``
        - **output:** :math:`(|\mathcal{V}_t|, F_{out})`
    """

    # PyG reads the signature of its generated `propagate` from these; it cannot parse it from this subclass
    propagate_type = {"x": OptPairTensor}

    def forward(self, x: Tensor | OptPairTensor, edge_index: Adj, size: Size = None) -> Tensor:
        if not torch.jit.is_scripting():
            sizes = self._fused_sizes(x, edge_index, size) if self._reduce() is not None else None
            if sizes is not None:
                x_src, x_dst, num_dst = sizes
                if (self._reduce() == "sum" and gin_sum_supports(x_src) and self.eps.dtype == x_src.dtype
                        and (x_dst is None or x_dst.dtype == x_src.dtype)):
                    graph = self._bag_graph(edge_index, x_src.size(0), num_dst)
                    return self.nn(gin_sum(x_src, graph, num_dst, x_dst, self.eps))
                out = aggregate(x_src, self._fused_csr(edge_index, x_src.size(0), num_dst), self._reduce())
                return self.nn(_add_root(out, x_dst, self.eps))
            edge_index, size = self._pyg_graph(edge_index, size)
        return super().forward(x, edge_index, size)


class GINEConv(FusedDispatch, pyg.GINEConv):
    r"""GIN with edge features (Hu et al., 2020): PyG's ``GINEConv`` (same arguments, parameters and call forms) on
    graphrep's ops:

    .. math::
        \mathbf{x}^{\prime}_i = h_{\mathbf{\Theta}} \Big( (1 + \epsilon) \mathbf{x}_i
        + \sum_{j \in \mathcal{N}(i)} \mathrm{ReLU}(\mathbf{x}_j + \mathbf{e}_{j,i}) \Big)

    On a CPU (float32 or float64) gather, add, ReLU and sum are one autograd node with a hand-written backward
    (:func:`graphrep.ops.edge_relu.relu_edge_sum`): where torch runs one thread, two compiled loops over the edges
    that never store the ``[E, F]`` messages; with more, torch ops with one ``[E, F]`` buffer per pass instead of
    PyG's four (float32 sums are bag sums over the edges grouped per node, sorted once per edge tensor); otherwise
    the messages are reduced in CSR order by :func:`graphrep.ops.aggregate` over :meth:`CSR.edges_to_rows`.
    ``edge_dim`` maps edge features through a linear layer first.

    Shapes:
        - **input:** as :class:`GINConv`, plus ``edge_attr`` :math:`(|\mathcal{E}|, D)`
        - **output:** :math:`(|\mathcal{V}_t|, F_{out})`
    """

    # PyG reads the signature of its generated `propagate` from these; it cannot parse it from this subclass
    propagate_type = {"x": OptPairTensor, "edge_attr": OptTensor}

    def forward(self, x: Tensor | OptPairTensor, edge_index: Adj, edge_attr: OptTensor = None,
                size: Size = None) -> Tensor:
        if not torch.jit.is_scripting():
            sizes = self._fused_sizes(x, edge_index, size) if self._reduce() is not None else None
            if sizes is not None and isinstance(edge_attr, Tensor) and edge_attr.dim() == 2:
                e = edge_attr if self.lin is None else self.lin(edge_attr)
                if e.size(-1) == sizes[0].size(-1):  # else PyG's path raises its error
                    return self._fused_forward(*sizes, edge_index, e)
            edge_index, size = self._pyg_graph(edge_index, size)
        return super().forward(x, edge_index, edge_attr, size)

    def _fused_forward(self, x_src: Tensor, x_dst: Tensor | None, num_dst: int, edge_index, e: Tensor) -> Tensor:
        if (relu_edge_sum_supports(x_src, e) and self.eps.dtype == x_src.dtype
                and (x_dst is None or x_dst.dtype == x_src.dtype)):
            if x_src.dtype == torch.float32:  # bag sums over the edge groups
                edges = self._bag_graph(edge_index, x_src.size(0), num_dst)
            elif isinstance(edge_index, Tensor):  # target_to_source: messages flow from edge_index[1] to [0]
                edges = edge_index if self.flow == "source_to_target" else edge_index.flip(0)
            else:
                edges = self._fused_csr(edge_index, x_src.size(0), num_dst)
            return self.nn(relu_edge_sum(x_src, e, edges, num_dst, x_dst, self.eps))
        if isinstance(edge_index, Tensor) and self.flow == "source_to_target":
            # the messages live on edges: no transposed graph is needed, so one sort per edge tensor, not two
            rows, src = CSR.edge_rows_of(edge_index, (x_src.size(0), num_dst)), edge_index[0]
        else:
            csr = self._fused_csr(edge_index, x_src.size(0), num_dst)
            rows, src = csr.edges_to_rows(), csr.edge_index()[0]
        x_j = x_src.index_select(0, src)
        # in place on the fresh gather: two [E, F] tensors fewer to allocate per layer (autograd keeps what it needs)
        msg = (x_j.add_(e) if x_j.dtype == torch.promote_types(x_j.dtype, e.dtype) else x_j + e).relu_()
        out = aggregate(msg, rows, self._reduce())
        return self.nn(_add_root(out, x_dst, self.eps))


def _add_root(out: Tensor, x_dst: Tensor | None, eps: Tensor) -> Tensor:
    """``out + (1 + eps) * x_dst`` (GIN's root term) as one fused op; ``out`` when there are no target features."""
    return out if x_dst is None else torch.addcmul(out, x_dst, 1 + eps)
