"""Opening circuit files (plain or gzip), the one error every circuit reader raises (``file:line: message``), and the
helper the readers share (:func:`object_array`)."""

from __future__ import annotations

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


def object_array(items: list) -> np.ndarray:
    """``items`` (strings, ``None``) as a 1-D object array of references to them (no copies)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
