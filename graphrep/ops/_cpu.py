"""CPU path: torch's CSR products with reductions (``torch.sparse.mm(A, x, reduce)``, one pass over the CSR,
parallel over rows, so deterministic) for forward and the sum/mean backward; max/min backward and edge-weight
gradients walk the edges in fixed-size chunks so no E x F tensor is ever alive (peak extra memory O(chunk * F)).

Every function takes the graph as the list from :meth:`graphrep.ops.CSR.tensors` and works in float32 (float64
for float64 inputs; fp16/bf16 inputs are widened once, so sums accumulate in fp32).
"""

from __future__ import annotations

import warnings
from typing import List, Optional

import torch
from torch import Tensor

# edges per chunk are chosen so a chunk holds about this many feature values (16 MB in fp32)
_CHUNK_VALUES = 1 << 22
_TORCH_REDUCE = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin"}


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; every other floating dtype accumulates in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _acc(t: Optional[Tensor], dtype: torch.dtype) -> Optional[Tensor]:
    return None if t is None else t.to(acc_dtype(dtype))


def _csr_matrix(
    rowptr: Tensor, col: Tensor, values: Optional[Tensor], n_rows: int, n_cols: int, dtype: torch.dtype
) -> Tensor:
    if values is None:
        values = torch.ones(col.numel(), dtype=dtype, device=col.device)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore")
        return torch.sparse_csr_tensor(rowptr, col, values, size=(n_rows, n_cols))


def spmm(rowptr: Tensor, col: Tensor, values: Optional[Tensor], x32: Tensor, n_rows: int, reduce: str) -> Tensor:
    """``out[i] = reduce_{k in row i} values[k] * x32[col[k]]`` in float32; empty rows give 0."""
    if col.numel() == 0 or x32.size(1) == 0:
        return x32.new_zeros(n_rows, x32.size(1))
    a = _csr_matrix(rowptr, col, values, n_rows, x32.size(0), x32.dtype)
    return torch.sparse.mm(a, x32, _TORCH_REDUCE[reduce])


def forward(x: Tensor, g: List[Tensor], w_csr: Optional[Tensor], reduce: str, need_count: bool):
    """Returns ``(out, count)``; the count of max/min ties is left empty here and computed by the backward pass."""
    rowptr, col = g[0], g[1]
    out = spmm(rowptr, col, _acc(w_csr, x.dtype), _acc(x, x.dtype), rowptr.numel() - 1, reduce)
    return out.to(x.dtype), torch.empty(0, dtype=torch.int32)


def _chunks(num_edges: int, num_features: int):
    step = max(1, _CHUNK_VALUES // max(1, num_features))
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


def count_extrema(x: Tensor, g: List[Tensor], w_csr: Optional[Tensor], out: Tensor, reduce: str) -> Tensor:
    """``count[i, f]`` = number of edges into ``i`` whose message equals ``out[i, f]`` (int32 [N_dst, F])."""
    col, row = g[1], g[2]
    x32, o32, w32 = _acc(x, x.dtype), _acc(out, x.dtype), _acc(w_csr, x.dtype)
    count = torch.zeros(out.shape, dtype=torch.int32)
    for a, b in _chunks(col.numel(), x.size(1)):
        m = _messages(x32, col[a:b], None if w32 is None else w32[a:b], out.dtype)
        eq = m == o32.index_select(0, row[a:b])
        count.index_add_(0, row[a:b], eq.to(torch.int32))
    return count


def sum_transposed(g: List[Tensor], w_csr: Optional[Tensor], grad32: Tensor, n_src: int) -> Tensor:
    """``grad_x[j] = sum_{j -> i} w_ji * grad32[i]`` through the transposed CSR."""
    rowptr_t, col_t, perm_t = g[5], g[6], g[7]
    w_t = None if w_csr is None else _acc(w_csr, grad32.dtype)[perm_t]
    return spmm(rowptr_t, col_t, w_t, grad32, n_src, "sum")


def extremum_grad_x(
    x: Tensor, g: List[Tensor], w_csr: Optional[Tensor], out: Tensor, gc: Tensor, n_src: int
) -> Tensor:
    """``grad_x[j] = sum_{j -> i} [msg_ji == out_i] * w_ji * gc[i]`` walking transposed positions in chunks, so
    each chunk covers consecutive sources and is reduced with ``segment_reduce`` (no scatter collisions)."""
    col, perm_t, col_t = g[1], g[7], g[6]
    x32, o32, w32 = _acc(x, x.dtype), _acc(out, x.dtype), _acc(w_csr, x.dtype)
    grad = torch.zeros(n_src, x.size(1), dtype=x32.dtype)
    for a, b in _chunks(col_t.numel(), x.size(1)):
        p = perm_t[a:b]
        src, dst = col[p], col_t[a:b]
        wp = None if w32 is None else w32[p]
        m = _messages(x32, src, wp, out.dtype)
        contrib = (m == o32.index_select(0, dst)).to(x32.dtype).mul_(gc.index_select(0, dst))
        if wp is not None:
            contrib.mul_(wp.unsqueeze(1))
        uniq, lengths = torch.unique_consecutive(src, return_counts=True)
        grad.index_add_(0, uniq, torch.segment_reduce(contrib, "sum", lengths=lengths, axis=0))
    return grad


def edge_dot(
    x: Tensor, g: List[Tensor], w_csr: Optional[Tensor], gd: Tensor, out: Optional[Tensor]
) -> Tensor:
    """Per CSR position ``k = (j -> i)``: ``sum_f x[j, f] * gd[i, f]``, restricted to ``msg == out`` when ``out``
    is given (max/min). float32 [E]."""
    col, row = g[1], g[2]
    x32, w32, o32 = _acc(x, x.dtype), _acc(w_csr, x.dtype), _acc(out, x.dtype)
    res = torch.empty(col.numel(), dtype=x32.dtype)
    for a, b in _chunks(col.numel(), x.size(1)):
        xs = x32.index_select(0, col[a:b])
        t = gd.index_select(0, row[a:b])
        if o32 is not None:
            m = _messages(x32, col[a:b], None if w32 is None else w32[a:b], out.dtype)
            t.mul_(m == o32.index_select(0, row[a:b]))
        res[a:b] = (xs * t).sum(1)
    return res
