"""GPU path: Triton kernels over the destination-major CSR (also run on CPU under ``TRITON_INTERPRET=1``).

Work decomposition (edge-balanced, deterministic, no atomics):

- Row ``r`` with in-degree ``d`` is cut into ``max(1, ceil(d / CHUNK))`` chunks; one program (per block of
  features) handles one chunk, so a hub with 10^6 in-edges becomes ~10^6 / CHUNK parallel programs. Program
  ``n_extra + r`` takes the first chunk of row ``r`` straight from ``rowptr`` (no lookup); programs
  ``0 .. n_extra-1`` take the later chunks of split rows, through a small table.
- A row with one chunk writes its result directly. A split row writes one float32 partial per chunk; partials are
  reduced in groups of ``GROUP`` (in parallel), then the groups in order. Summation order therefore depends only
  on the CSR and the constants CHUNK/GROUP, never on scheduling or on the autotuned launch config: outputs and
  gradients are bitwise reproducible.
- Bookkeeping (chunk -> row, partial and group offsets) uses torch ops whose sizes follow from ``N`` and ``E`` alone,
  so launching needs no device-to-host synchronisation; it is cached per ``rowptr`` tensor.

Inside a forward program BLOCK_E row gathers of BLOCK_F features are in flight per step and are reduced one edge at
a time in CSR order; the accumulator is float32 whatever the input dtype. Large problems (E * F >= 2^28) autotune
BLOCK_E and num_warps once per (F, sum/mean vs max/min, weights, dtypes) on the GPU; smaller ones and the
interpreter use a fixed config.
Max/min track, per lane, the running extremum and how many messages reached it, so ties are counted exactly
(the backward pass splits the gradient among them, as ``torch.scatter_reduce`` does). Max/min compare messages
rounded to the output dtype: rounding is monotone, so this is the extremum of the messages in that dtype.
The max/min backward reuses the same item layout over the transposed CSR (source-major, no atomics): each source
row ``j`` walks its out-edges ``j -> i`` one at a time, gathers ``out[i]`` and adds ``grad[i] / count[i]`` where
its message equals ``out[i]`` (that gather masked, so it reads only the tied lanes); it is autotuned like the forward.
"""

from __future__ import annotations

import os
import weakref
from typing import Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor

from .csr import CSRTensors

CHUNK = int(os.environ.get("GRAPHREP_TRITON_CHUNK", "512"))
# E * F from which the forward kernel is autotuned on the GPU (once per (F, reduce class, dtypes)); smaller
# problems use a fixed config, so tests and small graphs never pay for tuning.
_TUNE_MIN_WORK = 1 << 28
# partials of a split row combined per program in the first of two combine levels (fixed: it sets the order).
GROUP = int(os.environ.get("GRAPHREP_TRITON_GROUP", "128"))
INTERP_BLOCK_E = 4  # edges per step under the interpreter (small: few masked lanes on tiny test graphs)
FIXED_DENSE_G = False  # max/min backward gather of the shares in the fixed (untuned) config; see _extremum_grad_kernel
_REDUCE = {"sum": 0, "mean": 1, "max": 2, "min": 3}
_TL_DTYPE = {torch.float32: tl.float32, torch.float16: tl.float16, torch.bfloat16: tl.bfloat16,
             torch.float64: tl.float64}


