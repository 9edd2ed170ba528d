"""Stream a large SMILES file into featurised shards on disk (resumable), and read the shards back as one dataset.

A corpus of 1.6M molecules does not fit in memory as PyG ``Data`` objects (about 3 KB each), so
:func:`featurise_shards` reads the file line by line and writes every ``shard_size`` rows as one compact shard:

    shard-00000.pt = {"x": int16 [N, F], "edge_index": int16 [2, E] (atom indices local to each molecule),
                      "edge_attr": int16 [E, C], "atoms": int32 [M], "bonds": int32 [M] (directed edges per molecule),
                      "lines": int64 [M] (1-based file line of each molecule), "skipped": [[line, reason], ...]}

(about 0.5 KB per molecule, read back with ``torch.load(weights_only=True)``). Each shard is written to a temporary
name and renamed, then recorded in ``manifest.json``; a rerun (after an interruption, or with a larger ``limit``)
keeps every recorded shard whose row range is unchanged and featurises only the rest, so an interrupted run loses at
most one shard of work. :class:`ShardedMolecules` concatenates the shards and builds each ``Data`` on access
(int64 features, as :func:`~graphrep.data.molecules.featurize.mol_to_data` gives them).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import multiprocessing
import os
import time
from array import array
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torch_geometric.data import Data
from tqdm.auto import tqdm

from ..errors import InvalidInputError
from ..torchfile import load_torch_file
from .featurize import FEATURE_SETS, mol_to_data, parse_smiles

MANIFEST = "manifest.json"
SHARD_FORMAT = 1


def iter_smiles(path: str | os.PathLike, smiles_column: str = "SMILES") -> Iterator[tuple[int, str]]:
    """``(line, smiles)`` for each data row of a CSV (``.gz`` read as a stream), header on line 1."""
    path = Path(path)
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    with raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as text:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            raise InvalidInputError(f"{path}: file is empty")
        if smiles_column not in header:
            raise InvalidInputError(f"{path}:1: no column {smiles_column!r} (columns: {', '.join(header)})")
        col = header.index(smiles_column)
        for line, row in enumerate(reader, start=2):
            if row:
                yield line, row[col].strip() if col < len(row) else ""


def featurise_block(rows: list[tuple[int, str]], features: str) -> dict:
    """One shard's arrays (module docstring) from ``(line, smiles)`` rows; unusable molecules go to ``skipped``.

    Each molecule's arrays are appended as int16 bytes to one growing buffer per field as soon as they are made, so a
    shard holds its compact arrays only, not one ``Data`` of small int64 tensors per molecule (issue 26)."""
    xs, edges, attrs = bytearray(), (bytearray(), bytearray()), bytearray()
    atoms, bonds, lines, skipped = array("i"), array("i"), array("q"), []
    for line, smiles in rows:
        try:
            data = mol_to_data(parse_smiles(smiles), features)
        except InvalidInputError as exc:
            skipped.append([line, str(exc)])
            continue
        xs += data.x.numpy().astype(np.int16).tobytes()
        ei = data.edge_index.numpy().astype(np.int16)
        edges[0].extend(ei[0].tobytes())
        edges[1].extend(ei[1].tobytes())
        attrs += data.edge_attr.numpy().astype(np.int16).tobytes()
        atoms.append(data.num_nodes)
        bonds.append(ei.shape[1])
        lines.append(line)
    width_x, width_e = (9, 3) if features == "ogb" else (2, 2)

    def int16(buf: bytearray, width: int | None) -> torch.Tensor:
        t = torch.from_numpy(np.frombuffer(buf, dtype=np.int16)) if buf else torch.empty(0, dtype=torch.int16)
        return t if width is None else t.view(-1, width)

    return {
        "x": int16(xs, width_x), "edge_index": torch.stack([int16(edges[0], None), int16(edges[1], None)]),
        "edge_attr": int16(attrs, width_e),
        "atoms": torch.tensor(atoms, dtype=torch.int32), "bonds": torch.tensor(bonds, dtype=torch.int32),
        "lines": torch.tensor(lines, dtype=torch.int64), "skipped": skipped,
    }


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _save_manifest(out_dir: Path, manifest: dict) -> None:
    _write_atomic(out_dir / MANIFEST, lambda p: p.write_text(json.dumps(manifest, indent=1)))


def read_manifest(out_dir: str | os.PathLike) -> dict | None:
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path}: not a readable shard manifest ({exc}); delete the folder to start over") from None


def _featurise_to_file(block: list[tuple[int, str]], features: str, path: Path) -> tuple[int, int, float]:
    """Featurise one block into ``path`` (atomically); ``(molecules, skipped, seconds)``. Runs in a worker process."""
    start = time.perf_counter()
    arrays = featurise_block(block, features)
    _write_atomic(path, lambda p: torch.save(arrays, p))
    return len(arrays["lines"]), len(arrays["skipped"]), time.perf_counter() - start


def featurise_shards(path: str | os.PathLike, out_dir: str | os.PathLike, features: str = "pretrain",
                     shard_size: int = 20_000, limit: int | None = None, smiles_column: str = "SMILES",
                     source_sha256: str | None = None, progress: bool | None = None, workers: int = 1) -> dict:
    """Featurise the first ``limit`` rows (all when ``None``) of ``path`` into shards under ``out_dir``; return the
    manifest (``shards``: file, first/last row, molecules, skipped, seconds; ``molecules_per_s`` over all shards;
    ``fresh_molecules``/``fresh_seconds``: the rows this call featurised; ``wall_seconds``: this call's wall-clock).

    Resumable: shards already in ``out_dir``'s manifest with the same row range are kept. ``progress``: a tqdm bar
    (``None``: on a terminal only). ``workers`` > 1 featurises that many shards at once in worker processes (RDKit
    holds the GIL); the shards and the manifest are the same as with one worker, and the manifest still records
    shards in order, so an interruption loses at most the ``workers`` shards in progress.
    """
    if features not in FEATURE_SETS:
        raise InvalidInputError(f"unknown feature set {features!r} (choose from {', '.join(FEATURE_SETS)})")
    if shard_size < 1 or (limit is not None and limit < 1):
        raise InvalidInputError(f"shard_size and limit must be >= 1, got {shard_size} and {limit}")
    if workers < 1:
        raise InvalidInputError(f"workers must be >= 1, got {workers}")
    wall_start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    identity = {"format": SHARD_FORMAT, "source": Path(path).name, "source_sha256": source_sha256,
                "features": features, "shard_size": shard_size}
    old = read_manifest(out_dir)
    if old is not None and {k: old.get(k) for k in identity} != identity:
        raise InvalidInputError(f"{out_dir / MANIFEST}: shards of another source or setting "
                                f"({ {k: old.get(k) for k in identity} }); use another folder or delete this one")
    done = {s["index"]: s for s in (old or {}).get("shards", []) if (out_dir / s["file"]).is_file()}
    manifest = {**identity, "limit": limit, "shards": [], "complete": False}
    # disable=None: a bar on a terminal only
    bar = tqdm(total=limit, desc=f"featurising {Path(path).name}", unit="mol", dynamic_ncols=True,
               disable=None if progress is None else not progress)
    fresh = {"molecules": 0, "seconds": 0.0}
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers > 1 else None
    pending: deque = deque()  # (index, rows, result or future), in shard order

    def record(index: int, rows: tuple[int, int], result) -> None:
        if isinstance(result, dict):  # a kept shard
            manifest["shards"].append(result)
        else:
            molecules, skipped, seconds = result.result() if isinstance(result, Future) else result
            fresh["molecules"] += rows[1] - rows[0]
            fresh["seconds"] += seconds
            manifest["shards"].append({"index": index, "file": f"shard-{index:05d}.pt", "rows": list(rows),
                                       "molecules": molecules, "skipped": skipped, "seconds": seconds})
        _save_manifest(out_dir, manifest)  # after each shard: an interruption loses at most the shards in progress
        bar.update(rows[1] - rows[0])
        bar.set_postfix(mol_per_s=f"{fresh['molecules'] / max(time.perf_counter() - wall_start, 1e-9):.0f}")

    def flush(block: list[tuple[int, str]], index: int, first_row: int) -> None:
        rows = (first_row, first_row + len(block))
        kept = done.get(index)
        target = out_dir / f"shard-{index:05d}.pt"
        if kept is not None and tuple(kept["rows"]) == rows:
            pending.append((index, rows, kept))
        elif pool is None:
            pending.append((index, rows, _featurise_to_file(block, features, target)))
        else:
            pending.append((index, rows, pool.submit(_featurise_to_file, block, features, target)))
        while pending and (len(pending) > 2 * workers or not isinstance(pending[0][2], Future)
                           or pending[0][2].done()):
            record(*pending.popleft())

    row, block, index = 0, [], 0
    try:
        for line, smiles in iter_smiles(path, smiles_column):
            if limit is not None and row >= limit:
                break
            block.append((line, smiles))
            row += 1
            if len(block) == shard_size:
                flush(block, index, row - len(block))
                block, index = [], index + 1
        if block:
            flush(block, index, row - len(block))
        while pending:
            record(*pending.popleft())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    seconds = sum(s["seconds"] for s in manifest["shards"])  # every shard's own featurisation time, earlier runs too
    manifest.update(complete=True, rows=row, molecules=sum(s["molecules"] for s in manifest["shards"]),
                    skipped=sum(s["skipped"] for s in manifest["shards"]), seconds=seconds,
                    molecules_per_s=row / seconds if seconds else None, fresh_molecules=fresh["molecules"],
                    fresh_seconds=fresh["seconds"], workers=workers,
                    wall_seconds=time.perf_counter() - wall_start)
    _save_manifest(out_dir, manifest)
    return manifest


class ShardedMolecules(Dataset):
    """The molecules of a finished shard folder as one dataset of ``Data`` (x, edge_index, edge_attr int64).

    Attributes as a :class:`~graphrep.data.MoleculeDataset` where pre-training reads them: ``name``, ``features``,
    ``task_type`` (``"none"``), ``skipped`` (``[line, reason]`` pairs), ``lines`` (file line of each molecule).
    """

    def __init__(self, out_dir: str | os.PathLike, name: str | None = None):
        out_dir = Path(out_dir)
        manifest = read_manifest(out_dir)
        if manifest is None or not manifest.get("complete"):
            raise InvalidInputError(f"{out_dir}: no finished shards (run featurise_shards first)")
        parts = [load_torch_file(out_dir / s["file"], what="molecule shard") for s in manifest["shards"]]
        self.name = name or out_dir.name
        self.features, self.task_type, self.manifest = manifest["features"], "none", manifest
        self.x = torch.cat([p["x"] for p in parts])
        self.edge_index = torch.cat([p["edge_index"] for p in parts], dim=1)
        self.edge_attr = torch.cat([p["edge_attr"] for p in parts])
        atoms = torch.cat([p["atoms"] for p in parts]).long()
        bonds = torch.cat([p["bonds"] for p in parts]).long()
        self.atom_ptr = torch.cat([torch.zeros(1, dtype=torch.long), atoms.cumsum(0)])
        self.bond_ptr = torch.cat([torch.zeros(1, dtype=torch.long), bonds.cumsum(0)])
        self.lines = torch.cat([p["lines"] for p in parts])
        self.skipped = [tuple(s) for p in parts for s in p["skipped"]]

    def __len__(self) -> int:
        return self.lines.numel()

    def __getitem__(self, i: int) -> Data:
        a0, a1 = int(self.atom_ptr[i]), int(self.atom_ptr[i + 1])
        b0, b1 = int(self.bond_ptr[i]), int(self.bond_ptr[i + 1])
        return Data(x=self.x[a0:a1].long(), edge_index=self.edge_index[:, b0:b1].long(),
                    edge_attr=self.edge_attr[b0:b1].long(), num_nodes=a1 - a0)

    def __repr__(self) -> str:
        return f"ShardedMolecules({self.name!r}, {len(self)} molecules, {len(self.manifest['shards'])} shards)"
