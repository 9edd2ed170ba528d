"""OGB graph-property datasets offline: a tiny ogbg-molhiv / ogbg-molpcba written in OGB's on-disk layout is read by
``ogb``'s own loader through ``load_dataset``, split with its ``get_idx_split()``, trained on, and scored with OGB's
Evaluator (checked against our ROC-AUC)."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest
import torch
from ogb.utils import smiles2graph

from graphrep.data import InvalidInputError, load_dataset
from graphrep.tasks.molecules.experiment import TrainConfig, run_experiment
from graphrep.train.metrics import ogb_evaluate, roc_auc

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CN1CCC[C@H]1c1cccnc1", "O=C(O)c1ccccc1OC(C)=O",
          "CC(C)Cc1ccccc1", "CCN(CC)CC", "c1ccncc1", "OC1CCCCC1", "CC(=O)OCC", "Nc1ccccc1", "ClC(Cl)Cl",
          "CCCCCCCC", "c1ccc2ccccc2c1", "O=C1CCCCC1", "CC#N", "C1CCOC1", "OCC(O)CO", "CS(C)=O", "[Na+].[Cl-]"]


def _csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(",".join(str(v) for v in np.atleast_1d(row)) + "\n")


def write_ogb(root, name, labels, smiles=SMILES):
    """``<root>/<ogbg_name>/`` as OGB ships it: raw csv.gz (one edge direction, per-graph node indices), mapping,
    scaffold split (here: index ranges), release file."""
    folder = root / name.replace("-", "_")
    graphs = [smiles2graph(s) for s in smiles]
    _csv(folder / "raw" / "edge.csv.gz", [e for g in graphs for e in g["edge_index"][:, ::2].T])
    _csv(folder / "raw" / "edge-feat.csv.gz", [f for g in graphs for f in g["edge_feat"][::2]])
    _csv(folder / "raw" / "node-feat.csv.gz", [f for g in graphs for f in g["node_feat"]])
    _csv(folder / "raw" / "num-node-list.csv.gz", [g["num_nodes"] for g in graphs])
    _csv(folder / "raw" / "num-edge-list.csv.gz", [g["edge_index"].shape[1] // 2 for g in graphs])
    _csv(folder / "raw" / "graph-label.csv.gz", [["" if np.isnan(v) else int(v) for v in row] for row in labels])
    tasks = ["HIV_active"] if labels.shape[1] == 1 else [f"PCBA-{t}" for t in range(labels.shape[1])]
    frame = pd.DataFrame(labels, columns=tasks)
    frame["smiles"], frame["mol_id"] = smiles, [f"mol{i}" for i in range(len(smiles))]
    (folder / "mapping").mkdir()
    frame.to_csv(folder / "mapping" / "mol.csv.gz", index=False, compression="gzip")
    n = len(smiles)
    for part, idx in {"train": range(0, 12), "valid": range(12, 16), "test": range(16, n)}.items():
        _csv(folder / "split" / "scaffold" / f"{part}.csv.gz", list(idx))
    (folder / "RELEASE_v1.txt").write_text("tiny test copy\n")
    return folder


def hiv_labels():
    y = np.zeros((len(SMILES), 1))
    y[[1, 3, 5, 8, 13, 14, 17, 18]] = 1  # both classes in every part
    return y


@pytest.fixture()
def molhiv(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path / "cache"))
    write_ogb(tmp_path, "ogbg-molhiv", hiv_labels())
    return tmp_path


def test_ogb_layout_loads_with_ogb_features_and_split(molhiv):
    ds = load_dataset("ogbg-molhiv", root=molhiv)
    assert len(ds) == len(SMILES) and ds.num_tasks == 1
    for i in (0, 3, 19):  # OGB's own featurisation, both edge directions restored by its reader
        ref = smiles2graph(SMILES[i])
        assert torch.equal(ds[i].x, torch.from_numpy(ref["node_feat"]))
        assert torch.equal(ds[i].edge_index, torch.from_numpy(ref["edge_index"]))
        assert ds[i].y.dtype == torch.float32 and ds[i].y.shape == (1, 1)
    split = ds.get_idx_split()
    assert split["test"].tolist() == [16, 17, 18, 19]
    assert ds.smiles == SMILES and ds.ogb_evaluator == "ogbg-molhiv"
    again = load_dataset("ogbg-molhiv", root=molhiv)  # second load reads the processed file (weights_only)
    assert torch.equal(again[3].x, ds[3].x)


def test_ogb_pretrain_features_keep_ogb_order(molhiv):
    ds = load_dataset("ogbg-molhiv", root=molhiv, features="pretrain")
    assert ds[0].x.shape[1] == 2 and ds.smiles == SMILES
    assert torch.equal(ds.y.view(-1), torch.tensor(hiv_labels().ravel(), dtype=torch.float32))
    assert ds.get_idx_split()["valid"].tolist() == [12, 13, 14, 15]


def test_missing_release_file_is_an_error_not_a_prompt(molhiv):
    (molhiv / "ogbg_molhiv" / "RELEASE_v1.txt").unlink()
    with pytest.raises(InvalidInputError, match="RELEASE_v1.txt"):
        load_dataset("ogbg-molhiv", root=molhiv)


def test_ogb_evaluator_agrees_with_our_roc_auc():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(50, 12)).astype(float)  # the Evaluator checks the task count (tox21: 12)
    y[rng.random(y.shape) < 0.2] = np.nan
    pred = rng.normal(size=y.shape)
    assert ogb_evaluate("ogbg-moltox21", y, pred)["ogb_rocauc"] == pytest.approx(roc_auc(y, pred))
    with pytest.raises(InvalidInputError, match="ogbg-molpcba"):
        ogb_evaluate("ogbg-molpcba", y, pred)


def test_fine_tune_on_ogb_layout_end_to_end(molhiv, tmp_path):
    config = TrainConfig(dataset="ogbg-molhiv", root=str(molhiv), epochs=2, layers=2, hidden=16, batch_size=8,
                         seeds=[0], out_dir=str(tmp_path / "run"), progress=False, rf_trees=10)
    results = run_experiment(config)
    assert results["dataset"]["split_source"] == "ogb" and results["dataset"]["split_sizes"]["test"] == 4
    gin = results["gin"][0]
    assert gin["test"]["ogb_rocauc"] == pytest.approx(gin["test"]["roc_auc"])  # OGB's Evaluator = ours
    # the forest's test score, recomputed independently: sklearn on the same fingerprints, scored by OGB's Evaluator
    from sklearn.ensemble import RandomForestClassifier

    from graphrep.data.molecules.fingerprints import morgan_fingerprints

    ds = load_dataset("ogbg-molhiv", root=molhiv)
    split, fps, y = ds.get_idx_split(), morgan_fingerprints(ds.smiles), ds.y.numpy()
    forest = RandomForestClassifier(n_estimators=10, random_state=0, class_weight="balanced")
    forest.fit(fps[split["train"]], y[split["train"], 0].astype(int))
    proba = forest.predict_proba(fps[split["test"]])[:, list(forest.classes_).index(1)]
    expected = ogb_evaluate("ogbg-molhiv", y[split["test"]], proba[:, None])["ogb_rocauc"]
    assert results["random_forest"][0]["test"]["roc_auc"] == pytest.approx(expected)
    json.dumps(results, default=str)


def test_molpcba_nan_labels_are_masked(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=(len(SMILES), 128)).astype(float)
    y[rng.random(y.shape) < 0.3] = np.nan
    write_ogb(tmp_path, "ogbg-molpcba", y)
    ds = load_dataset("ogbg-molpcba", root=tmp_path)
    assert ds.num_tasks == 128 and ds[0].y.shape == (1, 128)
    assert torch.equal(torch.isnan(ds.y), torch.from_numpy(np.isnan(y)))
