"""Circuit tasks: tensors from a circuit graph, link negatives, training that fits, and the CLI end to end."""

import json

import numpy as np
import pytest
import torch

from graphrep.cli import main
from graphrep.data.circuits.dataset import load_design
from graphrep.data.circuits.graph import build_graph
from graphrep.tasks.circuits.baselines import BaselineModel
from graphrep.tasks.circuits.training import (TransferConfig, area_prior_offset, large_net_metrics, metrics, nearby_pairs,
                                             predict, prepare, pretrain_designs, pretrain_encoder, train_model)



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
        "mae", "r2", "spearman", "r2_top20", "mae_top20_decades", "spearman_top20", "recall_top20"}
    assert results["pretrain_designs"] == [str(design_dir)]  # inductive by default: the training design only
    assert (run / "scatter_tiny.png").stat().st_size > 0
    assert main(["circuit", "train", "--train", str(design_dir), "--eval", str(design_dir), "--epochs", "-1"]) == 2
    assert "--epochs" in capsys.readouterr().err


def _slow_large_net_metrics(y, p, fraction=0.2, decades=6.0):
    """Reference: sort by hand, pick the top k items by a Python loop, formulas written out."""
    n = len(y)
    k = -(-int(round(fraction * n * 1000)) // 1000)  # ceil(fraction * n) for these small exact cases
    order = sorted(range(n), key=lambda i: (-y[i], i))[:k]
    porder = sorted(range(n), key=lambda i: (-p[i], i))[:k]
    yt, yp = [y[i] for i in order], [p[i] for i in order]
    mean = sum(yt) / k
    r2 = 1 - sum((a - b) ** 2 for a, b in zip(yt, yp)) / sum((a - mean) ** 2 for a in yt)

    def ranks(v):
        s = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        for pos, i in enumerate(s):
            r[i] = pos
        return r
    ry, rp = ranks(yt), ranks(yp)
    my, mp = sum(ry) / k, sum(rp) / k
    cov = sum((a - my) * (b - mp) for a, b in zip(ry, rp))
    rho = cov / (sum((a - my) ** 2 for a in ry) * sum((b - mp) ** 2 for b in rp)) ** 0.5
    return {"r2_top20": r2, "mae_top20_decades": decades * sum(abs(a - b) for a, b in zip(yt, yp)) / k,
            "spearman_top20": rho, "recall_top20": len(set(order) & set(porder)) / k}


def test_large_net_metrics_against_a_slow_reference():
    rng = np.random.default_rng(3)
    for n in (10, 37, 200):
        y = rng.normal(size=n)
        p = y + rng.normal(scale=0.5, size=n)
        got, want = large_net_metrics(y, p), _slow_large_net_metrics(list(y), list(p))
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    # hand case: the top 2 of 10 are items 8 and 9; the model ranks 9 and 0 highest -> recall 1/2
    y = np.arange(10.0) / 10
    p = y.copy()
    p[0], p[8] = 5.0, 0.0
    m = large_net_metrics(y, p)
    assert m["recall_top20"] == 0.5 and m["mae_top20_decades"] == pytest.approx(6 * 0.8 / 2)
    assert {"r2_top20", "recall_top20"} <= set(metrics("total-cap", y, p))


def test_pretrain_set_inductive_or_transductive():
    assert pretrain_designs(["a"], ["b", "a"], TransferConfig()) == ["a"]
    assert pretrain_designs(["a"], ["b", "a"], TransferConfig(pretrain="transductive")) == ["a", "b"]
    with pytest.raises(Exception, match="pre-training set"):
        TransferConfig(pretrain="all").check()


def test_circuitgcl_gives_the_same_numbers_twice_for_a_seed(design_dir):
    data, _ = build_graph(load_design(design_dir))
    runs = []
    for _ in range(2):
        inputs = prepare(data, seed=0)
        cfg = TransferConfig(method="circuitgcl", epochs=5, pretrain_epochs=3, hidden=8, layers=2, seed=4)
        state = pretrain_encoder([inputs, inputs], cfg)
        y, p = predict(train_model(inputs, cfg, state), inputs, "total-cap")
        runs.append((torch.cat([v.flatten() for v in state.values()]), p))
    assert torch.equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
