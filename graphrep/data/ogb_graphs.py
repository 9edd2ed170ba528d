"""OGB graph-property datasets (``ogbg-mol*``) through the ``ogb`` package, with its scaffold split and Evaluator."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataNotFoundError
from .registry import DatasetCard
from .resolve import cache_dir, data_roots


def ogb_folder(name: str) -> str:
    """OGB's on-disk folder name: ``ogbg-molhiv`` -> ``ogbg_molhiv``."""
    return name.replace("-", "_")


def load_ogb(card: DatasetCard, root: str | os.PathLike | None = None, download: bool = True):
    """``ogb.graphproppred.PygGraphPropPredDataset`` from the first root that holds ``<root>/<ogbg_name>/``.

    Looks under ``root`` / ``GRAPHREP_DATA`` then the cache; if absent there and ``download``, lets ``ogb`` download
    into the cache (it needs the network); otherwise a :class:`DataNotFoundError` naming the folder it expects.
    The returned dataset has ``get_idx_split()`` and the card's ``metric`` for ``ogb.graphproppred.Evaluator``.
    """
    from ogb.graphproppred import PygGraphPropPredDataset

    folder = ogb_folder(card.name)
    candidates = [*data_roots(root), cache_dir() / "ogb"]
    for base in candidates:
        if (base / folder).is_dir():
            return PygGraphPropPredDataset(card.name, root=str(base))
    if download:
        try:
            return PygGraphPropPredDataset(card.name, root=str(cache_dir() / "ogb"))
        except (OSError, EOFError) as exc:  # offline (URLError is an OSError), or ogb's size prompt without stdin
            reason = exc
    else:
        reason = "download disabled"
    raise DataNotFoundError(
        f"dataset {card.name!r}: folder {folder}/ not found under {', '.join(map(str, candidates))} and could not be "
        f"downloaded ({reason}); get it from {card.homepage} and pass the folder that contains {folder}/ as root="
    )
