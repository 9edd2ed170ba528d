"""Pre-training corpora: unions of registered molecule sets, deduplicated, and releases too large to checksum-ship.

Two card formats beside the single-file ones of :mod:`~graphrep.data.molecules.tables`:

* ``format = "union"``, ``members = [...]``: the SMILES of the member datasets, in member order, deduplicated by RDKit
  canonical SMILES (first occurrence kept; a SMILES RDKit cannot parse is kept as written, so the dataset reports it).
  ``zinc-sample`` (the ZINC files in ``molecules/pretrain``) and ``rdkit-shipped`` (NCI first 5K + WEHI 10K) are unions.
* ``format = "streamed_csv"``, ``smiles_column = "..."``: a file too large to featurise in memory (``moses``, 1.6M
  molecules from the ``molsets`` wheel): :func:`load_corpus` streams it into featurised shards on disk, resumably
  (:mod:`~graphrep.data.molecules.shards`), and ``limit`` takes the file's first rows.
* ``format = "smiles_release"``, ``path = "..."``: one SMILES per line at ``<root>/<path>``, looked for under
  ``root=`` / ``GRAPHREP_DATA`` then the cache (``zinc2m``: pretrain-gnns' ``zinc_standard_agent/processed/smiles.csv``).
  There is no single-file download; a missing file is an error that says where to get the release.

:func:`load_corpus` gives any molecule dataset as an unlabelled pre-training corpus, optionally a seeded subset.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger

from ..errors import DataNotFoundError, InvalidInputError
from ..registry import DatasetCard, get_card
from ..resolve import cache_dir, data_roots, resolve_dataset
from .dataset import MoleculeDataset
from .shards import ShardedMolecules, featurise_shards
from .tables import MoleculeTable, read_card_table, read_csv_table, read_smiles_lines

CORPUS_FORMATS = ("union", "smiles_release", "streamed_csv")


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES, or ``None`` when RDKit cannot parse ``smiles``."""
    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles)
    finally:
        RDLogger.EnableLog("rdApp.*")
    return Chem.MolToSmiles(mol) if mol is not None and mol.GetNumAtoms() else None


def dedupe(smiles: list[str]) -> tuple[list[str], list[int]]:
    """Keep the first molecule of each canonical SMILES; return the kept SMILES (as canonicalised) and their indices.

    Unparsable strings are kept unchanged (each once), so the dataset built from them reports them as invalid.
    """
    seen: set[str] = set()
    kept, index = [], []
    for i, s in enumerate(smiles):
        key = canonical_smiles(s)
        out = key if key is not None else s
        if out in seen:
            continue
        seen.add(out)
        kept.append(out)
        index.append(i)
    return kept, index


def union_table(card: DatasetCard, root: str | os.PathLike | None = None, download: bool = True) -> MoleculeTable:
    """The deduplicated SMILES of ``card``'s members (labels dropped: a union is unlabelled)."""
    members = card.option("members") or []
    if not members:
        raise InvalidInputError(f"dataset card {card.card_path}: a union needs members = [...]")
    smiles: list[str] = []
    for name in members:
        member = get_card(name)
        if member.kind != "molecules" or member.format in CORPUS_FORMATS:
            raise InvalidInputError(f"dataset card {card.card_path}: member {name!r} is not a single molecule file")
        smiles += read_card_table(member, resolve_dataset(member, root=root, download=download)).smiles
    kept, _ = dedupe(smiles)
    return MoleculeTable(kept, np.zeros((len(kept), 0)), [], list(range(1, len(kept) + 1)),
                         f"{card.name} (union of {', '.join(members)})")


