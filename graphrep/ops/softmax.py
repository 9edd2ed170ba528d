"""``edge_softmax``: softmax of edge scores over the in-edges of each destination node (attention weights)."""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor

from . import _backend
from .aggregate import _use_custom_op
from .csr import CSR, CSRTensors


@torch.library.custom_op("graphrep::edge_softmax", mutates_args=())
def _edge_softmax(scores: Tensor, graph: List[Tensor], backend: str) -> Tensor:
    return _softmax_impl(scores, CSRTensors(*graph), backend)


def _edge_rows(g):
    """``(rows, dst)``: the CSR that reduces edge-order rows into their destinations (:meth:`CSR.edges_to_rows`,
    cached on a :class:`CSR`) and the destination of each edge in edge order. Working in edge order, the kernels
    gather each row's edges themselves, so no scores are permuted into CSR order and back."""
    if isinstance(g, CSR):
        rows = g.edges_to_rows()
        return rows, rows.col_t
    dst = g.row.index_select(0, g.inv_perm)
    ar = torch.arange(g.col.numel() + 1, device=g.col.device)
    return CSRTensors(g.rowptr, g.perm, g.row, g.perm, g.inv_perm, ar, dst, g.inv_perm), dst


def _row_reduce(be, x: Tensor, rows, reduce: str) -> Tensor:
    """``reduce`` of the edge-order rows of ``x`` [E, H] per destination, by the backend's kernel (no autograd)."""
    return be.forward(x, rows, None, reduce, False)[0]


def _softmax_impl(scores: Tensor, g, backend: str) -> Tensor:
    """``g``: a :class:`CSR` (eager path) or :class:`CSRTensors` (custom op)."""
    be = _backend.module(backend)
    rows, dst = _edge_rows(g)
    s = scores.reshape(scores.size(0), -1)
    ex = (s - _row_reduce(be, s, rows, "max").index_select(0, dst)).exp_()
    return ex.div_(_row_reduce(be, ex, rows, "sum").index_select(0, dst)).view_as(scores)


@_edge_softmax.register_fake
def _(scores, graph, backend):
    return torch.empty_like(scores)


@torch.library.custom_op("graphrep::edge_softmax_backward", mutates_args=())
def _edge_softmax_backward(grad: Tensor, alpha: Tensor, graph: List[Tensor], backend: str) -> Tensor:
    """``grad_s = alpha * (grad - sum_{in-edges of i} alpha * grad)`` with the row sums done by the fixed-order
    segment kernel (deterministic, no scatter)."""
    return _softmax_backward_impl(grad, alpha, CSRTensors(*graph), backend)


def _softmax_backward_impl(grad: Tensor, alpha: Tensor, g, backend: str) -> Tensor:
    be = _backend.module(backend)
    rows, dst = _edge_rows(g)
    a, gr = alpha.reshape(alpha.size(0), -1), grad.reshape(grad.size(0), -1)
    dot = _row_reduce(be, a * gr, rows, "sum")
    return (a * (gr - dot.index_select(0, dst))).view_as(alpha)


@_edge_softmax_backward.register_fake
def _(grad, alpha, graph, backend):
    return torch.empty_like(alpha)


def _setup(ctx, inputs, output):
    _, graph, backend = inputs
    ctx.backend = backend
    ctx.save_for_backward(output, *graph)


def _bwd(ctx, grad):
    alpha, *graph = ctx.saved_tensors
    gs = torch.ops.graphrep.edge_softmax_backward(grad.contiguous(), alpha, graph, ctx.backend)
    return gs, [None] * len(graph), None


_edge_softmax.register_autograd(_bwd, setup_context=_setup)


class _EagerSoftmax(torch.autograd.Function):
    """The same kernels for plain eager calls, without the custom op's dispatch overhead, on the :class:`CSR`
    object itself (see ``_EagerReduce``)."""

    @staticmethod
    def forward(ctx, scores, csr, backend):
        alpha = _softmax_impl(scores, csr, backend)
        ctx.csr, ctx.backend = csr, backend
        ctx.save_for_backward(alpha)
        return alpha

    @staticmethod
    def backward(ctx, grad):
        (alpha,) = ctx.saved_tensors
        return _softmax_backward_impl(grad.contiguous(), alpha, ctx.csr, ctx.backend), None, None


def edge_softmax(scores: Tensor, csr: CSR, backend: Optional[str] = None) -> Tensor:
    """``alpha_e = exp(s_e) / sum_{e' into dst(e)} exp(s_e')`` for every edge ``e``, per head.

    Computed stably (row maximum subtracted), deterministic, in the scores' dtype with float32 row sums for fp16/bf16.

    Shapes:
        - **input:** ``scores`` ``[E]`` or ``[E, H]`` in edge order
        - **output:** same shape as ``scores``
    """
    if not isinstance(csr, CSR):
        raise ValueError(f"csr must be a graphrep.ops.CSR, got {type(csr).__name__}")
    if not isinstance(scores, Tensor) or not scores.is_floating_point() or scores.dim() not in (1, 2):
        raise ValueError("scores must be a floating-point tensor of shape [E] or [E, H]")
    if scores.size(0) != csr.num_edges:
        raise ValueError(f"scores has {scores.size(0)} rows but the graph has {csr.num_edges} edges")
    be = _backend.resolve(scores, backend)
    if _use_custom_op(scores):
        return torch.ops.graphrep.edge_softmax(scores.contiguous(), csr.tensors(), be)
    return _EagerSoftmax.apply(scores.contiguous(), csr, be)
