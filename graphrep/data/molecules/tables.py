"""Read molecule tables (CSV, SMILES lists, RDKit's .smi + activity CSV, SDF) into SMILES and a label matrix.

Every reader returns a :class:`MoleculeTable`: ``smiles`` (list of str), ``labels`` float [n, T] with NaN where a label
is missing, ``task_names`` (T names) and ``line_numbers`` (1-based line of each row in its file, for error messages).
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem, RDLogger

from ..errors import InvalidInputError
from ..registry import DatasetCard
from ..resolve import read_bytes

log = logging.getLogger(__name__)


@dataclass
class MoleculeTable:
    smiles: list[str]
    labels: np.ndarray  # [n, T] float64, NaN = missing
    task_names: list[str]
    line_numbers: list[int]
    source: str

    def __post_init__(self) -> None:
        if self.labels.shape != (len(self.smiles), len(self.task_names)):
            raise InvalidInputError(
                f"{self.source}: {len(self.smiles)} molecules but labels of shape {self.labels.shape} for "
                f"{len(self.task_names)} tasks"
            )


def _frame(path: Path, header: bool = True, names: list[str] | None = None) -> pd.DataFrame:
    text = read_bytes(path).decode("utf-8", errors="replace")
    if not text.strip():
        raise InvalidInputError(f"{path}: file is empty")
    if header and names is None:
        _refuse_duplicate_columns(text, path)
    try:
        return pd.read_csv(io.StringIO(text), header=0 if header else None, names=names, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise InvalidInputError(f"{path}: not a readable CSV ({exc})") from None


#: labels are trained on as float32: a larger magnitude would become inf (and then a false "constant" target)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _label_value(cell: str, where: str, name: str) -> float:
    """A label cell as a float. The one rule: an empty cell is a missing label (NaN); anything else must be a finite
    number within float32's range, so ``nan``, ``inf``, ``-inf``, ``1e300`` and text are errors naming ``where``."""
    cell = cell.strip()
    if cell == "":
        return np.nan
    try:
        value = float(cell)
    except ValueError:
        raise InvalidInputError(f"{where}: label {name!r} is {cell!r}, not a number") from None
    if not np.isfinite(value):
        raise InvalidInputError(f"{where}: label {name!r} is {cell!r}, not a finite number (leave the cell empty for a "
                                "missing label)")
    if abs(value) > _FLOAT32_MAX:
        raise InvalidInputError(f"{where}: label {name!r} is {cell!r}, beyond float32's range (|x| <= 3.4e38) in "
                                "which labels are trained; rescale the column")
    return value


def _labels(frame: pd.DataFrame, columns: list[str], path: Path, first_line: int) -> np.ndarray:
    out = np.full((len(frame), len(columns)), np.nan)
    for t, col in enumerate(columns):
        for i, cell in enumerate(frame[col].tolist()):
            out[i, t] = _label_value(cell, f"{path}:{first_line + i}", col)
    return out


def _refuse_duplicate_columns(text: str, path: Path) -> None:
    """pandas renames a repeated header ``logS,logS`` to ``logS, logS.1``: two tasks from one name. Refuse it."""
    seen = set()
    for name in next(csv.reader(io.StringIO(text)), []):
        if name.strip() in seen:
            raise InvalidInputError(f"{path}:1: column {name.strip()!r} appears more than once in the header; give "
                                    "each column its own name")
        seen.add(name.strip())


def _column(frame: pd.DataFrame, name: str, path: Path) -> str:
    """``name`` as spelled in the file; a unique case-insensitive match is accepted (``SMILES`` for ``smiles``)."""
    if name in frame.columns:
        return name
    matches = [c for c in frame.columns if str(c).strip().lower() == name.strip().lower()]
    if len(matches) == 1:
        return matches[0]
    raise InvalidInputError(f"{path}: no column {name!r} (columns: {', '.join(map(str, frame.columns))})")


def read_csv_table(path: Path, smiles_column: str, label_columns: list[str] | str, header: bool = True,
                   columns: list[str] | None = None) -> MoleculeTable:
    """A CSV with one SMILES column and label columns (empty cell = missing label).

    ``label_columns="*"``: every other column whose cells are all numbers or empty; the others are named in a warning.
    """
    frame = _frame(path, header=header, names=columns)
    smiles_column = _column(frame, smiles_column, path)
    if label_columns == "*":
        others = [c for c in frame.columns if c != smiles_column]
        numeric = [c for c in others if all(_is_number(v) or v.strip() == "" for v in frame[c])]
        empty = [c for c in numeric if all(v.strip() == "" for v in frame[c])]
        label_columns = [c for c in numeric if c not in empty]
        if not label_columns and empty:
            raise InvalidInputError(f"{path}: label column {empty[0]!r} has no labels (every cell is empty)")
        if len(label_columns) < len(others):
            log.warning("%s: using label column(s) %s; ignoring non-numeric or empty column(s) %s", path,
                        ", ".join(map(str, label_columns)) or "none",
                        ", ".join(str(c) for c in others if c not in label_columns))
    absent = [c for c in label_columns if c not in frame.columns]
    if absent:
        raise InvalidInputError(f"{path}: label column(s) {', '.join(absent)} not found "
                                f"(columns: {', '.join(map(str, frame.columns))})")
    first_line = 2 if header else 1
    for col in label_columns:
        if all(v.strip() == "" for v in frame[col]):
            raise InvalidInputError(f"{path}: label column {col!r} has no labels (every cell is empty); drop it or "
                                    "name the label columns with --label-columns")
    # A quoted SMILES may span lines (ZINC-250k's trailing newline): strip it.
    smiles = [s.strip() for s in frame[smiles_column].tolist()]
    # Line numbers assume one line per row; past a quoted multi-line cell they are off by the extra lines.
    lines = list(range(first_line, first_line + len(frame)))
    return MoleculeTable(smiles, _labels(frame, list(label_columns), path, first_line), list(label_columns), lines, str(path))


