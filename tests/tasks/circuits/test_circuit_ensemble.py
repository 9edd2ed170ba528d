"""Seed ensembles of circuit models: the metrics of the seeds' mean prediction, by hand and through the CLI."""

import json

import numpy as np
import pytest

from graphrep.cli import main
from graphrep.data.errors import InvalidInputError
from graphrep.tasks.circuits.training import ensemble_metrics, metrics


def test_ensemble_metrics_are_those_of_the_mean_prediction_by_hand():
    """Two models off by +0.1 and -0.1 on every net: their mean is exact (R² 1, MAE 0), while each alone has MAE 0.1
    and R² 1 - 0.01 / var(y)."""
    y = np.array([0.2, 0.4, 0.6, 0.8])
    up, down = y + 0.1, y - 0.1
    ens = ensemble_metrics("total-cap", y, [up, down])
    assert ens["r2"] == pytest.approx(1.0) and ens["mae"] == pytest.approx(0.0, abs=1e-12)
    single = metrics("total-cap", y, up)
    assert single["mae"] == pytest.approx(0.1) and single["r2"] == pytest.approx(1 - 0.01 / np.var(y))
    # three models: the mean of 0.0, 0.3 and 0.6 shifts is 0.3 everywhere
    three = ensemble_metrics("total-cap", y, [y, y + 0.3, y + 0.6])
    assert three["mae"] == pytest.approx(0.3)
    assert ensemble_metrics("coupling", y, [up])["mae"] == pytest.approx(0.1)
    with pytest.raises(InvalidInputError, match="regression"):
        ensemble_metrics("ground-bucket", y, [up])
    with pytest.raises(InvalidInputError, match="at least one"):
        ensemble_metrics("total-cap", y, [])


@pytest.mark.slow
def test_cli_reports_the_seed_ensemble(design_dir, tmp_path, capsys):
    """``--seeds 0,1``: metrics.json has ``ensemble``, the metrics of the two seeds' mean prediction: its MAE is at
    most the seeds' mean MAE (per net, |mean error| <= mean |error|), and it is neither seed's own result."""
    run = tmp_path / "run"
    assert main(["circuit", "train", "--train", str(design_dir), "--eval", str(design_dir), "--task", "total-cap",
                 "--method", "gnn-mse", "--epochs", "5", "--hidden", "8", "--layers", "1", "--seeds", "0,1",
                 "--out", str(run)]) == 0
    assert "ensemble of 2 seeds" in capsys.readouterr().out
    saved = json.loads((run / "metrics.json").read_text())
    (name, ens), = saved["ensemble"].items()
    maes = [r["eval"][name]["mae"] for r in saved["runs"]]
    assert ens["mae"] <= np.mean(maes) + 1e-9
    assert all(ens["r2"] != pytest.approx(r["eval"][name]["r2"], abs=1e-9) for r in saved["runs"])
    assert set(ens) == set(saved["eval"][name])
    one = tmp_path / "one"
    assert main(["circuit", "train", "--train", str(design_dir), "--eval", str(design_dir), "--task", "total-cap",
                 "--method", "gnn-mse", "--epochs", "5", "--hidden", "8", "--layers", "1", "--out", str(one)]) == 0
    assert json.loads((one / "metrics.json").read_text())["ensemble"] == {}
