"""Text-attributed graphs (TAGs): node texts, citation edges, labels and class names.

On-disk layout of one dataset (the layout of ``../shared/data/tag/<name>``)::

    <name>/nodes.jsonl.gz   one JSON object per line: {"id": int, "text": str, "label": int}
    <name>/edges.csv.gz     header "src,dst", then one edge per line (node ids as in nodes.jsonl.gz)
    <name>/classes.json     label index -> class name: {"classes": [name, ...]}, a list, or {"0": name, ...}

Uncompressed ``nodes.jsonl`` / ``edges.csv`` are read too. Any TAG converted to this layout (PubMed, WikiCS, ogbn-arxiv,
...) loads with :func:`load_tag`; the known ones have cards in ``datasets/`` (kind ``tag``) with their public sources.
"""

from __future__ import annotations

import gzip
import json
import os
import warnings
import zlib
from array import array
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Data

from .errors import InvalidInputError

__all__ = ["tag_info", "tag_prompts", "resolve_tag_dir", "load_tag", "read_nodes", "read_edges",
           "read_classes", "strip_labels", "title_only"]


def tag_info(name: str):
    """The registry card of a known TAG (``datasets/<name>.toml``), or ``None`` for a user's own dataset."""
    from .registry import list_cards

    return next((c for c in list_cards() if c.kind == "tag" and c.name == name.lower()), None)


def tag_prompts(name: str) -> list[str]:
    """The paraphrased prompt templates of a known TAG's card (``prompts``; the first is the card's ``prompt``), or
    ``[]`` for a TAG without a card."""
    info = tag_info(name)
    if info is None:
        return []
    prompts = list(info.option("prompts", []))
    first = info.option("prompt")
    return ([first] if first and first not in prompts else []) + prompts


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def resolve_tag_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """Folder holding ``name``'s files.

    ``root`` (explicit) is the folder that contains ``<name>/``, or the dataset folder itself; without it,
    ``$GRAPHREP_DATA/tag/<name>``. Raises :class:`FileNotFoundError` naming the missing file and the public source.
    """
    names = list(dict.fromkeys([name, name.lower()]))  # as given, then lower case
    name = name.lower()
    if root is not None:
        root = Path(root).expanduser()
        candidates = [root / n for n in names] + [root / "tag" / n for n in names] + [root]
        where = f"root={str(root)!r}"
    elif os.environ.get("GRAPHREP_DATA"):
        base = Path(os.environ["GRAPHREP_DATA"]).expanduser() / "tag"
        candidates = [base / n for n in names]
        where = f"GRAPHREP_DATA={os.environ['GRAPHREP_DATA']!r}"
    else:
        candidates = []
        where = "no root= given and GRAPHREP_DATA is not set"
    for folder in candidates:
        if _find(folder, "nodes.jsonl") is not None:
            return folder
    expected = candidates[0] / "nodes.jsonl.gz" if candidates else Path("$GRAPHREP_DATA/tag") / name / "nodes.jsonl.gz"
    info = tag_info(name)
    from .registry import list_cards

    known = ", ".join(c.name for c in list_cards() if c.kind == "tag")
    source = (f"Public source of {name!r}: {info.homepage} (licence: {info.license})." if info is not None
              else f"Known TAGs: {known}.")
    raise FileNotFoundError(
        f"TAG dataset {name!r}: file {expected} not found ({where}). Expected nodes.jsonl.gz, edges.csv.gz and "
        f"classes.json in that folder (see graphrep.data.tag). {source}"
    )


def _lines(path: Path):
    """``(line number, line)`` of a text file, optionally gzipped; a truncated gzip or bad UTF-8 is an error naming the
    file and line."""
    with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
        lineno = 0
        while True:
            lineno += 1
            try:
                raw = f.readline()
            except (EOFError, gzip.BadGzipFile, zlib.error) as e:
                raise InvalidInputError(f"{path}:{lineno}: the gzip stream is truncated or corrupt ({e}); "
                                        f"re-copy or re-download the file") from None
            if not raw:
                return
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InvalidInputError(f"{path}:{lineno}: not valid UTF-8 ({e.reason} at byte {e.start + 1} of the "
                                        f"line)") from None


