"""``aggregate``: ``out[i] = reduce_{j -> i} w_ji * x[j]`` over the in-edges of each node, as a torch custom op.

Semantics (the float64 reference in :mod:`graphrep.ops.reference` states them as code):

- ``sum``: ``sum_j w_ji x_j``; ``mean``: that sum divided by the in-degree (number of in-edges, weights or not);
  ``max``/``min``: elementwise extremum of the messages ``w_ji x_j``. A node without in-edges gets 0, with zero
  gradient.
- Gradients of max/min follow ``torch.scatter_reduce(..., include_self=False)``: the gradient of ``out[i, f]`` is
  split evenly among all messages equal to it (ties, e.g. from multi-edges, share it). NaN: a NaN message makes
  its output NaN (forward, as torch), and every message into a NaN output gets a NaN gradient (``x_j[f]`` and the
  edge's weight), as in torch's backward, where no message equals NaN and the share is ``0 * (grad / 0)``. Messages in fp16/bf16 are
  compared after rounding to that dtype (torch's own fp16 reductions behave the same way).
- fp16/bf16 inputs accumulate in float32; float64 stays float64. Results are bitwise reproducible: each output is
  reduced in an order fixed by the CSR, and gradients go through the transposed CSR instead of atomics.
- Extra memory is O(N * F + E): no tensor of shape [E, F] is created in forward or backward.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import Tensor

from . import _backend
from .csr import CSR, CSRTensors

REDUCES = ("sum", "mean", "max", "min")


def _acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


@torch.library.custom_op("graphrep::csr_reduce", mutates_args=())
def csr_reduce(
    x: Tensor, graph: List[Tensor], edge_weight: Optional[Tensor], reduce: str, backend: str, need_count: bool
) -> Tuple[Tensor, Tensor]:
    """Forward kernel. ``x`` [N_src, F], ``graph`` = :meth:`CSR.tensors`, ``edge_weight`` [E] in edge order.
    Returns ``out`` [N_dst, F] and, for max/min on Triton with ``need_count``, the int32 tie counts (else empty)."""
    return _reduce_impl(x, CSRTensors(*graph), edge_weight, reduce, backend, need_count)


def _reduce_impl(x, g, edge_weight, reduce, backend, need_count):
    """``g``: a :class:`CSR` (eager path) or :class:`CSRTensors` (custom op); the kernels read the same fields."""
    w_csr = None if edge_weight is None else edge_weight.index_select(0, g.perm)
    return _backend.module(backend).forward(x.contiguous(), g, w_csr, reduce, need_count)


@csr_reduce.register_fake
def _(x, graph, edge_weight, reduce, backend, need_count):
    n, nf = CSRTensors(*graph).rowptr.shape[0] - 1, x.shape[1]
    out = x.new_empty((n, nf))
    with_count = backend == "triton" and need_count and reduce in ("max", "min")
    return out, x.new_empty((n, nf) if with_count else (0,), dtype=torch.int32)


@torch.library.custom_op("graphrep::csr_reduce_backward", mutates_args=())
def csr_reduce_backward(
    grad: Tensor, x: Tensor, graph: List[Tensor], edge_weight: Optional[Tensor], out: Tensor, count: Tensor,
    reduce: str, backend: str, need_x: bool, need_w: bool,
) -> Tuple[Tensor, Tensor]:
    """Gradients of :func:`csr_reduce` for ``x`` and ``edge_weight`` (per-edge dot products, in edge order).

    sum/mean: ``grad_x`` is a sum over the transposed CSR. max/min: the gradient of each output is split evenly
    among the messages equal to it (Triton: tie counts from the forward kernel, shares summed over the transposed
    CSR; CPU: one chunked pass over the CSR). Returns empty tensors for gradients not asked for."""
    return _reduce_backward_impl(grad, x, CSRTensors(*graph), edge_weight, out, count, reduce, backend, need_x,
                                 need_w)


def _reduce_backward_impl(grad, x, graph, edge_weight, out, count, reduce, backend, need_x, need_w):
    be = _backend.module(backend)
    x = None if x is None else x.contiguous()  # None on the eager path when only grad_x of a sum/mean is asked
    acc = _acc(grad.dtype)
    n_src = graph.rowptr_t.numel() - 1
    w_csr = None if edge_weight is None else edge_weight.index_select(0, graph.perm)
    g = grad.to(acc).contiguous()
    gx = gw = None
    if reduce in ("sum", "mean"):
        if reduce == "mean":
            g = g / graph.rowptr.diff().clamp(min=1).to(acc).unsqueeze(1)
        if need_x:
            gx = be.sum_transposed(graph, w_csr, g, n_src)
        if need_w:
            gw = be.edge_dot(x, graph, g)
    else:
        gx, gw = be.extremum_backward(x, graph, w_csr, out, count, g, n_src, need_x, need_w, reduce)
        gx, gw = _nan_extremum_grads(be, graph, out, gx, gw, n_src, acc)
    grad_x = gx.to(grad.dtype) if gx is not None else grad.new_empty(0)
    if gw is not None:
        grad_w = gw.index_select(0, graph.inv_perm).to(edge_weight.dtype)
    else:
        grad_w = grad.new_empty(0)
    return grad_x, grad_w


def _nan_extremum_grads(be, graph: CSRTensors, out: Tensor, gx, gw, n_src: int, acc: torch.dtype):
    """torch.scatter_reduce's rule for a NaN maximum/minimum: no message equals NaN, so the share of each message
    into that output is ``0 * (grad / 0)`` = NaN. Every input reaching a NaN output (feature ``f`` of ``x_j``; the
    weight of the edge) gets a NaN gradient, where the tie rule alone would give it 0."""
    nan_out = torch.isnan(out)
    if not bool(nan_out.any()):
        return gx, gw
    if gx is not None:
        hit = be.sum_transposed(graph, None, nan_out.to(acc), n_src) > 0
        gx = gx.masked_fill(hit, float("nan"))
    if gw is not None:
        gw = gw.masked_fill(nan_out.any(1).index_select(0, graph.row), float("nan"))
    return gx, gw


@csr_reduce_backward.register_fake
def _(grad, x, graph, edge_weight, out, count, reduce, backend, need_x, need_w):
    gx = x.new_empty(x.shape) if need_x else x.new_empty(0)
    gw = edge_weight.new_empty(edge_weight.shape) if (need_w and edge_weight is not None) else x.new_empty(0)
    return gx, gw


def _setup_context(ctx, inputs, output):
    x, graph, edge_weight, reduce, backend, _ = inputs
    out, count = output
    ctx.reduce, ctx.backend = reduce, backend
    ctx.num_graph = len(graph)
    ctx.save_for_backward(x, edge_weight, out, count, *graph)


def _backward(ctx, grad_out, _grad_count):
    x, edge_weight, out, count, *graph = ctx.saved_tensors
    need_x = ctx.needs_input_grad[0]
    need_w = edge_weight is not None and ctx.needs_input_grad[2]
    gx, gw = torch.ops.graphrep.csr_reduce_backward(
        grad_out, x, graph, edge_weight, out, count, ctx.reduce, ctx.backend, need_x, need_w
    )
    return (gx if need_x else None), [None] * len(graph), (gw if need_w else None), None, None, None


csr_reduce.register_autograd(_backward, setup_context=_setup_context)


class _EagerReduce(torch.autograd.Function):
    """The same kernels as :func:`csr_reduce` for plain eager calls, without the custom op's dispatch: on a CPU its
    Python overhead outweighed the kernel for molecule-size batches. It takes the :class:`CSR` object itself rather
    than its eight index tensors (fewer autograd arguments and saved tensors, and the kernels may cache per-graph
    objects on it). ``torch.compile``, fake tensors and dispatch modes see the custom op."""

    @staticmethod
    def forward(ctx, x, edge_weight, csr, reduce, backend, need_count):
        out, count = _reduce_impl(x, csr, edge_weight, reduce, backend, need_count)
        ctx.csr, ctx.reduce, ctx.backend = csr, reduce, backend
        if reduce in ("sum", "mean"):  # the backward reads x only for edge-weight gradients, never out or count
            ctx.save_for_backward(x if edge_weight is not None else None, edge_weight)
        else:
            ctx.save_for_backward(x, edge_weight, out, count)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, edge_weight, *rest = ctx.saved_tensors
        out, count = rest if rest else (None, None)
        need_x = ctx.needs_input_grad[0]
        need_w = edge_weight is not None and ctx.needs_input_grad[1]
        gx, gw = _reduce_backward_impl(grad_out, x, ctx.csr, edge_weight, out, count, ctx.reduce, ctx.backend,
                                       need_x, need_w)
        return (gx if need_x else None), (gw if need_w else None), None, None, None, None


def _use_custom_op(x: Tensor) -> bool:
    return torch.compiler.is_compiling() or type(x) is not Tensor or torch._C._len_torch_dispatch_stack() > 0


def aggregate(
    x: Tensor, csr: CSR, reduce: str = "sum", edge_weight: Optional[Tensor] = None, backend: Optional[str] = None
) -> Tensor:
    """Reduces the messages ``w_ji * x_j`` arriving at each node ``i``.

    Args:
        x: node features ``[N_src, *]`` (float16, bfloat16, float32 or float64).
        csr: the graph, from :meth:`CSR.from_edge_index` or :meth:`CSR.of`.
        reduce: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``.
        edge_weight: optional ``[E]`` weights in the order of ``edge_index``'s columns.
        backend: ``"torch"``, ``"triton"`` or ``"auto"``; ``None`` reads ``GRAPHREP_OPS_BACKEND`` (default auto).

    Shapes:
        - **input:** ``x`` ``[N_src, *]``, ``edge_weight`` ``[E]``
        - **output:** ``[N_dst, *]`` in ``x.dtype``
    """
    if not isinstance(csr, CSR):
        raise ValueError(f"csr must be a graphrep.ops.CSR (use CSR.from_edge_index), got {type(csr).__name__}")
    if reduce not in REDUCES:
        raise ValueError(f"reduce must be one of {REDUCES}, got {reduce!r}")
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.dim() == 0 or x.size(0) != csr.num_src:
        raise ValueError(f"x has {x.size(0) if x.dim() else 0} rows but the graph has {csr.num_src} source nodes")
    if x.device != csr.device:
        raise ValueError(f"x is on {x.device} but the graph is on {csr.device} (use csr.to(device))")
    if edge_weight is not None:
        if edge_weight.shape != (csr.num_edges,):
            raise ValueError(f"edge_weight must have shape [{csr.num_edges}] (one per edge), "
                             f"got {list(edge_weight.shape)}")
        if not edge_weight.is_floating_point() or edge_weight.device != x.device:
            raise ValueError("edge_weight must be a floating-point tensor on the same device as x")
    be = _backend.resolve(x, backend)
    flat = x.dim() == 2
    x2 = x if flat else x.reshape(x.size(0), x.shape[1:].numel())  # not -1: x may have 0 rows
    need_count = (
        reduce in ("max", "min")
        and torch.is_grad_enabled()
        and (x.requires_grad or (edge_weight is not None and edge_weight.requires_grad))
    )
    if _use_custom_op(x2):
        out, _ = torch.ops.graphrep.csr_reduce(x2, csr.tensors(), edge_weight, reduce, be, need_count)
    else:
        out = _EagerReduce.apply(x2, edge_weight, csr, reduce, be, need_count)
    return out if flat else out.reshape((csr.num_dst,) + tuple(x.shape[1:]))
