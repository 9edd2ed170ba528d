"""``BestEpoch``: the lowest validation loss's epoch and weights, early stopping, and its checkpointable state."""

import math

import pytest
import torch

from graphrep.train.selection import BestEpoch


def _module(value: float) -> torch.nn.Linear:
    m = torch.nn.Linear(1, 1)
    with torch.no_grad():
        m.weight.fill_(value)
    return m


def test_keeps_the_best_epochs_weights_not_the_last():
    sel, m = BestEpoch(patience=0), _module(0.0)
    for epoch, (w, loss) in enumerate([(1.0, 3.0), (2.0, 1.0), (3.0, 2.0), (4.0, 5.0)]):
        with torch.no_grad():
            m.weight.fill_(w)
        sel.update(epoch, loss, m)
    assert not sel.stop and sel.best_epoch == 1 and sel.best == 1.0
    sel.restore(m)
    assert m.weight.item() == 2.0
    assert sel.summary() == {"best_epoch": 1, "best_val": 1.0, "epochs_run": 4}


def test_patience_stops_after_that_many_epochs_without_improvement_and_nan_never_wins():
    sel, m = BestEpoch(patience=2), _module(0.0)
    sel.update(0, 1.0, m)
    sel.update(1, float("nan"), m)
    assert not sel.stop and sel.best_epoch == 0
    sel.update(2, 1.0, m)  # equal is not better
    assert sel.stop
    with pytest.raises(ValueError):
        BestEpoch(patience=-1)


def test_state_round_trip_selects_as_an_uninterrupted_run():
    full, m = BestEpoch(patience=3), _module(0.0)
    losses = [4.0, 2.0, 3.0, 1.5, 1.7]
    for e, v in enumerate(losses):
        full.update(e, v, m)
    half = BestEpoch(patience=3)
    for e, v in enumerate(losses[:2]):
        half.update(e, v, m)
    resumed = BestEpoch(patience=3)
    resumed.load_state_dict(half.state_dict())
    for e, v in enumerate(losses[2:], start=2):
        resumed.update(e, v, m)
    assert resumed.summary() == full.summary() and resumed.history == full.history
    assert BestEpoch().summary()["best_val"] == math.inf
