"""Molecule datasets: a table of SMILES and labels featurised into an in-memory PyG dataset."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import InMemoryDataset
from tqdm.auto import tqdm

from ..errors import DataNotFoundError, InvalidInputError
from .featurize import mol_to_data, parse_smiles
from .tables import MoleculeTable

log = logging.getLogger(__name__)

MAX_NAMED_INVALID = 5


class MoleculeDataset(InMemoryDataset):
    """Featurised molecules with multi-task labels.

    Each graph has ``x``, ``edge_index``, ``edge_attr`` (see :mod:`~graphrep.data.molecules.featurize`), ``y`` float
    [1, T] with NaN for a missing label, and ``smiles``. Attributes: ``task_names``, ``task_type``
    (``"classification"``, ``"regression"`` or ``"none"``), ``name``, ``smiles`` (list, in dataset order),
    ``skipped`` (list of ``(line, smiles, reason)`` for rows that could not be used).

    Invalid molecules are skipped with one warning that counts them and names the first few; ``strict=True`` makes the
    first one an error. A dataset with no valid molecule is always an error.
    """

    def __init__(self, table: MoleculeTable, name: str, task_type: str, features: str = "ogb", strict: bool = False):
        super().__init__(root=None)
        self.name, self.task_type, self.features = name, task_type, features
        self.task_names = list(table.task_names)
        graphs, self.skipped = [], []
        rows = zip(table.smiles, table.labels, table.line_numbers)
        # disable=None: a bar on a terminal only, and only for sets big enough to wait for
        bar = tqdm(rows, total=len(table.smiles), desc=f"featurising {name}", unit="mol", leave=False,
                   disable=None if len(table.smiles) >= 5000 else True)
        for smiles, labels, line in bar:
            try:
                data = mol_to_data(parse_smiles(smiles), features)
            except InvalidInputError as exc:
                if strict:
                    raise InvalidInputError(f"{table.source}:{line}: {exc}") from None
                self.skipped.append((line, smiles, str(exc)))
                continue
            data.y = torch.as_tensor(np.asarray(labels, dtype=np.float32)).view(1, -1)
            data.smiles = smiles
            graphs.append(data)
        if self.skipped:
            first = "; ".join(f"line {ln}: {reason}" for ln, _, reason in self.skipped[:MAX_NAMED_INVALID])
            log.warning("%s: skipped %d of %d molecules that could not be parsed (%s%s)", name, len(self.skipped),
                        len(table.smiles), first, "; ..." if len(self.skipped) > MAX_NAMED_INVALID else "")
        if not graphs:
            raise InvalidInputError(f"{table.source}: no valid molecule in {len(table.smiles)} rows; dataset {name!r} is empty")
        self.data, self.slices = self.collate(graphs)
        self.smiles = [g.smiles for g in graphs]

    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    def __repr__(self) -> str:
        return f"MoleculeDataset({self.name!r}, {len(self)} molecules, {self.num_tasks} {self.task_type} tasks)"


TASK_TYPES = ("classification", "regression", "none")


def molecules_from_file(path: str | os.PathLike, smiles_column: str = "smiles", label_columns: list[str] | str = "*",
                        task_type: str | None = None, features: str = "ogb", strict: bool = False) -> MoleculeDataset:
    """A user's own file: ``.csv``/``.csv.gz`` (SMILES column + label columns), ``.smi``/``.txt`` or ``.sdf``.

    ``label_columns``: names, or ``"*"`` for every numeric column other than the SMILES one (SDF: every numeric property
    of the first record). ``task_type`` defaults to classification when every label is 0/1, regression otherwise;
    classification labels must be 0/1 (the first other value is an error naming its line).
    """
    from .tables import read_csv_table, read_sdf, read_smiles_lines

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such file" + (" (it is a folder)" if path.is_dir() else ""))
    if task_type not in (None, *TASK_TYPES):
        raise InvalidInputError(f"task type {task_type!r}: use classification or regression")
    labels = label_columns if label_columns == "*" else list(label_columns)
    stem = path.name[:-3] if path.name.endswith(".gz") else path.name
    if stem.endswith(".csv"):
        table = read_csv_table(path, smiles_column, labels)
    elif stem.endswith(".sdf"):
        table = read_sdf(path, labels)
    elif stem.endswith((".smi", ".txt")):
        table = read_smiles_lines(path)
    else:
        raise InvalidInputError(f"{path}: unknown molecule file type (use .csv, .smi, .txt or .sdf, optionally .gz)")
    binary = np.isnan(table.labels) | np.isin(table.labels, (0.0, 1.0))
    if task_type is None:
        task_type = "none" if table.labels.shape[1] == 0 else ("classification" if binary.all() else "regression")
    elif task_type == "classification" and not binary.all():
        row, col = np.argwhere(~binary)[0]
        raise InvalidInputError(f"{table.source}:{table.line_numbers[row]}: label {table.task_names[col]!r} is "
                                f"{table.labels[row, col]:g}; classification labels must be 0 or 1")
    if task_type != "none" and table.labels.shape[1] == 0:
        raise InvalidInputError(f"{path}: no label column for a {task_type} task (name them with label_columns / "
                                "--label-columns)")
    return MoleculeDataset(table, path.name, task_type, features=features, strict=strict)
