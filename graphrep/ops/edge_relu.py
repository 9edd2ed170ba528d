"""``relu_edge_sum``: ``out[i] = sum_{j -> i} ReLU(x_j + e_ji)``, GINE's message passing, as one autograd node.

Two paths, the same values (to rounding) and the same gradients:

- **compiled loops** (:mod:`graphrep.ops._edge_relu_loops`, numba): one pass over the edges forward, one backward,
  each edge's message formed in registers and never stored; taken when torch runs one thread (with more, the torch
  ops' parallel passes are faster). Its backward recomputes the ReLU's mask from ``x`` and ``e`` (kept for backward
  instead of the messages, so an in-place change of ``x`` or ``e`` before backward is autograd's usual error).
- **torch ops**, with several threads: the messages depend on each edge, so one ``[E, F]`` message
  tensor is formed; what this saves over composing torch ops (gather, add, ReLU, scatter, each with its own
  autograd node and fresh ``[E, F]`` buffer) is every other ``[E, F]`` pass and allocation (below).

The torch-op path:

- forward: ``m = x[src]`` (the one ``[E, F]`` buffer), ``m = ReLU(m + e)`` in place (one pass), then the sum of
  ``m`` into the destinations plus GIN's root term ``(1 + eps) * root``; ``m`` is kept for backward (its sign is
  the ReLU mask);
- backward: ``g_e = grad_out[dst] * (m > 0)`` (gathered, then masked in place: the gradient of ``e``),
  ``g_x = sum of g_e into the sources (+ g_root where root is x itself: both gradients of x in one buffer)``,
  ``g_root = (1 + eps) * grad_out``, ``g_eps = <grad_out, root>``.

Its two sums over edges (forward into destinations, backward into sources):

- float32: ``torch.embedding_bag(mode="sum")`` over the edge ids grouped by destination, resp. by source
  (:func:`graphrep.ops.edge_groups.edge_groups`: two stable sorts, once per ``edge_index`` tensor, cached with the
  never-stale contract of :mod:`graphrep.ops._edge_cache`, or read off a given :class:`graphrep.ops.CSR`). It reads
  each message row once and writes each output row once: 3x faster than ``index_add_`` (a scatter) at
  molecule-batch sizes, each row summed in a fixed order.
- float64: ``index_add_`` in edge order (torch's float64 bag sum is slower than the scatter; no CSR is built; the
  validated edge rows are cached per edge tensor, :func:`graphrep.ops.edge_groups.edge_lists`).

All are deterministic: sums in an order fixed by the input, whatever the thread count or timing. CPU only (the
caller keeps its CSR path elsewhere); float32 and float64 only (fp16/bf16 callers take the CSR path, which
accumulates in float32). Once differentiable (no double backward).
"""

from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .csr import CSR
from .edge_groups import bag_sum, edge_groups, edge_lists, root_eps

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
    def forward(ctx, x, e, root, eps, src, dst, groups, num_dst, root_is_x):
        root = x if root_is_x else root
        m = x.index_select(0, src)
        _add_relu_(m, e)
        if groups is not None:
            out = bag_sum(m, groups.by_dst, groups.dst_ptr)
            if root is not None:
                out.addcmul_(root, 1 + eps)
        else:  # the root term starts the sum (no zero-filled buffer, no separate add)
            out = m.new_zeros(num_dst, m.size(1)) if root is None else root * (1 + eps)
            out.index_add_(0, dst, m)
        ctx.save_for_backward(m, src, dst, root, eps)
        ctx.groups, ctx.num_src, ctx.root_is_x = groups, x.size(0), root_is_x
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        m, src, dst, root, eps = ctx.saved_tensors
        groups = ctx.groups
        need_x, need_e, need_root, need_eps = ctx.needs_input_grad[:4]
        g_out = grad_out.contiguous()
        g = g_out.index_select(0, dst)
        torch.ops.aten.threshold_backward.grad_input(g, m, 0, grad_input=g)  # g *= (m > 0), in place
        root_grad = root is not None and (need_root or (need_x and ctx.root_is_x))
        g_root = gx = None
        if need_x and groups is not None:
            gx = bag_sum(g, groups.by_src, groups.src_ptr)
            if root_grad and ctx.root_is_x:  # x's two gradients in one buffer
                gx.addcmul_(g_out, 1 + eps)
                root_grad = False
        elif need_x:
            if root_grad and ctx.root_is_x:
                gx, root_grad = g_out * (1 + eps), False
            else:
                gx = g.new_zeros(ctx.num_src, g.size(1))
            gx.index_add_(0, src, g)
        if root_grad and need_root:
            g_root = g_out * (1 + eps)
        g_eps = None
        if need_eps and root is not None:
            g_eps = torch.dot(g_out.view(-1), root.contiguous().view(-1)).reshape(eps.shape)
        return gx, (g if need_e else None), g_root, g_eps, None, None, None, None, None


