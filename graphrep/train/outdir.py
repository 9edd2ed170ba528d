"""The ``--out`` policy every training subcommand shares: a folder, writable, empty unless ``--overwrite``, and held
by one run at a time (an ``fcntl.flock`` on ``.graphrep.lock`` inside it, released when the process exits)."""

from __future__ import annotations

import os
from pathlib import Path

from graphrep.data.errors import UserInputError

LOCK_NAME = ".graphrep.lock"
_held: dict[Path, int] = {}  # folder -> the open lock file's descriptor, for this process's lifetime


def _is_other_rank() -> bool:
    # Lightning's DDP launchers re-run the command for ranks > 0 (LOCAL_RANK/NODE_RANK set) once rank 0 has taken the
    # folder: rank 0 checks, locks and writes; the other ranks only train.
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


def check_out_dir(out_dir: str | os.PathLike, overwrite: bool, flag: str = "--out") -> None:
    """Refuse an ``out_dir`` that is a file, cannot be written, is held by another running graphrep command, or
    already holds files (unless ``overwrite``); create and lock it."""
    out = Path(out_dir)
    if _is_other_rank():
        return
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{flag} {out}: is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"{flag} {out}: cannot write there ({exc.strerror or exc})") from None
    _lock(out, flag)
    held = sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME)
    if held and not overwrite:
        raise UserInputError(f"{flag} {out}: folder is not empty (holds {', '.join(held[:3])}"
                             f"{', ...' if len(held) > 3 else ''}); choose another folder or pass --overwrite")
    try:
        probe = out / f".graphrep-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserInputError(f"{flag} {out}: cannot write there ({exc.strerror or exc})") from None


def _lock(out: Path, flag: str) -> None:
    import fcntl

    key = out.resolve()
    if key in _held:
        return
    try:
        fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserInputError(f"{flag} {out}: cannot write there ({exc.strerror or exc})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        raise UserInputError(f"{flag} {out}: another graphrep run is writing there"
                             f"{f' (process {holder})' if holder else ''}; wait for it or choose another folder"
                             ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _held[key] = fd


def release_out_dirs() -> None:
    """Release the locks this process holds (process exit does it too; in-process callers run several commands)."""
    import fcntl

    for key in list(_held):
        fd = _held.pop(key)
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def discard_if_unused(out_dir: str | os.PathLike) -> None:
    """Release this process's lock on ``out_dir`` and remove the folder if it holds nothing but the lock file: a run
    that failed on bad input before writing anything leaves no trace of its own."""
    import fcntl

    out = Path(out_dir)
    fd = _held.pop(out.resolve(), None) if out.exists() else None
    if fd is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    if out.is_dir() and [p.name for p in out.iterdir()] == [LOCK_NAME]:
        (out / LOCK_NAME).unlink()
        out.rmdir()
