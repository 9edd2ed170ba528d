"""Metrics agree with OGB's Evaluator (ROC-AUC over tasks with both classes, RMSE averaged over tasks)."""

import numpy as np
import pytest
from ogb.graphproppred import Evaluator

from graphrep.data import InvalidInputError
from graphrep.train.metrics import r2, rmse, roc_auc


def test_roc_auc_matches_ogb_evaluator_with_missing_labels():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(200, 12)).astype(float)
    y[rng.random(y.shape) < 0.3] = np.nan
    y[:, 3] = np.where(np.isnan(y[:, 3]), np.nan, 1.0)  # a task with one class only: skipped
    scores = rng.normal(size=y.shape) + np.nan_to_num(y)
    ours = roc_auc(y, scores)
    ref = Evaluator("ogbg-moltox21").eval({"y_true": y, "y_pred": scores})["rocauc"]
    assert ours == pytest.approx(ref, abs=1e-12)


def test_rmse_matches_ogb_and_r2_known_value():
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=(50, 1)), rng.normal(size=(50, 1))
    assert rmse(y, p) == pytest.approx(Evaluator("ogbg-molesol").eval({"y_true": y, "y_pred": p})["rmse"])
    assert r2([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    assert r2([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == pytest.approx(0.0)


def test_roc_auc_undefined_is_an_error():
    with pytest.raises(InvalidInputError, match="both positive and negative"):
        roc_auc(np.ones((5, 1)), np.zeros((5, 1)))
