"""The gbm's boosting iterations chosen on held-out training designs (``baselines.grouped_iterations``) on designs
built so that the R² after each iteration is known by hand."""

import numpy as np
import pytest
import torch

from graphrep.data.circuits.graph import NET_FEATURES
from graphrep.ops import CSR
from graphrep.tasks.circuits.baselines import BaselineModel, grouped_iterations
from graphrep.tasks.circuits.training import CircuitInputs


def _design(name: str, slope: float) -> CircuitInputs:
    """40 nets, feature x (the first net column) 0 on 20 and 1 on 20; labels 0.45 + slope (x - 1/2) (mean 0.45)."""
    m = 40
    x = torch.zeros(m, len(NET_FEATURES))
    x[20:, 0] = 1.0
    y = 0.45 + slope * (x[:, 0] - 0.5)
    return CircuitInputs(
        name=name, x=torch.zeros(m, 4), csr=CSR.from_edge_index(torch.zeros(2, 0, dtype=torch.long), (m, m)),
        net_index=torch.arange(m), net_x=x, degree=torch.ones(m), y_total=y, y_ground=y.clone(),
        bucket=torch.zeros(m, dtype=torch.long), mask=torch.ones(m, dtype=torch.bool),
        pairs=torch.zeros(2, 0, dtype=torch.long), pair_y=torch.zeros(0),
        link_pairs=torch.zeros(2, 0, dtype=torch.long), link_y=torch.zeros(0), prior_offset=0.0)


def test_staged_predictions_shrink_the_residual_by_the_learning_rate():
    """Squared error: each iteration's leaf is lr times the mean residual on its side, so after k iterations the
    prediction is 0.45 + (1 - 0.9^k) slope (x - 1/2) (learning rate 0.1)."""
    d = _design("a", 0.5)
    model = BaselineModel("gbm", "total-cap", params={"max_iter": 3, "early_stopping": False}).fit(d)
    staged = list(model.staged_predict(d))
    x = d.net_x[:, 0].numpy()
    for k, p in enumerate(staged, start=1):
        assert p == pytest.approx(0.45 + (1 - 0.9 ** k) * 0.5 * (x - 0.5), abs=1e-6)
    assert staged[-1] == pytest.approx(model.predict(d), abs=1e-9)
    with pytest.raises(ValueError, match="pin-count"):
        next(BaselineModel("pin-count", "total-cap").fit(d).staged_predict(d))


def test_grouped_iterations_by_hand():
    """Every design the same law: on a held-out design R²(k) = 1 - 0.9^(2k), rising: all max_iter iterations.
    Two designs with slope +0.5 and two with -0.5, leave one design out (4 groups): the other three lean the other
    way (two against one), so more iterations only hurt: 1 iteration."""
    same = [_design(n, 0.5) for n in "abcd"]
    it, curve = grouped_iterations(same, "total-cap", folds=2, max_iter=5)
    assert it == 5
    assert curve == pytest.approx([1 - 0.81 ** k for k in range(1, 6)], abs=1e-6)
    mixed = [_design("a", 0.5), _design("b", 0.5), _design("c", -0.5), _design("d", -0.5)]
    it, curve = grouped_iterations(mixed, "total-cap", folds=4, max_iter=5)
    assert it == 1 and np.all(np.diff(curve) < 0)
    with pytest.raises(ValueError, match="folds"):
        grouped_iterations(same[:1], "total-cap", folds=2)
    with pytest.raises(ValueError, match="max_iter"):
        grouped_iterations(same, "total-cap", max_iter=0)


def test_sample_weights_give_the_weighted_mean_where_no_split_is_possible():
    """All nets alike (no split to make): the gbm predicts the mean label, or with sample weights the weighted mean
    (labels 0.2 on 20 nets, 0.6 on 20: 0.4; weights 1 and 3: 0.5); weights are checked."""
    d = _design("a", 0.0)
    d.net_x.zero_()
    d.y_total[:20], d.y_total[20:] = 0.2, 0.6
    params = {"max_iter": 5, "early_stopping": False}
    assert BaselineModel("gbm", "total-cap", params=params).fit(d).predict(d) == pytest.approx(np.full(40, 0.4))
    w = np.r_[np.ones(20), np.full(20, 3.0)]
    got = BaselineModel("gbm", "total-cap", params=params).fit(d, sample_weight=w).predict(d)
    assert got == pytest.approx(np.full(40, 0.5))
    for bad in (np.ones(39), np.r_[-np.ones(20), np.ones(20)], np.r_[np.nan, np.ones(39)]):
        with pytest.raises(ValueError, match="sample_weight must be 40 finite weights"):
            BaselineModel("gbm", "total-cap").fit(d, sample_weight=bad)
    with pytest.raises(ValueError, match="gbm baseline's regression"):
        BaselineModel("pin-count", "total-cap").fit(d, sample_weight=w)


def _pins_design(name: str, pins: torch.Tensor) -> CircuitInputs:
    """Nets with ``pins`` pins, labels 0.1 + 0.05 log(pins) exactly, the log pin count also the first net column."""
    d = _design(name, 0.0)
    m = pins.numel()
    x = torch.zeros(m, len(NET_FEATURES))
    x[:, 0] = torch.log(pins)
    y = 0.1 + 0.05 * torch.log(pins)
    return CircuitInputs(
        name=name, x=torch.zeros(m, 4), csr=CSR.from_edge_index(torch.zeros(2, 0, dtype=torch.long), (m, m)),
        net_index=torch.arange(m), net_x=x, degree=pins, y_total=y, y_ground=y.clone(), bucket=d.bucket[:m].clone(),
        mask=torch.ones(m, dtype=torch.bool), pairs=d.pairs, pair_y=d.pair_y, link_pairs=d.link_pairs,
        link_y=d.link_y, prior_offset=0.0)


def test_pin_count_base_carries_the_line_past_the_nets_the_trees_saw():
    """Trained on nets of 2-20 pins, asked about nets of 100 and 400: the trees alone stay at their largest leaf
    (about the 20-pin label); on the pin-count line's residual (here 0) they give the line's value."""
    train = _pins_design("train", torch.arange(2, 21, dtype=torch.float32).repeat(3))
    big = _pins_design("big", torch.tensor([100.0, 400.0]))
    params = {"max_iter": 50, "early_stopping": False, "min_samples_leaf": 3}
    plain = BaselineModel("gbm", "total-cap", params=params).fit(train).predict(big)
    lined = BaselineModel("gbm", "total-cap", params=params, base="pin-count").fit(train)
    truth = big.y_total.numpy()
    assert lined.predict(big) == pytest.approx(truth, abs=1e-6)
    assert np.all(plain < 0.1 + 0.05 * np.log(20) + 1e-3) and np.all(truth - plain > 0.07)
    assert list(lined.staged_predict(big))[-1] == pytest.approx(truth, abs=1e-6)
    for which, task, base in (("pin-count", "total-cap", "pin-count"), ("gbm", "coupling", "pin-count"),
                              ("gbm", "total-cap", "gbm")):
        with pytest.raises(ValueError, match="base="):
            BaselineModel(which, task, base=base)
