"""The placement-oracle benchmark's two measures: cross-validated R² within a design, and a line carried from one
design to another."""

import numpy as np
import pytest

from _scripts import load_script

oracle = load_script("benchmarks/circuit_placement_oracle.py", "bench_circuit_placement_oracle")


def test_cv_r2_is_one_for_an_exact_line_and_near_zero_for_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    assert oracle.cv_r2(x, 0.3 + x @ np.array([2.0, -1.0])) == pytest.approx(1.0, abs=1e-9)
    # a column unrelated to y: out of fold the fitted line can only lose against the mean
    assert oracle.cv_r2(rng.normal(size=(200, 1)), rng.normal(size=200)) < 0.02


def test_cv_r2_matches_a_slow_fold_by_fold_fit():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(53, 1))
    y = 1.5 * x[:, 0] + rng.normal(scale=0.5, size=53)
    fold = np.random.default_rng(0).permutation(53) % 5
    pred = np.empty(53)
    for f in range(5):
        slope, icept = np.polyfit(x[fold != f, 0], y[fold != f], 1)
        pred[fold == f] = icept + slope * x[fold == f, 0]
    expected = 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert oracle.cv_r2(x, y) == pytest.approx(expected, rel=1e-9)


def test_transfer_applies_the_other_designs_line_unchanged():
    rng = np.random.default_rng(2)
    rows, ys = [], []
    for offset in (0.0, 0.5):
        x = rng.normal(size=(100, 1))
        y = 2.0 * x[:, 0] + offset  # the same slope, another offset: the carried line is off by 0.5 everywhere
        ys.append(y)
        rows.append({"y": y, "columns": {"pins": x, "spectral": x, "real": x}})
    oracle.add_transfer(rows)
    for r, y in zip(rows, ys):
        assert "y" not in r and "columns" not in r
        expected = 1.0 - 0.25 * len(y) / ((y - y.mean()) ** 2).sum()  # R² of y against y -/+ 0.5
        for key in ("pins", "spectral", "real"):
            assert r[f"transfer_r2_{key}"] == pytest.approx(expected, rel=1e-9)
