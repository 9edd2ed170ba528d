r"""Tail-weighted regression: more weight on the largest training labels (the nets that set timing).

The weight of a label is :math:`w(y) = 1 + a\,\mathbb 1[y \ge t]` with :math:`t` the ``quantile`` of the training
labels (fixed once, from the training labels only), normalised so that the weights of the training labels average 1
(the loss keeps plain MSE's scale): :math:`\tilde w(y) = w(y) / \overline{w}`. :func:`tail_weighted_mse` is
:math:`\sum_i \tilde w(y_i) (\hat y_i - y_i)^2 / n`. ``a = 0`` is plain MSE. The same weights serve as sample weights
for a tree model (:func:`tail_weights`).
"""

from __future__ import annotations

import numpy as np
from torch import Tensor


class TailWeights:
    """:math:`\\tilde w(y)` of the module docstring: ``threshold`` the ``quantile`` of ``y_train``, ``norm`` the mean
    of :math:`w` over ``y_train``. Call on a tensor or array of labels [n] -> weights [n] (same type)."""

    def __init__(self, y_train, weight: float, quantile: float = 0.8):
        if weight < 0 or not 0.0 < quantile < 1.0:
            raise ValueError(f"tail weight must be >= 0 and quantile in (0, 1), got {weight}, {quantile}")
        y = np.asarray(y_train, dtype=np.float64).reshape(-1)
        if y.size == 0:
            raise ValueError("tail weights need at least one training label")
        self.weight = float(weight)
        self.threshold = float(np.quantile(y, quantile))
        self.norm = float(np.mean(1.0 + self.weight * (y >= self.threshold)))

    def __call__(self, y):
        if isinstance(y, Tensor):
            return (1.0 + self.weight * (y >= self.threshold).to(y.dtype)) / self.norm
        y = np.asarray(y, dtype=np.float64)
        return (1.0 + self.weight * (y >= self.threshold)) / self.norm


def tail_weights(y_train, weight: float, quantile: float = 0.8) -> np.ndarray:
    """The normalised weights of the training labels themselves ([n], mean 1): sample weights for a tree model."""
    return TailWeights(y_train, weight, quantile)(np.asarray(y_train, dtype=np.float64).reshape(-1))


def tail_weighted_mse(weights: TailWeights):
    """A criterion ``(out, y) -> loss``: the tail-weighted MSE with ``weights`` fixed from the training labels."""
    def loss(out: Tensor, y: Tensor) -> Tensor:
        return (weights(y) * (out - y) ** 2).mean()
    return loss