def read_classes(path: str | os.PathLike) -> list[str]:
    """Class names in label order from ``classes.json``."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: classes file not found (label index -> class name)") from None
    except UnicodeDecodeError as e:
        line = raw_bytes_line(path, e.start)
        raise InvalidInputError(f"{path}:{line}: not valid UTF-8 ({e.reason})") from None
    if not raw.strip():
        raise InvalidInputError(f"{path}: empty file (expected label index -> class name)")
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from None
    if isinstance(obj, dict) and "classes" in obj:
        obj = obj["classes"]
    if isinstance(obj, dict):
        try:
            keys = sorted(int(k) for k in obj)
        except ValueError:
            raise InvalidInputError(f"{path}: keys must be label indices 0..C-1, got {sorted(obj)[:5]}") from None
        if keys != list(range(len(keys))):
            raise InvalidInputError(f"{path}: label indices must be exactly 0..{len(keys) - 1}, got {keys}")
        obj = [obj[str(k)] for k in keys]
    if not isinstance(obj, list) or not obj or not all(isinstance(c, str) and c.strip() for c in obj):
        raise InvalidInputError(f"{path}: expected a non-empty list of class names (or {{'classes': [...]}})")
    seen: dict[str, int] = {}
    for k, c in enumerate(obj):
        key = " ".join(c.lower().split())
        if key in seen:
            raise InvalidInputError(f"{path}: class {c!r} (label {k}) repeats label {seen[key]} ({obj[seen[key]]!r}): "
                                    "two labels with one name cannot be told apart by their text")
        seen[key] = k
    if len(obj) < 2:
        warnings.warn(f"{path}: only one class ({obj[0]!r}): zero-shot classification among one class is trivially "
                      f"100% accurate", stacklevel=2)
    return list(obj)


def raw_bytes_line(path: Path, offset: int) -> int:
    """1-based line number of byte ``offset`` of a file."""
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


def read_nodes(path: str | os.PathLike, num_classes: int | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Read ``nodes.jsonl[.gz]`` into ``(ids [N] int64, texts, labels [N] int64)``, in file order.

    Every line must be a JSON object with an integer ``id`` (unique), a string ``text`` and an integer ``label``
    in ``[0, num_classes)``; errors name the file and line.
    """
    path = Path(path)
    ids, texts, labels, linenos = array("q"), [], array("q"), array("q")  # 8 bytes an entry, not a Python int
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
        if not isinstance(rec, dict):
            raise InvalidInputError(f"{path}:{lineno}: expected a JSON object with keys id, text, label")
        missing = [k for k in ("id", "text", "label") if k not in rec]
        if missing:
            raise InvalidInputError(f"{path}:{lineno}: missing key(s) {missing}")
        nid, text, label = rec["id"], rec["text"], rec["label"]
        if not isinstance(nid, int) or isinstance(nid, bool):
            raise InvalidInputError(f"{path}:{lineno}: 'id' must be an integer, got {nid!r}")
        if not isinstance(text, str):
            raise InvalidInputError(f"{path}:{lineno}: 'text' must be a string, got {type(text).__name__}")
        if not isinstance(label, int) or isinstance(label, bool):
            raise InvalidInputError(f"{path}:{lineno}: 'label' must be an integer, got {label!r}")
        if num_classes is not None and not 0 <= label < num_classes:
            raise InvalidInputError(f"{path}:{lineno}: label {label} out of range [0, {num_classes}) "
                                    f"of classes.json")
        ids.append(nid)
        texts.append(text)
        labels.append(label)
        linenos.append(lineno)
    if not ids:
        raise InvalidInputError(f"{path}: empty file (expected one JSON object per node)")
    ids_arr = np.frombuffer(ids, dtype=np.int64)
    if not (ids_arr[1:] > ids_arr[:-1]).all():  # increasing ids (the usual file) are unique without sorting them
        uniq, counts = np.unique(ids_arr, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1][0]
            lines = [linenos[i] for i in np.flatnonzero(ids_arr == dup)[:2]]
            raise InvalidInputError(f"{path}:{lines[1]}: duplicate node id {dup} (first on line {lines[0]})")
    return ids_arr, texts, np.frombuffer(labels, dtype=np.int64)


