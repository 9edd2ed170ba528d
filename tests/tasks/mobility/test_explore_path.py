"""`graphrep mobility train --explore-path`: the returners-and-explorers model from the command line."""

import json

import pytest
import torch

from graphrep.cli import main
from graphrep.data.mobility import load_checkins
from graphrep.tasks.mobility.baselines import history_counts
from graphrep.tasks.mobility.training import load_model, prepare_city

from test_mobility_training import write_city  # tests/tasks/mobility is on sys.path (rootdir import)


def test_cli_train_with_explore_path_then_zero_shot(tmp_path, capsys):
    a, b = write_city(tmp_path / "a"), write_city(tmp_path / "b", users=6, seed=1)
    common = ["--window", "8", "--epochs", "1", "--quiet"]
    assert main(["mobility", "train", "--city", str(a), "--out", str(tmp_path / "run"), "--dim", "16", "--heads", "2",
                 "--expert-hidden", "16", "--explore-path", *common]) == 0
    model, _ = load_model(tmp_path / "run")
    assert model.config.explore_gate and model.config.new_scores
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics["model"]) >= {"acc@1", "acc@5", "mrr"}
    # the gate was calibrated on the training city's validation split, and model.pt keeps it
    fit = metrics["gate_calibration"]
    assert fit["part"] == "valid" and fit["city"] == "a" and fit["rule"] == "platt"
    assert (model.config.gate_scale, model.config.gate_shift) == (fit["scale"], fit["shift"]) != (1.0, 0.0)
    assert fit["mean_p_new"] == pytest.approx(fit["new_share"], abs=1e-4)
    assert main(["mobility", "transfer", "--from", str(tmp_path / "run"), "--to", str(b), "--fraction", "0",
                 "--out", str(tmp_path / "t"), *common]) == 0
    # zero-shot: the target's model ranks with the source city's calibration (no target label is read)
    moved, _ = load_model(tmp_path / "t")
    assert (moved.config.gate_scale, moved.config.gate_shift) == (fit["scale"], fit["shift"])
    assert "gate_calibration" not in json.loads((tmp_path / "t" / "metrics.json").read_text())
    # on the other city the output is still a distribution whose unvisited mass is the gate's P(new venue)
    data = prepare_city("b", checkins=load_checkins(b, city="b"), length=8)  # the CLI's category encoder
    batch = data.windows["test"].batch(torch.arange(len(data.windows["test"])))
    with torch.no_grad():
        logp, _ = model.eval()(data.features, batch, transitions=data.markov)
    gates = [torch.sigmoid(model.last_gate)]  # the calibrated gate
    counts = history_counts(batch, logp.size(1))[0]
    assert torch.allclose(logp.exp().sum(1), torch.ones(len(logp)), atol=1e-5)
    has = counts.sum(1) > 0
    assert has.any()
    assert torch.allclose((logp.exp() * (counts == 0)).sum(1)[has], gates[0][has], atol=1e-5)
    capsys.readouterr()
    assert main(["mobility", "train", "--city", str(a), "--out", str(tmp_path / "x"), "--explore-path",
                 "--no-history", *common]) == 2
    assert "--explore-path with --no-history" in capsys.readouterr().err


def test_cli_target_time_and_global_scores_flags(tmp_path):
    a = write_city(tmp_path / "a")
    assert main(["mobility", "train", "--city", str(a), "--out", str(tmp_path / "run"), "--dim", "16", "--heads", "2",
                 "--expert-hidden", "16", "--explore-path", "--target-time", "--global-scores", "--covisit",
                 "--gate-calibration", "none", "--window", "8", "--epochs", "1", "--quiet"]) == 0
    model, _ = load_model(tmp_path / "run")
    c = model.config
    assert c.target_time and c.global_scores and c.new_scores and (c.gate_scale, c.gate_shift) == (1.0, 0.0)
    assert c.covisit
    assert main(["mobility", "evaluate", "--model", str(tmp_path / "run"), "--city", str(a)]) == 0


