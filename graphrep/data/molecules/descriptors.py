"""Per-molecule feature vectors for a hybrid readout: ECFP counts and RDKit 2D descriptors, computed once and cached.

``molecule_features(smiles, kinds)`` stacks, in ``kinds`` order:

* ``"ecfp"``: ECFP4 counts, 2048 hashed bins, as ``log(1 + count)``;
* ``"rdkit"``: RDKit's 2D descriptors (``Descriptors._descList``, 217 in RDKit 2026.09), as ``sign(v) log(1 + |v|)``
  (descriptors span ten orders of magnitude: molecular weight, Ipc), with NaN/inf (a descriptor RDKit cannot compute)
  set to 0 and counted in the log.

Both are monotone squashes that keep order; the readout standardises each column with the training split's mean and
std (Chemprop's features generators do the same job with CDF normalisation). The result is cached as
``<cache>/features/<sha256 of kinds + SMILES>.npy``, so a dataset is featurised once across runs and seeds.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
from rdkit import RDLogger
from rdkit.Chem import Descriptors

from ..errors import InvalidInputError
from ..resolve import cache_dir
from .featurize import parse_smiles
from .fingerprints import morgan_counts

log = logging.getLogger(__name__)

FEATURE_KINDS = ("ecfp", "rdkit")
CACHE_VERSION = "1"


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """``sign(v) * log(1 + |v|)``, elementwise."""
    return np.sign(values) * np.log1p(np.abs(values))


def rdkit_descriptors(smiles: list[str]) -> np.ndarray:
    """Raw RDKit 2D descriptors [n, D] (float64; NaN where RDKit fails on a descriptor)."""
    functions = [f for _, f in Descriptors._descList]
    out = np.full((len(smiles), len(functions)), np.nan)
    RDLogger.DisableLog("rdApp.*")
    try:
        for i, s in enumerate(smiles):
            mol = parse_smiles(s)
            for j, f in enumerate(functions):
                try:
                    out[i, j] = f(mol)
                except Exception:  # RDKit raises assorted errors on odd valences; the value stays NaN
                    pass
    finally:
        RDLogger.EnableLog("rdApp.*")
    return out


def _compute(smiles: list[str], kind: str) -> np.ndarray:
    if kind == "ecfp":
        return np.log1p(morgan_counts(smiles)).astype(np.float32)
    raw = rdkit_descriptors(smiles)
    bad = ~np.isfinite(raw)
    if bad.any():
        log.info("rdkit descriptors: %d of %d values not finite, set to 0", int(bad.sum()), raw.size)
    return signed_log1p(np.where(bad, 0.0, raw)).astype(np.float32)


def molecule_features(smiles: list[str], kinds: tuple[str, ...] | list[str] = FEATURE_KINDS,
                      cache: str | os.PathLike | None | bool = None) -> np.ndarray:
    """Feature matrix [n, F] (float32) of ``kinds`` (module docstring); ``cache``: a folder, ``None`` for
    ``<GRAPHREP_CACHE>/features``, ``False`` for none."""
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in FEATURE_KINDS]
    if not kinds or unknown:
        raise InvalidInputError(f"readout features {list(kinds)}: choose one or more of {', '.join(FEATURE_KINDS)}")
    path = None
    if cache is not False:
        key = hashlib.sha256("\n".join([CACHE_VERSION, *kinds, *smiles]).encode()).hexdigest()[:32]
        path = (Path(cache) if cache else cache_dir() / "features") / f"{key}.npy"
        if path.is_file():
            return np.load(path)
    feats = np.concatenate([_compute(smiles, k) for k in kinds], axis=1)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npy")
        np.save(tmp, feats)
        os.replace(tmp, path)
    return feats
