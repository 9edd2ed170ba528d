"""GPU path: Triton kernels over the destination-major CSR (also run on CPU under ``TRITON_INTERPRET=1``).

Work decomposition (edge-balanced, deterministic, no atomics):

- Row ``r`` with in-degree ``d`` is cut into ``max(1, ceil(d / CHUNK))`` *items*; one program (per block of
  features) handles one item, so a hub with 10^6 in-edges becomes ~10^6 / CHUNK parallel programs.
- A row with one item writes its result directly. A row with several writes one float32 partial per item into a
  buffer; a second kernel reduces each such row's partials in item order. Summation order therefore depends only on
  the CSR, never on scheduling: outputs and gradients are bitwise reproducible.
- Index bookkeeping (item -> row, partial offsets) uses torch ops whose sizes follow from ``N`` and ``E`` alone
  (``N + ceil(E / CHUNK)`` items at most), so launching needs no device-to-host synchronisation.

Inside a program the gathered tile is ``[BLOCK_E, BLOCK_F]``; the accumulator is float32 whatever the input dtype.
Max/min track, per lane, the running extremum and how many messages reached it, so ties are counted exactly
(the backward pass splits the gradient among them, as ``torch.scatter_reduce`` does). Max/min compare messages
rounded to the output dtype: rounding is monotone, so this is the extremum of the messages in that dtype.
"""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor

CHUNK = int(os.environ.get("GRAPHREP_TRITON_CHUNK", "512"))
_REDUCE = {"sum": 0, "mean": 1, "max": 2, "min": 3}
_TL_DTYPE = {torch.float32: tl.float32, torch.float16: tl.float16, torch.bfloat16: tl.bfloat16,
             torch.float64: tl.float64}


@triton.jit
def _rows_kernel(
    x_ptr, col_ptr, w_ptr, rowptr_ptr, item_row_ptr, item_ptr_ptr, part_off_ptr,
    out_ptr, cnt_ptr, part_ptr, pcnt_ptr,
    n_rows, F, stride_x,
    CHUNK: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr, REDUCE: tl.constexpr,
    HAS_W: tl.constexpr, NEED_COUNT: tl.constexpr, ROUND: tl.constexpr, ACC: tl.constexpr,
):
    """One item (<= CHUNK edges of one row) x one feature block: out[r, f] = reduce_k w[k] * x[col[k], f]."""
    pid = tl.program_id(0)
    pid_f = tl.program_id(1)
    r = tl.load(item_row_ptr + pid)
    if r < n_rows:
        first = tl.load(item_ptr_ptr + r)
        nch = tl.load(item_ptr_ptr + r + 1) - first
        k = pid - first
        rs = tl.load(rowptr_ptr + r)
        re = tl.load(rowptr_ptr + r + 1)
        start = rs + k * CHUNK
        end = tl.minimum(start + CHUNK, re)
        f = pid_f * BLOCK_F + tl.arange(0, BLOCK_F)
        fm = f < F
        if REDUCE < 2:
            acc = tl.zeros((BLOCK_E, BLOCK_F), ACC)
        else:
            acc = tl.full((BLOCK_E, BLOCK_F), float("-inf"), ACC)
            cnt = tl.zeros((BLOCK_E, BLOCK_F), tl.int32)
        for e0 in range(start, end, BLOCK_E):
            e = e0 + tl.arange(0, BLOCK_E)
            em = e < end
            c = tl.load(col_ptr + e, mask=em, other=0)
            m2 = em[:, None] & fm[None, :]
            v = tl.load(x_ptr + c[:, None] * stride_x + f[None, :], mask=m2, other=0.0).to(ACC)
            if HAS_W:
                wv = tl.load(w_ptr + e, mask=em, other=0.0).to(ACC)
                v = v * wv[:, None]
            if REDUCE < 2:
                acc += v
            else:
                v = v.to(ROUND).to(ACC)
                if REDUCE == 3:
                    v = -v
                v = tl.where(m2, v, float("-inf"))
                new = tl.maximum(acc, v)
                cnt = tl.where(acc == new, cnt, 0) + ((v == new) & m2).to(tl.int32)
                acc = new
        if REDUCE < 2:
            res = tl.sum(acc, axis=0)
        else:
            res = tl.max(acc, axis=0)
            rc = tl.sum(tl.where(acc == res[None, :], cnt, 0), axis=0)
        if nch > 1:
            p = tl.load(part_off_ptr + r) + k
            tl.store(part_ptr + p * F + f, res, mask=fm)
            if REDUCE >= 2:
                tl.store(pcnt_ptr + p * F + f, rc, mask=fm)
        else:
            if REDUCE == 1:
                res = res / tl.maximum(re - rs, 1).to(ACC)
            if REDUCE >= 2:
                if REDUCE == 3:
                    res = -res
                res = tl.where(rc > 0, res, 0.0)
                if NEED_COUNT:
                    tl.store(cnt_ptr + r * F + f, rc, mask=fm)
            tl.store(out_ptr + r * F + f, res.to(out_ptr.dtype.element_ty), mask=fm)


