"""Opening circuit files (plain or gzip), the one error every circuit reader raises (``file:line: message``), and two
helpers the readers share."""

from __future__ import annotations

import ctypes
import functools
import gzip
import io
import os
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import DataNotFoundError, InvalidInputError


class CircuitFormatError(InvalidInputError):
    """Malformed circuit input; the message starts with ``file:line:`` (or ``file:`` when no line applies)."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}" if line is not None else f"{path}: {message}")


GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


class _CheckedText(io.TextIOWrapper):
    """A text stream whose truncated or corrupt gzip data raises :class:`CircuitFormatError` naming the file and the
    line reached, instead of the ``EOFError``/``zlib.error`` of :mod:`gzip`."""

    def __init__(self, stream, path: Path):
        super().__init__(stream, encoding="utf-8", errors="replace")
        self._path, self._lines = path, 0

    def _corrupt(self, exc: BaseException) -> CircuitFormatError:
        return CircuitFormatError(self._path, self._lines + 1, f"the gzip stream is truncated or corrupt "
                                  f"({exc or type(exc).__name__}); re-copy or re-download the file")

    def read(self, size: int | None = -1) -> str:
        try:
            return super().read(size)
        except GZIP_ERRORS as exc:
            raise self._corrupt(exc) from None

    def readline(self, size: int = -1) -> str:  # iterating a subclass of TextIOWrapper calls readline too
        try:
            line = super().readline(size)
        except GZIP_ERRORS as exc:
            raise self._corrupt(exc) from None
        self._lines += 1
        return line


def open_text(path: str | os.PathLike) -> IO[str]:
    """A text stream over ``path``, gunzipped when it starts with the gzip magic; read once, line by line. A truncated
    or corrupt gzip stream raises :class:`CircuitFormatError` (``file:line:``, the line where reading stopped)."""
    return _CheckedText(open_bytes(path), Path(path))


def open_bytes(path: str | os.PathLike) -> IO[bytes]:
    """A binary stream over ``path``, gunzipped when it starts with the gzip magic (for readers that work on bytes;
    a truncated or corrupt gzip stream raises ``EOFError``, ``gzip.BadGzipFile`` or ``zlib.error``, see
    :data:`GZIP_ERRORS`)."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: no such file")
    raw = open(p, "rb")
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    return gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw



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


def object_array(items: list) -> np.ndarray:
    """``items`` (strings, ``None``) as a 1-D object array of references to them (no copies)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