@triton.jit
def _rows_kernel(
    x_ptr, col_ptr, w_ptr, rowptr_ptr, extra_row_ptr, extra_k_ptr, part_off_ptr,
    out_ptr, cnt_ptr, part_ptr, pcnt_ptr,
    n_rows, n_extra, F, stride_x, tune_class,
    CHUNK: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr, REDUCE: tl.constexpr,
    HAS_W: tl.constexpr, NEED_COUNT: tl.constexpr, ROUND: tl.constexpr, ACC: tl.constexpr, IDX64: tl.constexpr,
):
    """One item (<= CHUNK edges of one row) x one feature block: out[r, f] = reduce_k w[k] * x[col[k], f].

    Programs ``0 .. n_extra-1`` take the second and later chunks of split rows (the long ones go first, so they
    overlap with the rest); program ``n_extra + r`` takes the first chunk of row ``r`` without any lookup.
    The BLOCK_E gathers of a step are independent loads (all in flight together) but are reduced one edge at a
    time in CSR order, so the result does not depend on BLOCK_E or num_warps (autotuning cannot change bits)."""
    pid = tl.program_id(0)
    pid_f = tl.program_id(1)
    is_extra = pid < n_extra
    q = tl.minimum(pid, n_extra - 1)
    r = tl.where(is_extra, tl.load(extra_row_ptr + q, mask=is_extra, other=0), pid - n_extra)
    k = tl.load(extra_k_ptr + q, mask=is_extra, other=0)
    if IDX64:
        r = r.to(tl.int64)
    if r < n_rows:
        rs = tl.load(rowptr_ptr + r)
        re = tl.load(rowptr_ptr + r + 1)
        if not IDX64:
            rs = rs.to(tl.int32)
            re = re.to(tl.int32)
        start = rs + k * CHUNK
        end = tl.minimum(start + CHUNK, re)
        f = pid_f * BLOCK_F + tl.arange(0, BLOCK_F)
        fm = f < F
        if REDUCE < 2:
            acc = tl.zeros((BLOCK_F,), ACC)
        else:
            acc = tl.full((BLOCK_F,), float("-inf"), ACC)
            cnt = tl.zeros((BLOCK_F,), tl.int32)
        for e0 in range(start, end, BLOCK_E):
            for i in tl.static_range(BLOCK_E):
                e = e0 + i
                em = e < end
                c = tl.load(col_ptr + e, mask=em, other=0)
                if not IDX64:
                    c = c.to(tl.int32)
                m = fm & ((f * 0 + e) < end)  # (a vector mask: the interpreter rejects vector & scalar-bool)
                v = tl.load(x_ptr + c * stride_x + f, mask=m, other=0.0).to(ACC)
                if HAS_W:
                    v = v * tl.load(w_ptr + e, mask=em, other=0.0).to(ACC)
                if REDUCE < 2:
                    acc += v  # masked edges add +0.0: exact, the sum starts at +0.0
                else:
                    v = v.to(ROUND).to(ACC)
                    if REDUCE == 3:
                        v = -v
                    v = tl.where(m, v, float("-inf"))
                    new = tl.maximum(acc, v, propagate_nan=tl.PropagateNan.ALL)  # a NaN message wins, as in torch
                    cnt = tl.where(acc == new, cnt, 0) + ((v == new) & m).to(tl.int32)
                    acc = new
        res = acc
        if re - rs > CHUNK:
            p = tl.load(part_off_ptr + r) + k
            if not IDX64:
                p = p.to(tl.int32)
            tl.store(part_ptr + p * F + f, res, mask=fm)
            if REDUCE >= 2:
                tl.store(pcnt_ptr + p * F + f, cnt, mask=fm)
        else:
            if REDUCE == 1:
                res = res / tl.maximum(re - rs, 1).to(ACC)
            if REDUCE >= 2:
                if REDUCE == 3:
                    res = -res
                res = tl.where((cnt > 0) | (res != res), res, 0.0)  # empty rows give 0; a NaN stays
                if NEED_COUNT:
                    tl.store(cnt_ptr + r * F + f, cnt, mask=fm)
            tl.store(out_ptr + r * F + f, res.to(out_ptr.dtype.element_ty), mask=fm)


def _tuned_configs():
    """Edges in flight per step x warps per program. BLOCK_F is fixed by F (whole 128-feature rows per program,
    so 32 lanes x 4 floats = 16-byte loads at one warp); the reduction order is the same for every config."""
    return [
        triton.Config({"BLOCK_E": be}, num_warps=nw, num_stages=1)
        for be, nw in ((16, 1), (32, 1), (16, 2), (32, 2), (16, 4))
    ]


