"""GINE's message passing as two compiled loops over the edges (numba): no ``[E, F]`` message tensor at all.

:func:`graphrep.ops.edge_relu.relu_edge_sum` composed of torch ops must write the messages ``ReLU(x_j + e_ji)`` to
memory (gather, add, ReLU in place) and read them back (the bag sum), and its backward gathers ``g_out[dst]`` into
a second ``[E, F]`` buffer before masking and summing it. At molecule-batch sizes those passes, not arithmetic, are
its time. A loop over the edges does each edge's work while its rows are in registers:

- :func:`forward_loop`: ``out[i] = (1 + eps) r_i`` then, edge by edge in edge order,
  ``out[dst_j] += ReLU(x[src_j] + e_j)``; it reads ``e`` once and writes only ``out`` (``[N_dst, F]``);
- :func:`backward_loop`: ``g_x = (1 + eps) g_out`` where the root is ``x`` (else 0), then edge by edge
  ``g_e[j] = g_out[dst_j] * [x[src_j] + e_j > 0]`` and ``g_x[src_j] += g_e[j]``; it recomputes the ReLU's mask
  from the saved inputs (the same float addition as the forward's, so the same mask: nothing ``[E, F]`` is kept
  between the passes) and returns ``<g_out, r>`` (the gradient of eps, accumulated in float64). ``g_e``, the
  gradient of ``e``, is the one ``[E, F]`` tensor written, as it must be.

Contract:

- **order**: every sum runs in edge order, one thread: the same inputs give the same bits on every run, whatever
  torch's thread count. The torch-op path's float32 bag sums take each destination's edges in the same order but add
  the root term last, so the two paths agree to rounding, not bit for bit.
- **NaN and ties**: as ``torch.relu`` and its backward: a NaN message is added (``relu(nan)`` is NaN) and passes its
  gradient (``threshold_backward`` masks only ``v <= 0``); a message of exactly 0 gets gradient 0.
- **dtypes**: float32 and float64, each compiled on first use (about a second per dtype for both kernels); numba
  caches the machine code beside this file or in the user's cache directory, so later processes load it (where
  neither is writable, each process compiles).
- **inputs**: C-contiguous arrays, ``src``/``dst`` int64 already validated (``0 <= src < N_src``,
  ``0 <= dst < N_dst``: the loops do not check bounds; :func:`graphrep.ops.edge_groups.edge_lists` validates).
- **threads**: serial and ``nogil`` (other Python threads run meanwhile); taken only where torch runs one thread
  (:func:`use_loops`): with more, the torch-op path's parallel passes are faster.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

def use_loops() -> bool:
    """Whether :func:`graphrep.ops.edge_relu.relu_edge_sum` should run these loops: when torch runs one thread.

    Measured on 7K to 2M edges, forward + backward (``benchmarks/results/gine_paths.md``): with one thread the loops
    were faster at 11 of 12 sizes (1.30-1.63x on batches of molecules, 1.11-1.27x on graphs without locality; 0.92x
    on the latter at 100K edges); with two, the torch ops' parallel passes were faster at 10 of 12 (on molecules
    within 0.87-1.03x of the loops, without locality 1.2-1.6x faster above 7K edges), so any more threads take them."""
    return torch.get_num_threads() == 1


def _compiled(fn):
    """``fn`` compiled on first call, its machine code cached on disk where numba finds a writable place (beside this
    file, else the user's cache directory); where it finds none (a read-only install without a home directory)
    numba refuses ``cache=True`` outright, so the loops compile in each process instead."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:
        return numba.njit(nogil=True)(fn)


@_compiled
def forward_loop(x, e, src, dst, root, scale, out):  # pragma: no cover - compiled
    """``out[i] = scale * root[i] + sum_{j: dst_j = i} ReLU(x[src_j] + e[j])``; ``root`` may be empty ([0, F]: no
    root term)."""
    n, f_dim = out.shape
    if root.shape[0] == n:
        for i in range(n):
            for f in range(f_dim):
                out[i, f] = root[i, f] * scale
    else:
        out[:] = 0
    for j in range(src.shape[0]):
        s = src[j]
        d = dst[j]
        for f in range(f_dim):
            v = x[s, f] + e[j, f]
            if not v <= 0:  # NaN passes, as torch.relu
                out[d, f] += v


@_compiled
def backward_loop(x, e, src, dst, g_out, root, scale, root_is_x, g_e, g_x):  # pragma: no cover - compiled
    """Fills ``g_e`` [E, F] and ``g_x`` [N_src, F] (``g_x`` gets ``scale * g_out`` first where ``root_is_x``) and
    returns ``<g_out, root>`` (0 without a root)."""
    n_dst, f_dim = g_out.shape
    if root_is_x:
        for i in range(n_dst):
            for f in range(f_dim):
                g_x[i, f] = g_out[i, f] * scale
    else:
        g_x[:] = 0
    # one float64 partial sum per feature: independent chains the compiler vectorises (a single chain of N * F
    # dependent additions took as long as the whole edge loop)
    dots = np.zeros(f_dim)
    if root.shape[0] == n_dst:
        for i in range(n_dst):
            for f in range(f_dim):
                dots[f] += np.float64(g_out[i, f]) * np.float64(root[i, f])
    for j in range(src.shape[0]):
        s = src[j]
        d = dst[j]
        for f in range(f_dim):
            v = x[s, f] + e[j, f]
            g = g_out[d, f] if not v <= 0 else 0  # threshold_backward: masked only where v <= 0
            g_e[j, f] = g
            g_x[s, f] += g
    return dots.sum()
