"""CPU path: torch's CSR products (``torch.sparse.mm(A, x, reduce)``: one pass over the CSR, parallel over rows,
so deterministic; for sums the faster of two kernels, see :mod:`graphrep.ops._cpu_sum`) for forward and the
sum/mean backward; max/min backward and edge-weight gradients walk the edges in fixed-size chunks so no E x F tensor
is ever alive (peak extra memory O(chunk * F)).

Every function takes the graph as a :class:`graphrep.ops.csr.CSR` (eager calls: per-graph matrices are cached on
it) or :class:`graphrep.ops.csr.CSRTensors` (custom op calls), reading the same named fields, and works in float32
(float64 for float64 inputs; fp16/bf16 inputs are widened once, so sums accumulate in fp32).
"""

from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import Tensor

from ._cpu_sum import csr_sum
from .csr import CSRTensors

# edges per chunk are chosen so a chunk holds about this many feature values (16 MB in fp32)
_CHUNK_VALUES = 1 << 22
# the edge dot products' chunks: 256 KB in fp32, within a core's L2 cache and below glibc's mmap threshold once it
# has adapted, so the chunk buffers are reused warm (16 MB chunks were mapped and faulted in afresh per call: at
# GAT's citation size, 3.4 MB gathers, the products took 4x as long inside a training step as alone)
_DOT_CHUNK_VALUES = 1 << 16
_TORCH_REDUCE = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin"}


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; every other floating dtype accumulates in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _acc(t: Optional[Tensor], dtype: torch.dtype) -> Optional[Tensor]:
    return None if t is None else t.to(acc_dtype(dtype))


_ONES: dict = {}


def _ones(n: int, dtype: torch.dtype) -> Tensor:
    """A contiguous slice of a cached ones vector (unweighted products need values; refilling E ones per call
    costs as much as a small aggregation).

    The buffer is process-global, so it must be an ordinary tensor whatever mode the first call runs in: created
    under ``torch.inference_mode()`` (Lightning validates in it) it would be an inference tensor, and a later
    autograd call would fail with "Cannot set version_counter for inference tensor". ``inference_mode(False)``
    makes it a normal tensor, which inference mode, no-grad and autograd can all read.
    """
    buf = _ONES.get(dtype)
    if buf is None or buf.numel() < n:
        with torch.inference_mode(False), torch.no_grad():
            buf = torch.ones(max(n, 1024), dtype=dtype)
        _ONES[dtype] = buf  # one dict store: threads racing here each keep a valid buffer
    return buf[:n]


_BETA_WARNING_SEEN = False


def _csr_matrix(
    rowptr: Tensor, col: Tensor, values: Optional[Tensor], n_rows: int, n_cols: int, dtype: torch.dtype
) -> Tensor:
    global _BETA_WARNING_SEEN
    if values is None:
        values = _ones(col.numel(), dtype)
    if _BETA_WARNING_SEEN:  # torch warns "sparse CSR support is in beta" once per process; entering
        return torch.sparse_csr_tensor(rowptr, col, values, size=(n_rows, n_cols))  # catch_warnings costs more
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = torch.sparse_csr_tensor(rowptr, col, values, size=(n_rows, n_cols))
    _BETA_WARNING_SEEN = True
    return a


def _matrix(g, transposed: bool, values: Optional[Tensor], dtype: torch.dtype) -> Tensor:
    """The torch CSR matrix of ``g`` (``transposed``: of the reversed graph) with ``values`` (``None``: ones).
    Unweighted matrices of a :class:`CSR` are built once and cached on it; a :class:`CSRTensors` has no cache."""
    rowptr, col = (g.rowptr_t, g.col_t) if transposed else (g.rowptr, g.col)
    n_rows, n_cols = rowptr.numel() - 1, (g.rowptr.numel() if transposed else g.rowptr_t.numel()) - 1
    if values is not None or not hasattr(g, "derived"):
        return _csr_matrix(rowptr, col, values, n_rows, n_cols, dtype)
    return g.derived(("torch_csr", transposed, dtype), lambda: _csr_matrix(rowptr, col, None, n_rows, n_cols, dtype))


def spmm(a: Tensor, x32: Tensor, reduce: str, weighted: bool = True) -> Tensor:
    """``out[i] = reduce_{k in row i} a[i, k] * x32[k]`` for the torch CSR matrix ``a``, in the accumulation dtype;
    empty rows give 0. Sums go to the faster of torch's two CSR products (:mod:`graphrep.ops._cpu_sum`);
    ``weighted=False`` says that ``a`` holds ones, so that both kernels give the same bits."""
    if a._nnz() == 0 or x32.size(1) == 0:
        return x32.new_zeros(a.size(0), x32.size(1))
    if reduce == "sum":
        return csr_sum(a, x32, weighted)
    return torch.sparse.mm(a, x32, _TORCH_REDUCE[reduce])


