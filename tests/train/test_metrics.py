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


def _macro_f1_reference(y_true, y_pred, labels=None):
    """One class at a time, from the definition."""
    classes = sorted(set(labels) if labels is not None else set(y_true) | set(y_pred))
    scores = []
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(y_true, y_pred))
        fp = sum(t != c and p == c for t, p in zip(y_true, y_pred))
        fn = sum(t == c and p != c for t, p in zip(y_true, y_pred))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / len(scores)


def test_macro_f1_matches_the_definition_and_sklearn():
    import torch
    from sklearn.metrics import f1_score

    from graphrep.train.metrics import macro_f1

    rng = np.random.default_rng(3)
    for trial in range(20):
        n, c = int(rng.integers(1, 40)), int(rng.integers(1, 6))
        y, p = rng.integers(0, c, n), rng.integers(0, c + 1, n)
        labels = list(range(c + 2)) if trial % 2 else None  # with labels: absent classes score 0
        ref = _macro_f1_reference(y.tolist(), p.tolist(), labels)
        assert macro_f1(y, p, labels) == pytest.approx(ref, abs=1e-12)
        assert macro_f1(torch.as_tensor(p), torch.as_tensor(y), labels) == pytest.approx(ref, abs=1e-12)  # symmetric
        assert macro_f1(y, p, labels) == pytest.approx(
            f1_score(y, p, labels=labels, average="macro", zero_division=0), abs=1e-12)
    assert macro_f1([0, 1, 1, 2], [0, 1, 2, 2]) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)  # known value
    with pytest.raises(InvalidInputError, match="differ in length"):
        macro_f1([0, 1], [0])
    with pytest.raises(InvalidInputError, match="no labels"):
        macro_f1([], [])


def test_target_ranks_against_a_sorting_reference_and_nan_is_the_worst_score():
    import torch

    from graphrep.train.metrics import target_ranks

    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 5, (50, 9), generator=g).float()  # many ties
    targets = torch.randint(0, 9, (50,), generator=g)
    ref = [1 + sum(float(s) > float(row[t]) for s in row) for row, t in zip(scores, targets)]
    assert target_ranks(scores, targets).tolist() == ref
    nan = torch.tensor([[float("nan")] * 4, [0.5, float("nan"), 0.1, 0.9], [0.2, 0.3, float("nan"), 0.1]])
    # an all-NaN model ranks every target last, not first; a NaN candidate outranks nothing
    assert target_ranks(nan, torch.tensor([1, 0, 1])).tolist() == [4, 2, 1]
