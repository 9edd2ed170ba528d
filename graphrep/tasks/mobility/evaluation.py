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

from .baselines import baseline_scores, history_counts
from .exploration import exploration_metrics, novel_targets, slate_ranks

__all__ = ["collect_ranks", "model_ranks", "baseline_ranks", "evaluate_ranks"]


@torch.no_grad()
def collect_ranks(windows: Windows, score: Callable[[dict], tuple[torch.Tensor, torch.Tensor]],
                  batch_size: int = 16, explore_slots: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``score(batch) -> (scores [M, V], targets [M])`` over every window in order -> (ranks ``[T]``, rows ``[T]``,
    unvisited ranks ``[T]``), ``T`` the scored targets, ``rows`` their check-in rows; the unvisited rank counts only
    venues the user has not visited before the target, :math:`1 + \#\{v \notin H : s_v > s_{target}\}` (the
    ranking of the non-history path; meaningful for targets new to the user). With ``explore_slots > 0`` the ranks are
    those of :func:`~graphrep.tasks.mobility.exploration.slate_ranks` (the last ``explore_slots`` of the top 5 kept for
    unvisited venues); the unvisited ranks do not change."""
    ranks, unvisited = [], []
    for s in range(0, len(windows), batch_size):
        batch = windows.batch(torch.arange(s, min(s + batch_size, len(windows))))
        scores, targets = score(batch)
        visited = history_counts(batch, scores.size(1))[0] > 0
        ranks.append(slate_ranks(scores, targets, visited, explore_slots))
        unvisited.append(target_ranks(scores.masked_fill(visited, float("-inf")), targets))
    rows = windows.target_rows[windows.targets >= 0]
    r = torch.cat(ranks) if ranks else torch.zeros(0, dtype=torch.int64)
    if len(r) != len(rows):
        raise RuntimeError(f"{len(r)} ranks for {len(rows)} targets")
    u = torch.cat(unvisited) if unvisited else torch.zeros(0, dtype=torch.int64)
    return r.numpy(), rows.numpy(), u.numpy()


def model_ranks(model, data, part: str = "test", batch_size: int = 16,
                explore_slots: int = 0) -> tuple[np.ndarray, ...]:
    """Ranks of a :class:`~graphrep.models.trajmoe.TrajMoE` on ``data.windows[part]`` (a ``CityData``); with
    ``explore_slots``, in the list of :func:`~graphrep.tasks.mobility.exploration.slate_ranks`."""
    model.eval()
    return collect_ranks(data.windows[part], lambda b: model(data.features, b, data.graph, data.markov,
                                                                users=data.user_visits), batch_size,
                         explore_slots)


def baseline_ranks(data, name: str, part: str = "test", batch_size: int = 16) -> tuple[np.ndarray, ...]:
    """Ranks of rule baseline ``name`` (:mod:`graphrep.tasks.mobility.baselines`) on ``data.windows[part]``."""
    return collect_ranks(data.windows[part], lambda b: baseline_scores(name, b, data.train_counts, data.markov),
                         batch_size)


def evaluate_ranks(data, ranks: np.ndarray, rows: np.ndarray,
                   unvisited: np.ndarray | None = None) -> dict[str, float]:
    """Exploration metrics of ``ranks`` whose targets are check-in ``rows`` of ``data.checkins`` (with the unvisited
    ranks of :func:`collect_ranks`, also ``new-among-unvisited/...`` metrics on the new targets)."""
    novel = novel_targets(data.checkins.user, data.checkins.venue)
    return exploration_metrics(ranks, novel[rows], unvisited)