def test_cli_transfer_gate_calibration_rule_and_refusals(tmp_path, capsys):
    """A fine-tuning transfer refits the gate with the rule it is given (``none`` keeps the source's calibration); a
    zero-shot transfer, or a source without an exploration gate, refuses the flag in one line before any work."""
    a, b = write_city(tmp_path / "a"), write_city(tmp_path / "b", users=6, seed=1)
    common = ["--window", "8", "--epochs", "1", "--quiet"]
    arch = ["--dim", "16", "--heads", "2", "--expert-hidden", "16"]
    assert main(["mobility", "train", "--city", str(a), "--out", str(tmp_path / "run"), *arch, "--explore-path",
                 *common]) == 0
    source, _ = load_model(tmp_path / "run")
    kept = (source.config.gate_scale, source.config.gate_shift)
    assert kept != (1.0, 0.0)
    base = ["mobility", "transfer", "--from", str(tmp_path / "run"), "--to", str(b), *common]
    assert main([*base, "--fraction", "0.5", "--out", str(tmp_path / "none"), "--gate-calibration", "none"]) == 0
    moved, _ = load_model(tmp_path / "none")
    assert (moved.config.gate_scale, moved.config.gate_shift) == kept
    assert "gate_calibration" not in json.loads((tmp_path / "none" / "metrics.json").read_text())
    assert main([*base, "--fraction", "0.5", "--out", str(tmp_path / "acc5"), "--gate-calibration", "acc5"]) == 0
    fit = json.loads((tmp_path / "acc5" / "metrics.json").read_text())["gate_calibration"]
    assert fit["rule"] == "acc5" and fit["city"] == "b" and fit["part"] == "valid"
    refit, _ = load_model(tmp_path / "acc5")
    assert (refit.config.gate_scale, refit.config.gate_shift) == (fit["scale"], fit["shift"])
    capsys.readouterr()
    assert main([*base, "--fraction", "0", "--out", str(tmp_path / "zs"), "--gate-calibration", "platt"]) == 2
    assert "--gate-calibration with --fraction 0" in capsys.readouterr().err
    assert main(["mobility", "train", "--city", str(a), "--out", str(tmp_path / "plain"), *arch, *common]) == 0
    capsys.readouterr()
    assert main(["mobility", "transfer", "--from", str(tmp_path / "plain"), "--to", str(b), "--fraction", "0.5",
                 "--out", str(tmp_path / "ft"), "--gate-calibration", "platt", *common]) == 2
    assert "has no exploration gate" in capsys.readouterr().err
    assert not (tmp_path / "zs").exists()
    assert not any((tmp_path / "ft" / f).exists() for f in ("model.pt", "metrics.json"))  # only the run's lock file


def test_cli_two_stage_calibration_is_stored_and_kept_by_a_zero_shot_transfer(tmp_path, capsys):
    """``--gate-calibration two-stage`` stores both gate maps in model.pt; a zero-shot transfer ranks with the source
    city's two maps (no target label read) and keeps them."""
    a, b = write_city(tmp_path / "a"), write_city(tmp_path / "b", users=6, seed=1)
    common = ["--window", "8", "--epochs", "1", "--quiet"]
    assert main(["mobility", "train", "--city", str(a), "--out", str(tmp_path / "run"), "--dim", "16", "--heads", "2",
                 "--expert-hidden", "16", "--explore-path", "--gate-calibration", "two-stage", *common]) == 0
    assert "position 1 ranked with P(new)" in capsys.readouterr().out
    fit = json.loads((tmp_path / "run" / "metrics.json").read_text())["gate_calibration"]
    source, _ = load_model(tmp_path / "run")
    c = source.config
    assert fit["rule"] == "two-stage" and (c.gate_scale, c.gate_shift) == (fit["scale"], fit["shift"])
    assert c.first_gate_scale == fit["scale"]
    assert c.first_gate_shift == (-float("inf") if fit["first_never_new"] else fit["first_shift"])
    assert main(["mobility", "transfer", "--from", str(tmp_path / "run"), "--to", str(b), "--fraction", "0",
                 "--out", str(tmp_path / "zs"), *common]) == 0
    moved, _ = load_model(tmp_path / "zs")
    assert (moved.config.first_gate_scale, moved.config.first_gate_shift) == (c.first_gate_scale, c.first_gate_shift)
    assert main(["mobility", "evaluate", "--model", str(tmp_path / "zs"), "--city", str(b)]) == 0