@triton.jit
def _combine_kernel(
    part_ptr, pcnt_ptr, part_off_ptr, multi_rows_ptr, rowptr_ptr, out_ptr, cnt_ptr,
    n_rows, F,
    BLOCK_F: tl.constexpr, REDUCE: tl.constexpr, NEED_COUNT: tl.constexpr, ACC: tl.constexpr,
):
    """Reduces the partials of one multi-item row, in item order, and writes the row."""
    pid = tl.program_id(0)
    pid_f = tl.program_id(1)
    r = tl.load(multi_rows_ptr + pid)
    if r < n_rows:
        p0 = tl.load(part_off_ptr + r)
        p1 = tl.load(part_off_ptr + r + 1)
        f = pid_f * BLOCK_F + tl.arange(0, BLOCK_F)
        fm = f < F
        if REDUCE < 2:
            acc = tl.zeros((BLOCK_F,), ACC)
        else:
            acc = tl.full((BLOCK_F,), float("-inf"), ACC)
            cnt = tl.zeros((BLOCK_F,), tl.int32)
        for p in range(p0, p1):
            v = tl.load(part_ptr + p * F + f, mask=fm, other=0.0)
            if REDUCE < 2:
                acc += v
            else:
                c = tl.load(pcnt_ptr + p * F + f, mask=fm, other=0)
                new = tl.maximum(acc, v)
                cnt = tl.where(acc == new, cnt, 0) + tl.where(v == new, c, 0)
                acc = new
        res = acc
        if REDUCE == 1:
            rs = tl.load(rowptr_ptr + r)
            re = tl.load(rowptr_ptr + r + 1)
            res = res / tl.maximum(re - rs, 1).to(ACC)
        if REDUCE >= 2:
            if REDUCE == 3:
                res = -res
            res = tl.where(cnt > 0, res, 0.0)
            if NEED_COUNT:
                tl.store(cnt_ptr + r * F + f, cnt, mask=fm)
        tl.store(out_ptr + r * F + f, res.to(out_ptr.dtype.element_ty), mask=fm)


