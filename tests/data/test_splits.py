"""Scaffold split: deterministic, no scaffold shared across splits, largest scaffold sets go to train first."""

import torch
import pytest

from graphrep.data import InvalidInputError, load_dataset, random_split, scaffold_split
from graphrep.data.molecules.splits import murcko_scaffold


@pytest.fixture(scope="module")
def smiles():
    return load_dataset("chembl2321810").smiles


def test_scaffold_split_is_deterministic_and_disjoint(smiles):
    a, b = scaffold_split(smiles), scaffold_split(list(smiles))
    for part in a:
        assert torch.equal(a[part], b[part])
    scaffolds = {part: {murcko_scaffold(smiles[i]) for i in idx.tolist()} for part, idx in a.items()}
    assert not scaffolds["train"] & scaffolds["valid"]
    assert not scaffolds["train"] & scaffolds["test"]
    assert not scaffolds["valid"] & scaffolds["test"]
    all_idx = torch.cat(list(a.values())).sort().values
    assert torch.equal(all_idx, torch.arange(len(smiles)))
    assert len(a["train"]) <= 0.8 * len(smiles) and len(a["train"]) + len(a["valid"]) <= 0.9 * len(smiles)


def test_scaffold_split_puts_largest_scaffold_group_in_train():
    # 6 benzene derivatives (scaffold c1ccccc1), 2 pyridines, 1 each of two others, 1 acyclic
    smiles = ["Cc1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "Clc1ccccc1", "Fc1ccccc1", "Brc1ccccc1",
              "Cc1ccncc1", "Oc1ccncc1", "C1CCCCC1C", "C1CCOC1C", "CCO"]
    split = scaffold_split(smiles, 0.6, 0.2, 0.2)
    assert split["train"].tolist() == [0, 1, 2, 3, 4, 5]
    assert split["valid"].tolist() == [6, 7]  # next largest group; fits within 80%
    assert sorted(split["test"].tolist()) == [8, 9, 10]
    # equal-size groups: the one whose first molecule comes last goes first (DeepChem / pretrain-gnns order)
    ties = scaffold_split(["C1CCCCC1C", "C1CCOC1C", "Cc1ccccc1", "c1ccncc1C"], 0.5, 0.25, 0.25)
    assert ties["train"].tolist() == [2, 3] or ties["train"].tolist() == [3, 2]
    assert ties["valid"].tolist() == [1] and ties["test"].tolist() == [0]


def test_random_split_seeded(smiles):
    a, b, c = random_split(len(smiles), 0), random_split(len(smiles), 0), random_split(len(smiles), 1)
    assert torch.equal(a["train"], b["train"]) and not torch.equal(a["train"], c["train"])
    assert sum(len(v) for v in a.values()) == len(smiles)


def test_bad_fractions():
    with pytest.raises(InvalidInputError, match="sum to 1"):
        scaffold_split(["CC"], 0.8, 0.3, 0.1)


@pytest.mark.shared_data
def test_bbbp_scaffold_valid_and_test_hold_both_classes(shared_data):
    ds = load_dataset("bbbp", root=shared_data)
    split = scaffold_split(ds.smiles)
    assert [len(split[k]) for k in ("train", "valid", "test")] == [1631, 204, 204]
    for part in ("valid", "test"):
        y = ds.y[split[part]].view(-1)
        assert 0 < float(y.mean()) < 1, part  # pretrain-gnns' split: valid 40.7 %, test 52.9 % positive
