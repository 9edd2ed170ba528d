"""Deterministic Bemis-Murcko scaffold split and seeded random split.

The scaffold split follows pretrain-gnns / MoleculeNet: group molecules by their Murcko scaffold SMILES (chirality
kept), order the groups largest first (ties: the group whose first molecule comes *last* first, exactly as DeepChem's
ScaffoldSplitter and pretrain-gnns sort, ``sorted(key=(len, first index), reverse=True)``; this tie rule decides which
singleton scaffolds reach valid and test, and with it whether BBBP's test set has both classes), and put each whole group into
train while train stays within ``frac_train`` of the data, else into valid while train+valid stays within
``frac_train + frac_valid``, else into test. No scaffold is shared across splits.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from rdkit import RDLogger
from rdkit.Chem.Scaffolds import MurckoScaffold

from ..errors import InvalidInputError

Split = dict[str, torch.Tensor]


def _check_fractions(frac_train: float, frac_valid: float, frac_test: float) -> None:
    if min(frac_train, frac_valid, frac_test) < 0 or abs(frac_train + frac_valid + frac_test - 1.0) > 1e-6:
        raise InvalidInputError(f"split fractions must be >= 0 and sum to 1, got {frac_train}, {frac_valid}, {frac_test}")


def murcko_scaffold(smiles: str) -> str:
    """Bemis-Murcko scaffold SMILES with chirality; acyclic molecules have the empty scaffold ``""``."""
    RDLogger.DisableLog("rdApp.*")
    try:
        return MurckoScaffold.MurckoScaffoldSmiles(smiles=smiles, includeChirality=True)
    except Exception as exc:  # RDKit raises plain ValueError/RuntimeError types for unparsable input
        raise InvalidInputError(f"cannot compute the scaffold of {smiles!r}: {exc}") from None
    finally:
        RDLogger.EnableLog("rdApp.*")


def scaffold_split(smiles: list[str], frac_train: float = 0.8, frac_valid: float = 0.1, frac_test: float = 0.1) -> Split:
    """Indices ``{"train", "valid", "test"}`` (int64 tensors, sorted) of a deterministic scaffold split."""
    _check_fractions(frac_train, frac_valid, frac_test)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(smiles):
        groups[murcko_scaffold(s)].append(i)
    ordered = sorted(groups.values(), key=lambda idx: (len(idx), idx[0]), reverse=True)
    n = len(smiles)
    train_cut, valid_cut = frac_train * n, (frac_train + frac_valid) * n
    parts: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    for idx in ordered:
        if len(parts["train"]) + len(idx) <= train_cut:
            parts["train"] += idx
        elif len(parts["train"]) + len(parts["valid"]) + len(idx) <= valid_cut:
            parts["valid"] += idx
        else:
            parts["test"] += idx
    return {k: torch.tensor(sorted(v), dtype=torch.long) for k, v in parts.items()}


def random_split(n: int, seed: int = 0, frac_train: float = 0.8, frac_valid: float = 0.1, frac_test: float = 0.1) -> Split:
    """Indices of a seeded random split of ``n`` items (same seed, same split, on every machine)."""
    _check_fractions(frac_train, frac_valid, frac_test)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_train, n_valid = int(frac_train * n), int(frac_valid * n)
    return {
        "train": perm[:n_train].sort().values,
        "valid": perm[n_train:n_train + n_valid].sort().values,
        "test": perm[n_train + n_valid:].sort().values,
    }