def _read_int_edges(path: Path, ids: np.ndarray) -> np.ndarray | None:
    """The common case of :func:`read_edges` in O(E) integer memory: both columns parse as int64 and every id is a
    node. ``None`` when anything is unusual (then the string path reads the file again and names the problem)."""
    try:
        df = pd.read_csv(path, compression="infer", skipinitialspace=True)
    except Exception:  # noqa: BLE001 - any failure is reported by the string path
        return None
    df.columns = [str(c).strip() for c in df.columns]
    if not {"src", "dst"} <= set(df.columns) or \
            not all(pd.api.types.is_signed_integer_dtype(df[c]) for c in ("src", "dst")):
        return None
    if len(df) == 0:
        return None
    out = np.empty((2, len(df)), dtype=np.int64)
    dense = ids.size and ids[0] == 0 and ids[-1] == ids.size - 1 and (ids[1:] > ids[:-1]).all()  # ids 0..N-1
    order = None if dense else np.argsort(ids, kind="stable")
    sorted_ids = None if dense else ids[order]
    for i, col in enumerate(("src", "dst")):
        vals = df[col].to_numpy(dtype=np.int64)
        if dense:  # an id is its own position
            if vals.size and (vals.min() < 0 or vals.max() >= ids.size):
                return None
            out[i] = vals
            continue
        pos = np.minimum(np.searchsorted(sorted_ids, vals), len(sorted_ids) - 1)
        if (sorted_ids[pos] != vals).any():
            return None
        np.take(order, pos, out=out[i])
        del pos
    return out