def read_smiles_lines(path: Path) -> MoleculeTable:
    """One molecule per line: ``SMILES [whitespace ID ...]``; blank lines and ``#`` comments are skipped."""
    smiles, lines = [], []
    text = read_bytes(path).decode("utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if lineno == 1 and fields[0].lower() == "smiles":
            continue
        smiles.append(fields[0])
        lines.append(lineno)
    if not smiles:
        raise InvalidInputError(f"{path}: no SMILES lines")
    return MoleculeTable(smiles, np.zeros((len(smiles), 0)), [], lines, str(path))


def read_smi_join_csv(smi_path: Path, csv_path: Path, id_column: str, label_columns: list[str]) -> MoleculeTable:
    """RDKit-style pair: ``SMILES ID`` lines and a CSV of activities keyed by ID; molecules without activity are dropped."""
    frame = _frame(csv_path)
    if id_column not in frame.columns:
        raise InvalidInputError(f"{csv_path}: no column {id_column!r}")
    labels = _labels(frame, label_columns, csv_path, 2)
    by_id = {key.strip(): labels[i] for i, key in enumerate(frame[id_column].tolist())}
    smiles, rows, lines = [], [], []
    text = read_bytes(smi_path).decode("utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if len(fields) < 2:
            if fields:
                raise InvalidInputError(f"{smi_path}:{lineno}: expected 'SMILES ID', got {line!r}")
            continue
        if fields[1] in by_id:
            smiles.append(fields[0])
            rows.append(by_id[fields[1]])
            lines.append(lineno)
    if not smiles:
        raise InvalidInputError(f"{smi_path}: no molecule has an activity in {csv_path}")
    return MoleculeTable(smiles, np.stack(rows), list(label_columns), lines, str(smi_path))


def read_sdf(path: Path, label_properties: list[str] | str | None = None) -> MoleculeTable:
    """An SDF file; labels from the named SD properties (missing property = missing label; ``"*"``: every property of
    the first readable record whose value is a number).

    A record RDKit cannot parse keeps its place as an empty SMILES, reported later as invalid with its record number.
    """
    pick_numeric = label_properties == "*"
    label_properties = [] if pick_numeric else list(label_properties or [])
    data = read_bytes(path)
    supplier = Chem.ForwardSDMolSupplier(io.BytesIO(data), sanitize=True)
    smiles, rows, lines = [], [], []
    RDLogger.DisableLog("rdApp.*")
    try:
        for index, mol in enumerate(supplier, start=1):
            lines.append(index)
            if mol is None:
                smiles.append("")
                rows.append([np.nan] * len(label_properties))
                continue
            if pick_numeric:
                label_properties, pick_numeric = [p for p in mol.GetPropNames() if _is_number(mol.GetProp(p))], False
                rows = [[np.nan] * len(label_properties) for _ in rows]
            smiles.append(Chem.MolToSmiles(mol))
            rows.append([_label_value(mol.GetProp(p) if mol.HasProp(p) else "", f"{path}: record {index}", p)
                         for p in label_properties])
    finally:
        RDLogger.EnableLog("rdApp.*")
    if not smiles:
        raise InvalidInputError(f"{path}: no records")
    return MoleculeTable(smiles, np.array(rows, dtype=float).reshape(len(smiles), len(label_properties)),
                         label_properties, lines, str(path))


def concat_tables(tables: list[MoleculeTable]) -> MoleculeTable:
    """One table from several files read alike (a card with more than one SDF), rows in file order; a row's number
    counts on across files (the second file's first record is the first file's last + 1), as ``source`` lists them."""
    if len(tables) == 1:
        return tables[0]
    names = tables[0].task_names
    for table in tables[1:]:
        if table.task_names != names:
            raise InvalidInputError(f"{table.source}: labels {table.task_names}, but {tables[0].source} has {names}")
    offsets = np.cumsum([0] + [max(t.line_numbers, default=0) for t in tables[:-1]])
    return MoleculeTable([s for t in tables for s in t.smiles], np.concatenate([t.labels for t in tables]), names,
                         [int(o) + n for o, t in zip(offsets, tables) for n in t.line_numbers],
                         " + ".join(t.source for t in tables))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_card_table(card: DatasetCard, paths: list[Path]) -> MoleculeTable:
    """Read a registered dataset's files the way its card says."""
    fmt = card.format
    if fmt == "csv":
        return read_csv_table(paths[0], card.option("smiles_column", "smiles"), card.option("label_columns", []),
                              header=card.option("header", True), columns=card.option("columns"))
    if fmt == "smiles_lines":
        return read_smiles_lines(paths[0])
    if fmt == "smi_join_csv":
        return read_smi_join_csv(paths[0], paths[1], card.option("id_column"), card.option("label_columns"))
    if fmt == "sdf":
        return concat_tables([read_sdf(path, card.option("label_columns", [])) for path in paths])
    raise InvalidInputError(f"dataset card {card.card_path}: unknown molecule format {fmt!r}")
