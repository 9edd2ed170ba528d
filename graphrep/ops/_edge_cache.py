"""Implicit caches of what is built from an ``edge_index`` tensor (its CSR), which never return a stale graph.

Contract: a structure cached for an ``edge_index`` is returned only while the tensor holds the very values it was
built from. The key (storage address, torch's version counter, shape, strides, dtype, device, node counts) rejects
most changes for free, but it cannot see every change: writes through NumPy after ``torch.from_numpy``, through
DLPack, through ``.data`` or to an inference tensor leave the version counter as it was. So every hit also compares
the tensor with a copy of its values taken when the structure was built: one pass over ``2 x E`` integers (on CUDA
also one device synchronisation), where a rebuild costs a sort of ``E``. A caller who wants no check passes a
prebuilt :class:`graphrep.ops.CSR` instead (it owns copies of its indices, so later edits of ``edge_index`` do not
reach it), or, for GCN's normalisation, ``cached=True`` (PyG's promise that the graph never changes).

Under ``torch.compile`` nothing is cached: the graph is built inside the compiled code on every call.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import torch
from torch import Tensor


class Entry(NamedTuple):
    """One cached structure: the key it was built under, a copy of the edges it was built from, the structure."""

    key: tuple
    edges: Tensor
    value: Any


def key_of(edge_index: Tensor, num_nodes: Any) -> tuple:
    """The cheap part of the check. ``N`` and ``(N, N)`` give one key (they build the same CSR)."""
    if isinstance(num_nodes, (tuple, list)):
        n = tuple(int(v) for v in num_nodes)
    else:
        n = None if num_nodes is None else (int(num_nodes), int(num_nodes))
    # inference tensors have no version counter; the value comparison alone guards them
    version = None if edge_index.is_inference() else edge_index._version
    return (edge_index.data_ptr(), version, tuple(edge_index.shape), edge_index.stride(), edge_index.dtype,
            edge_index.device, n)


def lookup(entry: Optional[Entry], edge_index: Tensor, key: tuple) -> Any:
    """``entry.value`` if ``entry`` was built from exactly the current values of ``edge_index`` under ``key``."""
    if entry is None or entry.key != key or not torch.equal(entry.edges, edge_index):
        return None
    return entry.value


def snapshot(edge_index: Tensor) -> Tensor:
    """A copy of the values of ``edge_index`` (contiguous, never an inference tensor), taken at build time."""
    with torch.inference_mode(False):
        return edge_index.clone(memory_format=torch.contiguous_format)
