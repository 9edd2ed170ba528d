"""CircuitGCL's released ``.pt`` graph files, loaded without unpickling: ``torch.load(..., weights_only=True)`` only.

Tensors, dicts and lists of tensors, and PyG ``Data``/``HeteroData`` objects (their container classes are allow-listed
for this load only) load; a file that would need arbitrary unpickling (custom classes, functions) is refused with
an error naming the file and what it asked for, because unpickling an untrusted file can run code.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from ..errors import DataNotFoundError, InvalidInputError


def _pyg_containers() -> list:
    """PyG's plain data containers (attribute dicts, no code on load) not yet allow-listed. Only those: leaving
    ``safe_globals`` removes what it added, and PyG registers some of them itself at import."""
    from torch_geometric.data import Data, HeteroData
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import BaseStorage, EdgeStorage, GlobalStorage, NodeStorage

    registered = set(torch.serialization.get_safe_globals())
    return [c for c in (Data, HeteroData, DataEdgeAttr, DataTensorAttr, BaseStorage, EdgeStorage, GlobalStorage,
                        NodeStorage) if c not in registered]


def load_released_pt(path: str | os.PathLike):
    """The content of a CircuitGCL ``.pt`` file, loaded with ``weights_only=True`` on the CPU."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: no such file")
    try:
        with torch.serialization.safe_globals(_pyg_containers()):
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()
        reason = next((line for line in first if "GLOBAL" in line or "Unsupported" in line), first[0] if first else "")
        raise InvalidInputError(
            f"{p}: refusing to unpickle it (weights_only=True rejects it: {reason.strip()}); re-save it where you "
            "trust it as tensors or a PyG Data, e.g. torch.save(data.to_dict(), path)") from None
    except (RuntimeError, EOFError) as exc:
        raise InvalidInputError(f"{p}: not a torch file ({str(exc).splitlines()[0] if str(exc) else exc})") from None
