"""Which of torch's two CPU CSR products computes a sum ``out = A @ x``, per machine, without letting timing change bits.

- ``"reduce"``: ``torch.sparse.mm(A, x, "sum")``, torch's own kernel (parallel over rows, no zero-fill).
- ``"plain"``: ``torch.sparse.mm(A, x)``, MKL's sparse BLAS in torch builds with MKL (zero-fills and copies the output).

Which is faster depends on the CPU: on the shared 2-core AMD EPYC of this project "reduce" was 10-15% faster at
N=100K, E=1.6M, F=64; on a quiet 2-core machine "plain" was 20% faster (19-21 ms vs 25-26 ms).

Whether the two give the same bits also depends on the CPU. With unit values (unweighted sums, and their transposed
backward) they agreed bit for bit on AVX2 machines, but on an AVX-512 Xeon MKL accumulates in another order and the
gradient's last bits differ. A choice made by timing alone would then make two runs of one seed differ whenever
timing noise flips the choice. ``"auto"`` therefore lets timing choose only between kernels proven bit-identical on
the running machine:

1. once per process, a probe compares the two kernels on a set of hard cases (float32 and float64; feature widths
   that are and are not multiples of the SIMD width; a hub row of thousands of entries; empty rows). Any difference
   in any bit: "reduce" for every call, nothing is timed.
2. The first ``SAMPLES`` unweighted calls with at least ``MIN_WORK`` nonzeros x features run *both* kernels on the
   call's own input, timing each (in alternating order, so both see the same load), and return "reduce"'s result.
   Any difference in any bit: "reduce" for the rest of the process.
3. After ``SAMPLES`` agreeing calls, the faster kernel (median time per nonzero x feature) is kept for the process
   and thread count. It was shown to give "reduce"'s bits on the probe and on the workload's own calls.

So sampled calls always return "reduce"'s bits, and a later "plain" call returns bits "reduce" was seen to give. For
bit-identical results across *machines*, set ``GRAPHREP_CPU_SUM_KERNEL=reduce`` (one kernel for every sum).
Smaller calls always take "reduce" (the zero-fill and copy dominate there). With weights the two differ in the
last bit on every machine measured (MKL fuses the multiply-add), so weighted sums always take "reduce" under "auto".
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor

ENV = "GRAPHREP_CPU_SUM_KERNEL"
KERNELS = ("reduce", "plain")
MIN_WORK = 1 << 20  # nonzeros x features of a call worth timing (about 1 ms)
SAMPLES = 3  # calls timed on both kernels before "auto" settles

# torch thread count -> samples per kernel (seconds per nonzero x feature), or the kernel settled on
_state: Dict[int, Union[str, Dict[str, List[float]]]] = {}
_probe_result: Optional[bool] = None  # None until the probe has run in this process
_clock = time.perf_counter  # tests replace it with a fake clock to force either timing


def _product(kernel: str, a: Tensor, x: Tensor) -> Tensor:
    return torch.sparse.mm(a, x, "sum") if kernel == "reduce" else torch.sparse.mm(a, x)


def _probe_cases():
    """Unit-valued CSR matrices and dense inputs on which the two kernels are most likely to round differently."""
    gen = torch.Generator().manual_seed(0)
    n = 600
    # a hub row of 5,000 entries, 300 rows of 1-20 entries, the rest empty
    rows = torch.cat([torch.zeros(5000, dtype=torch.long), torch.randint(1, 301, (3000,), generator=gen)])
    cols = torch.randint(0, n, (rows.numel(),), generator=gen)
    order = torch.argsort(rows * n + cols)
    rows, cols = rows[order], cols[order]
    rowptr = torch.zeros(n + 1, dtype=torch.long)
    rowptr[1:] = torch.bincount(rows, minlength=n).cumsum(0)
    for dtype in (torch.float32, torch.float64):
        a = torch.sparse_csr_tensor(rowptr, cols, torch.ones(cols.numel(), dtype=dtype), (n, n))
        for width in (1, 7, 16, 37, 64):
            yield a, torch.randn(n, width, generator=gen, dtype=torch.float64).to(dtype)


def kernels_agree_on_probe() -> bool:
    """True when both kernels give identical bits on every probe case on this machine (computed once per process)."""
    global _probe_result
    if _probe_result is None:
        _probe_result = all(torch.equal(_product("reduce", a, x), _product("plain", a, x)) for a, x in _probe_cases())
    return _probe_result


def _choice(work: int, weighted: bool, nnz: int) -> Tuple[str, bool]:
    """``(kernel, sampled)`` for a sum of ``nnz`` nonzeros with ``work`` nonzeros x features."""
    name = os.environ.get(ENV, "auto")
    if name in KERNELS:
        return name, False
    if name != "auto":
        raise ValueError(f"{ENV} must be one of auto, reduce, plain; got {name!r}")
    if weighted or work < MIN_WORK or nnz >= 2**31 or not torch.backends.mkl.is_available():
        return "reduce", False  # past 2**31 nonzeros: torch's own kernel (int64 offsets), never MKL's
    threads = torch.get_num_threads()
    state = _state.get(threads)
    if isinstance(state, str):
        return state, False
    if state is None:
        if not kernels_agree_on_probe():
            _state[threads] = "reduce"
            return "reduce", False
        state = _state[threads] = {k: [] for k in KERNELS}
    return "reduce", True


def _sample(a: Tensor, x: Tensor, work: int) -> Tensor:
    """Run both kernels on this call, record their times and whether they agree; return "reduce"'s result."""
    threads = torch.get_num_threads()
    state = _state[threads]
    assert isinstance(state, dict)
    order = KERNELS if len(state["reduce"]) % 2 == 0 else KERNELS[::-1]
    outs = {}
    for kernel in order:
        t0 = _clock()
        outs[kernel] = _product(kernel, a, x)
        state[kernel].append((_clock() - t0) / work)
    if not torch.equal(outs["reduce"], outs["plain"]):
        _state[threads] = "reduce"
    elif all(len(v) >= SAMPLES for v in state.values()):
        _state[threads] = min(KERNELS, key=lambda k: statistics.median(state[k]))
    return outs["reduce"]


def settled() -> Dict[int, str]:
    """The kernel ``"auto"`` settled on, per torch thread count (empty until decided)."""
    return {t: s for t, s in _state.items() if isinstance(s, str)}


def csr_sum(a: Tensor, x: Tensor, weighted: bool) -> Tensor:
    """``a @ x`` for a torch sparse CSR matrix ``a`` [M, K] and dense ``x`` [K, F] by the kernel chosen above."""
    nnz = a._nnz()
    work = nnz * x.size(1)
    kernel, sampled = _choice(work, weighted, nnz)
    return _sample(a, x, work) if sampled else _product(kernel, a, x)