@triton.jit
def _extremum_grad_kernel(
    x_ptr, col_t_ptr, w_t_ptr, rowptr_t_ptr, item_row_ptr, item_ptr_ptr, part_off_ptr,
    out_ptr, gc_ptr, grad_ptr, part_ptr,
    n_rows, F, stride_x,
    CHUNK: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,
    HAS_W: tl.constexpr, ROUND: tl.constexpr, ACC: tl.constexpr,
):
    """Max/min backward, one item of source row j: grad[j, f] = sum_{j -> i} [msg == out[i, f]] * w * gc[i, f]."""
    pid = tl.program_id(0)
    pid_f = tl.program_id(1)
    j = tl.load(item_row_ptr + pid)
    if j < n_rows:
        first = tl.load(item_ptr_ptr + j)
        nch = tl.load(item_ptr_ptr + j + 1) - first
        k = pid - first
        rs = tl.load(rowptr_t_ptr + j)
        re = tl.load(rowptr_t_ptr + j + 1)
        start = rs + k * CHUNK
        end = tl.minimum(start + CHUNK, re)
        f = pid_f * BLOCK_F + tl.arange(0, BLOCK_F)
        fm = f < F
        xj = tl.load(x_ptr + j * stride_x + f, mask=fm, other=0.0).to(ACC)
        acc = tl.zeros((BLOCK_E, BLOCK_F), ACC)
        for e0 in range(start, end, BLOCK_E):
            e = e0 + tl.arange(0, BLOCK_E)
            em = e < end
            i = tl.load(col_t_ptr + e, mask=em, other=0)
            m2 = em[:, None] & fm[None, :]
            if HAS_W:
                wv = tl.load(w_t_ptr + e, mask=em, other=0.0).to(ACC)
                msg = (xj[None, :] * wv[:, None]).to(ROUND).to(ACC)
            else:
                msg = xj[None, :].to(ROUND).to(ACC) + tl.zeros((BLOCK_E, BLOCK_F), ACC)
            o = tl.load(out_ptr + i[:, None] * F + f[None, :], mask=m2, other=0.0).to(ACC)
            g = tl.load(gc_ptr + i[:, None] * F + f[None, :], mask=m2, other=0.0)
            if HAS_W:
                g = g * wv[:, None]
            acc += tl.where((msg == o) & m2, g, 0.0)
        res = tl.sum(acc, axis=0)
        if nch > 1:
            p = tl.load(part_off_ptr + j) + k
            tl.store(part_ptr + p * F + f, res, mask=fm)
        else:
            tl.store(grad_ptr + j * F + f, res, mask=fm)


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


