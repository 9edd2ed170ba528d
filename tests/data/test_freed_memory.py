"""The freed-memory keeper (:mod:`graphrep.data.freed_memory`) around a function."""

import ctypes

import numpy as np
import pytest

from graphrep.data import freed_memory


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _mmapped() -> int:
    """Bytes glibc holds in ``mmap``-ed chunks (``mallinfo2().hblkhd``)."""
    fn = freed_memory._LIBC.mallinfo2
    fn.restype = _Mallinfo2
    return fn().hblkhd


def test_keeping_freed_memory_returns_and_raises_as_the_function():
    @freed_memory.keeping_freed_memory
    def f(x):
        if x < 0:
            raise ValueError("negative")
        return x + 1

    assert f(1) == 2
    with pytest.raises(ValueError, match="negative"):
        f(-1)
    assert f.__name__ == "f"


@pytest.mark.skipif(freed_memory._LIBC is None or not hasattr(freed_memory._LIBC, "mallinfo2"),
                    reason="glibc >= 2.33 only")
def test_keeping_freed_memory_serves_large_blocks_from_the_heap_then_restores():
    size = 48 << 20  # above the 32 MiB that glibc's own threshold can reach: always mmap-ed by default

    def held_in_mmap() -> int:
        before = _mmapped()
        a = np.ones(size // 8)
        grew = _mmapped() - before
        del a
        return grew

    assert held_in_mmap() >= size  # outside: its own mapping, unmapped when freed
    assert freed_memory.keeping_freed_memory(held_in_mmap)() == 0  # inside: from the heap, reusable after it is freed
    assert held_in_mmap() >= size  # restored
