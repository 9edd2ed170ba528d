"""``relu_edge_sum``: ``out[i] = sum_{j -> i} ReLU(x_j + e_ji)``, GINE's message passing, as one autograd node.

The messages depend on each edge, so one ``[E, F]`` message tensor must exist; what this saves over composing
torch ops (gather, add, ReLU, scatter, each with its own autograd node and fresh ``[E, F]`` buffer) is every
other ``[E, F]`` pass and allocation:

- forward: ``m = x[src]`` (the one ``[E, F]`` buffer), ``m = ReLU(m + e)`` in place (one pass), then
  ``out = index_add((1 + eps) * root, dst, m)`` (GIN's root term is the sum's starting value); ``m`` is kept for
  backward (its sign is the ReLU mask);
- backward: ``g_e = grad_out[dst] * (m > 0)`` (gathered, then masked in place: the gradient of ``e``),
  ``g_x = index_add(g_root, src, g_e)`` where ``root`` is ``x`` itself (both gradients of ``x`` in one buffer),
  ``g_root = (1 + eps) * grad_out``, ``g_eps = <grad_out, root>``.

CPU only (the caller keeps its CSR path elsewhere): torch's CPU ``index_add_`` sums in index order (sorted
segments, no atomics), so results do not depend on the thread count or on timing. float32 and float64 only (the
sums accumulate in the input dtype; fp16/bf16 callers take the CSR path, which accumulates in float32).
Once differentiable (no double backward).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .csr import _validated

DTYPES = (torch.float32, torch.float64)


def _add_relu_(m: Tensor, e: Tensor) -> None:
    """``m = ReLU(m + e)`` in place, in one pass over ``m`` (ATen's fused CPU kernel; two passes where a torch build
    lacks it): the ``[E, F]`` passes are what this op's time goes to on a CPU."""
    fused = getattr(torch.ops.aten, "_add_relu_", None)
    if fused is not None:
        fused(m, e)
    else:
        m.add_(e).relu_()


class _ReluEdgeSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, e, root, eps, src, dst, num_dst, root_is_x):
        root = x if root_is_x else root
        m = x.index_select(0, src)
        _add_relu_(m, e)
        # the root term starts the sum (no zero-filled buffer, no separate add)
        out = m.new_zeros(num_dst, m.size(1)) if root is None else root * (1 + eps)
        out.index_add_(0, dst, m)
        ctx.save_for_backward(m, src, dst, root, eps)
        ctx.num_src, ctx.root_is_x = x.size(0), root_is_x
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        m, src, dst, root, eps = ctx.saved_tensors
        need_x, need_e, need_root, need_eps = ctx.needs_input_grad[:4]
        g_out = grad_out.contiguous()
        g = g_out.index_select(0, dst)
        torch.ops.aten.threshold_backward.grad_input(g, m, 0, grad_input=g)  # g *= (m > 0), in place
        g_root = g_out * (1 + eps) if root is not None and (need_root or (need_x and ctx.root_is_x)) else None
        gx = None
        if need_x:
            if ctx.root_is_x:  # x's two gradients in one buffer
                gx, g_root = g_root, None
            else:
                gx = g.new_zeros(ctx.num_src, g.size(1))
            gx.index_add_(0, src, g)
        g_eps = None
        if need_eps and root is not None:
            g_eps = torch.dot(g_out.view(-1), root.contiguous().view(-1)).reshape(eps.shape)
        return gx, (g if need_e else None), g_root, g_eps, None, None, None, None


def supports(x: Tensor, edge_attr: Tensor) -> bool:
    """Whether :func:`relu_edge_sum` takes these inputs: plain (not subclassed) 2-D strided CPU tensors of one dtype,
    float32 or float64, eager (not compiling, no dispatch mode)."""
    return (type(x) is Tensor and type(edge_attr) is Tensor and x.device.type == "cpu"
            and edge_attr.device.type == "cpu" and x.dtype in DTYPES and edge_attr.dtype == x.dtype
            and x.dim() == 2 and edge_attr.dim() == 2 and x.layout == torch.strided
            and edge_attr.layout == torch.strided and not torch.compiler.is_compiling()
            and torch._C._len_torch_dispatch_stack() == 0)


def relu_edge_sum(x: Tensor, edge_attr: Tensor, edge_index: Tensor, num_dst: int, root: Optional[Tensor] = None,
                  eps: Optional[Tensor] = None) -> Tensor:
    r"""``out[i] = (1 + \epsilon) r_i + \sum_{(j, i) \in E} \mathrm{ReLU}(x_j + e_{ji})`` (GINE's aggregation with
    its root term; without ``root``, the sum alone), with gradients for ``x``, ``edge_attr``, ``root`` and ``eps``;
    the module docstring says how.

    Args:
        x: source node features ``[N_src, F]``.
        edge_attr: edge features ``[E, F]`` in the order of ``edge_index``'s columns.
        edge_index: ``[2, E]`` integer tensor, row 0 sources (``< N_src``), row 1 destinations (``< num_dst``).
        num_dst: number of destination nodes (rows of the output).
        root: optional target features ``[num_dst, F]`` (may be ``x`` itself), added as ``(1 + eps) * root``.
        eps: a tensor of one element (GIN's epsilon, a parameter or a buffer) in ``x``'s dtype; 0 if ``None``.

    Shapes:
        - **input:** ``x`` ``[N_src, F]``, ``edge_attr`` ``[E, F]``, ``edge_index`` ``[2, E]``
        - **output:** ``[num_dst, F]``
    """
    if not supports(x, edge_attr):
        raise ValueError("relu_edge_sum takes 2-D float32/float64 CPU tensors of one dtype (see supports()), got "
                         f"x {x.dtype} on {x.device}, edge_attr {edge_attr.dtype} on {edge_attr.device}")
    edge_index, _, _ = _validated(edge_index, (x.size(0), num_dst))
    if edge_attr.shape != (edge_index.size(1), x.size(1)):
        raise ValueError(f"edge_attr must have shape [E, F] = [{edge_index.size(1)}, {x.size(1)}], "
                         f"got {list(edge_attr.shape)}")
    if root is not None:
        if root.shape != (num_dst, x.size(1)) or root.dtype != x.dtype or root.device != x.device:
            raise ValueError(f"root must be a {x.dtype} tensor of shape [num_dst, F] = [{num_dst}, {x.size(1)}] on "
                             f"{x.device}, got {root.dtype} {list(root.shape)} on {root.device}")
        if eps is None:
            eps = root.new_zeros(1)
        elif not isinstance(eps, Tensor) or eps.numel() != 1 or eps.dtype != x.dtype:
            raise ValueError(f"eps must be a one-element tensor of dtype {x.dtype}, got {eps!r}")
    root_is_x = root is x
    return _ReluEdgeSum.apply(x, edge_attr, None if root_is_x else root, eps, edge_index[0], edge_index[1],
                              int(num_dst), root_is_x)