def _tune_bench(fn, quantiles=None):
    # short timing per config: the candidates differ by tens of percent, and tuning runs once per key.
    import triton.testing

    return triton.testing.do_bench(fn, warmup=5, rep=20, quantiles=quantiles)


# Used for large problems on a real GPU; ``tune_class`` separates sum/mean from max/min (and weights).
_rows_kernel_tuned = triton.autotune(
    configs=_tuned_configs(), key=["F", "tune_class"], do_bench=_tune_bench,
)(_rows_kernel)


@triton.jit
def _combine_kernel(
    src_ptr, src_cnt_ptr, lo_ptr, hi_ptr, dst_row_ptr, rowptr_ptr, dst_ptr, dst_cnt_ptr,
    n_rows, F,
    BLOCK_P: tl.constexpr, BLOCK_F: tl.constexpr, REDUCE: tl.constexpr, FINAL: tl.constexpr,
    NEED_COUNT: tl.constexpr, ACC: tl.constexpr,
):
    """Reduces partial rows ``src[lo[pid]:hi[pid]]`` in order. ``FINAL``: finishes row ``dst_row[pid]`` of the
    output (mean, min sign, empty -> 0, counts); else writes the running result to ``dst[pid]`` (a partial of the
    next level). BLOCK_P loads are in flight per step; they are reduced one by one, so the order is fixed."""
    pid = tl.program_id(0).to(tl.int64)
    pid_f = tl.program_id(1)
    if FINAL:
        r = tl.load(dst_row_ptr + pid)
    else:
        r = pid
    if r < n_rows:
        lo = tl.load(lo_ptr + pid)
        hi = tl.load(hi_ptr + pid)
        f = pid_f * BLOCK_F + tl.arange(0, BLOCK_F)
        fm = f < F
        if REDUCE < 2:
            acc = tl.zeros((BLOCK_F,), ACC)
        else:
            acc = tl.full((BLOCK_F,), float("-inf"), ACC)
            cnt = tl.zeros((BLOCK_F,), tl.int32)
        for p0 in range(lo, hi, BLOCK_P):
            for i in tl.static_range(BLOCK_P):
                p = p0 + i
                m = fm & ((f * 0 + p) < hi)
                v = tl.load(src_ptr + p * F + f, mask=m, other=0.0)
                if REDUCE < 2:
                    acc += v
                else:
                    c = tl.load(src_cnt_ptr + p * F + f, mask=m, other=0)
                    v = tl.where(m, v, float("-inf"))
                    new = tl.maximum(acc, v, propagate_nan=tl.PropagateNan.ALL)  # a NaN message wins, as in torch
                    cnt = tl.where(acc == new, cnt, 0) + tl.where(v == new, c, 0)
                    acc = new
        res = acc
        if FINAL:
            if REDUCE == 1:
                rs = tl.load(rowptr_ptr + r)
                re = tl.load(rowptr_ptr + r + 1)
                res = res / tl.maximum(re - rs, 1).to(ACC)
            if REDUCE >= 2:
                if REDUCE == 3:
                    res = -res
                res = tl.where((cnt > 0) | (res != res), res, 0.0)  # empty rows give 0; a NaN stays
                if NEED_COUNT:
                    tl.store(dst_cnt_ptr + r * F + f, cnt, mask=fm)
            tl.store(dst_ptr + r * F + f, res.to(dst_ptr.dtype.element_ty), mask=fm)
        else:
            tl.store(dst_ptr + r * F + f, res, mask=fm)
            if REDUCE >= 2:
                tl.store(dst_cnt_ptr + r * F + f, cnt, mask=fm)


