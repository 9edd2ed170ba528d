"""Fixtures for the batched-transform tests: small molecules featurised the pretrain-gnns way, independently of
the package's featuriser (so these tests check the transforms, not the featurisation)."""

import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Data

BOND_TYPES = {
    Chem.BondType.SINGLE: 0,
    Chem.BondType.DOUBLE: 1,
    Chem.BondType.TRIPLE: 2,
    Chem.BondType.AROMATIC: 3,
}
BOND_DIRS = {Chem.BondDir.NONE: 0, Chem.BondDir.ENDUPRIGHT: 1, Chem.BondDir.ENDDOWNRIGHT: 2}
CHIRAL = {
    Chem.ChiralType.CHI_UNSPECIFIED: 0,
    Chem.ChiralType.CHI_TETRAHEDRAL_CW: 1,
    Chem.ChiralType.CHI_TETRAHEDRAL_CCW: 2,
}

SMILES = [
    "CCO",
    "c1ccccc1O",
    "CC(=O)Nc1ccc(O)cc1",
    "C1CC1",
    "C[C@H](N)C(=O)O",
    "F/C=C/F",
    "CN1CCC[C@H]1c1cccnc1",
    "O=C(O)c1ccccc1OC(C)=O",
    "C#N",
    "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O",
]


def _featurise(smiles: str) -> Data:
    """pretrain-gnns two-feature graph: x = (atomic_num - 1, chirality), edge_attr = (bond type, bond dir)."""
    mol = Chem.MolFromSmiles(smiles)
    x = torch.tensor([[a.GetAtomicNum() - 1, CHIRAL.get(a.GetChiralTag(), 3)] for a in mol.GetAtoms()])
    ei, ea = [], []
    for b in mol.GetBonds():
        u, v = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        attr = (BOND_TYPES[b.GetBondType()], BOND_DIRS.get(b.GetBondDir(), 0))
        ei += [(u, v), (v, u)]
        ea += [attr, attr]
    return Data(
        x=x.long(),
        edge_index=torch.tensor(ei, dtype=torch.long).t().reshape(2, -1),
        edge_attr=torch.tensor(ea, dtype=torch.long).reshape(-1, 2),
    )


@pytest.fixture(scope="session")
def featurise():
    """The independent SMILES -> Data featuriser above."""
    return _featurise


@pytest.fixture(scope="session")
def molecules() -> list[Data]:
    return [_featurise(s) for s in SMILES]
