"""Validation-based model selection: keep the weights of the epoch with the best validation score, stop early.

A loop calls :meth:`BestEpoch.update` after each epoch with a validation loss (lower is better) and the module; the
object keeps a CPU copy of the module's ``state_dict`` at the best epoch so far and counts the epochs since it last
improved. :attr:`BestEpoch.stop` turns true once ``patience`` epochs passed without improvement (``patience`` 0: never
stops early, still selects). :meth:`BestEpoch.restore` loads the selected weights back. Its :meth:`state_dict` goes
into a loop checkpoint, so that a resumed run selects exactly as an uninterrupted one.

The validation data must come from the training side of a split: a held-out test set used here would be tuned on.
"""

from __future__ import annotations

import math

import torch


class BestEpoch:
    """The best epoch by a validation loss (lower is better), its weights, and early stopping after ``patience``
    epochs without an improvement larger than ``min_delta``."""

    def __init__(self, patience: int = 0, min_delta: float = 0.0):
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.best = math.inf
        self.best_epoch = -1
        self.bad = 0
        self.epochs_seen = 0
        self.best_state: dict | None = None
        self.history: list[float] = []

    def update(self, epoch: int, value: float, module: torch.nn.Module) -> bool:
        """Record epoch ``epoch``'s validation loss; keep ``module``'s weights when it is the best so far (a NaN
        never is). True when it improved."""
        value = float(value)
        self.history.append(value)
        self.epochs_seen = epoch + 1
        if value == value and value < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad = value, epoch, 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
            return True
        self.bad += 1
        return False

    @property
    def stop(self) -> bool:
        return self.patience > 0 and self.bad >= self.patience

    def restore(self, module: torch.nn.Module) -> None:
        """Load the selected weights into ``module`` (nothing when no epoch was recorded)."""
        if self.best_state is not None:
            module.load_state_dict(self.best_state)

    def summary(self) -> dict:
        """``best_epoch`` (0-based), ``best_val`` and ``epochs_run``, for results files."""
        return {"best_epoch": self.best_epoch, "best_val": self.best, "epochs_run": self.epochs_seen}

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad": self.bad, "epochs_seen": self.epochs_seen,
                "best_state": self.best_state, "history": list(self.history)}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.bad = float(state["best"]), int(state["best_epoch"]), int(state["bad"])
        self.epochs_seen, self.best_state = int(state["epochs_seen"]), state["best_state"]
        self.history = list(state["history"])
