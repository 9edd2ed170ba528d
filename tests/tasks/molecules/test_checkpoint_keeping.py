"""The main job keeps only what a user needs: the best weights per row and seed, no optimiser state, no last.ckpt,
fp16 at the end; the scores are those of a run that keeps full resumable checkpoints (issue 21: 1.2 GB -> < 100 MB)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from graphrep.tasks.molecules.experiment import TrainConfig, run_experiment
from graphrep.tasks.molecules.graph_prediction import GraphPredictor
from graphrep.tasks.molecules.main_job import MainJobConfig, variants
from graphrep.tasks.molecules.recipes import predict
from graphrep.train.checkpoint import compact_checkpoint, read_checkpoint


def _config(tmp_path, name, checkpoints):
    return TrainConfig(dataset="chembl2321810", epochs=2, layers=2, hidden=16, batch_size=64, seeds=[0, 1],
                       baseline=False, ema=0.9, ensemble=True, out_dir=str(tmp_path / name), progress=False,
                       checkpoints=checkpoints)


@pytest.mark.slow
def test_best_only_checkpoints_give_the_scores_of_resumable_ones_in_a_fraction_of_the_disk(tmp_path):
    torch.set_num_threads(1)
    full = run_experiment(_config(tmp_path, "full", "resume"))
    small = run_experiment(_config(tmp_path, "small", "best"))
    for a, b in zip(full["gin"], small["gin"]):
        for part in ("valid", "test"):
            assert b[part] == pytest.approx(a[part], rel=1e-6)
    assert small["ensemble"]["test"] == pytest.approx(full["ensemble"]["test"], rel=1e-6)
    full_files = sorted(p.name for p in (tmp_path / "full").rglob("*.ckpt"))
    small_files = sorted((tmp_path / "small").rglob("*.ckpt"))
    assert full_files == ["best.ckpt", "best.ckpt", "last.ckpt", "last.ckpt"]
    assert [p.name for p in small_files] == ["best.ckpt", "best.ckpt"]
    state = read_checkpoint(small_files[0])
    assert "optimizer_states" not in state and "current_model_state" not in state
    assert {v.dtype for v in state["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    full_bytes = sum(p.stat().st_size for p in (tmp_path / "full").rglob("*.ckpt"))
    small_bytes = sum(p.stat().st_size for p in small_files)
    assert small_bytes < full_bytes / 6


def test_a_compacted_checkpoint_predicts_within_fp16_rounding(tmp_path):
    from graphrep.data import load_dataset

    torch.manual_seed(0)
    dataset = load_dataset("chembl2321810")
    config = TrainConfig(dataset="chembl2321810", epochs=1, layers=2, hidden=16, batch_size=64, seeds=[0],
                         baseline=False, out_dir=str(tmp_path / "run"), progress=False, checkpoints="resume")
    path = run_experiment(config)["gin"][0]["checkpoint"]
    index = np.arange(200)
    before = predict(GraphPredictor.load_from_checkpoint(path, map_location="cpu", weights_only=False), dataset,
                     index)
    original = Path(path).stat().st_size
    size = compact_checkpoint(path)
    after = predict(GraphPredictor.load_from_checkpoint(path, map_location="cpu", weights_only=False), dataset,
                    index)
    assert size < original / 2
    assert np.abs(after - before).max() < 1e-2 * np.abs(before).max()
    assert not np.array_equal(after, before)  # the weights were rounded: the check above can fail


def test_the_main_job_trains_every_row_with_best_only_checkpoints(tmp_path):
    rows = variants(MainJobConfig(out_dir=str(tmp_path)), "solubility")
    assert rows and {config.checkpoints for _, _, config in rows} == {"best"}
    assert TrainConfig().checkpoints == "resume"  # `graphrep train` keeps last.ckpt for --resume


def test_resuming_from_a_kept_weights_only_checkpoint_is_one_line(tmp_path, capsys):
    from graphrep.cli import main

    path = tmp_path / "best.ckpt"
    torch.save({"state_dict": {"encoder.w": torch.ones(2)}, "graphrep_signature": {}, "optimizer_states": []}, path)
    compact_checkpoint(path)
    assert main(["train", "--resume", str(path), "--seeds", "0", "--out", str(tmp_path / "o")]) == 2
    assert "holds the weights only" in capsys.readouterr().err
