"""Dataset cards: one TOML file per dataset under ``datasets/`` (source, licence, size, checksum, citation, format).

The cards are the single source of truth: loaders read how to parse a dataset from its card. In a source checkout they
are read from ``<repo>/datasets``; an installed wheel carries them under ``<prefix>/share/graphrep/datasets``.
"""

from __future__ import annotations

import sys
import sysconfig
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import GraphrepError

KINDS = ("molecules", "ogb", "tag", "mobility", "circuit")


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset.

    ``path`` is relative to a data root laid out like ``../shared/data`` (for package files: relative to the package).
    ``content_sha256`` is taken over the decompressed bytes, so a ``.csv`` and a ``.csv.gz`` copy verify alike.
    """

    path: str
    content_sha256: str | None = None
    content_bytes: int | None = None
    url: str | None = None
    package: str | None = None


@dataclass(frozen=True)
class DatasetCard:
    name: str
    title: str
    kind: str
    format: str
    task_type: str
    rows: int
    split: str
    license: str
    citation: str
    homepage: str
    files: tuple[DataFile, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    card_path: Path | None = None

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


_CARD_FIELDS = {"name", "title", "kind", "format", "task_type", "rows", "split", "license", "citation", "homepage"}


def card_directories() -> list[Path]:
    """Where cards are looked for: the source checkout first, then the installed copy."""
    dirs = [Path(__file__).resolve().parents[2] / "datasets"]
    for prefix in (sysconfig.get_path("data"), sys.prefix):
        dirs.append(Path(prefix) / "share" / "graphrep" / "datasets")
    return dirs


def parse_card(path: Path) -> DatasetCard:
    """Read one TOML card; a card missing a field is an error that names the file and the field."""
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise GraphrepError(f"{path}: not valid TOML ({exc})") from None
    missing = sorted(_CARD_FIELDS - raw.keys())
    if missing:
        raise GraphrepError(f"{path}: dataset card lacks {', '.join(missing)}")
    if raw["kind"] not in KINDS:
        raise GraphrepError(f"{path}: unknown kind {raw['kind']!r} (known: {', '.join(KINDS)})")
    files = tuple(DataFile(**f) for f in raw.pop("files", []))
    core = {k: raw.pop(k) for k in _CARD_FIELDS}
    return DatasetCard(files=files, options=raw, card_path=path, **core)


@lru_cache(maxsize=1)
def _all_cards() -> dict[str, DatasetCard]:
    for directory in card_directories():
        if directory.is_dir() and any(directory.glob("*.toml")):
            cards = [parse_card(p) for p in sorted(directory.glob("*.toml"))]
            return {c.name: c for c in cards}
    raise GraphrepError("no dataset cards found; looked in " + ", ".join(str(d) for d in card_directories()))


def list_cards() -> list[DatasetCard]:
    """Every registered dataset, sorted by kind then name."""
    return sorted(_all_cards().values(), key=lambda c: (c.kind, c.name))


def get_card(name: str) -> DatasetCard:
    """The card of dataset ``name``; an unknown name is an error that suggests the closest known names."""
    cards = _all_cards()
    key = name.strip().lower()
    if key in cards:
        return cards[key]
    import difflib

    close = difflib.get_close_matches(key, cards, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `graphrep data list` shows them all"
    raise GraphrepError(f"unknown dataset {name!r}{hint}")
