"""``segment``: reduce contiguous row segments, e.g. the nodes of each graph in a PyG ``Batch`` (``batch.ptr``)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .aggregate import aggregate
from .csr import CSR


def segment(x: Tensor, ptr: Tensor, reduce: str = "sum", backend: Optional[str] = None) -> Tensor:
    """``out[b] = reduce(x[ptr[b]:ptr[b+1]])`` for ``reduce`` in sum/mean/max/min; empty segments give 0.

    Same kernels, dtypes, determinism and max/min gradient rule as :func:`graphrep.ops.aggregate`.

    Shapes:
        - **input:** ``x`` ``[M, *]``, ``ptr`` ``[B + 1]`` non-decreasing, ``ptr[0] = 0``, ``ptr[-1] = M``
        - **output:** ``[B, *]``
    """
    if not isinstance(ptr, Tensor) or ptr.dim() != 1 or ptr.numel() < 1 or ptr.dtype.is_floating_point:
        raise ValueError("ptr must be a 1-D integer tensor of segment offsets [B + 1] (e.g. Batch.ptr)")
    if not isinstance(x, Tensor) or x.dim() == 0:
        raise ValueError("x must be a tensor with one row per item")
    if not torch.compiler.is_compiling():
        if int(ptr[0]) != 0 or int(ptr[-1]) != x.size(0) or bool((ptr.diff() < 0).any()):
            raise ValueError(
                f"ptr must start at 0, be non-decreasing and end at x.size(0) = {x.size(0)}; "
                f"got ptr[0] = {int(ptr[0])}, ptr[-1] = {int(ptr[-1])}"
            )
    return aggregate(x, CSR.from_ptr(ptr.to(x.device), x.size(0)), reduce, backend=backend)
