"""Circuit tasks: tensors from a circuit graph, link negatives, training that fits, and the CLI end to end."""

import json

import numpy as np
import pytest
import torch

from graphrep.cli import main
from graphrep.data.circuits.dataset import load_design
from graphrep.data.circuits.graph import build_graph
from graphrep.tasks.circuits.baselines import BaselineModel
from graphrep.tasks.circuits.training import (TransferConfig, area_prior_offset, metrics, nearby_pairs, predict, prepare,
                                     train_model)



def test_prepare_pairs_negatives_and_prior(design_dir):
    data, _ = build_graph(load_design(design_dir))
    inputs = prepare(data)
    names = data["net"].names
    assert inputs.pairs.size(1) == 1 and inputs.link_y.tolist()[:1] == [1.0]
    negatives = inputs.link_pairs[:, inputs.link_y == 0].t().tolist()
    coupled = {tuple(p) for p in data.coupling_index.t().tolist()}
    assert len(negatives) == 1 and all(tuple(p) not in coupled and p[0] < p[1] for p in negatives)
    # g2 joins n1, clk and y: all its net pairs are "nearby"
    by = {n: k for k, n in enumerate(names)}
    near = nearby_pairs(data)
    assert tuple(sorted((by["n1"], by["clk"]))) in near and tuple(sorted((by["clk"], by["y"]))) in near
    assert area_prior_offset(data) == pytest.approx(0.5 * np.log10(0.798) / 6)


def test_metrics_against_hand_values():
    m = metrics("total-cap", np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 3.0]))
    assert m["mae"] == pytest.approx(1 / 3) and m["r2"] == pytest.approx(1 - 1 / 2) and m["spearman"] == pytest.approx(1)
    m = metrics("ground-bucket", np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]))
    assert m["accuracy"] == 0.75
    assert metrics("link", np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.2, 0.3]))["roc_auc"] == 1.0


@pytest.mark.shared_data
@pytest.mark.slow
def test_training_fits_a_real_design_better_than_the_mean(shared_data):
    torch.set_num_threads(1)
    data, _ = build_graph(load_design(shared_data / "circuits" / "gcd_sky130hd"))
    inputs = prepare(data)
    for method, key, low in (("gnn-mse", "r2", 0.5), ("gnn-bmse", "spearman", 0.7)):
        model = train_model(inputs, TransferConfig(task="total-cap", method=method, epochs=60, hidden=16, layers=2))
        y, p = predict(model, inputs, "total-cap")
        assert metrics("total-cap", y, p)[key] > low
    gbm = BaselineModel("gbm", "link").fit(inputs)
    assert metrics("link", inputs.link_y.numpy(), gbm.predict(inputs))["roc_auc"] > 0.8


@pytest.mark.slow
def test_cli_graph_and_train_end_to_end(design_dir, tmp_path, capsys):
    assert main(["circuit", "graph", str(design_dir)]) == 0
    out = capsys.readouterr().out
    assert "SPEF nets matched: 2/3 (66.7%)" in out and "unmatched SPEF nets (1): ghost" in out
    run = tmp_path / "run"
    assert main(["circuit", "train", "--train", str(design_dir), "--eval", str(design_dir), "--task", "total-cap",
                 "--epochs", "3", "--pretrain-epochs", "2", "--hidden", "8", "--layers", "1", "--out", str(run)]) == 0
    results = json.loads((run / "metrics.json").read_text())
    assert set(results["eval"]["tiny"] if "tiny" in results["eval"] else results["eval"][str(design_dir)]) == {
        "mae", "r2", "spearman"}
    assert (run / "scatter_tiny.png").stat().st_size > 0
    assert main(["circuit", "train", "--train", str(design_dir), "--eval", str(design_dir), "--epochs", "-1"]) == 2
    assert "--epochs" in capsys.readouterr().err
