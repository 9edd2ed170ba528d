"""GCN convolution: PyG's ``GCNConv`` whose hot path runs the fused weighted sum on a CSR with graphrep's
normalisation (computed once per graph and cached on its CSR)."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch_geometric.nn as pyg
from torch import Tensor
from torch_geometric.typing import Adj, OptTensor

from graphrep.ops import CSR, aggregate, segment

from .fused import FusedDispatch


def csr_gcn_norm(
    csr: CSR, edge_weight: Optional[Tensor] = None, improved: bool = False, add_self_loops: bool = True,
    dtype: Optional[torch.dtype] = None,
) -> Tuple[CSR, Tensor]:
    r"""Symmetric GCN normalisation of a :class:`graphrep.ops.CSR` :math:`\hat{D}^{-1/2} \hat{A} \hat{D}^{-1/2}` with
    :math:`\hat{A} = A + \mathrm{fill} \cdot I` (fill 1, or 2 when ``improved``), as PyG's ``gcn_norm`` with
    ``add_remaining_self_loops``: every node ends with exactly one self-loop, keeping the weight of an existing one
    (the last, in edge order, if there are several). Degrees are in-degrees (weighted).

    Named apart from PyG's ``gcn_norm`` because the contract differs: a CSR in, ``(CSR, weights)`` out, square graphs
    only, in-degrees of the given orientation (pass ``csr.transpose()`` for PyG's ``flow="target_to_source"``); for
    an ``edge_index``, ``SparseTensor`` or ``torch.sparse`` adjacency use
    ``torch_geometric.nn.conv.gcn_conv.gcn_norm``. ``improved=True`` gives the self-loops weight 2 with or without
    ``edge_weight`` (the ``A + 2I`` PyG documents; PyG's ``edge_index`` path drops it when ``edge_weight`` is
    None).

    Without ``edge_weight`` the result depends on the graph alone, so it is computed once and cached on ``csr``.

    Returns the graph the weights belong to (``csr.add_self_loops().csr`` when loops are added) and the normalised
    weights [E'] in its edge order.

    Shapes:
        - **input:** ``csr`` with ``N`` nodes and ``E`` edges, ``edge_weight`` ``[E]`` *(optional)*
        - **output:** a CSR with ``E'`` edges, weights ``[E']``
    """
    if csr.num_src != csr.num_dst:
        raise ValueError(f"csr_gcn_norm needs a square graph, got {csr.num_src} -> {csr.num_dst} nodes")
    if edge_weight is None:
        key = ("gcn_norm", improved, add_self_loops, dtype or torch.float32)
        return csr.derived(key, lambda: _gcn_norm(csr, None, improved, add_self_loops, dtype))
    return _gcn_norm(csr, edge_weight, improved, add_self_loops, dtype)


def _gcn_norm(csr, edge_weight, improved, add_self_loops, dtype):
    w = edge_weight
    if w is None:
        w = torch.ones(csr.num_edges, dtype=dtype or torch.float32, device=csr.device)
    if add_self_loops:
        looped = csr.add_self_loops()
        graph, n = looped.csr, csr.num_dst
        kept = looped.source_edge[: graph.num_edges - n]
        loops = looped.removed_loops
        loop_w = torch.full((n,), 2.0 if improved else 1.0, dtype=w.dtype, device=w.device)
        if edge_weight is not None and loops.numel() > 0:
            nodes = csr.col[csr.inv_perm[loops]]
            last = torch.full((n,), -1, dtype=torch.long, device=w.device).scatter_reduce(0, nodes, loops, "amax")
            loop_w = torch.where(last >= 0, w[last.clamp(min=0)], loop_w)
        w = torch.cat([w[kept], loop_w])
    else:
        graph = csr
    deg = segment(w[graph.perm].unsqueeze(1), graph.rowptr, "sum").squeeze(1)
    dinv = deg.pow(-0.5)
    dinv = dinv.masked_fill(dinv == float("inf"), 0.0)
    src, dst = graph.edge_index()
    return graph, dinv[src] * w * dinv[dst]


class GCNConv(FusedDispatch, pyg.GCNConv):
    r"""Graph convolution (Kipf and Welling, 2017): PyG's ``GCNConv`` (same arguments, parameters and call forms)
    whose hot path is graphrep's fused weighted sum:

    .. math::
        \mathbf{X}^{\prime} = \hat{\mathbf{D}}^{-1/2} \hat{\mathbf{A}} \hat{\mathbf{D}}^{-1/2} \mathbf{X}
        \mathbf{\Theta} + \mathbf{b}

    ``edge_index`` may also be a :class:`graphrep.ops.CSR`. The normalisation of an unweighted graph is cached on
    its CSR, so ``cached=True`` is only needed for PyG's own path. ``aggr`` ``"add"``/``"sum"``, ``"mean"``,
    ``"max"`` and ``"min"`` run fused, any other on PyG's path. Which calls take which path:
    :mod:`graphrep.nn.conv.fused`. Difference from PyG: ``improved=True`` without edge weights gives the added
    self-loops weight 2, the ``A + 2I`` PyG documents (PyG's ``edge_index`` path ignores ``improved`` then).

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, ``edge_index`` :math:`(2, |\mathcal{E}|)`, a
          :class:`graphrep.ops.CSR` or a sparse ``adj_t``, edge weights :math:`(|\mathcal{E}|)` *(optional)*
        - **output:** :math:`(|\mathcal{V}|, F_{out})`
    """

    # PyG reads the signature of its generated `propagate` from these; it cannot parse it from this subclass
    propagate_type = {"x": Tensor, "edge_weight": OptTensor}

    _graphrep_cache = None  # (CSR, weights) of the first call when cached=True; not annotated: TorchScript

    def reset_parameters(self):
        super().reset_parameters()
        self._graphrep_cache = None

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor = None) -> Tensor:
        if not torch.jit.is_scripting():
            sizes = self._fused_sizes(x, edge_index, None) if self._reduce() is not None else None
            if sizes is not None and sizes[0].size(0) == sizes[2]:
                return self._fused_forward(x, edge_index, edge_weight)
            edge_index = self._pyg_graph(edge_index, None)[0]
        return super().forward(x, edge_index, edge_weight)

    def _fused_forward(self, x: Tensor, edge_index, edge_weight: Optional[Tensor]) -> Tensor:
        csr = self._fused_csr(edge_index, x.size(0), x.size(0))
        if self.normalize:
            cache = self._graphrep_cache
            if cache is not None and self._cached_edge_index is not None:
                csr, edge_weight = cache
            else:
                csr, edge_weight = csr_gcn_norm(csr, edge_weight, self.improved, self.add_self_loops, x.dtype)
                if self.cached:  # PyG's path reads the same cache
                    self._cached_edge_index = (csr.edge_index(), edge_weight)
                    self._graphrep_cache = (csr, edge_weight)
        out = aggregate(self.lin(x), csr, self._reduce(), edge_weight)
        if self.bias is not None:
            out = out + self.bias
        return out
