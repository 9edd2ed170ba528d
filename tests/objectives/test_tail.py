"""Tail-weighted MSE (:mod:`graphrep.objectives.tail`) against hand-computed values."""

import numpy as np
import pytest
import torch

from graphrep.objectives.tail import TailWeights, tail_weighted_mse, tail_weights


def test_tail_weights_by_hand():
    """y = 0..4: the 80th percentile (linear interpolation) is 3.2, only 4 is at or above it; a = 4 gives raw weights
    1, 1, 1, 1, 5 with mean 9/5, so normalised 5/9 (x4) and 25/9; they average 1."""
    y = np.arange(5.0)
    w = tail_weights(y, 4.0)
    assert TailWeights(y, 4.0).threshold == pytest.approx(3.2)
    assert w == pytest.approx([5 / 9] * 4 + [25 / 9])
    assert w.mean() == pytest.approx(1.0)
    # a label outside the training set is weighed by the training threshold and norm
    assert TailWeights(y, 4.0)(np.array([10.0, -3.0])) == pytest.approx([25 / 9, 5 / 9])


def test_tail_weighted_mse_by_hand_and_plain_mse_at_zero():
    y = torch.arange(5.0)
    loss = tail_weighted_mse(TailWeights(y, 4.0))
    assert float(loss(y + 1, y)) == pytest.approx(1.0)  # unit error everywhere: weights average 1
    only_top = y.clone()
    only_top[4] += 1.0
    assert float(loss(only_top, y)) == pytest.approx(25 / 9 / 5)  # the top label's error counts 25/9 of 5
    only_low = y.clone()
    only_low[0] += 1.0
    assert float(loss(only_low, y)) == pytest.approx(5 / 9 / 5)
    plain = tail_weighted_mse(TailWeights(y, 0.0))
    out = torch.tensor([0.3, 1.2, 1.7, 3.5, 3.1])
    assert float(plain(out, y)) == pytest.approx(float(torch.nn.functional.mse_loss(out, y)))


def test_tail_weights_refuse_bad_settings():
    with pytest.raises(ValueError, match="tail weight"):
        TailWeights([1.0, 2.0], -1.0)
    with pytest.raises(ValueError, match="quantile"):
        TailWeights([1.0, 2.0], 1.0, quantile=1.0)
    with pytest.raises(ValueError, match="at least one"):
        TailWeights([], 1.0)


def test_gbm_tail_weight_moves_a_constant_fit_to_the_weighted_mean():
    """With one constant feature a gradient-boosting regressor cannot split: it predicts the (weighted) mean label.
    Labels 0, 0, 0, 0, 1 (80th percentile 0.2: only the 1 is in the tail): plain mean 1/5; tail weight 4: weights
    1, 1, 1, 1, 5, weighted mean 5/9."""
    from graphrep.data.circuits.graph import NET_FEATURES
    from graphrep.ops import CSR
    from graphrep.tasks.circuits.baselines import BaselineModel
    from graphrep.tasks.circuits.training import CircuitInputs

    m = 5
    d = CircuitInputs(
        name="d", x=torch.zeros(m, 4), csr=CSR.from_edge_index(torch.zeros(2, 0, dtype=torch.long), (m, m)),
        net_index=torch.arange(m), net_x=torch.zeros(m, len(NET_FEATURES)), degree=torch.ones(m),
        y_total=torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0]), y_ground=torch.zeros(m), bucket=torch.zeros(m, dtype=torch.long),
        mask=torch.ones(m, dtype=torch.bool), pairs=torch.zeros(2, 0, dtype=torch.long), pair_y=torch.zeros(0),
        link_pairs=torch.zeros(2, 0, dtype=torch.long), link_y=torch.zeros(0), prior_offset=0.0)
    plain = BaselineModel("gbm", "total-cap").fit(d).predict(d)
    tail = BaselineModel("gbm", "total-cap", tail_weight=4.0).fit(d).predict(d)
    assert plain == pytest.approx([0.2] * m, abs=1e-6)
    assert tail == pytest.approx([5 / 9] * m, abs=1e-6)


def test_transfer_config_tail_weight_selects_the_weighted_criterion():
    from graphrep.tasks.circuits.training import TransferConfig, make_loss

    y = torch.arange(5.0)
    only_top = y.clone()
    only_top[4] += 1.0
    weighted = make_loss(y, TransferConfig(method="gnn-mse", tail_weight=4.0))
    assert float(weighted(only_top, y)) == pytest.approx(25 / 9 / 5)
    assert float(make_loss(y, TransferConfig(method="gnn-mse"))(only_top, y)) == pytest.approx(1 / 5)
    with pytest.raises(Exception, match="tail_weight"):
        TransferConfig(method="gnn-mse", tail_weight=-1.0).check()


def test_gbm_params_reach_the_booster_and_bad_ones_are_refused():
    """Labels 0, 0, 1, 1 split exactly by one feature. Defaults (at least 20 samples a leaf): no split on 4 nets, the
    mean 0.5 everywhere. One tree of learning rate 0.5 and leaves of 1 sample: 0.5 -+ 0.5 * 0.5 = 0.25, 0.75."""
    from graphrep.data.circuits.graph import NET_FEATURES
    from graphrep.ops import CSR
    from graphrep.tasks.circuits.baselines import BaselineModel
    from graphrep.tasks.circuits.training import CircuitInputs

    m = 4
    net_x = torch.zeros(m, len(NET_FEATURES))
    net_x[:, 0] = torch.tensor([0.0, 0.0, 1.0, 1.0])
    d = CircuitInputs(
        name="d", x=torch.zeros(m, 4), csr=CSR.from_edge_index(torch.zeros(2, 0, dtype=torch.long), (m, m)),
        net_index=torch.arange(m), net_x=net_x, degree=torch.ones(m), y_total=torch.tensor([0.0, 0.0, 1.0, 1.0]),
        y_ground=torch.zeros(m), bucket=torch.zeros(m, dtype=torch.long), mask=torch.ones(m, dtype=torch.bool),
        pairs=torch.zeros(2, 0, dtype=torch.long), pair_y=torch.zeros(0), link_pairs=torch.zeros(2, 0, dtype=torch.long),
        link_y=torch.zeros(0), prior_offset=0.0)
    assert BaselineModel("gbm", "total-cap").fit(d).predict(d) == pytest.approx([0.5] * m, abs=1e-6)
    one = BaselineModel("gbm", "total-cap", params={"max_iter": 1, "learning_rate": 0.5, "min_samples_leaf": 1})
    assert one.fit(d).predict(d) == pytest.approx([0.25, 0.25, 0.75, 0.75], abs=1e-6)
    with pytest.raises(ValueError, match="min_leaf"):
        BaselineModel("gbm", "total-cap", params={"min_leaf": 5})
    with pytest.raises(ValueError, match="pin-count"):
        BaselineModel("pin-count", "total-cap", params={"max_iter": 5})