@triton.jit
def _extremum_grad_kernel(
    x_ptr, col_t_ptr, w_t_ptr, rowptr_t_ptr, extra_row_ptr, extra_k_ptr, part_off_ptr,
    out_ptr, gc_ptr, grad_ptr, part_ptr,
    n_rows, n_extra, F, stride_x, tune_class,
    CHUNK: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,
    HAS_W: tl.constexpr, ROUND: tl.constexpr, ACC: tl.constexpr, IDX64: tl.constexpr, DENSE_G: tl.constexpr,
):
    """Max/min backward, one chunk of source row j: grad[j, f] = sum_{j -> i} [msg == out[i, f]] * w * gc[i, f].

    Same item layout as :func:`_rows_kernel` (over the transposed CSR). ``gc`` is loaded only where the message
    equals the extremum (a masked gather: about 1 / in-degree of its lanes are read), unless ``DENSE_G`` (whole-row
    vector loads: more bytes, fewer instructions; the autotuner picks). The shares are added one edge at a time in
    CSR order, so the result does not depend on BLOCK_E, num_warps or DENSE_G."""
    pid = tl.program_id(0)
    pid_f = tl.program_id(1)
    is_extra = pid < n_extra
    q = tl.minimum(pid, n_extra - 1)
    j = tl.where(is_extra, tl.load(extra_row_ptr + q, mask=is_extra, other=0), pid - n_extra)
    k = tl.load(extra_k_ptr + q, mask=is_extra, other=0)
    if IDX64:
        j = j.to(tl.int64)
    if j < n_rows:
        rs = tl.load(rowptr_t_ptr + j)
        re = tl.load(rowptr_t_ptr + j + 1)
        if not IDX64:
            rs = rs.to(tl.int32)
            re = re.to(tl.int32)
        start = rs + k * CHUNK
        end = tl.minimum(start + CHUNK, re)
        f = pid_f * BLOCK_F + tl.arange(0, BLOCK_F)
        fm = f < F
        xj = tl.load(x_ptr + j * stride_x + f, mask=fm, other=0.0).to(ACC)
        msg0 = xj.to(ROUND).to(ACC)
        acc = tl.zeros((BLOCK_F,), ACC)
        for e0 in range(start, end, BLOCK_E):
            for t in tl.static_range(BLOCK_E):
                e = e0 + t
                em = e < end
                i = tl.load(col_t_ptr + e, mask=em, other=0)
                if not IDX64:
                    i = i.to(tl.int32)
                m = fm & ((f * 0 + e) < end)
                o = tl.load(out_ptr + i * F + f, mask=m, other=0.0).to(ACC)
                if HAS_W:
                    wv = tl.load(w_t_ptr + e, mask=em, other=0.0).to(ACC)
                    hit = m & ((xj * wv).to(ROUND).to(ACC) == o)
                else:
                    hit = m & (msg0 == o)
                g = tl.load(gc_ptr + i * F + f, mask=m if DENSE_G else hit, other=0.0).to(ACC)
                if HAS_W:
                    g = g * wv
                acc += tl.where(hit, g, 0.0)
        if re - rs > CHUNK:
            p = tl.load(part_off_ptr + j) + k
            if not IDX64:
                p = p.to(tl.int32)
            tl.store(part_ptr + p * F + f, acc, mask=fm)
        else:
            tl.store(grad_ptr + j * F + f, acc, mask=fm)


_extremum_grad_kernel_tuned = triton.autotune(
    configs=[triton.Config(dict(c.kwargs, DENSE_G=d), num_warps=c.num_warps, num_stages=1)
             for c in _tuned_configs() for d in (False, True)],
    key=["F", "tune_class"], do_bench=_tune_bench,
)(_extremum_grad_kernel)


