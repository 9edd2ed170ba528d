"""Baselines for the circuit tasks, on the same designs, labels and pairs as the GNNs (:mod:`.circuits`).

- ``pin-count``: least squares of the scaled label on the log pin count of the net (pairs: on the sum and absolute
  difference of the two nets' log pin counts); buckets from the predicted ground capacitance; links by logistic
  regression on the same pair features.
- ``gbm``: scikit-learn ``HistGradientBoosting`` on each net's own features (pairs: sum, absolute difference and
  product of the two nets' features), no message passing; with ``area_prior`` its regression targets are relative to
  the same technology offset as the GNNs' (:func:`.circuits.area_prior_offset`). ``pin-count`` never uses it.
  ``params`` overrides the ``HistGradientBoosting`` keyword arguments (default ``max_iter=200``, scikit-learn's
  defaults otherwise: learning rate 0.1, 31 leaves, at least 20 samples a leaf, no L2 penalty). With
  ``base="pin-count"`` (per-net regressions) the trees fit what the ``pin-count`` line leaves:
  :math:`\hat y = a + b \log k + f(x)`, the line fitted first on the same targets, so that a net with more pins than
  any the trees saw still gets the line's slope (trees are constant beyond their last split).
- :func:`grouped_iterations`: the gbm's number of boosting iterations chosen on held-out *training designs* (grouped
  cross-validation), where scikit-learn's own early stopping holds out random nets of the same designs.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

from graphrep.data.circuits.graph import GROUND_BUCKET_EDGES, LABEL_DECADES, LABEL_REF, bucketize
from graphrep.objectives.tail import tail_weights
from graphrep.tasks.circuits.training import TASKS, CircuitInputs, union_inputs, uses_prior

BASELINES = ("pin-count", "gbm")


def _features(inputs: CircuitInputs, task: str, which: str) -> np.ndarray:
    per_net = torch.log(inputs.degree.clamp_min(1)).unsqueeze(1) if which == "pin-count" else inputs.net_x
    per_net = per_net.double()
    if TASKS[task] in ("pair-regression", "link"):
        _, pairs = inputs.target(task)
        a, b = per_net[pairs[0]], per_net[pairs[1]]
        parts = [a + b, (a - b).abs()] + ([a * b] if which == "gbm" else [])
        return torch.cat(parts, 1).numpy()
    return per_net[inputs.mask].numpy()


def _regression_target(inputs: CircuitInputs, task: str) -> np.ndarray:
    if task == "ground-bucket":  # regress the scaled ground capacitance, bucket the prediction
        return inputs.y_ground[inputs.mask].numpy()
    y, _ = inputs.target(task)
    return y.numpy()


class BaselineModel:
    """Fit on one design (``fit``), then ``predict`` on any: scaled capacitances, class ids, or link scores."""

    def __init__(self, which: str, task: str, seed: int = 0, area_prior: bool = True, tail_weight: float = 0.0,
                 params: dict | None = None, base: str | None = None):
        if which not in BASELINES:
            raise ValueError(f"unknown baseline {which!r} (known: {', '.join(BASELINES)})")
        if base is not None and (base != "pin-count" or which != "gbm" or TASKS[task] != "regression"):
            raise ValueError(f"base={base!r}: only 'pin-count', for the gbm baseline's per-net regressions "
                             f"(got {which!r} on {task!r})")
        self.base, self.base_model = base, None
        params = dict(params or {})
        if params and which != "gbm":
            raise ValueError(f"params are for the gbm baseline only, not {which!r}")
        gbm = HistGradientBoostingClassifier if TASKS[task] in ("link", "classification") else \
            HistGradientBoostingRegressor
        bad = sorted(set(params) - (set(gbm().get_params()) - {"random_state"}))
        if bad:
            raise ValueError(f"unknown {gbm.__name__} parameters: {', '.join(bad)}")
        self.which, self.task, self.seed, self.tail_weight = which, task, seed, tail_weight
        self.prior = which == "gbm" and uses_prior(task, area_prior)
        kind = TASKS[task]
        if which == "pin-count":
            self.model = LogisticRegression() if kind == "link" else LinearRegression()
        else:
            self.model = gbm(random_state=seed, **{"max_iter": 200, **params})

    def fit(self, inputs: CircuitInputs, sample_weight: np.ndarray | None = None) -> "BaselineModel":
        """``sample_weight`` [K]: a weight per training item (GBM regression only; times the tail weights, if any)."""
        x = _features(inputs, self.task, self.which)
        classify = TASKS[self.task] == "link" or (TASKS[self.task] == "classification" and self.which == "gbm")
        if sample_weight is not None:
            if classify or self.which != "gbm":
                raise ValueError("sample_weight is for the gbm baseline's regression tasks only")
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (len(x),) or not (np.isfinite(sample_weight).all() and (sample_weight >= 0).all()):
                raise ValueError(f"sample_weight must be {len(x)} finite weights >= 0, got shape {sample_weight.shape}")
        if classify:
            y, _ = inputs.target(self.task)
            self.model.fit(x, y.numpy().astype(int))
        else:
            self.offset = (inputs.prior_offset or 0.0) if self.prior else 0.0
            y = _regression_target(inputs, self.task) - self.offset
            weights = tail_weights(y, self.tail_weight) if self.which == "gbm" and self.tail_weight > 0 else None
            if sample_weight is not None:
                weights = sample_weight if weights is None else weights * sample_weight
            if self.base is not None:
                z = _features(inputs, self.task, "pin-count")
                self.base_model = LinearRegression().fit(z, y, sample_weight=weights)
                y = y - self.base_model.predict(z)
            self.model.fit(x, y, sample_weight=weights)
        return self

    def _base(self, inputs: CircuitInputs) -> np.ndarray | float:
        """The ``pin-count`` line's part of a regression's prediction (0 without ``base``)."""
        return 0.0 if self.base_model is None else self.base_model.predict(_features(inputs, self.task, "pin-count"))

    def predict(self, inputs: CircuitInputs) -> np.ndarray:
        x = _features(inputs, self.task, self.which)
        kind = TASKS[self.task]
        if kind == "link":
            return self.model.predict_proba(x)[:, 1]
        if kind == "classification":
            if self.which == "gbm":
                return self.model.predict(x)
            cap = LABEL_REF * 10 ** (LABEL_DECADES * np.clip(self.model.predict(x), 0, 1))
            return bucketize(torch.tensor(cap), GROUND_BUCKET_EDGES).numpy()
        base = self._base(inputs)
        if not self.prior:
            return self.model.predict(x) + base
        return self.model.predict(x) + base + (inputs.prior_offset if inputs.prior_offset is not None else self.offset)

    def staged_predict(self, inputs: CircuitInputs):
        """The gbm regression's predictions on ``inputs`` after each boosting iteration (as :meth:`predict`, prior
        included): a generator of [M] (or [P]) arrays."""
        if self.which != "gbm" or TASKS[self.task] not in ("regression", "pair-regression"):
            raise ValueError(f"staged predictions are for gbm regressions, not {self.which} on {self.task}")
        x = _features(inputs, self.task, self.which)
        shift = (inputs.prior_offset if inputs.prior_offset is not None else self.offset) if self.prior else 0.0
        shift = shift + self._base(inputs)
        for p in self.model.staged_predict(x):
            yield p + shift


def grouped_iterations(designs: list[CircuitInputs], task: str, seed: int = 0, folds: int = 3, max_iter: int = 200,
                       params: dict | None = None) -> tuple[int, np.ndarray]:
    r"""(iterations, curve): the gbm's number of boosting iterations chosen on held-out training designs.

    The ``designs`` (each already capped as it enters the training union) are split into ``folds`` groups (a seeded
    permutation dealt round robin); for each group a gbm of ``max_iter`` iterations without early stopping is fitted
    on the union of the other designs (:func:`.training.union_inputs`, labels relative to each prior) and predicts
    every design of the group after each iteration :math:`k` (:meth:`BaselineModel.staged_predict`). With
    :math:`R^2_d(k)` that design's R² on its own labels, ``curve`` [max_iter] is :math:`\overline{R^2}(k)`, the mean
    over the designs with at least two labels and some spread, and ``iterations`` is :math:`1 + \arg\max_k` of it
    (the first maximum): what transfers to an unseen design rather than what fits unseen nets of seen designs."""
    if folds < 2 or len(designs) < folds:
        raise ValueError(f"grouped iterations need folds >= 2 and at least as many designs, got {folds} folds and "
                         f"{len(designs)} designs")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    group = np.empty(len(designs), dtype=int)
    group[np.random.default_rng(seed).permutation(len(designs))] = np.arange(len(designs)) % folds
    curves = []
    for g in range(folds):
        train = [d for d, k in zip(designs, group) if k != g]
        model = BaselineModel("gbm", task, seed, params={**(params or {}), "max_iter": max_iter,
                                                         "early_stopping": False}).fit(union_inputs(train))
        for d in (d for d, k in zip(designs, group) if k == g):
            y = d.target(task)[0].double().numpy()
            sst = float(((y - y.mean()) ** 2).sum()) if y.size > 1 else 0.0
            if sst <= 0:
                continue
            curve = [1.0 - float(((y - p) ** 2).sum()) / sst for p in model.staged_predict(d)]
            curves.append(curve + [curve[-1]] * (max_iter - len(curve)))
    if not curves:
        raise ValueError("grouped iterations: no design with two or more labels and some spread")
    mean = np.mean(curves, axis=0)
    return int(np.argmax(mean)) + 1, mean
