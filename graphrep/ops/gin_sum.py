"""``gin_sum``: ``out[i] = (1 + eps) * r_i + sum_{j -> i} x_j``, GIN's aggregation with its root term, as one
autograd node for eager float32 CPU calls.

- forward: the neighbour sum is one ``torch.embedding_bag(mode="sum")`` over the sources grouped by destination
  (:func:`graphrep.ops.edge_groups.edge_groups`, built once per ``edge_index`` tensor and cached), which reads each
  source row once per edge and writes each output row once (no ``[E, F]`` gather, no zero fill, no scatter), then
  the root term is added in place (``addcmul_``: one pass);
- backward: ``g_x = sum_{j -> i} g_out[i]`` (the same bag over the destinations grouped by source)
  ``+ (1 + eps) g_out`` where ``r`` is ``x`` itself (both gradients of ``x`` in one buffer),
  ``g_r = (1 + eps) g_out``, ``g_eps = <g_out, r>``.

Each sum runs in a fixed order (the groups' order), so results do not depend on the thread count or timing. Other
dtypes, devices and compiled calls take :func:`graphrep.ops.aggregate` (torch's bag sum is slower than its CSR
product in float64). Once differentiable (no double backward).
"""

from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .csr import CSR
from .edge_groups import bag_sum, edge_groups, root_eps


class _GinSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, root, eps, groups, root_is_x):
        root = x if root_is_x else root
        out = bag_sum(x, groups.src_by_dst, groups.dst_ptr)
        if root is not None:
            out.addcmul_(root, 1 + eps)
        ctx.save_for_backward(root if ctx.needs_input_grad[2] else None, eps)
        ctx.groups, ctx.root_is_x, ctx.has_root = groups, root_is_x, root is not None
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        root, eps = ctx.saved_tensors
        groups = ctx.groups
        need_x, need_root, need_eps = ctx.needs_input_grad[:3]
        g_out = grad_out.contiguous()
        gx = g_root = g_eps = None
        if need_x:
            gx = bag_sum(g_out, groups.dst_by_src, groups.src_ptr)
            if ctx.root_is_x and ctx.has_root:  # x's two gradients in one buffer
                gx.addcmul_(g_out, 1 + eps)
        if need_root and ctx.has_root and not ctx.root_is_x:
            g_root = g_out * (1 + eps)
        if need_eps and ctx.has_root:
            g_eps = torch.dot(g_out.view(-1), root.contiguous().view(-1)).reshape(eps.shape)
        return gx, g_root, g_eps, None, None


def supports(x: Tensor) -> bool:
    """Whether :func:`gin_sum` takes ``x``: a plain (not subclassed) 2-D strided float32 CPU tensor, eager (not
    compiling, no dispatch mode)."""
    return (type(x) is Tensor and x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 2
            and x.layout == torch.strided and not torch.compiler.is_compiling()
            and torch._C._len_torch_dispatch_stack() == 0)


def gin_sum(x: Tensor, edge_index: Union[Tensor, CSR], num_dst: int, root: Optional[Tensor] = None,
            eps: Optional[Tensor] = None) -> Tensor:
    r"""``out[i] = (1 + \epsilon) r_i + \sum_{(j, i) \in E} x_j`` (without ``root``, the sum alone), with gradients
    for ``x``, ``root`` and ``eps``; the module docstring says how.

    Args:
        x: source node features ``[N_src, F]``, float32 on the CPU (see :func:`supports`).
        edge_index: ``[2, E]`` integer tensor, row 0 sources (``< N_src``), row 1 destinations (``< num_dst``);
            or the graph's :class:`graphrep.ops.CSR` (for ``N_src -> num_dst`` nodes).
        num_dst: number of destination nodes (rows of the output).
        root: optional target features ``[num_dst, F]`` (may be ``x`` itself), added as ``(1 + eps) * root``.
        eps: a float32 tensor of one element (GIN's epsilon, a parameter or a buffer); 0 if ``None``.

    Shapes:
        - **input:** ``x`` ``[N_src, F]``, ``edge_index`` ``[2, E]``
        - **output:** ``[num_dst, F]``
    """
    if not supports(x):
        raise ValueError(f"gin_sum takes a 2-D float32 CPU tensor (see supports()), got x {x.dtype} on {x.device} "
                         f"with {x.dim()} dimensions")
    num_dst = int(num_dst)
    if isinstance(edge_index, CSR) and edge_index.device != x.device:
        raise ValueError(f"the CSR is on {edge_index.device} but x is on {x.device}")
    groups = edge_groups(edge_index, x.size(0), num_dst)
    eps = root_eps(x, root, eps, num_dst)
    root_is_x = root is x
    return _GinSum.apply(x, None if root_is_x else root, eps, groups, root_is_x)
