"""Freed memory kept in the process around a function whose temporaries are large and many (glibc; elsewhere a no-op).

glibc serves an allocation above its mmap threshold with freshly mapped pages and returns freed heap above its trim
threshold to the kernel, so a loop that makes and frees multi-MB temporaries gets fresh pages every time and faults
them in one by one; on a virtual machine each fault can cost microseconds. Used by the circuit readers and graph
builder (their block temporaries) and by the speed benchmarks' ``--keep-freed-memory`` (both implementations of a
comparison alike, so that the arithmetic alone is compared).
"""

from __future__ import annotations

import ctypes
import functools


def _glibc():
    """The C library when it is glibc (``mallopt``/``malloc_trim`` there), else ``None``."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _glibc()
#: glibc's ``mallopt`` parameters, and the values :func:`keeping_freed_memory` leaves set: those its dynamic mmap
#: threshold reaches once a large block has been freed (32 MiB; the trim threshold twice that)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_AFTER = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 64 << 20}


def supported() -> bool:
    """Whether :func:`keeping_freed_memory` changes anything here (the C library is glibc)."""
    return _LIBC is not None


def keeping_freed_memory(fn):
    """``fn`` run with the memory it frees kept in the process for its next allocations (glibc; elsewhere a no-op).

    A reader that works in blocks makes and frees numpy temporaries of megabytes each, over and over; glibc serves
    those above its mmap threshold with fresh ``mmap`` pages and returns heap above its trim threshold to the kernel,
    so each block's temporaries were faulted in again, page by page (the system time of a large SPEF: at 300K nets
    about 220K minor faults). With both thresholds out of reach the freed blocks are reused. After ``fn`` (also on
    error) the thresholds are set to the values glibc's dynamic threshold reaches by itself (:data:`_AFTER`; setting
    them ends that adjustment, which cannot be turned back on) and the heap is trimmed, so what ``fn`` freed is given
    back as before."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if _LIBC is None:
            return fn(*args, **kwargs)
        _LIBC.mallopt(_M_MMAP_THRESHOLD, 1 << 30)  # glibc's largest allowed value (HEAP_MAX_SIZE / 2 on 64-bit)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1)
        try:
            return fn(*args, **kwargs)
        finally:
            for param, value in _AFTER.items():
                _LIBC.mallopt(param, value)
            _LIBC.malloc_trim(0)

    return run
