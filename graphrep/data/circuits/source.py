"""Opening circuit files (plain or gzip) and the one error every circuit reader raises: ``file:line: message``."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import IO

from ..errors import DataNotFoundError, InvalidInputError


class CircuitFormatError(InvalidInputError):
    """Malformed circuit input; the message starts with ``file:line:`` (or ``file:`` when no line applies)."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}" if line is not None else f"{path}: {message}")


def open_text(path: str | os.PathLike) -> IO[str]:
    """A text stream over ``path``, gunzipped when it starts with the gzip magic; read once, line by line."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: no such file")
    raw = open(p, "rb")
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    stream = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
