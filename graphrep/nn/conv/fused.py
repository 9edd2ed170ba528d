"""How graphrep's convolutions choose between graphrep's fused path and PyG's own machinery.

graphrep's ``GCNConv``, ``SAGEConv``, ``GINConv``, ``GINEConv`` and ``GATConv`` subclass PyG's layers of the same
name (same parameters, ``state_dict``, ``repr``, hooks, explain, jinja ``propagate``). Their ``forward`` takes the
fused path, on a :class:`graphrep.ops.CSR` and :mod:`graphrep.ops` kernels, when the call is the hot one:

- ``edge_index`` is a ``[2, E]`` integer tensor (its CSR is built once per tensor object and cached while the
  tensor keeps its values, see :meth:`CSR.of`; under ``torch.compile`` it is built in the compiled code) or a
  prebuilt ``CSR`` (used as given: no check, no rebuild);
- node features are 2-D dense tensors (``x`` or ``(x_src, x_dst)`` with ``x_dst`` possibly ``None``);
- no PyG hook is registered, ``explain`` is off, ``decomposed_layers == 1`` and ``node_dim`` is PyG's default
  (nodes along the first dimension of 2-D features);
- ``aggr`` is one graphrep has a kernel for (``"add"``/``"sum"``, ``"mean"``, ``"max"``, ``"min"``; GCN and GAT
  included, whose messages are then weighted before the reduction, as in PyG);
- ``flow="target_to_source"`` only with a single feature tensor and no ``size`` (it runs on the transposed CSR).

Every other call form (``SparseTensor``/``torch.sparse`` ``adj_t``, static ``[B, N, F]`` graphs, sparse features,
hooks, explain, decomposed layers, aggregations graphrep has no kernel for, TorchScript) goes to PyG's ``forward``
unchanged; a ``CSR`` given there is turned back into its ``edge_index`` and ``size``. Inputs PyG would reject are
left to PyG, so the error messages are PyG's.
"""

from __future__ import annotations

import copy
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.nn.conv import MessagePassing

from graphrep.ops import CSR

# PyG's aggregation names -> graphrep.ops reductions
AGGR = {"add": "sum", "sum": "sum", "mean": "mean", "max": "max", "min": "min"}

_HOOKS = (
    "_propagate_forward_pre_hooks", "_propagate_forward_hooks", "_message_forward_pre_hooks",
    "_message_forward_hooks", "_aggregate_forward_pre_hooks", "_aggregate_forward_hooks",
    "_message_and_aggregate_forward_pre_hooks", "_message_and_aggregate_forward_hooks",
    "_edge_update_forward_pre_hooks", "_edge_update_forward_hooks",
)


def _dense_features(t) -> bool:
    return isinstance(t, Tensor) and t.layout == torch.strided and t.dim() == 2 and t.is_floating_point()


def _graph_input(edge_index) -> bool:
    if isinstance(edge_index, CSR):
        return True
    return (isinstance(edge_index, Tensor) and edge_index.layout == torch.strided and edge_index.dim() == 2
            and edge_index.size(0) == 2 and not edge_index.is_floating_point())


class FusedDispatch:
    """Mixin, listed before the PyG layer class: decides the path and builds the CSR of a call."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # PyG remembers the class's `propagate` before swapping in its generated one, and swaps back to it for
        # explain and decomposed_layers. Inherited, that would be the PyG parent's generated `propagate` (once a
        # PyG layer of that type exists), which ignores both; naming the generic one here keeps them working.
        cls.propagate = MessagePassing.propagate
        cls.edge_updater = MessagePassing.edge_updater

    def __prepare_scriptable__(self):
        """``torch.jit.script`` compiles PyG's own layer: a shallow copy of this one as its PyG base class, sharing
        parameters and buffers (the fused path, with its CSR object, is not TorchScript)."""
        base = next(c for c in type(self).__mro__[1:] if c.__module__.startswith("torch_geometric."))
        clone = copy.copy(self)
        clone.__dict__.pop("_graphrep_cache", None)
        clone.__class__ = base
        # PyG generates the scriptable `propagate` of a class when its first instance is built; this class may
        # never have had one. A private PyG method (checked against torch_geometric 2.8.1, pinned in the tests).
        clone._set_jittable_templates()
        return clone

    def _reduce(self) -> Optional[str]:
        """The graphrep reduction for this layer's ``aggr``, or ``None`` when graphrep has no kernel for it."""
        return AGGR.get(self.aggr) if isinstance(self.aggr, str) else None

    def _fused_sizes(self, x, edge_index, size) -> Optional[Tuple[Tensor, Optional[Tensor], int]]:
        """``(x_src, x_dst, num_dst)`` when the fused path applies to this call, else ``None``."""
        if self.explain or self.decomposed_layers != 1 or self.node_dim not in (0, -2) or not _graph_input(edge_index):
            return None
        for name in _HOOKS:  # a plain loop: a generator here cost as much as the rest of the dispatch
            if getattr(self, name):
                return None
        pair = not isinstance(x, Tensor)
        if pair:
            if not isinstance(x, (tuple, list)) or len(x) != 2:
                return None
            x_src, x_dst = x[0], x[1]
        else:
            x_src = x_dst = x
        if not _dense_features(x_src) or (x_dst is not None and not _dense_features(x_dst)):
            return None
        if self.flow != "source_to_target" and (pair or size is not None):
            return None
        if size is not None:
            if x_src.size(0) != size[0] or (x_dst is not None and x_dst.size(0) != size[1]):
                return None  # PyG raises its size-mismatch error
            return x_src, x_dst, int(size[1])
        if x_dst is not None:
            return x_src, x_dst, x_dst.size(0)
        if isinstance(edge_index, CSR):
            return x_src, x_dst, edge_index.num_dst
        return None  # PyG infers the number of targets from the largest index

    def _fused_csr(self, edge_index, num_src: int, num_dst: int) -> CSR:
        """The CSR for this call, oriented by ``flow`` (``target_to_source``: the transposed graph)."""
        if isinstance(edge_index, CSR):
            if edge_index.num_src != num_src or edge_index.num_dst != num_dst:
                raise ValueError(f"{type(self).__name__}: the CSR is for {edge_index.num_src} -> "
                                 f"{edge_index.num_dst} nodes but the input has {num_src} -> {num_dst}")
            csr = edge_index
        else:
            csr = CSR.of(edge_index, (num_src, num_dst))
        return csr.transpose() if self.flow == "target_to_source" else csr

    def _bag_graph(self, edge_index, num_src: int, num_dst: int):
        """The graph for GIN's and GINE's bag sums (:mod:`graphrep.ops.edge_groups`): a ``[2, E]`` tensor as given
        (its edge groups are cached per tensor), else the CSR oriented by ``flow`` (as :meth:`_fused_csr`)."""
        if isinstance(edge_index, Tensor) and self.flow == "source_to_target":
            return edge_index
        return self._fused_csr(edge_index, num_src, num_dst)

    def _pyg_graph(self, edge_index, size):
        """``(edge_index, size)`` for PyG's path: a CSR becomes its ``[2, E]`` edges and ``(N_src, N_dst)``."""
        if not isinstance(edge_index, CSR):
            return edge_index, size
        if size is not None and (int(size[0]), int(size[1])) != (edge_index.num_src, edge_index.num_dst):
            raise ValueError(f"{type(self).__name__}: size={tuple(size)} but the CSR is for "
                             f"{edge_index.num_src} -> {edge_index.num_dst} nodes")
        return edge_index.edge_index(), (edge_index.num_src, edge_index.num_dst)