def forward(x: Tensor, g: CSRTensors, w_csr: Optional[Tensor], reduce: str, need_count: bool):
    """Returns ``(out, count)``; the count of max/min ties is left empty here and computed by the backward pass."""
    x32 = _acc(x, x.dtype)
    out = spmm(_matrix(g, False, _acc(w_csr, x.dtype), x32.dtype), x32, reduce, w_csr is not None)
    return out.to(x.dtype), torch.empty(0, dtype=torch.int32)


def _chunks(num_edges: int, num_features: int, values: int = _CHUNK_VALUES):
    step = max(1, values // max(1, num_features))
    for a in range(0, num_edges, step):
        yield a, min(num_edges, a + step)


def _messages(x32: Tensor, idx: Tensor, w32: Optional[Tensor], out_dtype: torch.dtype) -> Tensor:
    """``w * x[idx]`` in float32, rounded to the output dtype (max/min compare rounded values: rounding is monotone,
    so the rounded maximum is the maximum of the rounded messages)."""
    m = x32.index_select(0, idx)
    if w32 is not None:
        m.mul_(w32.unsqueeze(1))
    if out_dtype != x32.dtype:
        m = m.to(out_dtype).to(x32.dtype)
    return m


def sum_transposed(g: CSRTensors, w_csr: Optional[Tensor], grad32: Tensor, n_src: int) -> Tensor:
    """``grad_x[j] = sum_{j -> i} w_ji * grad32[i]`` through the transposed CSR."""
    w_t = None if w_csr is None else _acc(w_csr, grad32.dtype).index_select(0, g.perm_t)
    if getattr(g, "one_edge_per_source", False):  # pooling, per-edge messages: a gather is 2-3x faster, same bits
        out = grad32.index_select(0, g.col_t)
        return out if w_t is None else out.mul_(w_t.unsqueeze(1))
    return spmm(_matrix(g, True, w_t, grad32.dtype), grad32, "sum", w_t is not None)


def _row_groups(rowptr: Tensor, step: int):
    """Consecutive row ranges ``[r0, r1)`` holding at most ``step`` edges each (a longer row stands alone)."""
    n = rowptr.numel() - 1
    r0 = 0
    while r0 < n:
        r1 = int(torch.searchsorted(rowptr, rowptr[r0] + step, right=True)) - 1
        r1 = min(n, max(r1, r0 + 1))
        yield r0, r1
        r0 = r1


def extremum_backward(
    x: Tensor, g: CSRTensors, w_csr: Optional[Tensor], out: Tensor, count: Tensor, grad: Tensor, n_src: int,
    need_x: bool, need_w: bool, reduce: str = "max",
):
    """Max/min backward without scatters, in two chunked passes (``count`` is ignored: the CPU forward has none).

    1. Over CSR row groups: the tie mask ``msg == out[i]`` gives the tie counts (segment sums), hence the shares
       ``gc = grad / count``, and the weight gradients ``sum_f mask * gc * x_j`` (a contiguous slice per group).
    2. Over transposed row groups (one group = consecutive sources): ``grad_x[j] = sum_{j -> i} mask * w * gc[i]``
       as segment sums written to the contiguous slice ``grad_x[j0:j1]``.
    Every sum has a fixed order, so results are bitwise reproducible. A row longer than a chunk is walked in
    sub-chunks (twice in pass 1: counts, then shares).
    """
    rowptr, col, rowptr_t, col_t, perm_t = g.rowptr, g.col, g.rowptr_t, g.col_t, g.perm_t
    dt = acc_dtype(x.dtype)
    x32, o32, w32 = _acc(x, x.dtype), _acc(out, x.dtype), _acc(w_csr, x.dtype)
    nf = x.size(1)
    step = max(1, _CHUNK_VALUES // max(1, nf))
    gc = torch.zeros(out.shape, dtype=dt)
    gw = torch.zeros(col.numel(), dtype=dt) if need_w else None

    def mask(a: int, b: int, orows: Tensor) -> Tensor:
        m = _messages(x32, col[a:b], None if w32 is None else w32[a:b], out.dtype)
        return (m == orows).to(dt)

    def weight_grad(a: int, b: int, eq: Tensor, gc_rows: Tensor) -> None:
        if gw is not None:
            gw[a:b] = (eq.mul_(gc_rows) * x32.index_select(0, col[a:b])).sum(1)

    for r0, r1 in _row_groups(rowptr, step):  # pass 1
        a, b = int(rowptr[r0]), int(rowptr[r1])
        if b == a:
            continue
        if b - a <= step:
            lengths = rowptr[r0 + 1:r1 + 1] - rowptr[r0:r1]
            eq = mask(a, b, o32[r0:r1].repeat_interleave(lengths, dim=0, output_size=b - a))
            cnt = torch.segment_reduce(eq, "sum", lengths=lengths, axis=0, unsafe=True)
            gc[r0:r1] = grad[r0:r1] / cnt.clamp(min=1)
            weight_grad(a, b, eq, gc[r0:r1].repeat_interleave(lengths, dim=0, output_size=b - a))
        else:
            cnt = torch.zeros(nf, dtype=dt)
            for c0 in range(a, b, step):
                c1 = min(b, c0 + step)
                cnt += mask(c0, c1, o32[r0].expand(c1 - c0, nf)).sum(0)
            gc[r0] = grad[r0] / cnt.clamp(min=1)
            if gw is not None:
                for c0 in range(a, b, step):
                    c1 = min(b, c0 + step)
                    weight_grad(c0, c1, mask(c0, c1, o32[r0].expand(c1 - c0, nf)), gc[r0])
    if not need_x:
        return None, gw

    gx = torch.zeros(n_src, nf, dtype=dt)
    for j0, j1 in _row_groups(rowptr_t, step):  # pass 2
        a, b = int(rowptr_t[j0]), int(rowptr_t[j1])
        if b == a:
            continue
        for c0 in range(a, b, step):  # one iteration unless a single source has more than `step` out-edges
            c1 = min(b, c0 + step)
            p, dst = perm_t[c0:c1], col_t[c0:c1]
            if j1 - j0 == 1:
                lengths = torch.tensor([c1 - c0])
                xs = x32[j0].expand(c1 - c0, nf)
            else:
                lengths = rowptr_t[j0 + 1:j1 + 1] - rowptr_t[j0:j1]
                xs = x32[j0:j1].repeat_interleave(lengths, dim=0, output_size=c1 - c0)
            m = xs if w32 is None else xs * w32[p].unsqueeze(1)
            if out.dtype != dt:
                m = m.to(out.dtype).to(dt)
            t = (m == o32.index_select(0, dst)).to(dt).mul_(gc.index_select(0, dst))
            if w32 is not None:
                t.mul_(w32[p].unsqueeze(1))
            gx[j0:j1] += torch.segment_reduce(t, "sum", lengths=lengths, axis=0, unsafe=True)
    return gx, gw


def edge_dot(x: Tensor, g: CSRTensors, gd: Tensor) -> Tensor:
    """Per CSR position ``k = (j -> i)``: ``sum_f x[j, f] * gd[i, f]`` [E], in chunks of edges.

    On a graph made by :meth:`CSR.per_head` the same dot products are taken per edge of the copied graph over rows
    of ``H * C`` features (its :class:`.csr.HeadLayout`), then read back in the per-head graph's order: with GAT's
    few features per head (8 in its usual setting) one gather of a wide row replaces ``H`` gathers of 32-byte rows
    (in GAT's citation-size training step on this project's CPU, 1.3 ms against 1.7-2.6 ms for the same chunks of
    narrow rows)."""
    layout = getattr(g, "head_layout", None)  # a CSR made by per_head (CSRTensors carry none)
    x32 = _acc(x, x.dtype)
    if layout is None:
        return _dots(x32, gd, g.col, g.row, 1).view(-1)
    return _dots(x32, gd, layout.col, layout.row, layout.heads).view(-1).index_select(0, layout.position)


def _dots(x32: Tensor, gd: Tensor, col: Tensor, row: Tensor, heads: int) -> Tensor:
    """[E, heads]: ``x32``, ``gd`` [N * heads, C] read as [N, heads * C]; entry ``(k, h)`` is the dot product of head
    ``h``'s ``C`` features of ``x32[col[k]]`` and ``gd[row[k]]``."""
    wide = heads * x32.size(1)
    xw, gw = x32.view(-1, wide), gd.view(-1, wide)
    table = torch.empty(col.numel(), heads, dtype=x32.dtype)
    for a, b in _chunks(col.numel(), wide, _DOT_CHUNK_VALUES):
        prod = xw.index_select(0, col[a:b]).mul_(gw.index_select(0, row[a:b]))
        torch.sum(prod.view(b - a, heads, -1), 2, out=table[a:b])
    return table