def _blocks(num_rows: int, num_edges: int, num_features: int) -> Tuple[int, int]:
    block_f = min(128, max(16, _next_pow2(num_features)))
    avg = max(1, num_edges // max(1, num_rows))
    block_e = min(max(8, _next_pow2(avg)), max(8, 4096 // block_f), CHUNK)
    return block_e, block_f


def _layout(rowptr: Tensor, num_edges: int):
    """Item and partial bookkeeping for rows cut into CHUNK-edge items (sizes from N and E only: no sync)."""
    n = rowptr.numel() - 1
    dev = rowptr.device
    deg = rowptr.diff()
    nch = torch.clamp((deg + CHUNK - 1) // CHUNK, min=1)
    item_ptr = torch.zeros(n + 1, dtype=torch.long, device=dev)
    torch.cumsum(nch, 0, out=item_ptr[1:])
    n_items = n + triton.cdiv(num_edges, CHUNK)
    item_row = torch.searchsorted(item_ptr[1:], torch.arange(n_items, device=dev), right=True)
    multi = nch > 1
    part_off = torch.zeros(n + 1, dtype=torch.long, device=dev)
    torch.cumsum(nch * multi, 0, out=part_off[1:])
    n_multi = triton.cdiv(num_edges, CHUNK) + 1
    multi_rows = torch.searchsorted(torch.cumsum(multi, 0), torch.arange(1, n_multi + 1, device=dev))
    n_parts = 2 * triton.cdiv(num_edges, CHUNK) + 1
    return item_ptr, item_row, part_off, multi_rows, n_parts


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
    cnt = torch.zeros(n, nf, dtype=torch.int32, device=x.device) if (red >= 2 and need_count) \
        else torch.empty(0, dtype=torch.int32, device=x.device)
    if n == 0 or nf == 0 or e == 0:  # (also keeps null pointers of empty tensors away from the launcher)
        return out.zero_(), cnt
    item_ptr, item_row, part_off, multi_rows, n_parts = _layout(rowptr, e)
    acc = acc_dtype(x.dtype)
    part = torch.empty(n_parts, nf, dtype=acc, device=x.device)
    pcnt = torch.empty(n_parts, nf, dtype=torch.int32, device=x.device) if red >= 2 else part
    block_e, block_f = _blocks(n, e, nf)
    grid = (item_row.numel(), triton.cdiv(nf, block_f))
    wt = w if w is not None else col
    cnt_arg = cnt if cnt.numel() > 0 else pcnt  # never written when NEED_COUNT is off
    _rows_kernel[grid](
        x, col, wt, rowptr, item_row, item_ptr, part_off, out, cnt_arg, part, pcnt,
        n, nf, x.stride(0),
        CHUNK=CHUNK, BLOCK_E=block_e, BLOCK_F=block_f, REDUCE=red, HAS_W=w is not None,
        NEED_COUNT=need_count and red >= 2, ROUND=_TL_DTYPE[out_dtype], ACC=_TL_DTYPE[acc],
    )
    if e > CHUNK:
        _combine_kernel[(multi_rows.numel(), triton.cdiv(nf, block_f))](
            part, pcnt, part_off, multi_rows, rowptr, out, cnt_arg, n, nf,
            BLOCK_F=block_f, REDUCE=red, NEED_COUNT=need_count and red >= 2, ACC=_TL_DTYPE[acc],
        )
    return out, cnt


def forward(x: Tensor, g: List[Tensor], w_csr: Optional[Tensor], reduce: str, need_count: bool):
    return reduce_rows(x, g[0], g[1], w_csr, reduce, need_count, x.dtype)


def sum_transposed(g: List[Tensor], w_csr: Optional[Tensor], grad32: Tensor, n_src: int) -> Tensor:
    w_t = None if w_csr is None else w_csr[g[7]]
    out, _ = reduce_rows(grad32, g[5], g[6], w_t, "sum", False, grad32.dtype)
    return out


def extremum_backward(
    x: Tensor, g: List[Tensor], w_csr: Optional[Tensor], out: Tensor, count: Tensor, grad: Tensor, n_src: int,
    need_x: bool, need_w: bool, reduce: str = "max",
):
    """Max/min backward: the shares ``grad / count`` (tie counts from the forward kernel, or recomputed) go to ``x``
    through the transposed CSR and to the weights as masked per-edge dot products."""
    if count.numel() == 0 and out.numel() > 0:
        count = reduce_rows(x, g[0], g[1], w_csr, reduce, True, out.dtype)[1]
    gc = grad / count.clamp(min=1).to(grad.dtype)
    gx = _extremum_grad_x(x, g, w_csr, out, gc, n_src) if need_x else None
    gw = _edge_dot(x, g, w_csr, gc, out) if need_w else None
    return gx, gw


def edge_dot(x: Tensor, g: List[Tensor], gd: Tensor) -> Tensor:
    return _edge_dot(x, g, None, gd, None)


def _extremum_grad_x(
    x: Tensor, g: List[Tensor], w_csr: Optional[Tensor], out: Tensor, gc: Tensor, n_src: int
) -> Tensor:
    x = x.contiguous()
    rowptr_t, col_t, perm_t = g[5], g[6], g[7]
    nf, e = x.size(1), col_t.numel()
    acc = acc_dtype(x.dtype)
    grad = torch.zeros(n_src, nf, dtype=acc, device=x.device)
    if n_src == 0 or nf == 0 or e == 0:
        return grad
    w_t = None if w_csr is None else w_csr[perm_t]
    item_ptr, item_row, part_off, multi_rows, n_parts = _layout(rowptr_t, e)
    part = torch.empty(n_parts, nf, dtype=acc, device=x.device)
    block_e, block_f = _blocks(n_src, e, nf)
    grid = (item_row.numel(), triton.cdiv(nf, block_f))
    _extremum_grad_kernel[grid](
        x, col_t, w_t if w_t is not None else col_t, rowptr_t, item_row, item_ptr, part_off,
        out.contiguous(), gc.contiguous(), grad, part, n_src, nf, x.stride(0),
        CHUNK=CHUNK, BLOCK_E=block_e, BLOCK_F=block_f, HAS_W=w_t is not None, ROUND=_TL_DTYPE[out.dtype], ACC=_TL_DTYPE[acc],
    )
    if e > CHUNK:
        _combine_kernel[(multi_rows.numel(), triton.cdiv(nf, block_f))](
            part, part, part_off, multi_rows, rowptr_t, grad, grad, n_src, nf,
            BLOCK_F=block_f, REDUCE=0, NEED_COUNT=False, ACC=_TL_DTYPE[acc],
        )
    return grad


def _edge_dot(x: Tensor, g: List[Tensor], w_csr: Optional[Tensor], gd: Tensor, out: Optional[Tensor]) -> Tensor:
    x = x.contiguous()
    col, row = g[1], g[2]
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