def release_file(card: DatasetCard, root: str | os.PathLike | None = None) -> Path:
    """``<base>/<path>`` for the first base (``root`` / ``GRAPHREP_DATA``, then the cache) that holds it."""
    relpath = card.option("path")
    if not relpath:
        raise InvalidInputError(f"dataset card {card.card_path}: a smiles_release needs path = \"...\"")
    bases = [*data_roots(root), cache_dir()]
    for base in bases:
        if (base / relpath).is_file():
            return base / relpath
    raise DataNotFoundError(
        f"dataset {card.name!r}: {relpath} not found under {', '.join(map(str, bases)) or '(no root given)'}. "
        f"{card.option('obtain', 'Get it from ' + card.homepage)}; pass the folder that contains "
        f"{Path(relpath).parts[0]}/ as root= / --root, or set GRAPHREP_DATA")


def card_table(card: DatasetCard, root: str | os.PathLike | None = None, download: bool = True) -> MoleculeTable:
    """The table of any molecule card: a union, a release file, or the card's own files."""
    if card.format == "union":
        return union_table(card, root, download)
    if card.format == "smiles_release":
        return read_smiles_lines(release_file(card, root))
    if card.format == "streamed_csv":
        paths = resolve_dataset(card, root=root, download=download)
        return read_csv_table(paths[0], card.option("smiles_column", "smiles"), [])
    return read_card_table(card, resolve_dataset(card, root=root, download=download))


def subset(table: MoleculeTable, limit: int, seed: int = 0) -> MoleculeTable:
    """``limit`` rows drawn without replacement with ``seed``, kept in file order (all rows if ``limit >= n``)."""
    if limit < 1:
        raise InvalidInputError(f"limit must be a positive number of molecules, got {limit}")
    n = len(table.smiles)
    if limit >= n:
        return table
    rows = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    return MoleculeTable([table.smiles[i] for i in rows], table.labels[rows], table.task_names,
                         [table.line_numbers[i] for i in rows], table.source)


def shard_folder(name: str, features: str) -> Path:
    """Where a streamed corpus keeps its shards: ``<cache>/shards/<name>-<features>``."""
    return cache_dir() / "shards" / f"{name}-{features}"


def load_streamed_corpus(card: DatasetCard, root: str | os.PathLike | None = None, features: str = "pretrain",
                         limit: int | None = None, shard_size: int = 20_000, shard_dir: str | os.PathLike | None = None,
                         progress: bool | None = None, workers: int = 1) -> ShardedMolecules:
    """A ``streamed_csv`` card's first ``limit`` rows (all when ``None``), featurised into shards (resuming what an
    earlier call left in ``shard_dir``, default :func:`shard_folder`; ``workers`` processes) and read back."""
    file = card.files[0]
    path = resolve_dataset(card, root=root, download=False)[0]  # verified against the card's sha256
    out = Path(shard_dir) if shard_dir is not None else shard_folder(card.name, features)
    featurise_shards(path, out, features=features, shard_size=shard_size, limit=limit,
                     smiles_column=card.option("smiles_column", "smiles"), source_sha256=file.content_sha256,
                     progress=progress, workers=workers)
    return ShardedMolecules(out, name=card.name)


def load_corpus(name: str, root: str | os.PathLike | None = None, features: str = "pretrain", limit: int | None = None,
                seed: int = 0, download: bool = True, workers: int = 1) -> MoleculeDataset | ShardedMolecules:
    """A registered molecule dataset as a pre-training corpus (labels ignored by the pre-training methods).

    ``limit``: use a seeded random subset of that many molecules (drawn before featurisation, so it is also faster);
    for a streamed corpus (``moses``), the file's first ``limit`` rows, featurised into resumable shards on disk by
    ``workers`` processes.
    """
    card = get_card(name)
    if card.kind != "molecules":
        raise InvalidInputError(f"dataset {name!r} is of kind {card.kind!r}; pre-training needs a molecule dataset")
    if card.format == "streamed_csv":
        if limit is not None and limit < 1:
            raise InvalidInputError(f"limit must be a positive number of molecules, got {limit}")
        return load_streamed_corpus(card, root=root, features=features, limit=limit, workers=workers)
    table = card_table(card, root, download)
    if limit is not None:
        table = subset(table, limit, seed)
    return MoleculeDataset(table, card.name, card.task_type, features=features)
