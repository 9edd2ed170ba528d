"""Fused, deterministic aggregation kernels: the message-passing engine of graphrep layers.

- :class:`CSR` — destination-major CSR of a graph plus its transpose, cached on a PyG ``Data`` or per ``edge_index``
  tensor by :meth:`CSR.of` (never stale: see :mod:`graphrep.ops._edge_cache` for the contract).
- :func:`aggregate` — ``out[i] = reduce_{j -> i} w_ji x_j`` (sum/mean/max/min), autograd for ``x`` and weights.
- :func:`segment` — the same reductions over contiguous segments (pooling over ``Batch.ptr``).
- :func:`edge_softmax` — softmax of edge scores over each node's in-edges.

CPU tensors use torch's CSR products; CUDA tensors use Triton kernels (``backend="triton"`` forces them, on CPU under
``TRITON_INTERPRET=1``). All ops are torch custom ops (``torch.ops.graphrep.*``) with fake kernels, so models
using them compile with ``torch.compile(fullgraph=True)``.
"""

from .aggregate import aggregate
from .csr import CSR
from .segment import segment
from .softmax import edge_softmax

__all__ = ["CSR", "aggregate", "segment", "edge_softmax"]
