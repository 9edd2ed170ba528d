"""Datasets: a registry of cards (``datasets/*.toml``), file resolution, and loaders returning PyG datasets.

>>> from graphrep.data import load_dataset, list_datasets
>>> ds = load_dataset("chembl2321810")            # shipped inside RDKit: works offline
>>> ds = load_dataset("bbbp", root="../shared/data")   # or GRAPHREP_DATA=../shared/data
>>> ds = load_dataset("my.csv", smiles_column="smiles", label_columns=["logS"], task_type="regression")  # your file
"""

from __future__ import annotations

import os

from .errors import CheckpointError, ChecksumError, DataNotFoundError, GraphrepError, InvalidInputError, UserInputError
from .molecules.corpora import load_corpus
from .molecules.dataset import MoleculeDataset, molecules_from_file
from .molecules.featurize import mol_to_data, smiles_to_data
from .molecules.splits import random_split, scaffold_split
from .registry import DatasetCard, get_card, list_cards
from .resolve import resolve_dataset


def list_datasets(kind: str | None = None) -> list[str]:
    """Names of the registered datasets, optionally of one kind (``"molecules"``, ``"ogb"``, ``"tag"``, ``"circuit"``)."""
    return [c.name for c in list_cards() if kind is None or c.kind == kind]


def dataset_info(name: str) -> DatasetCard:
    """The card of a registered dataset."""
    return get_card(name)


MOLECULE_FILE_SUFFIXES = (".csv", ".csv.gz", ".sdf", ".sdf.gz", ".smi", ".smi.gz", ".txt", ".txt.gz")


def is_molecule_file(name: str | os.PathLike) -> bool:
    """Whether ``name`` means a user's own molecule file rather than a registered dataset name."""
    return str(name).lower().endswith(MOLECULE_FILE_SUFFIXES) or os.sep in str(name) or os.path.isfile(name)


def load_dataset(name: str | os.PathLike, root: str | os.PathLike | None = None, features: str = "ogb",
                 strict: bool = False, download: bool = True, smiles_column: str | None = None,
                 label_columns: list[str] | str | None = None, task_type: str | None = None):
    """Load a registered dataset by name, or a molecule file of your own by path.

    A path (``.csv``, ``.sdf``, ``.smi``/``.txt``, optionally ``.gz``) gives a :class:`MoleculeDataset` through
    :func:`molecules_from_file` with ``smiles_column`` (default ``"smiles"``, any case), ``label_columns`` (default:
    every numeric column) and ``task_type`` (default: classification if every label is 0/1). These three apply to
    files only.

    Molecules give a :class:`MoleculeDataset` (``features="ogb"`` or ``"pretrain"``); OGB names give ``ogb``'s
    ``PygGraphPropPredDataset`` (``features="pretrain"``: its SMILES re-featurised, in its order; see
    :mod:`graphrep.data.ogb_graphs`); text-attributed graphs (``cora``, ``citeseer``, ...) a ``Data`` from
    :func:`graphrep.data.tag.load_tag`. See :mod:`graphrep.data.resolve` for where files are looked for.
    """
    if is_molecule_file(name):
        return molecules_from_file(name, smiles_column or "smiles", "*" if label_columns is None else label_columns,
                                   task_type, features=features, strict=strict)
    given = [k for k, v in (("smiles_column", smiles_column), ("label_columns", label_columns),
                            ("task_type", task_type)) if v is not None]
    if given:
        raise GraphrepError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to your own molecule file, "
                            f"not to the registered dataset {name!r}")
    card = get_card(name)
    if card.kind == "molecules":
        from .molecules.corpora import card_table

        table = card_table(card, root=root, download=download)
        return MoleculeDataset(table, card.name, card.task_type, features=features, strict=strict)
    if card.kind == "ogb":
        from .ogb_graphs import load_ogb

        return load_ogb(card, root=root, download=download, features=features)
    if card.kind == "circuit":  # a design: its circuit graph (HeteroData) with SPEF labels
        from .circuits import build_graph, load_design

        return build_graph(load_design(card.name, root=root))[0]
    if card.kind == "tag":
        from .tag import load_tag

        if card.files:  # verify the checksummed files, then read the folder that holds them
            paths = resolve_dataset(card, root=root, download=download)
            return load_tag(card.name, root=paths[0].parent)
        return load_tag(card.name, root=root)
    if card.kind == "mobility":
        from .mobility import load_checkins

        paths = resolve_dataset(card, root=root, download=download)
        return load_checkins(paths[0].parent, layout=card.format, city=card.option("city", card.name))
    raise GraphrepError(f"dataset {name!r} of kind {card.kind!r} has no loader here")


__all__ = [
    "CheckpointError", "ChecksumError", "DataNotFoundError", "DatasetCard", "GraphrepError", "InvalidInputError", "MoleculeDataset",
    "dataset_info", "is_molecule_file", "list_datasets", "load_corpus", "load_dataset", "mol_to_data", "molecules_from_file", "random_split",
    "scaffold_split", "smiles_to_data",
    "UserInputError",
]