def read_edges(path: str | os.PathLike, ids: np.ndarray) -> np.ndarray:
    """Read ``edges.csv[.gz]`` (header ``src,dst``) into ``[2, E]`` int64 node indices (positions in ``ids``).

    Errors name the file and line for a missing column, a non-integer entry or an id not among the nodes.
    """
    path = Path(path)
    fast = _read_int_edges(path, ids)
    if fast is not None:
        return fast
    try:  # the slow path reads every entry as a string, so that errors can name the line and value
        df = pd.read_csv(path, dtype=str, keep_default_na=False, compression="infer")
    except pd.errors.EmptyDataError:
        raise InvalidInputError(f"{path}: empty file (expected a header 'src,dst' and one edge per line)") from None
    except pd.errors.ParserError as e:
        raise InvalidInputError(f"{path}: malformed CSV ({e})") from None
    except UnicodeDecodeError as e:
        raise InvalidInputError(f"{path}: not valid UTF-8 ({e.reason})") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise InvalidInputError(f"{path}: the gzip stream is truncated or corrupt ({e}); re-copy or re-download "
                                f"the file") from None
    cols = [c.strip() for c in df.columns]
    df.columns = cols
    missing = [c for c in ("src", "dst") if c not in cols]
    if missing:
        raise InvalidInputError(f"{path}:1: header must contain columns 'src' and 'dst', missing {missing} "
                                f"(got {cols})")
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    out = []
    for col in ("src", "dst"):
        raw = df[col].str.strip()
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna().to_numpy() | (num.to_numpy(dtype=float) % 1 != 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(f"{path}:{row + 2}: column {col!r} must hold integer node ids, got "
                                    f"{raw.iloc[row]!r}")
        vals = num.to_numpy().astype(np.int64)
        pos = np.searchsorted(sorted_ids, vals)
        pos_c = np.minimum(pos, len(sorted_ids) - 1)
        unknown = sorted_ids[pos_c] != vals
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise InvalidInputError(f"{path}:{row + 2}: {col} id {vals[row]} out of range: no such node id in the "
                                    f"nodes file (ids span {sorted_ids[0]}..{sorted_ids[-1]})")
        out.append(order[pos_c])
    return np.stack(out).astype(np.int64) if out[0].size else np.zeros((2, 0), dtype=np.int64)


def _coalesced(edges: np.ndarray, n: int, symmetrize: bool) -> np.ndarray:
    """``[2, E]`` int64 edges without self-loops and duplicates, sorted by (source, target), with every reverse edge
    added when ``symmetrize``: what ``torch_geometric.utils`` ``remove_self_loops`` then ``to_undirected`` (or
    ``coalesce``) give, computed on one sorted int64 key per edge, so that the peak is the input, the keys and the
    output rather than several copies of the doubled edge list (issue 26)."""
    m = edges.shape[1]
    key = np.empty(2 * m if symmetrize else m, dtype=np.int64)
    for half, (a, b) in enumerate([(0, 1), (1, 0)][:2 if symmetrize else 1]):  # (source, target), then reversed
        np.multiply(edges[a], n, out=key[half * m:(half + 1) * m])
        key[half * m:(half + 1) * m] += edges[b]
    loops = edges[0] == edges[1]
    if loops.any():
        key = key[~np.tile(loops, 2 if symmetrize else 1)]
    del loops
    key.sort()
    if key.size:
        new = np.empty(key.size, dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        key = key[new]
        del new
    out = np.empty((2, key.size), dtype=np.int64)
    np.floor_divide(key, n, out=out[0])
    np.remainder(key, n, out=out[1])
    return out


def load_tag(name: str, root: str | os.PathLike | None = None, symmetrize: bool = True) -> Data:
    """Load a text-attributed graph as a PyG :class:`~torch_geometric.data.Data`.

    Nodes are ordered by their ``id``. Edges are deduplicated and self-loops removed; with ``symmetrize`` every edge
    is also added in the reverse direction (citation graphs are undirected for message passing).

    Args:
        name: dataset folder name (``cora``, ``citeseer``, or any dataset in this layout).
        root: folder containing ``<name>/`` (or the dataset folder itself); default ``$GRAPHREP_DATA/tag``.
        symmetrize: make ``edge_index`` undirected.

    Returns:
        ``Data`` with ``edge_index`` [2, E], ``y`` [N], ``node_id`` [N] (ids from the file), ``text`` (list of N str),
        ``class_names`` (list of C str), ``name`` and ``num_nodes``.
    """
    folder = resolve_tag_dir(name, root)
    nodes_path = _find(folder, "nodes.jsonl")
    edges_path = _find(folder, "edges.csv")
    if edges_path is None:
        raise FileNotFoundError(f"TAG dataset {name!r}: file {folder / 'edges.csv.gz'} not found")
    class_names = read_classes(folder / "classes.json")
    ids, texts, labels = read_nodes(nodes_path, num_classes=len(class_names))
    if not (ids[1:] > ids[:-1]).all():
        order = np.argsort(ids, kind="stable")
        ids, labels = ids[order], labels[order]
        texts = [texts[i] for i in order]
    n = len(ids)
    edges = torch.from_numpy(_coalesced(read_edges(edges_path, ids), n, symmetrize))
    return Data(edge_index=edges, y=torch.from_numpy(labels), node_id=torch.from_numpy(ids), text=texts,
                class_names=class_names, name=name.lower(), num_nodes=n)


def strip_labels(data: Data) -> Data:
    """A copy of a TAG ``Data`` without ``y`` (node texts, edges, class names and cached features kept): what
    label-free zero-shot code receives, so reading the evaluated labels there fails loudly."""
    out = Data()
    for key, value in data:
        if key != "y":
            out[key] = value
    return out


def title_only(texts: list[str], separator: str = " : ") -> list[str]:
    """Each text cut at the first ``separator`` (Cora's texts are ``"<title> : <abstract>"``); a text without it is
    kept whole. Used for the title-only robustness check."""
    return [t.split(separator, 1)[0].strip() or t for t in texts]
