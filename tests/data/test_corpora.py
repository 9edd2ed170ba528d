"""Pre-training corpora by name: unions deduplicated by canonical SMILES, seeded subsets, and ZINC-2M read from the
pretrain-gnns release layout (or a one-line error saying where to get it)."""

import numpy as np
import pytest
from rdkit import Chem

from graphrep.data import DataNotFoundError, InvalidInputError, get_card, load_corpus, load_dataset
from graphrep.data.molecules.corpora import dedupe, subset, union_table
from graphrep.data.molecules.tables import MoleculeTable


def test_dedupe_keeps_first_of_each_canonical_smiles():
    kept, index = dedupe(["CCO", "OCC", "c1ccccc1", "C(C)O", "C1=CC=CC=C1", "not-a-smiles", "not-a-smiles", "N"])
    assert index == [0, 2, 5, 7]
    assert kept[0] == Chem.MolToSmiles(Chem.MolFromSmiles("CCO")) and kept[2] == "not-a-smiles"


def test_subset_is_seeded_and_keeps_file_order():
    table = MoleculeTable([f"C{'C' * i}" for i in range(50)], np.zeros((50, 0)), [], list(range(1, 51)), "t")
    a, b, c = subset(table, 10, 0), subset(table, 10, 0), subset(table, 10, 1)
    assert a.smiles == b.smiles != c.smiles and a.line_numbers == sorted(a.line_numbers) and len(a.smiles) == 10
    assert subset(table, 500).smiles == table.smiles
    with pytest.raises(InvalidInputError, match="positive"):
        subset(table, 0)


@pytest.mark.slow
def test_rdkit_shipped_union_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path))
    monkeypatch.delenv("GRAPHREP_DATA", raising=False)
    card = get_card("rdkit-shipped")
    table = union_table(card)
    assert len(table.smiles) == card.rows == 14890 and len(set(table.smiles)) == len(table.smiles)
    ds = load_corpus("rdkit-shipped", limit=50)
    assert len(ds) == 50 and ds[0].x.shape[1] == 2  # pretrain-gnns features by default


@pytest.mark.shared_data
@pytest.mark.slow
def test_zinc_sample_union(shared_data):
    card = get_card("zinc-sample")
    table = union_table(card, root=shared_data)
    assert len(table.smiles) == card.rows == 34309  # 39,774 rows in the four files
    assert len(set(table.smiles)) == len(table.smiles)


def test_zinc2m_missing_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError, match=r"chem_dataset\.zip.*zinc_standard_agent/"):
        load_corpus("zinc2m", root=tmp_path)


def test_zinc2m_reads_the_pretrain_gnns_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path / "cache"))
    processed = tmp_path / "zinc_standard_agent" / "processed"
    processed.mkdir(parents=True)
    smiles = ["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "CCN", "CCCl"]
    (processed / "smiles.csv").write_text("\n".join(smiles) + "\n")  # as pretrain-gnns writes it: no header
    ds = load_corpus("zinc2m", root=tmp_path)
    assert ds.smiles == smiles and ds.task_type == "none"
    assert len(load_corpus("zinc2m", root=tmp_path, limit=3)) == 3
    assert len(load_dataset("zinc2m", root=tmp_path)) == 5


def test_corpus_must_be_molecules():
    with pytest.raises(InvalidInputError, match="molecule dataset"):
        load_corpus("cora")
