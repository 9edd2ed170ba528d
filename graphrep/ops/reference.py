"""Slow, plain float64 reference implementations of the ops, for tests.

They define the semantics: messages ``w_ji * x_j`` reduced with ``torch.scatter_reduce(..., include_self=False)``
into zeros (so empty rows are 0 and max/min gradients are split evenly among ties, as torch defines them).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

_TORCH = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin"}


def aggregate_reference(
    x: Tensor, edge_index: Tensor, num_dst: int, reduce: str = "sum", edge_weight: Optional[Tensor] = None
) -> Tensor:
    """``out[i] = reduce_{(j, i) in edge_index} w_ji * x[j]`` in float64 ``[num_dst, *]``; differentiable.

    For max/min with fp16/bf16 inputs the messages are rounded to that dtype first, as a reduction in that dtype
    (and graphrep's kernels) compares them; the product of two fp16/bf16 numbers is exact in float64, so this is the
    correctly rounded message."""
    dtype = x.dtype
    x = x.double()
    src, dst = edge_index[0].long(), edge_index[1].long()
    msg = x[src]
    if edge_weight is not None:
        msg = msg * edge_weight.double().view(-1, *([1] * (x.dim() - 1)))
    if reduce in ("max", "min") and dtype in (torch.float16, torch.bfloat16):
        msg = msg + (msg.to(dtype).double() - msg).detach()
    out = x.new_zeros((num_dst,) + tuple(x.shape[1:]))
    idx = dst.view(-1, *([1] * (x.dim() - 1))).expand_as(msg)
    return out.scatter_reduce(0, idx, msg, _TORCH[reduce], include_self=False)


def segment_reference(x: Tensor, ptr: Tensor, reduce: str = "sum") -> Tensor:
    """``out[b] = reduce(x[ptr[b]:ptr[b+1]])`` in float64, one segment at a time; empty segments give 0."""
    rows = []
    for b in range(ptr.numel() - 1):
        seg = x[int(ptr[b]):int(ptr[b + 1])].double()
        if seg.size(0) == 0:
            rows.append(x.new_zeros(x.shape[1:], dtype=torch.float64))
            continue
        src = torch.zeros(seg.size(0), dtype=torch.long)
        rows.append(aggregate_reference(seg, torch.stack([torch.arange(seg.size(0)), src]), 1, reduce)[0])
    return torch.stack(rows) if rows else x.new_zeros((0,) + tuple(x.shape[1:]), dtype=torch.float64)


def edge_softmax_reference(scores: Tensor, edge_index: Tensor, num_dst: int) -> Tensor:
    """Softmax of ``scores`` [E] or [E, H] over the in-edges of each destination, edge by edge, in float64."""
    s = scores.double()
    out = torch.empty_like(s)
    dst = edge_index[1].long()
    for i in range(num_dst):
        ids = torch.nonzero(dst == i).flatten()
        if ids.numel():
            out[ids] = torch.softmax(s[ids], dim=0)
    return out


def random_graph(
    n=60, e=400, hub=150, empty=6, seed=0, loops=6, multi=6, device="cpu"
) -> Tensor:
    """``edge_index`` [2, e] on ``n`` nodes: node 0 is a hub with ``hub`` in-edges, the last ``empty`` nodes have no
    in-edges, ``loops`` self-loops and ``multi`` repeated edges (exact ties for max/min)."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (e,), generator=g)
    dst = torch.randint(0, n - empty, (e,), generator=g)
    dst[:hub] = 0
    k = hub
    src[k:k + loops] = dst[k:k + loops]
    k += loops
    src[k:k + multi], dst[k:k + multi] = src[k + multi:k + 2 * multi], dst[k + multi:k + 2 * multi]
    order = torch.randperm(e, generator=g)
    return torch.stack([src, dst])[:, order].to(device)
