"""Ranks of a model or a rule baseline on one split's windows, with the check-in row of each target, and the
exploration metrics of those ranks (:mod:`graphrep.tasks.mobility.exploration`).

Ranks come out in the row-major order of the windows' scored positions, the order of ``Windows.target_rows``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from graphrep.data.mobility.sequences import Windows
from graphrep.train.metrics import target_ranks

from .baselines import baseline_scores
from .exploration import exploration_metrics, novel_targets

__all__ = ["collect_ranks", "model_ranks", "baseline_ranks", "evaluate_ranks"]


@torch.no_grad()
def collect_ranks(windows: Windows, score: Callable[[dict], tuple[torch.Tensor, torch.Tensor]],
                  batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """``score(batch) -> (scores [M, V], targets [M])`` over every window in order -> (ranks ``[T]``, rows ``[T]``),
    ``T`` the scored targets, ``rows`` their check-in rows."""
    ranks = []
    for s in range(0, len(windows), batch_size):
        scores, targets = score(windows.batch(torch.arange(s, min(s + batch_size, len(windows)))))
        ranks.append(target_ranks(scores, targets))
    rows = windows.target_rows[windows.targets >= 0]
    r = torch.cat(ranks) if ranks else torch.zeros(0, dtype=torch.int64)
    if len(r) != len(rows):
        raise RuntimeError(f"{len(r)} ranks for {len(rows)} targets")
    return r.numpy(), rows.numpy()


def model_ranks(model, data, part: str = "test", batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of a :class:`~graphrep.models.trajmoe.TrajMoE` on ``data.windows[part]`` (a ``CityData``)."""
    model.eval()
    return collect_ranks(data.windows[part], lambda b: model(data.features, b, data.graph), batch_size)


def baseline_ranks(data, name: str, part: str = "test", batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of rule baseline ``name`` (:mod:`graphrep.tasks.mobility.baselines`) on ``data.windows[part]``."""
    return collect_ranks(data.windows[part], lambda b: baseline_scores(name, b, data.train_counts, data.markov),
                         batch_size)


def evaluate_ranks(data, ranks: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    """Exploration metrics of ``ranks`` whose targets are check-in ``rows`` of ``data.checkins``."""
    novel = novel_targets(data.checkins.user, data.checkins.venue)
    return exploration_metrics(ranks, novel[rows])