@triton.jit
def _edge_dot_kernel(
    x_ptr, col_ptr, row_ptr, w_ptr, gd_ptr, out_ptr, res_ptr,
    E, F, stride_x,
    BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr, MASKED: tl.constexpr, HAS_W: tl.constexpr, ROUND: tl.constexpr, ACC: tl.constexpr,
):
    """res[k] = sum_f x[col[k], f] * gd[row[k], f] (times [msg == out[row[k], f]] when MASKED)."""
    pid = tl.program_id(0).to(tl.int64)
    e = pid * BLOCK_E + tl.arange(0, BLOCK_E)
    em = e < E
    c = tl.load(col_ptr + e, mask=em, other=0)
    r = tl.load(row_ptr + e, mask=em, other=0)
    if HAS_W:
        wv = tl.load(w_ptr + e, mask=em, other=0.0).to(ACC)
    acc = tl.zeros((BLOCK_E, BLOCK_F), ACC)
    for f0 in range(0, F, BLOCK_F):
        f = f0 + tl.arange(0, BLOCK_F)
        m2 = em[:, None] & (f < F)[None, :]
        xv = tl.load(x_ptr + c[:, None] * stride_x + f[None, :], mask=m2, other=0.0).to(ACC)
        gv = tl.load(gd_ptr + r[:, None] * F + f[None, :], mask=m2, other=0.0)
        if MASKED:
            if HAS_W:
                msg = (xv * wv[:, None]).to(ROUND).to(ACC)
            else:
                msg = xv.to(ROUND).to(ACC)
            o = tl.load(out_ptr + r[:, None] * F + f[None, :], mask=m2, other=0.0).to(ACC)
            gv = tl.where(msg == o, gv, 0.0)
        acc += xv * gv
    tl.store(res_ptr + e, tl.sum(acc, axis=1), mask=em)


# ---------------------------------------------------------------------------------------------- launch helpers
def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; every other floating dtype accumulates in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _next_pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


_LAYOUTS: "dict" = {}


