"""The one way graphrep reads a torch file a user gave it: ``torch.load(..., weights_only=True)``, errors as one line.

``weights_only=True`` rebuilds tensors and plain data only, never arbitrary Python objects, so nothing in the file can
run. A file that needs more (a pickled model, a custom class) is refused with a message that names the file and the
first object refused, and never repeats torch's advice to reload it with ``weights_only=False``: that advice means
running code from the file. A truncated or foreign file is one line too.
:func:`graphrep.train.checkpoint.read_checkpoint` builds on :func:`load_torch_file`; this module sits in ``data`` so
that the loaders below ``train`` (which may not import it) share it.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path

import torch

from .errors import DataNotFoundError, InvalidInputError, UserInputError

__all__ = ["load_torch_file", "pickle_refusal"]

_GLOBAL = re.compile(r"(?:Unsupported global|Unsupported operand|GLOBAL)[^\n.]*?([\w.]+\.[\w]+)")


def pickle_refusal(path: str | os.PathLike, exc: BaseException, error: type[UserInputError] = InvalidInputError,
                   what: str = "file") -> UserInputError:
    """The one-line error for a torch file that ``weights_only=True`` refused to unpickle (``exc``, torch's
    :class:`pickle.UnpicklingError`): names the file and the refused object, suggests nothing unsafe."""
    found = _GLOBAL.search(str(exc))
    refused = f" (it holds {found.group(1)})" if found else ""
    return error(f"{path}: this {what} holds pickled Python objects beyond tensors and plain data{refused}, which "
                 "graphrep refuses to load (unpickling can run code from the file); re-save it as a state dict of "
                 "tensors where you trust it")


def load_torch_file(path: str | os.PathLike, *, error: type[UserInputError] = InvalidInputError, what: str = "file",
                    safe_globals: list | tuple = ()):
    """``torch.load(path, map_location="cpu", weights_only=True)``, with ``safe_globals`` allow-listed for this call.

    Raises :class:`DataNotFoundError` for a missing path, and ``error`` (one line naming ``path``) for a folder, a file
    with pickled objects (:func:`pickle_refusal`), or a truncated or foreign file.
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: no such {what} (it is a folder)")
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such {what}")
    try:
        with torch.serialization.safe_globals(list(safe_globals)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise pickle_refusal(path, exc, error, what) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, AttributeError, ImportError,
            IndexError, KeyError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in reason or "will likely succeed" in reason:
            reason = type(exc).__name__
        raise error(f"{path}: not a readable {what}, truncated or not written by torch.save ({reason})") from None
