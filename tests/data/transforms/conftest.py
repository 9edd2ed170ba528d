"""Fixtures for the batched-transform tests: small molecules featurised the pretrain-gnns way (two atom features, two
bond features), through the package's featuriser."""

import pytest
from torch_geometric.data import Data

from graphrep.data import smiles_to_data

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
    d = smiles_to_data(smiles, features="pretrain")
    return Data(x=d.x, edge_index=d.edge_index, edge_attr=d.edge_attr)


@pytest.fixture(scope="session")
def featurise():
    """SMILES -> pretrain-gnns ``Data`` (structure only)."""
    return _featurise


@pytest.fixture(scope="session")
def molecules() -> list[Data]:
    return [_featurise(s) for s in SMILES]
