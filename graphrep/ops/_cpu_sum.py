"""Which of torch's two CPU CSR products computes a sum ``out = A @ x``, per machine.

- ``"reduce"``: ``torch.sparse.mm(A, x, "sum")``, torch's own kernel (parallel over rows, no zero-fill).
- ``"plain"``: ``torch.sparse.mm(A, x)``, MKL's sparse BLAS in torch builds with MKL (zero-fills and copies the output).

With unit values (unweighted sums, and their transposed backward) the two give identical bits, measured for 1 and
2 threads, float32/float64, F = 1..300 and in-degrees up to 78,000 (tests/ops/test_cpu_sum_kernels.py pins it), so
only speed is at stake, and which is faster depends on the CPU: on the shared 2-core AMD EPYC of this project
"reduce" was 10-15% faster at N=100K, E=1.6M, F=64; on a quiet 2-core machine "plain" was 20% faster (19-21 ms
vs 25-26 ms). ``"auto"`` therefore times the two on the calls it makes anyway: the first ``2 * SAMPLES`` unweighted
calls with at least ``MIN_WORK`` nonzeros x features alternate between them, then the faster (median time per
nonzero x feature) is kept for the process and thread count. Smaller calls always take "reduce" (the zero-fill and
copy dominate there).

With weights the two differ in the last bit (MKL fuses the multiply-add), so a timing-dependent choice would make
weighted results depend on the machine's load: weighted sums always take "reduce" under ``"auto"``.
``GRAPHREP_CPU_SUM_KERNEL=reduce|plain`` forces one kernel for every sum.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Dict, List, Tuple, Union

import torch
from torch import Tensor

ENV = "GRAPHREP_CPU_SUM_KERNEL"
KERNELS = ("reduce", "plain")
MIN_WORK = 1 << 20  # nonzeros x features of a call worth timing (about 1 ms)
SAMPLES = 3  # timed calls per kernel before "auto" settles

# torch thread count -> samples per kernel (seconds per nonzero x feature), or the kernel settled on
_state: Dict[int, Union[str, Dict[str, List[float]]]] = {}


def _choice(work: int, weighted: bool, nnz: int) -> Tuple[str, bool]:
    """``(kernel, timed)`` for a sum of ``nnz`` nonzeros with ``work`` nonzeros x features."""
    name = os.environ.get(ENV, "auto")
    if name in KERNELS:
        return name, False
    if name != "auto":
        raise ValueError(f"{ENV} must be one of auto, reduce, plain; got {name!r}")
    if weighted or work < MIN_WORK or nnz >= 2**31 or not torch.backends.mkl.is_available():
        return "reduce", False  # past 2**31 nonzeros: torch's own kernel (int64 offsets), never MKL's
    state = _state.setdefault(torch.get_num_threads(), {k: [] for k in KERNELS})
    if isinstance(state, str):
        return state, False
    return min(KERNELS, key=lambda k: len(state[k])), True  # alternate, so both see the same load


def _record(kernel: str, seconds: float, work: int) -> None:
    state = _state.get(torch.get_num_threads())
    if not isinstance(state, dict):
        return
    state[kernel].append(seconds / work)
    if all(len(v) >= SAMPLES for v in state.values()):
        _state[torch.get_num_threads()] = min(KERNELS, key=lambda k: statistics.median(state[k]))


def settled() -> Dict[int, str]:
    """The kernel ``"auto"`` settled on, per torch thread count (empty until enough large calls were timed)."""
    return {t: s for t, s in _state.items() if isinstance(s, str)}


def csr_sum(a: Tensor, x: Tensor, weighted: bool) -> Tensor:
    """``a @ x`` for a torch sparse CSR matrix ``a`` [M, K] and dense ``x`` [K, F] by the kernel chosen above."""
    nnz = a._nnz()
    work = nnz * x.size(1)
    kernel, timed = _choice(work, weighted, nnz)
    t0 = time.perf_counter() if timed else 0.0
    out = torch.sparse.mm(a, x, "sum") if kernel == "reduce" else torch.sparse.mm(a, x)
    if timed:
        _record(kernel, time.perf_counter() - t0, work)
    return out
