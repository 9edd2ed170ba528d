"""Molecule featurisation: OGB features equal ``ogb.utils.smiles2graph``; the pretrain variant has the documented codes."""

import numpy as np
import pytest
import torch
from ogb.utils import smiles2graph

from graphrep.data import InvalidInputError, smiles_to_data
from graphrep.data.molecules.featurize import MASK_ATOM, mol_to_data, parse_smiles
from graphrep.data.molecules.tables import read_smiles_lines


@pytest.mark.shared_data
def test_ogb_features_equal_smiles2graph_on_200_molecules(shared_data):
    smiles = read_smiles_lines(shared_data / "molecules/pretrain/zinc250k_jtvae_test.txt.gz").smiles[:200]
    for s in smiles:
        ours, ref = smiles_to_data(s, "ogb"), smiles2graph(s)
        np.testing.assert_array_equal(ours.x.numpy(), ref["node_feat"])
        np.testing.assert_array_equal(ours.edge_index.numpy(), ref["edge_index"])
        np.testing.assert_array_equal(ours.edge_attr.numpy(), ref["edge_feat"])
        assert ours.num_nodes == ref["num_nodes"]


def test_ogb_features_equal_smiles2graph_on_rdkit_shipped_set():
    from graphrep.data import load_dataset

    ds = load_dataset("chembl2321810")
    for i in range(0, len(ds), 50):
        ref = smiles2graph(ds.smiles[i])
        np.testing.assert_array_equal(ds[i].x.numpy(), ref["node_feat"])
        np.testing.assert_array_equal(ds[i].edge_attr.numpy(), ref["edge_feat"])


def test_pretrain_features_codes():
    # Cl[C@H](/C=C/C)Br: chiral carbon (CCW in RDKit's perception), directional single bonds around the double bond
    data = smiles_to_data("Cl[C@H](/C=C/C)Br", "pretrain")
    atomic_numbers = [a.GetAtomicNum() for a in parse_smiles("Cl[C@H](/C=C/C)Br").GetAtoms()]
    assert data.x[:, 0].tolist() == [z - 1 for z in atomic_numbers]
    assert data.x[1, 1].item() in (1, 2) and data.x[0, 1].item() == 0
    assert set(data.edge_attr[:, 0].tolist()) == {0, 1}  # single and double
    assert set(data.edge_attr[:, 1].tolist()) <= {0, 1, 2} and (data.edge_attr[:, 1] > 0).any()
    assert data.x.max() < MASK_ATOM
    # both directions of each bond, consecutively
    assert torch.equal(data.edge_index[:, 0::2], data.edge_index[:, 1::2].flip(0))


def test_aromatic_bond_type_and_no_bond_molecule():
    benzene = smiles_to_data("c1ccccc1", "pretrain")
    assert (benzene.edge_attr[:, 0] == 3).all() and benzene.edge_index.shape == (2, 12)
    salt = smiles_to_data("[Na+].[Cl-]", "pretrain")
    assert salt.edge_index.shape == (2, 0) and salt.edge_attr.shape == (0, 2) and salt.num_nodes == 2
    single_atom = smiles_to_data("C", "ogb")
    assert single_atom.edge_attr.shape == (0, 3)


@pytest.mark.parametrize("bad", ["C1CC", "not a smiles", "", "   ", "C(C"])
def test_invalid_smiles_names_the_string(bad):
    with pytest.raises(InvalidInputError, match="SMILES"):
        smiles_to_data(bad)


def test_dummy_atom_rejected_by_pretrain_features():
    with pytest.raises(InvalidInputError, match="atomic number 0"):
        mol_to_data(parse_smiles("*CC"), "pretrain")
    assert mol_to_data(parse_smiles("*CC"), "ogb").num_nodes == 3  # OGB maps it to its 'misc' index


def test_unknown_feature_set():
    with pytest.raises(InvalidInputError, match="feature set"):
        smiles_to_data("CC", "ecfp")
