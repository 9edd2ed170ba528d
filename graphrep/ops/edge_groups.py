"""A graph's edges grouped by destination and by source, and the sum over such groups that reads each row once.

GIN's and GINE's CPU paths (:mod:`graphrep.ops.edge_relu`, :mod:`graphrep.ops.gin_sum`) sum rows into nodes with
``torch.embedding_bag(mode="sum")`` (a gather and a segment sum in one pass: no ``[E, F]`` temporary, no zero fill,
no scatter), which needs the rows of each node's sum listed together. :func:`edge_groups` lists them: two stable sorts
per ``edge_index`` tensor, cached while the tensor holds the same values (the never-stale contract of
:mod:`graphrep.ops._edge_cache`, as :meth:`graphrep.ops.CSR.of`), so the layers of a model share one build per batch.
:func:`edge_lists` is the same cache without the sorts: the validated sources and destinations in edge order, for
GINE's compiled loops (:mod:`graphrep.ops._edge_relu_loops`).
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor
from torch.utils.weak import WeakIdKeyDictionary

from . import _edge_cache
from .csr import CSR, _ptr_from_counts, _validated


def bag_sum(rows: Tensor, groups: Tensor, rowptr: Tensor) -> Tensor:
    """``out[i] = sum_{k in rowptr[i]:rowptr[i+1]} rows[groups[k]]`` [len(rowptr) - 1, F], each sum in the order of
    ``groups`` (torch's CPU ``embedding_bag``, mode sum: no ``[E, F]`` temporary, no zero fill)."""
    return torch.embedding_bag(rows, groups, rowptr, False, 0, False, None, True)[0]


class EdgeGroups(NamedTuple):
    """A graph's edges for the bag sums, all int64: ``src``, ``dst`` [E] in edge order; ``by_dst`` [E] the edge ids
    grouped by destination (group ``i`` at ``dst_ptr[i]:dst_ptr[i+1]``, ``dst_ptr`` [N_dst + 1]), ``src_by_dst`` [E]
    their sources; ``by_src``, ``src_ptr`` [N_src + 1], ``dst_by_src`` the same grouped by source."""

    src: Tensor
    dst: Tensor
    by_dst: Tensor
    dst_ptr: Tensor
    src_by_dst: Tensor
    by_src: Tensor
    src_ptr: Tensor
    dst_by_src: Tensor


_GROUPS_CACHE: WeakIdKeyDictionary = WeakIdKeyDictionary()  # edge_index tensor -> _edge_cache.Entry
_LISTS_CACHE: WeakIdKeyDictionary = WeakIdKeyDictionary()  # edge_index tensor -> _edge_cache.Entry


def edge_groups(edge_index: Union[Tensor, CSR], num_src: int, num_dst: int) -> EdgeGroups:
    """The :class:`EdgeGroups` of ``edge_index`` [2, E] for ``num_src -> num_dst`` nodes (validated; built with two
    stable sorts once per tensor and cached while it holds the same values, as :meth:`CSR.of`), or of a CSR (its
    own orders: destination groups in CSR order, source groups in transposed-CSR order; cached on it)."""
    if isinstance(edge_index, CSR):
        csr = _checked_csr(edge_index, num_src, num_dst)
        return csr.derived("edge_groups", lambda: EdgeGroups(
            *csr.edge_index(), csr.perm, csr.rowptr, csr.col, csr.perm.index_select(0, csr.perm_t), csr.rowptr_t,
            csr.col_t))

    def build(src: Tensor, dst: Tensor) -> EdgeGroups:
        by_dst, by_src = torch.argsort(dst, stable=True), torch.argsort(src, stable=True)
        return EdgeGroups(src, dst, by_dst, _ptr_from_counts(dst, num_dst), src.index_select(0, by_dst),
                          by_src, _ptr_from_counts(src, num_src), dst.index_select(0, by_src))

    return _cached(_GROUPS_CACHE, edge_index, num_src, num_dst, build)


def edge_lists(edge_index: Union[Tensor, CSR], num_src: int, num_dst: int) -> Tuple[Tensor, Tensor]:
    """``(src, dst)`` [E] int64 in edge order, validated for ``num_src -> num_dst`` nodes (no sort): owned copies,
    cached per ``edge_index`` tensor while it holds the same values (as :func:`edge_groups`), or a CSR's
    :meth:`CSR.edge_index`. For the compiled loops, which index without bounds checks."""
    if isinstance(edge_index, CSR):
        src, dst = _checked_csr(edge_index, num_src, num_dst).edge_index()
        return src.contiguous(), dst.contiguous()
    return _cached(_LISTS_CACHE, edge_index, num_src, num_dst, lambda src, dst: (src, dst))


def _checked_csr(csr: CSR, num_src: int, num_dst: int) -> CSR:
    if csr.num_src != num_src or csr.num_dst != num_dst:
        raise ValueError(f"the CSR is for {csr.num_src} -> {csr.num_dst} nodes but the input has "
                         f"{num_src} -> {num_dst}")
    return csr


def _cached(cache: WeakIdKeyDictionary, edge_index: Tensor, num_src: int, num_dst: int, build):
    """``build(src, dst)`` of ``edge_index``'s validated int64 rows (owned copies: a later in-place edit of
    ``edge_index`` cannot reach them), cached in ``cache`` under the never-stale contract of :mod:`._edge_cache`."""
    key = _edge_cache.key_of(edge_index, (num_src, num_dst))
    value = _edge_cache.lookup(cache.get(edge_index), edge_index, key)
    if value is None:
        _validated(edge_index, (num_src, num_dst))
        with torch.inference_mode(False):  # cached for later calls: never inference tensors
            edges = _edge_cache.snapshot(edge_index)
            value = build(*edges.long())
        cache[edge_index] = _edge_cache.Entry(key, edges, value)
    return value


def root_eps(x: Tensor, root: Optional[Tensor], eps: Optional[Tensor], num_dst: int) -> Optional[Tensor]:
    """GIN's root term ``(1 + eps) * root`` checked against ``x`` [N_src, F]: ValueError unless ``root`` is
    ``[num_dst, F]`` in ``x``'s dtype and device and ``eps`` one element of that dtype; returns ``eps`` (zero when
    ``None`` with a root)."""
    if root is None:
        return eps
    if root.shape != (num_dst, x.size(1)) or root.dtype != x.dtype or root.device != x.device:
        raise ValueError(f"root must be a {x.dtype} tensor of shape [num_dst, F] = [{num_dst}, {x.size(1)}] on "
                         f"{x.device}, got {root.dtype} {list(root.shape)} on {root.device}")
    if eps is None:
        return root.new_zeros(1)
    if not isinstance(eps, Tensor) or eps.numel() != 1 or eps.dtype != x.dtype:
        raise ValueError(f"eps must be a one-element tensor of dtype {x.dtype}, got {eps!r}")
    return eps
