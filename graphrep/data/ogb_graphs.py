"""OGB graph-property datasets (``ogbg-mol*``) through the ``ogb`` package, with its scaffold split and Evaluator.

``load_ogb(card, root, features="ogb")`` returns ``ogb``'s own ``PygGraphPropPredDataset`` (OGB's 9 atom / 3 bond
feature columns); ``features="pretrain"`` re-featurises OGB's SMILES (``mapping/mol.csv.gz``) with the pretrain-gnns
features, in OGB's molecule order, so that a pre-trained encoder can be fine-tuned on OGB's split. Either way the dataset
carries what the training loop needs: ``get_idx_split()`` (OGB's split), ``smiles``, ``task_names``, ``skipped`` (empty),
``ogb_evaluator`` (the name for ``ogb.graphproppred.Evaluator``), and float labels ``y`` [1, T] per graph with NaN
for a missing label (molpcba).

Layout read (as ``ogb`` writes it): ``<root>/ogbg_molhiv/{RELEASE_v1.txt, mapping/mol.csv.gz, raw/*.csv.gz,
split/scaffold/{train,valid,test}.csv.gz, processed/}``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import torch

from .errors import DataNotFoundError, InvalidInputError
from .registry import DatasetCard
from .resolve import cache_dir, data_roots


def _pyg_data_classes() -> list[type]:
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import EdgeStorage, GlobalStorage, NodeStorage

    return [DataEdgeAttr, DataTensorAttr, GlobalStorage, NodeStorage, EdgeStorage]


#: ``ogb`` reads its processed file with a bare ``torch.load`` (``weights_only=True`` by default since torch 2.6). The
#: file, which ``ogb`` writes from the raw CSVs, pickles PyG's data containers; PyG allowlists its index types but not
#: these plain attribute/storage classes, so they are allowed (only) while ``ogb`` loads. Nothing else is unpickled.
PYG_DATA_CLASSES = _pyg_data_classes()


def ogb_folder(name: str) -> str:
    """OGB's on-disk folder name: ``ogbg-molhiv`` -> ``ogbg_molhiv``."""
    return name.replace("-", "_")


def float_labels(data):
    """Transform: labels as float32 (``ogb`` stores NaN-free classification labels as int64)."""
    if getattr(data, "y", None) is not None:
        data.y = data.y.to(torch.float32)
    return data


def _release_file(name: str) -> str:
    import ogb.graphproppred

    master = pd.read_csv(Path(ogb.graphproppred.__file__).parent / "master.csv", index_col=0, keep_default_na=False)
    return f"RELEASE_v{master[name]['version']}.txt"


def _open(card: DatasetCard, base: Path):
    from ogb.graphproppred import PygGraphPropPredDataset

    folder = base / ogb_folder(card.name)
    release = _release_file(card.name)
    if folder.is_dir() and not (folder / release).is_file():
        # ogb would ask on stdin whether to delete the folder; say what is wrong instead
        raise InvalidInputError(f"{folder}: no {release}, so this is not (or no longer) OGB's current release of "
                                f"{card.name}; download it again from {card.homepage}")
    try:
        with torch.serialization.safe_globals(PYG_DATA_CLASSES):
            dataset = PygGraphPropPredDataset(card.name, root=str(base), transform=float_labels)
    except (FileNotFoundError, RuntimeError) as exc:  # RuntimeError('No necessary file') from ogb's reader
        raise InvalidInputError(f"{folder}: incomplete OGB dataset folder ({exc})") from None
    return dataset


def _attach(dataset, card: DatasetCard, root_folder: Path):
    mapping = root_folder / "mapping" / "mol.csv.gz"
    if not mapping.is_file():
        raise InvalidInputError(f"{root_folder}: no mapping/mol.csv.gz (OGB's SMILES of each molecule)")
    frame = pd.read_csv(mapping)
    if "smiles" not in frame.columns or len(frame) != len(dataset):
        raise InvalidInputError(f"{mapping}: expected a 'smiles' column with one row per graph ({len(dataset)})")
    dataset.smiles = frame["smiles"].astype(str).tolist()
    dataset.task_names = [c for c in frame.columns if c not in ("smiles", "mol_id")]
    dataset.skipped = []
    dataset.ogb_evaluator = card.name
    return dataset


def _pretrain_features(ogb_dataset, card: DatasetCard):
    from .molecules.dataset import MoleculeDataset
    from .molecules.tables import MoleculeTable

    y = ogb_dataset.y.to(torch.float64).numpy().reshape(len(ogb_dataset), -1)
    names = ogb_dataset.task_names if len(ogb_dataset.task_names) == y.shape[1] else [
        f"task{t}" for t in range(y.shape[1])]
    table = MoleculeTable(list(ogb_dataset.smiles), y, names, list(range(2, len(ogb_dataset) + 2)),
                          f"{card.name} mapping/mol.csv.gz")
    task = "classification" if "classification" in ogb_dataset.task_type else "regression"
    dataset = MoleculeDataset(table, card.name, task, features="pretrain", strict=True)  # keeps OGB's indices
    dataset.get_idx_split = ogb_dataset.get_idx_split
    dataset.ogb_evaluator = card.name
    return dataset


def load_ogb(card: DatasetCard, root: str | os.PathLike | None = None, download: bool = True, features: str = "ogb"):
    """OGB dataset ``card.name`` from the first root that holds ``<root>/<ogbg_name>/`` (see the module docstring).

    Looks under ``root`` / ``GRAPHREP_DATA`` then the cache; if absent there and ``download``, lets ``ogb`` download
    into the cache (it needs the network); otherwise a :class:`DataNotFoundError` naming the folder it expects.
    """
    if features not in ("ogb", "pretrain"):
        raise InvalidInputError(f"unknown feature set {features!r} for an OGB dataset (use ogb or pretrain)")
    folder = ogb_folder(card.name)
    candidates = [*data_roots(root), cache_dir() / "ogb"]
    dataset = base = None
    for candidate in candidates:
        if (candidate / folder).is_dir():
            dataset, base = _open(card, candidate), candidate
            break
    if dataset is None and download:
        try:
            base = cache_dir() / "ogb"
            dataset = _open(card, base)
        except (OSError, EOFError) as exc:  # offline (URLError is an OSError), or ogb's size prompt without stdin
            reason = exc
    elif dataset is None:
        reason = "download disabled"
    if dataset is None:
        raise DataNotFoundError(
            f"dataset {card.name!r}: folder {folder}/ not found under {', '.join(map(str, candidates))} and could not "
            f"be downloaded ({reason}); get it from {card.homepage} and pass the folder that contains {folder}/ as root=")
    dataset = _attach(dataset, card, base / folder)
    return _pretrain_features(dataset, card) if features == "pretrain" else dataset