def _row_layout(rowptr: Tensor, num_edges: int):
    """Chunk bookkeeping of the forward kernel (sizes from N and E only: no device synchronisation).

    Returns ``extra_row``/``extra_k`` [cdiv(E, CHUNK)] int32 (row and chunk index of every second-or-later chunk;
    row ``N`` pads the unused tail), ``part_off`` [N + 1] (first partial of each split row), ``multi_rows`` (split
    rows, padded with ``N``) and the partial-buffer bound. Cached per ``rowptr`` tensor (weak reference + version
    counter), so repeated calls on one graph launch only the kernels."""
    key = id(rowptr)
    try:
        stamp = (rowptr._version, rowptr.data_ptr(), rowptr.numel(), num_edges, CHUNK, GROUP)
    except RuntimeError:  # inference tensors have no version counter: do not cache
        stamp = None
    hit = _LAYOUTS.get(key)
    if stamp is not None and hit is not None and hit[0]() is rowptr and hit[1] == stamp:
        return hit[2]
    n = rowptr.numel() - 1
    dev = rowptr.device
    nch = (rowptr.diff() + CHUNK - 1) // CHUNK
    extra_ptr = torch.zeros(n + 1, dtype=torch.long, device=dev)
    torch.cumsum((nch - 1).clamp(min=0), 0, out=extra_ptr[1:])
    n_extra = triton.cdiv(num_edges, CHUNK)  # >= sum(nch - 1)
    q = torch.arange(n_extra, device=dev)
    extra_row = torch.searchsorted(extra_ptr[1:], q, right=True)
    extra_k = (q - extra_ptr[extra_row] + 1).to(torch.int32)
    multi = nch > 1
    part_off = torch.zeros(n + 1, dtype=torch.long, device=dev)
    torch.cumsum(nch * multi, 0, out=part_off[1:])
    n_multi = n_extra + 1
    multi_rows = torch.searchsorted(torch.cumsum(multi, 0), torch.arange(1, n_multi + 1, device=dev))
    n_parts = 2 * n_extra + 1
    # two-level combine: a split row's partials are reduced in groups of GROUP (one program each, in parallel),
    # then the group results in order, so a hub with 10^5 partials is not one long serial loop.
    ngroups = torch.where(multi, (nch + GROUP - 1) // GROUP, 0)
    goff = torch.zeros(n + 1, dtype=torch.long, device=dev)
    torch.cumsum(ngroups, 0, out=goff[1:])
    n_groups = n_multi + triton.cdiv(n_parts, GROUP)  # >= sum(ngroups)
    t = torch.arange(n_groups, device=dev)
    grow = torch.searchsorted(goff[1:], t, right=True)
    gr = grow.clamp(max=n - 1)
    g_lo = part_off[gr] + (t - goff[gr]) * GROUP
    g_hi = torch.minimum(g_lo + GROUP, part_off[gr + 1])
    valid = grow < n
    g_lo, g_hi = torch.where(valid, g_lo, 0), torch.where(valid, g_hi, 0)
    r_lo, r_hi = _segment_bounds(goff, multi_rows, n)
    out = (extra_row.to(torch.int32), extra_k, part_off, multi_rows, n_parts, (g_lo, g_hi, r_lo, r_hi, n_groups))
    if stamp is not None:
        for k in [k for k, v in _LAYOUTS.items() if v[0]() is None]:
            del _LAYOUTS[k]
        if len(_LAYOUTS) >= 8:
            _LAYOUTS.pop(next(iter(_LAYOUTS)))
        _LAYOUTS[key] = (weakref.ref(rowptr), stamp, out)
    return out


def _segment_bounds(off: Tensor, rows: Tensor, n: int) -> Tuple[Tensor, Tensor]:
    """``off[rows]``, ``off[rows + 1]`` with padding rows (``>= n``) given the empty range ``0:0``."""
    rc = rows.clamp(max=n - 1)
    valid = rows < n
    return torch.where(valid, off[rc], 0), torch.where(valid, off[rc + 1], 0)


def _interpreted(x: Tensor) -> bool:
    return x.device.type == "cpu"


def reduce_rows(
    x: Tensor, rowptr: Tensor, col: Tensor, w: Optional[Tensor], reduce: str, need_count: bool,
    out_dtype: torch.dtype,
) -> Tuple[Tensor, Tensor]:
    """``out[r] = reduce_{k in row r} w[k] * x[col[k]]`` ([R, F], ``out_dtype``) and, for max/min with
    ``need_count``, the int32 count of messages equal to the extremum."""
    x = x.contiguous()
    n, nf = rowptr.numel() - 1, x.size(1)
    e = col.numel()
    red = _REDUCE[reduce]
    out = torch.empty(n, nf, dtype=out_dtype, device=x.device)
    # every row of ``cnt`` is written (directly or by the combine kernel): no zero fill needed.
    cnt = torch.empty(n, nf, dtype=torch.int32, device=x.device) if (red >= 2 and need_count) \
        else torch.empty(0, dtype=torch.int32, device=x.device)
    if n == 0 or nf == 0 or e == 0:  # (also keeps null pointers of empty tensors away from the launcher)
        return out.zero_(), cnt.zero_()
    extra_row, extra_k, part_off, multi_rows, n_parts, groups = _row_layout(rowptr, e)
    n_extra = extra_row.numel()
    acc = acc_dtype(x.dtype)
    part = torch.empty(n_parts, nf, dtype=acc, device=x.device)
    pcnt = torch.empty(n_parts, nf, dtype=torch.int32, device=x.device) if red >= 2 else part
    block_f = min(128, max(16, _next_pow2(nf)))
    grid = (n_extra + n, triton.cdiv(nf, block_f))
    wt = w if w is not None else col
    cnt_arg = cnt if cnt.numel() > 0 else pcnt  # never written when NEED_COUNT is off
    big = 2**31 - 1
    idx64 = max(x.size(0) * x.stride(0), n * nf, n_parts * nf, e + CHUNK) > big
    args = (x, col, wt, rowptr, extra_row, extra_k, part_off, out, cnt_arg, part, pcnt,
            n, n_extra, nf, x.stride(0), 2 * (red >= 2) + (w is not None))
    meta = dict(CHUNK=CHUNK, BLOCK_F=block_f, REDUCE=red, HAS_W=w is not None, NEED_COUNT=need_count and red >= 2,
                ROUND=_TL_DTYPE[out_dtype], ACC=_TL_DTYPE[acc], IDX64=idx64)
    if not _interpreted(x) and e * nf >= _TUNE_MIN_WORK:
        _rows_kernel_tuned[grid](*args, **meta)
    else:
        block_e = INTERP_BLOCK_E if _interpreted(x) else 16
        warps = 1 if block_f * x.element_size() <= 512 else 2
        _rows_kernel[grid](*args, BLOCK_E=block_e, num_warps=warps, num_stages=1, **meta)
    if e > CHUNK:
        _combine(part, pcnt, groups, multi_rows, rowptr, out, cnt_arg, red, need_count and red >= 2, block_f,
                 _interpreted(x))
    return out, cnt


def _combine(
    part: Tensor, pcnt: Tensor, groups, multi_rows: Tensor, rowptr: Tensor, out: Tensor, cnt_arg: Tensor,
    red: int, need_count: bool, block_f: int, interpreted: bool,
) -> None:
    """Reduces the partials of split rows into ``out`` (two levels: groups of GROUP in parallel, then in order)."""
    n, nf = out.shape
    g_lo, g_hi, r_lo, r_hi, n_groups = groups
    acc = part.dtype
    part2 = torch.empty(n_groups, nf, dtype=acc, device=out.device)
    pcnt2 = torch.empty(n_groups, nf, dtype=torch.int32, device=out.device) if red >= 2 else part2
    nfb = triton.cdiv(nf, block_f)
    cw = 1 if block_f * part.element_size() <= 512 else 2
    block_p = 4 if interpreted else 16
    _combine_kernel[(n_groups, nfb)](
        part, pcnt, g_lo, g_hi, g_lo, rowptr, part2, pcnt2, n_groups, nf,
        BLOCK_P=block_p, BLOCK_F=block_f, REDUCE=red, FINAL=False, NEED_COUNT=False, ACC=_TL_DTYPE[acc],
        num_warps=cw,
    )
    _combine_kernel[(multi_rows.numel(), nfb)](
        part2, pcnt2, r_lo, r_hi, multi_rows, rowptr, out, cnt_arg, n, nf,
        BLOCK_P=block_p, BLOCK_F=block_f, REDUCE=red, FINAL=True, NEED_COUNT=need_count,
        ACC=_TL_DTYPE[acc], num_warps=cw,
    )


def forward(x: Tensor, g: CSRTensors, w_csr: Optional[Tensor], reduce: str, need_count: bool):
    return reduce_rows(x, g.rowptr, g.col, w_csr, reduce, need_count, x.dtype)


def sum_transposed(g: CSRTensors, w_csr: Optional[Tensor], grad32: Tensor, n_src: int) -> Tensor:
    w_t = None if w_csr is None else w_csr[g.perm_t]
    out, _ = reduce_rows(grad32, g.rowptr_t, g.col_t, w_t, "sum", False, grad32.dtype)
    return out


def extremum_backward(
    x: Tensor, g: CSRTensors, w_csr: Optional[Tensor], out: Tensor, count: Tensor, grad: Tensor, n_src: int,
    need_x: bool, need_w: bool, reduce: str = "max",
):
    """Max/min backward: the shares ``grad / count`` (tie counts from the forward kernel, or recomputed) go to ``x``
    through the transposed CSR and to the weights as masked per-edge dot products."""
    if count.numel() == 0 and out.numel() > 0:
        count = reduce_rows(x, g.rowptr, g.col, w_csr, reduce, True, out.dtype)[1]
    # one elementwise pass; a row without in-edges (count 0) gets inf/nan here but is never read: the kernels load
    # gc[i] only for edges into i, and only where a message equals out[i] (so count[i] >= 1).
    gc = grad / count
    gx = _extremum_grad_x(x, g, w_csr, out, gc, n_src) if need_x else None
    gw = _edge_dot(x, g, w_csr, gc, out) if need_w else None
    return gx, gw


def edge_dot(x: Tensor, g: CSRTensors, gd: Tensor) -> Tensor:
    return _edge_dot(x, g, None, gd, None)


def _extremum_grad_x(
    x: Tensor, g: CSRTensors, w_csr: Optional[Tensor], out: Tensor, gc: Tensor, n_src: int
) -> Tensor:
    x = x.contiguous()
    rowptr_t, col_t, perm_t = g.rowptr_t, g.col_t, g.perm_t
    nf, e = x.size(1), col_t.numel()
    acc = acc_dtype(x.dtype)
    if n_src == 0 or nf == 0 or e == 0:
        return torch.zeros(n_src, nf, dtype=acc, device=x.device)
    # every row is written by the kernel (rows without out-edges get 0) or by the combine: no zero fill.
    grad = torch.empty(n_src, nf, dtype=acc, device=x.device)
    w_t = None if w_csr is None else w_csr[perm_t]
    extra_row, extra_k, part_off, multi_rows, n_parts, groups = _row_layout(rowptr_t, e)
    n_extra = extra_row.numel()
    part = torch.empty(n_parts, nf, dtype=acc, device=x.device)
    block_f = min(128, max(16, _next_pow2(nf)))
    grid = (n_extra + n_src, triton.cdiv(nf, block_f))
    big = 2**31 - 1
    idx64 = max(x.size(0) * x.stride(0), out.numel(), n_parts * nf, e + CHUNK) > big
    args = (x, col_t, w_t if w_t is not None else col_t, rowptr_t, extra_row, extra_k, part_off,
            out.contiguous(), gc.contiguous(), grad, part, n_src, n_extra, nf, x.stride(0),
            4 + (w_t is not None))
    meta = dict(CHUNK=CHUNK, BLOCK_F=block_f, HAS_W=w_t is not None, ROUND=_TL_DTYPE[out.dtype],
                ACC=_TL_DTYPE[acc], IDX64=idx64)
    if not _interpreted(x) and e * nf >= _TUNE_MIN_WORK:
        _extremum_grad_kernel_tuned[grid](*args, **meta)
    else:
        block_e = INTERP_BLOCK_E if _interpreted(x) else 16
        warps = 1 if block_f * x.element_size() <= 512 else 2
        _extremum_grad_kernel[grid](*args, BLOCK_E=block_e, DENSE_G=FIXED_DENSE_G, num_warps=warps, num_stages=1, **meta)
    if e > CHUNK:
        _combine(part, part, groups, multi_rows, rowptr_t, grad, grad, 0, False, block_f, _interpreted(x))
    return grad


def _edge_dot(x: Tensor, g: CSRTensors, w_csr: Optional[Tensor], gd: Tensor, out: Optional[Tensor]) -> Tensor:
    x = x.contiguous()
    col, row = g.col, g.row
    e, nf = col.numel(), x.size(1)
    acc = acc_dtype(x.dtype)
    res = torch.zeros(e, dtype=acc, device=x.device)
    if e == 0 or nf == 0:
        return res
    block_f = min(128, max(16, _next_pow2(nf)))
    block_e = max(8, 4096 // block_f)
    masked = out is not None
    dummy = gd
    _edge_dot_kernel[(triton.cdiv(e, block_e),)](
        x, col, row, w_csr if w_csr is not None else dummy, gd.contiguous(),
        out.contiguous() if masked else dummy, res, e, nf, x.stride(0),
        BLOCK_E=block_e, BLOCK_F=block_f, MASKED=masked, HAS_W=w_csr is not None,
        ROUND=_TL_DTYPE[out.dtype if masked else acc], ACC=_TL_DTYPE[acc],
    )
    return res
