"""Model selection in circuit training: the best validation epoch is kept, the validation split comes from the
training labels only, and the evaluation design never influences the selected model."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from graphrep.ops import CSR
from graphrep.tasks.circuits import training as T
from graphrep.tasks.circuits.training import (CircuitInputs, TransferConfig, holdout_split, predict, train_model,
                                             training_targets, validation_loss)


def _design(name="r", n_nodes=300, n_nets=80, seed=0, flip=False):
    """A random design whose net label is a smooth function of its own features (``flip``: the opposite function,
    so that fitting one design makes a model worse on the other)."""
    gen = torch.Generator().manual_seed(seed)
    edges = torch.randint(0, n_nodes, (2, 4 * n_nodes), generator=gen)
    net_x = torch.randn(n_nets, 3, generator=gen)
    y = 0.5 + 0.1 * torch.tanh(net_x[:, 0] + net_x[:, 1]) * (-1 if flip else 1)
    pairs = torch.randint(0, n_nets, (2, 40), generator=gen)
    return CircuitInputs(
        name=name, x=torch.randn(n_nodes, 5, generator=gen), csr=CSR.from_edge_index(edges, (n_nodes, n_nodes)),
        net_index=torch.arange(100, 100 + n_nets), net_x=net_x, degree=torch.ones(n_nets), y_total=y,
        y_ground=y / 2, bucket=torch.zeros(n_nets, dtype=torch.long), mask=torch.ones(n_nets, dtype=torch.bool),
        pairs=pairs, pair_y=torch.rand(40, generator=gen), link_pairs=pairs,
        link_y=(torch.rand(40, generator=gen) > 0.5).float(), prior_offset=0.0)


def _val_loss(model, val, cfg):
    y, _ = training_targets(val, cfg, model.target_scale)
    with torch.no_grad():
        return validation_loss(T._forward(model, val, cfg.task), y, cfg.task)


def test_selection_keeps_the_best_validation_epoch_when_the_last_is_worse():
    """Validation labels that contradict the training labels: training makes the validation loss rise, so the
    selected epoch is an early one and its validation loss is below the last epoch's (the same run without
    selection)."""
    train, val = _design(seed=0), _design(seed=1, flip=True)
    cfg = TransferConfig(task="total-cap", method="gnn-mse", epochs=40, hidden=8, layers=1, lr=1e-2, patience=0)
    torch.set_num_threads(1)
    selected = train_model(train, cfg, val=val)
    last = train_model(train, dataclasses.replace(cfg, val_fraction=0.0))
    assert selected.selection["epochs_run"] == 40 and selected.selection["best_epoch"] < 39
    best, final = _val_loss(selected, val, cfg), _val_loss(last, val, cfg)
    assert best == pytest.approx(selected.selection["best_val"], rel=1e-5)
    assert best < final
    assert last.selection["best_epoch"] == 39


def test_patience_stops_early():
    train, val = _design(seed=0), _design(seed=1, flip=True)
    cfg = TransferConfig(task="total-cap", method="gnn-mse", epochs=200, hidden=8, layers=1, patience=5)
    model = train_model(train, cfg, val=val)
    s = model.selection
    assert s["epochs_run"] == s["best_epoch"] + 1 + 5 < 200


@pytest.mark.parametrize("task", ["total-cap", "coupling", "link"])
def test_holdout_split_partitions_the_training_labels(task):
    d = _design()
    tr, va = holdout_split(d, task, 0.25, seed=3)
    if task == "total-cap":
        assert not (tr.mask & va.mask).any() and ((tr.mask | va.mask) == d.mask).all()
        assert int(va.mask.sum()) == 20
    else:
        name = "pairs" if task == "coupling" else "link_pairs"
        both = torch.cat([getattr(tr, name), getattr(va, name)], 1)
        assert getattr(va, name).size(1) == 10 and both.size(1) == getattr(d, name).size(1)
        key = lambda p: sorted(map(tuple, p.t().tolist()))  # noqa: E731
        assert key(both) == key(getattr(d, name))
    assert tr.csr is d.csr and va.x is d.x  # one graph, two label views
    again = holdout_split(d, task, 0.25, seed=3)[1]
    assert torch.equal(again.mask, va.mask) and torch.equal(again.pairs, va.pairs)
    assert holdout_split(d, task, 0.0)[1] is None


def test_same_seed_same_selected_model():
    d = _design()
    cfg = TransferConfig(task="total-cap", method="gnn-bmse", epochs=15, hidden=8, layers=1, seed=4)
    a, b = train_model(d, cfg), train_model(d, cfg)
    assert a.selection == b.selection
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), k
    other = train_model(d, dataclasses.replace(cfg, seed=5))
    assert not torch.equal(other.state_dict()["mlp.0.weight"], a.state_dict()["mlp.0.weight"])


@pytest.mark.parametrize("method", ["gnn-mse", "circuitgcl"])
def test_the_evaluation_designs_labels_never_reach_the_selected_model(method, monkeypatch, tmp_path):
    """``run_cli_training`` with the evaluation design's labels replaced by noise: the same selected epoch, the same
    validation loss and the same predictions on the training design; replacing the training design's labels instead
    changes the selection (the check can fail)."""
    designs = {"a": _design("a", seed=0), "held": _design("held", seed=1, flip=True)}

    def run(changed=None):
        def fake_prepare(name, seed=0):
            d = designs[name]
            if name == changed:
                noise = torch.rand(d.y_total.shape, generator=torch.Generator().manual_seed(9))
                d = dataclasses.replace(d, y_total=noise, pair_y=torch.rand(d.pair_y.shape))
            return d

        monkeypatch.setattr(T, "load_graphs", lambda names, root=None: {n: n for n in names})
        monkeypatch.setattr(T, "prepare", fake_prepare)
        cfg = TransferConfig(task="total-cap", method=method, epochs=12, pretrain_epochs=3, hidden=8, layers=1,
                             patience=0)
        out = tmp_path / f"{method}-{changed}"
        out.mkdir()
        return T.run_cli_training("a", ["a", "held"], cfg, out, seeds=[0])["runs"][0]

    base, held_changed, train_changed = run(), run("held"), run("a")
    assert held_changed["selection"] == base["selection"]
    assert held_changed["eval"]["a"] == base["eval"]["a"]
    assert held_changed["eval"]["held"]["r2"] != base["eval"]["held"]["r2"]  # its labels did change
    assert train_changed["selection"] != base["selection"]
    json.dumps(base)  # the selection record is plain JSON


def test_predict_maps_standardised_outputs_back_to_the_label_scale():
    d = _design()
    cfg = TransferConfig(task="total-cap", method="gnn-mse", epochs=150, hidden=16, layers=1, lr=1e-2, patience=0)
    y, p = predict(train_model(d, cfg), d, "total-cap")
    assert abs(float(np.mean(p)) - float(np.mean(y))) < 0.02 and np.std(y) < 0.2
