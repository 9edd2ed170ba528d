"""Find a dataset file: explicit root or ``GRAPHREP_DATA``, then the cache, then installed packages, then a download.

Resolution order for each :class:`~graphrep.data.registry.DataFile`:

1. ``root=`` passed by the caller, else the ``GRAPHREP_DATA`` environment variable;
2. the cache directory (``GRAPHREP_CACHE``, default ``~/.cache/graphrep``);
3. the file inside an installed package (``package = "rdkit"`` on the card);
4. a download of ``url`` into the cache when the network answers, checksum verified (through :data:`fetch_url`,
   which tests replace so that none depends on whether the network is reachable);
5. otherwise :class:`DataNotFoundError`, naming the file, every place looked and where to get it.

Under a root, the file is accepted at its full relative path (``root/molecules/moleculenet/BBBP.csv.gz``) or by its
base name (``root/BBBP.csv.gz``), compressed or not.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import shutil
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

from .errors import ChecksumError, DataNotFoundError, InvalidInputError
from .registry import DataFile, DatasetCard

DOWNLOAD_TIMEOUT_S = 30


def cache_dir() -> Path:
    """``GRAPHREP_CACHE`` or ``~/.cache/graphrep``."""
    return Path(os.environ.get("GRAPHREP_CACHE", Path.home() / ".cache" / "graphrep")).expanduser()


def data_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """The user-given roots, in order: ``root`` if given, else ``GRAPHREP_DATA`` (``os.pathsep``-separated)."""
    if root is not None:
        return [Path(root).expanduser()]
    env = os.environ.get("GRAPHREP_DATA", "")
    return [Path(p).expanduser() for p in env.split(os.pathsep) if p]


def read_bytes(path: Path) -> bytes:
    """File content, transparently gunzipped when the name ends in ``.gz``."""
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InvalidInputError(f"{path}: truncated or corrupt gzip file ({exc}); download it again") from None


def content_sha256(path: Path) -> str:
    return hashlib.sha256(read_bytes(path)).hexdigest()


def verify(path: Path, file: DataFile) -> Path:
    """Check ``path`` against the card's checksum of the decompressed content; raise :class:`ChecksumError` if it differs."""
    if file.content_sha256 is not None:
        got = content_sha256(path)
        if got != file.content_sha256:
            raise ChecksumError(
                f"{path}: content sha256 {got[:16]}... does not match the dataset card ({file.content_sha256[:16]}...); "
                "the file is truncated, modified or a different release"
            )
    return path


def _name_variants(relpath: str) -> list[str]:
    """``a/b/X.csv.gz`` -> the full path and base name, each with and without ``.gz``."""
    base = Path(relpath).name
    variants = [relpath, base]
    out: list[str] = []
    for v in variants:
        alt = v[:-3] if v.endswith(".gz") else v + ".gz"
        out += [v, alt]
    return list(dict.fromkeys(out))


def _package_file(file: DataFile) -> Path | None:
    spec = importlib.util.find_spec(file.package) if file.package else None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / file.path
    return path if path.is_file() else None


def urlopen_fetch(url: str, dest: Path) -> None:
    """Write the bytes at ``url`` to ``dest``; raises ``URLError``/``OSError``/``TimeoutError`` when unreachable."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, dest.open("wb") as out:
        shutil.copyfileobj(response, out)


#: How :func:`resolve_file` downloads: ``fetch_url(url, dest_path)``. Replaceable (tests make it offline or serve
#: local bytes); anything raising ``URLError``/``OSError``/``TimeoutError`` counts as "not reachable".
fetch_url: Callable[[str, Path], None] = urlopen_fetch


def _download(file: DataFile, dest_dir: Path) -> Path:
    """Fetch ``file.url`` into ``dest_dir`` under the URL's own name; keep it only if its checksum verifies."""
    dest = dest_dir / Path(file.url).name
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part" + ("" if dest.suffix != ".gz" else ".gz"))
    try:
        fetch_url(file.url, part)
        verify(part, file)
    except (ChecksumError, InvalidInputError) as exc:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"download of {file.url} failed verification: {exc}") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(dest)
    return dest


def resolve_file(card: DatasetCard, file: DataFile, root: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The local path of ``file``, following the order in this module's docstring, verified against its checksum."""
    looked: list[str] = []
    for base in [*data_roots(root), cache_dir()]:
        for variant in _name_variants(file.path):
            candidate = base / variant
            if candidate.is_file():
                return verify(candidate, file)
        looked.append(str(base))
    packaged = _package_file(file)
    if packaged is not None:
        return verify(packaged, file)
    if file.package:
        looked.append(f"inside the installed package {file.package!r}")
    if download and file.url:
        try:
            return _download(file, cache_dir() / Path(file.path).parent)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            looked.append(f"download from {file.url} ({getattr(exc, 'reason', exc)})")
    how = card.option("obtain") or f"Get it from {file.url or card.homepage} and pass its folder as root= / --root"
    raise DataNotFoundError(
        f"dataset {card.name!r}: file {Path(file.path).name} not found; looked in {'; '.join(looked)}. "
        f"{how}, or set GRAPHREP_DATA"
    )


def resolve_dataset(card: DatasetCard, root: str | os.PathLike | None = None, download: bool = True) -> list[Path]:
    """Local paths of all of ``card``'s files, in card order."""
    return [resolve_file(card, f, root=root, download=download) for f in card.files]
