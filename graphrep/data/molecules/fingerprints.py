"""Morgan (ECFP) fingerprints, the input of the random-forest baseline."""

from __future__ import annotations

import numpy as np
from rdkit import DataStructs
from rdkit.Chem import rdFingerprintGenerator

from .featurize import parse_smiles


def morgan_fingerprints(smiles: list[str], radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """Bit vectors [n, n_bits] (uint8) of ECFP-``2*radius`` fingerprints."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    out = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    for i, s in enumerate(smiles):
        DataStructs.ConvertToNumpyArray(generator.GetFingerprint(parse_smiles(s)), out[i])
    return out


def morgan_counts(smiles: list[str], radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """Count vectors [n, n_bits] (float32) of ECFP-``2*radius``: how often each hashed environment occurs."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    out = np.zeros((len(smiles), n_bits), dtype=np.float32)
    for i, s in enumerate(smiles):
        out[i] = generator.GetCountFingerprintAsNumPy(parse_smiles(s))
    return out
