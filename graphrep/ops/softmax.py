"""``edge_softmax``: softmax of edge scores over the in-edges of each destination node (attention weights)."""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor

from .aggregate import _use_custom_op, aggregate
from .csr import CSR, CSRTensors


@torch.library.custom_op("graphrep::edge_softmax", mutates_args=())
def _edge_softmax(scores: Tensor, graph: List[Tensor], backend: str) -> Tensor:
    return _softmax_impl(scores, graph, backend)


def _softmax_impl(scores: Tensor, graph: List[Tensor], backend: str) -> Tensor:
    g = CSRTensors(*graph)
    rowptr, row, perm, inv_perm = g.rowptr, g.row, g.perm, g.inv_perm
    rows = CSR.from_ptr(rowptr, row.numel(), row)  # CSR positions grouped by destination
    s = scores[perm]
    with torch.no_grad():
        mx = aggregate(s, rows, "max", backend=backend)
        ex = (s - mx[row]).exp_()
        den = aggregate(ex, rows, "sum", backend=backend)
    return (ex / den[row])[inv_perm]


@_edge_softmax.register_fake
def _(scores, graph, backend):
    return torch.empty_like(scores)


@torch.library.custom_op("graphrep::edge_softmax_backward", mutates_args=())
def _edge_softmax_backward(grad: Tensor, alpha: Tensor, graph: List[Tensor], backend: str) -> Tensor:
    """``grad_s = alpha * (grad - sum_{in-edges of i} alpha * grad)`` with the row sums done by the fixed-order
    segment kernel (deterministic, no scatter)."""
    return _softmax_backward_impl(grad, alpha, graph, backend)


def _softmax_backward_impl(grad: Tensor, alpha: Tensor, graph: List[Tensor], backend: str) -> Tensor:
    g = CSRTensors(*graph)
    rowptr, row, perm, inv_perm = g.rowptr, g.row, g.perm, g.inv_perm
    rows = CSR.from_ptr(rowptr, row.numel(), row)  # CSR positions grouped by destination
    a, g = alpha[perm], grad[perm]
    with torch.no_grad():
        dot = aggregate(a * g, rows, "sum", backend=backend)
    return (a * (g - dot[row]))[inv_perm]


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
    """The same kernels for plain eager calls, without the custom op's dispatch overhead (see ``_EagerReduce``)."""

    @staticmethod
    def forward(ctx, scores, backend, *graph):
        alpha = _softmax_impl(scores, list(graph), backend)
        ctx.backend = backend
        ctx.save_for_backward(alpha, *graph)
        return alpha

    @staticmethod
    def backward(ctx, grad):
        alpha, *graph = ctx.saved_tensors
        return _softmax_backward_impl(grad.contiguous(), alpha, graph, ctx.backend), None, *([None] * len(graph))


def edge_softmax(scores: Tensor, csr: CSR, backend: Optional[str] = None) -> Tensor:
    """``alpha_e = exp(s_e) / sum_{e' into dst(e)} exp(s_e')`` for every edge ``e``, per head.

    Computed stably (row maximum subtracted), deterministic, in the scores' dtype with float32 row sums for fp16/bf16.

    Shapes:
        - **input:** ``scores`` ``[E]`` or ``[E, H]`` in edge order
        - **output:** same shape as ``scores``
    """
    from . import _backend

    if not isinstance(csr, CSR):
        raise ValueError(f"csr must be a graphrep.ops.CSR, got {type(csr).__name__}")
    if not isinstance(scores, Tensor) or not scores.is_floating_point() or scores.dim() not in (1, 2):
        raise ValueError("scores must be a floating-point tensor of shape [E] or [E, H]")
    if scores.size(0) != csr.num_edges:
        raise ValueError(f"scores has {scores.size(0)} rows but the graph has {csr.num_edges} edges")
    be = _backend.resolve(scores, backend)
    if _use_custom_op(scores):
        return torch.ops.graphrep.edge_softmax(scores.contiguous(), csr.tensors(), be)
    return _EagerSoftmax.apply(scores.contiguous(), be, *csr.tensors())
