"""Streamed featurisation into shards: same graphs as the in-memory featuriser, resumable after an interruption, and the
``moses`` corpus read from the installed molsets wheel."""

import importlib.util
import json

import pytest
import torch

from graphrep.data import InvalidInputError, get_card, load_corpus, smiles_to_data
from graphrep.data.molecules import shards
from graphrep.data.molecules.shards import ShardedMolecules, featurise_shards, iter_smiles

SMILES = ["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "not-a-smiles", "CCN", "C[C@H](N)C(=O)O", "O=C=O", "CCCl",
          "c1ccncc1", "C#N", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "[Na+].[Cl-]", "OCC(O)CO", "C1CC1", "CCOC(=O)C", "N#CC#N",
          "c1ccc2ccccc2c1"]


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "mols.csv"
    path.write_text("SMILES,other\n" + "".join(f"{s},{i}\n" for i, s in enumerate(SMILES)))
    return path


def _same_graph(a, b):
    return all(torch.equal(getattr(a, k), getattr(b, k)) for k in ("x", "edge_index", "edge_attr"))


def test_shards_hold_the_featuriser_graphs_and_name_skipped_lines(csv_file, tmp_path):
    manifest = featurise_shards(csv_file, tmp_path / "s", shard_size=5, progress=False)
    assert [s["rows"] for s in manifest["shards"]] == [[0, 5], [5, 10], [10, 15], [15, 17]]
    ds = ShardedMolecules(tmp_path / "s")
    valid = [s for s in SMILES if s != "not-a-smiles"]
    assert len(ds) == len(valid) == manifest["molecules"] and manifest["skipped"] == 1
    assert ds.skipped[0][0] == 5 and "not-a-smiles" in ds.skipped[0][1]  # file line 5 (header is line 1)
    for i, s in enumerate(valid):
        assert _same_graph(ds[i], smiles_to_data(s, "pretrain")), s
    assert ds[i].x.dtype == torch.long


def test_interrupted_featurisation_resumes_where_it_stopped(csv_file, tmp_path, monkeypatch):
    featurise_shards(csv_file, tmp_path / "ref", shard_size=4, progress=False)
    reference = ShardedMolecules(tmp_path / "ref")
    real, calls = shards.featurise_block, []

    def interrupted(rows, features):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(rows[0][0])
        return real(rows, features)

    monkeypatch.setattr(shards, "featurise_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        featurise_shards(csv_file, tmp_path / "s", shard_size=4, progress=False)
    partial = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert len(partial["shards"]) == 2 and not partial["complete"]
    with pytest.raises(InvalidInputError, match="no finished shards"):
        ShardedMolecules(tmp_path / "s")
    calls.clear()
    monkeypatch.setattr(shards, "featurise_block", lambda rows, f: (calls.append(rows[0][0]), real(rows, f))[1])
    manifest = featurise_shards(csv_file, tmp_path / "s", shard_size=4, progress=False)
    assert calls == [10, 14, 18]  # first file lines of shards 2, 3, 4: shards 0 and 1 were kept
    assert manifest["fresh_molecules"] == 9 and manifest["complete"]
    ds = ShardedMolecules(tmp_path / "s")
    assert len(ds) == len(reference) and all(_same_graph(ds[i], reference[i]) for i in range(len(ds)))
    # a larger limit keeps the full shards and redoes only the last, partial one
    calls.clear()
    featurise_shards(csv_file, tmp_path / "lim", shard_size=4, limit=6, progress=False)
    assert calls == [2, 6]
    calls.clear()
    featurise_shards(csv_file, tmp_path / "lim", shard_size=4, progress=False)
    assert calls == [6, 10, 14, 18]


def test_bad_inputs_are_named(csv_file, tmp_path):
    with pytest.raises(InvalidInputError, match=r"mols\.csv:1: no column 'smiles'"):
        list(iter_smiles(csv_file, "smiles"))
    featurise_shards(csv_file, tmp_path / "s", shard_size=5, progress=False)
    with pytest.raises(InvalidInputError, match="another source or setting"):
        featurise_shards(csv_file, tmp_path / "s", shard_size=6, progress=False)


@pytest.mark.skipif(importlib.util.find_spec("moses") is None,
                    reason="molsets not installed (pip install molsets==0.3.1 --no-deps)")
def test_moses_corpus_streams_from_the_installed_wheel(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path))
    card = get_card("moses")
    assert card.rows == 1584663 and card.files[0].package == "moses"
    ds = load_corpus("moses", limit=40)
    assert len(ds) == 40 and ds.manifest["source_sha256"] == card.files[0].content_sha256
    assert _same_graph(ds[0], smiles_to_data("CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1", "pretrain"))
    assert (tmp_path / "shards" / "moses-pretrain" / "shard-00000.pt").is_file()


def test_worker_processes_write_the_same_shards_and_manifest(csv_file, tmp_path):
    one = featurise_shards(csv_file, tmp_path / "one", shard_size=4, progress=False)
    two = featurise_shards(csv_file, tmp_path / "two", shard_size=4, progress=False, workers=2)
    assert [(s["rows"], s["molecules"], s["skipped"]) for s in two["shards"]] == \
        [(s["rows"], s["molecules"], s["skipped"]) for s in one["shards"]]
    a, b = ShardedMolecules(tmp_path / "one"), ShardedMolecules(tmp_path / "two")
    assert len(a) == len(b) and all(_same_graph(a[i], b[i]) for i in range(len(a)))
    assert b.skipped == a.skipped and two["workers"] == 2
    again = featurise_shards(csv_file, tmp_path / "two", shard_size=4, progress=False, workers=2)
    assert again["fresh_molecules"] == 0  # resumed: every shard kept
    with pytest.raises(InvalidInputError, match="workers"):
        featurise_shards(csv_file, tmp_path / "bad", workers=0)
