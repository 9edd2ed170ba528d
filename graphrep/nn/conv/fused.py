"""Base class for graphrep convolutions: PyG ``MessagePassing`` whose ``propagate`` always runs the fused
``message_and_aggregate`` on a :class:`graphrep.ops.CSR`.

PyG takes its fused path only for ``torch.sparse``/``SparseTensor`` adjacencies, which ``torch.compile`` cannot
trace; here the adjacency is a ``CSR`` and the aggregation a graphrep custom op, so layers compile without graph
breaks and never materialise an ``[E, F]`` message tensor.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.nn.conv import MessagePassing

from graphrep.ops import CSR

# PyG's aggregation names -> graphrep.ops reductions
AGGR = {"add": "sum", "sum": "sum", "mean": "mean", "max": "max", "min": "min"}


def as_csr(edge_index: Union[Tensor, CSR], num_src: int, num_dst: Optional[int] = None) -> CSR:
    """``edge_index`` as a CSR: a CSR passes through (build it once with ``CSR.of(data)``), a ``[2, E]`` tensor is
    converted (a sort per call)."""
    num_dst = num_src if num_dst is None else num_dst
    if isinstance(edge_index, CSR):
        if edge_index.num_src != num_src or edge_index.num_dst != num_dst:
            raise ValueError(
                f"the CSR is for {edge_index.num_src} -> {edge_index.num_dst} nodes but x has {num_src} -> {num_dst}"
            )
        return edge_index
    if isinstance(edge_index, Tensor):
        return CSR.from_edge_index(edge_index, (num_src, num_dst))
    raise ValueError(f"edge_index must be a [2, E] tensor or a graphrep.ops.CSR, got {type(edge_index).__name__}")


class FusedMessagePassing(MessagePassing):
    """``MessagePassing`` with ``propagate(csr, **kwargs) = update(message_and_aggregate(csr, **kwargs))``.

    ``message_and_aggregate`` hooks run as in PyG; there is no separate ``message``/``aggregate`` path.
    """

    def _set_jittable_templates(self, raise_on_error: bool = False) -> None:
        # PyG would install a generated `propagate` over the one below; ours already is the fused path.
        pass

    def propagate(self, edge_index: CSR, size: Optional[Tuple[int, int]] = None, **kwargs: Any) -> Tensor:
        for hook in self._message_and_aggregate_forward_pre_hooks.values():
            res = hook(self, (edge_index, kwargs))
            if res is not None:
                edge_index, kwargs = res
        out = self.message_and_aggregate(edge_index, **kwargs)
        for hook in self._message_and_aggregate_forward_hooks.values():
            res = hook(self, (edge_index, kwargs), out)
            if res is not None:
                out = res
        return self.update(out)