class _ReluEdgeSumLoops(torch.autograd.Function):
    """The same node on the compiled loops: ``x`` and ``e`` are kept for backward, no ``[E, F]`` messages."""

    @staticmethod
    def forward(ctx, x, e, root, eps, src, dst, num_dst, root_is_x):
        from . import _edge_relu_loops as loops

        x, e = x.contiguous(), e.contiguous()
        root = x if root_is_x else None if root is None else root.contiguous()
        # (1 + eps) rounded in x's dtype, as the torch-op path multiplies by it
        scale = float((1 + eps).item()) if root is not None else 1.0
        out = x.new_empty(num_dst, x.size(1))
        no_root = x.new_empty(0, x.size(1))
        loops.forward_loop(x.detach().numpy(), e.detach().numpy(), src.numpy(), dst.numpy(),
                           (no_root if root is None else root).detach().numpy(), scale, out.numpy())
        ctx.save_for_backward(x, e, src, dst, None if root_is_x or not ctx.needs_input_grad[3] else root)
        ctx.scale, ctx.has_root, ctx.root_is_x = scale, root is not None, root_is_x
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        from . import _edge_relu_loops as loops

        x, e, src, dst, root = ctx.saved_tensors
        root = x if ctx.root_is_x else root
        need_x, need_e, need_root, need_eps = ctx.needs_input_grad[:4]
        g_out = grad_out.contiguous()
        g_e, g_x = torch.empty_like(e), torch.empty_like(x)
        no_root = x.new_empty(0, x.size(1))
        dot = loops.backward_loop(x.detach().numpy(), e.detach().numpy(), src.numpy(), dst.numpy(), g_out.numpy(),
                                  (root.detach() if need_eps and ctx.has_root else no_root).numpy(), ctx.scale,
                                  ctx.root_is_x, g_e.numpy(), g_x.numpy())
        g_root = g_out * ctx.scale if need_root and ctx.has_root and not ctx.root_is_x else None
        g_eps = x.new_full((1,), dot) if need_eps and ctx.has_root else None
        return (g_x if need_x else None), (g_e if need_e else None), g_root, g_eps, None, None, None, None


def supports(x: Tensor, edge_attr: Tensor) -> bool:
    """Whether :func:`relu_edge_sum` takes these inputs: plain (not subclassed) 2-D strided CPU tensors of one dtype,
    float32 or float64, eager (not compiling, no dispatch mode)."""
    return (type(x) is Tensor and type(edge_attr) is Tensor and x.device.type == "cpu"
            and edge_attr.device.type == "cpu" and x.dtype in DTYPES and edge_attr.dtype == x.dtype
            and x.dim() == 2 and edge_attr.dim() == 2 and x.layout == torch.strided
            and edge_attr.layout == torch.strided and not torch.compiler.is_compiling()
            and torch._C._len_torch_dispatch_stack() == 0)


def relu_edge_sum(x: Tensor, edge_attr: Tensor, edge_index: Union[Tensor, CSR], num_dst: int,
                  root: Optional[Tensor] = None, eps: Optional[Tensor] = None) -> Tensor:
    r"""``out[i] = (1 + \epsilon) r_i + \sum_{(j, i) \in E} \mathrm{ReLU}(x_j + e_{ji})`` (GINE's aggregation with
    its root term; without ``root``, the sum alone), with gradients for ``x``, ``edge_attr``, ``root`` and ``eps``;
    the module docstring says how.

    Args:
        x: source node features ``[N_src, F]``.
        edge_attr: edge features ``[E, F]`` in the order of ``edge_index``'s columns.
        edge_index: ``[2, E]`` integer tensor, row 0 sources (``< N_src``), row 1 destinations (``< num_dst``);
            or the graph's :class:`graphrep.ops.CSR` (for ``N_src -> num_dst`` nodes; edge order = its
            :meth:`CSR.edge_index`).
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
    num_dst = int(num_dst)
    if isinstance(edge_index, CSR) and (edge_index.num_src != x.size(0) or edge_index.num_dst != num_dst
                                        or edge_index.device != x.device):
        raise ValueError(f"the CSR is for {edge_index.num_src} -> {edge_index.num_dst} nodes on "
                         f"{edge_index.device} but x has {x.size(0)} rows on {x.device} and num_dst is {num_dst}")
    from ._edge_relu_loops import use_loops  # numba loads on the first call, not with graphrep

    loops = use_loops()
    groups = None
    if x.dtype == torch.float32 and not loops:  # the bag sums
        groups = edge_groups(edge_index, x.size(0), num_dst)
        src, dst = groups.src, groups.dst
    else:  # edge order: the loops, and the float64 scatter
        src, dst = edge_lists(edge_index, x.size(0), num_dst)
    if edge_attr.shape != (src.numel(), x.size(1)):
        raise ValueError(f"edge_attr must have shape [E, F] = [{src.numel()}, {x.size(1)}], "
                         f"got {list(edge_attr.shape)}")
    eps = root_eps(x, root, eps, num_dst)
    root_is_x = root is x
    root = None if root_is_x else root
    if loops:
        return _ReluEdgeSumLoops.apply(x, edge_attr, root, eps, src, dst, num_dst, root_is_x)
    return _ReluEdgeSum.apply(x, edge_attr, root, eps, src, dst, groups, num_dst, root_is_x)
