"""Training loop: learns, selects on validation, resumes exactly, runs 2-process DDP (gloo on CPU)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graphrep.data import load_dataset
from graphrep.tasks.molecules.experiment import TrainConfig, fit_seed

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def small():
    ds = load_dataset("chembl2321810")
    split = {"train": torch.arange(0, 96), "valid": torch.arange(96, 128), "test": torch.arange(128, 160)}
    return ds, split


def config(tmp_path, epochs, resume=None):
    return TrainConfig(epochs=epochs, layers=2, hidden=32, batch_size=16, seeds=[0], out_dir=str(tmp_path),
                       progress=False, baseline=False, resume=resume)


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.slow
def test_two_epochs_plus_resume_two_equals_four_straight(tmp_path, small):
    ds, split = small
    straight = fit_seed(config(tmp_path / "a", 4), ds, split, 0, tmp_path / "a")
    fit_seed(config(tmp_path / "b", 2), ds, split, 0, tmp_path / "b")
    last = tmp_path / "b/checkpoints/last.ckpt"
    resumed = fit_seed(config(tmp_path / "b", 4, resume=str(last)), ds, split, 0, tmp_path / "b")
    a, b = weights(tmp_path / "a/checkpoints/last.ckpt"), weights(tmp_path / "b/checkpoints/last.ckpt")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert [r["epoch"] for r in resumed["history"]] == [0, 1, 2, 3]  # the history travels in the checkpoint
    assert [r["train/loss"] for r in straight["history"]] == [r["train/loss"] for r in resumed["history"]]


@pytest.mark.slow
def test_training_reduces_loss_and_tests_best_validation_epoch(tmp_path, small):
    ds, split = small
    run = fit_seed(config(tmp_path, 6), ds, split, 0, tmp_path)
    losses = [r["train/loss"] for r in run["history"]]
    assert losses[-1] < losses[0]
    best = min(run["history"], key=lambda r: r["valid/rmse"])
    assert run["best_epoch"] == best["epoch"] and run["valid"]["rmse"] == best["valid/rmse"]
    assert set(run["test"]) == {"rmse", "r2"}


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tmp_path, rescore):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "graphrep", "train", "--epochs", "1", "--layers", "2", "--hidden", "16",
           "--seeds", "0", "--no-baseline", "--devices", "2", "--strategy", "ddp", "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["strategy"] == "ddp" and results["config"]["devices"] == 2
    # the metrics gathered over both processes equal a single-process evaluation of the same checkpoint
    from graphrep.tasks.molecules.experiment import make_split

    ds = load_dataset("chembl2321810")
    split = make_split(TrainConfig(), ds.smiles, 0)
    assert results["dataset"]["split_sizes"]["test"] == len(split["test"])
    reference = rescore(results["gin"][0]["checkpoint"], ds, split["test"])
    assert results["gin"][0]["test"] == pytest.approx(reference, rel=1e-5)
