"""CircuitGCL's released ``.pt`` graph files, loaded without unpickling: ``torch.load(..., weights_only=True)`` only.

Tensors, dicts and lists of tensors, and PyG ``Data``/``HeteroData`` objects (their container classes are allow-listed
for this load only) load; a file that would need arbitrary unpickling (custom classes, functions) is refused with
an error naming the file and what it asked for, because unpickling an untrusted file can run code.
"""

from __future__ import annotations

import os

import torch

from ..torchfile import load_torch_file


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
    """The content of a CircuitGCL ``.pt`` file, loaded with ``weights_only=True`` on the CPU
    (:func:`graphrep.data.torchfile.load_torch_file`, PyG's containers allow-listed for this load)."""
    return load_torch_file(path, what="released graph file", safe_globals=_pyg_containers())
