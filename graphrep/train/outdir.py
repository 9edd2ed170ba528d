"""The ``--out`` policy every training subcommand shares: a folder, writable, empty unless ``--overwrite``."""

from __future__ import annotations

import os
from pathlib import Path

from graphrep.data.errors import UserInputError


def check_out_dir(out_dir: str | os.PathLike, overwrite: bool, flag: str = "--out") -> None:
    """Refuse an ``out_dir`` that is a file, cannot be written, or already holds files (unless ``overwrite``)."""
    out = Path(out_dir)
    # Lightning's DDP launcher re-runs the command for ranks > 0 (LOCAL_RANK/NODE_RANK set) once rank 0 has started
    # writing into out_dir: only rank 0 checks that it is empty.
    overwrite = overwrite or os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{flag} {out}: is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        held = sorted(p.name for p in out.iterdir())
        raise UserInputError(f"{flag} {out}: folder is not empty (holds {', '.join(held[:3])}"
                             f"{', ...' if len(held) > 3 else ''}); choose another folder or pass --overwrite")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".graphrep-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserInputError(f"{flag} {out}: cannot write there ({exc.strerror or exc})") from None
