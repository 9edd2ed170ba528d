"""RDKit molecule -> PyG ``Data``, with OGB's 9+3 features or the pretrain-gnns 2+2 features.

``features="ogb"`` (OGB, Hu et al. 2020b): ``x`` [N, 9] and ``edge_attr`` [E, 3] with exactly the values of
``ogb.utils.smiles2graph`` (we call OGB's own ``atom_to_feature_vector`` / ``bond_to_feature_vector``).

``features="pretrain"`` (pretrain-gnns, Hu et al. 2020a; used by D-SLA's GIN):

- ``x`` [N, 2]: atom type ``atomic_num - 1`` in 0..117 (index :data:`MASK_ATOM` = 119 is the mask token), chirality
  tag in 0..3 (unspecified, tetrahedral CW, tetrahedral CCW, other);
- ``edge_attr`` [E, 2]: bond type in 0..3 (single, double, triple, aromatic; :data:`SELF_LOOP_BOND` = 4 and
  :data:`MASK_BOND` = 5 are reserved), bond direction in 0..2 (none, end-up-right, end-down-right; other RDKit
  directions map to none).

Both store each bond twice, as edges ``2k`` (begin -> end) and ``2k + 1`` (end -> begin).
"""

from __future__ import annotations

import numpy as np
import torch
from ogb.utils.features import atom_to_feature_vector, bond_to_feature_vector
from rdkit import Chem, RDLogger
from torch_geometric.data import Data

from ..errors import InvalidInputError
from ..vocab import (MASK_ATOM, MASK_BOND, NUM_ATOM_TYPES, NUM_BOND_DIRECTIONS, NUM_BOND_TYPES,  # noqa: F401
                     NUM_CHIRALITY_TAGS, SELF_LOOP_BOND)

FEATURE_SETS = ("ogb", "pretrain")

_CHIRALITY = [
    Chem.rdchem.ChiralType.CHI_UNSPECIFIED,
    Chem.rdchem.ChiralType.CHI_TETRAHEDRAL_CW,
    Chem.rdchem.ChiralType.CHI_TETRAHEDRAL_CCW,
    Chem.rdchem.ChiralType.CHI_OTHER,
]
_BOND_TYPES = [Chem.rdchem.BondType.SINGLE, Chem.rdchem.BondType.DOUBLE, Chem.rdchem.BondType.TRIPLE, Chem.rdchem.BondType.AROMATIC]
_BOND_DIRS = [Chem.rdchem.BondDir.NONE, Chem.rdchem.BondDir.ENDUPRIGHT, Chem.rdchem.BondDir.ENDDOWNRIGHT]


def parse_smiles(smiles: str) -> Chem.Mol:
    """RDKit molecule for ``smiles``; raises :class:`InvalidInputError` naming the string (RDKit's own log is silenced)."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise InvalidInputError(f"empty SMILES {smiles!r}")
    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles.strip())
    finally:
        RDLogger.EnableLog("rdApp.*")
    if mol is None:
        raise InvalidInputError(f"invalid SMILES {smiles!r}")
    if mol.GetNumAtoms() == 0:
        raise InvalidInputError(f"SMILES {smiles!r} has no atoms")
    return mol


def _ogb_arrays(mol: Chem.Mol) -> tuple[np.ndarray, list[list[int]]]:
    x = np.array([atom_to_feature_vector(a) for a in mol.GetAtoms()], dtype=np.int64)
    return x, [bond_to_feature_vector(b) for b in mol.GetBonds()]


def _pretrain_arrays(mol: Chem.Mol) -> tuple[np.ndarray, list[list[int]]]:
    atoms = []
    for atom in mol.GetAtoms():
        z = atom.GetAtomicNum()
        if not 1 <= z <= 118:
            raise InvalidInputError(f"atom {atom.GetIdx()} has atomic number {z} (dummy or unknown atom)")
        tag = atom.GetChiralTag()
        atoms.append([z - 1, _CHIRALITY.index(tag) if tag in _CHIRALITY else 3])
    bonds = []
    for bond in mol.GetBonds():
        kind = bond.GetBondType()
        if kind not in _BOND_TYPES:
            raise InvalidInputError(f"bond {bond.GetIdx()} has unsupported type {kind}")
        direction = bond.GetBondDir()
        bonds.append([_BOND_TYPES.index(kind), _BOND_DIRS.index(direction) if direction in _BOND_DIRS else 0])
    return np.array(atoms, dtype=np.int64), bonds


def mol_to_data(mol: Chem.Mol, features: str = "ogb") -> Data:
    """Graph of an RDKit molecule.

    Shapes:
        x: [N, 9] ("ogb") or [N, 2] ("pretrain"), int64;
        edge_index: [2, 2B] for B bonds, both directions; edge_attr: [2B, 3] or [2B, 2], int64.
    """
    if features not in FEATURE_SETS:
        raise InvalidInputError(f"unknown feature set {features!r} (choose from {', '.join(FEATURE_SETS)})")
    x, bond_feats = (_ogb_arrays if features == "ogb" else _pretrain_arrays)(mol)
    width = 3 if features == "ogb" else 2
    pairs = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    if pairs:
        ends = np.array(pairs, dtype=np.int64)
        edge_index = np.stack([ends, ends[:, ::-1]], axis=1).reshape(-1, 2).T
        edge_attr = np.repeat(np.array(bond_feats, dtype=np.int64), 2, axis=0)
    else:
        edge_index = np.empty((2, 0), dtype=np.int64)
        edge_attr = np.empty((0, width), dtype=np.int64)
    return Data(
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(np.ascontiguousarray(edge_index)),
        edge_attr=torch.from_numpy(edge_attr),
        num_nodes=len(x),
    )


def smiles_to_data(smiles: str, features: str = "ogb") -> Data:
    """``mol_to_data(parse_smiles(smiles))`` with ``data.smiles`` set."""
    data = mol_to_data(parse_smiles(smiles), features)
    data.smiles = smiles
    return data
