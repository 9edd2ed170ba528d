r"""Exploration metrics: next-location metrics on targets new to the user and on returns, separately.

A target check-in :math:`r` of user :math:`u` at venue :math:`v_r` is **new** iff :math:`v_r` is absent from every
earlier check-in of :math:`u` (all splits: :math:`v_r \notin \{v_q : q < r,\ u_q = u\}`), otherwise a **return**.
A model that only copies the user's history scores zero Acc@k on new targets beyond what its fallback gives.
"""

from __future__ import annotations

import numpy as np
import torch

from graphrep.data.errors import InvalidInputError
from graphrep.train.metrics import ranking_metrics, target_ranks

__all__ = ["novel_targets", "exploration_metrics", "slate_ranks", "PARTS"]

#: prefixes of the metric keys: all targets, new to the user, returns (and ``new-among-unvisited/``: new targets ranked
#: among the venues the user had not visited, the non-history path alone)
PARTS = ("", "new/", "return/")


def novel_targets(user: np.ndarray, venue: np.ndarray) -> np.ndarray:
    """``[N]`` bool: row ``r`` visits a venue its user had not visited in rows ``< r`` (rows sorted by user, time).
    Shapes: user, venue ``[N]`` -> ``[N]``."""
    user, venue = np.asarray(user), np.asarray(venue)
    if len(user) == 0:
        return np.zeros(0, dtype=bool)
    # first occurrence of each (user, venue) pair in row order
    pair = user.astype(np.int64) * (int(venue.max()) + 1) + venue
    _, first = np.unique(pair, return_index=True)
    out = np.zeros(len(user), dtype=bool)
    out[first] = True
    return out


def exploration_metrics(ranks: np.ndarray, is_new: np.ndarray,
                        unvisited: np.ndarray | None = None) -> dict[str, float]:
    r"""Ranking metrics (:func:`graphrep.train.metrics.ranking_metrics` plus MRR@10 = mean :math:`[r \le 10]/r`) on
    all targets, on new targets (keys ``new/...``) and on returns (``return/...``), with ``new_share`` and the counts
    ``n``, ``new/n``, ``return/n``. With ``unvisited`` (each target's rank among the venues its user had not visited),
    also ``new-among-unvisited/...`` on the new targets. A part without targets has no keys.
    Shapes: ranks, is_new, unvisited ``[M]``."""
    ranks, is_new = np.asarray(ranks, dtype=np.float64), np.asarray(is_new, dtype=bool)
    out: dict[str, float] = {"new_share": float(is_new.mean()) if len(is_new) else 0.0}
    parts = [("", ranks, np.ones_like(is_new)), ("new/", ranks, is_new), ("return/", ranks, ~is_new)]
    if unvisited is not None:
        parts.append(("new-among-unvisited/", np.asarray(unvisited, dtype=np.float64), is_new))
    for prefix, values, sel in parts:
        r = values[sel]
        out[prefix + "n"] = int(sel.sum())
        if not len(r):
            continue
        m = ranking_metrics(r)
        m["mrr@10"] = float(np.where(r <= 10, 1.0 / r, 0.0).mean())
        out.update({prefix + k: v for k, v in m.items()})
    return out


def slate_ranks(scores: torch.Tensor, targets: torch.Tensor, visited: torch.Tensor, slots: int,
                top: int = 5) -> torch.Tensor:
    r"""1-based rank of each target in a list whose last ``slots`` of the first ``top`` positions are reserved for
    venues the user has not visited (exploration slots).

    The list is built greedily: positions :math:`1..top-slots` take the best-scored venue not yet listed, positions
    :math:`top-slots+1..top` the best-scored *unvisited* venue not yet listed, and every later position the best-scored
    venue left, so that below ``top`` the model's order is kept. With ``slots = 0`` this is
    :func:`~graphrep.train.metrics.target_ranks`. A target outside the first ``top`` positions, with plain rank
    :math:`a`, is preceded by the :math:`a - 1` venues scored above it plus the listed venues scored at or below it:
    rank :math:`a + \#\{v \in L : v \neq t,\ s_v \le s_t\}`. Acc@1 is unchanged while ``slots < top``; Acc@k for
    :math:`k \ge top` trades returns for new venues. Ties go to the target, then to the lower venue id, so that
    ``slots = 0`` gives :func:`~graphrep.train.metrics.target_ranks` exactly. A row with fewer unvisited venues than
    slots fills the rest with visited ones.

    Shapes: scores, visited ``[M, V]`` (visited bool), targets ``[M]`` -> ``[M]`` int64.
    """
    if not 0 <= slots <= top:
        raise InvalidInputError(f"exploration slots must be in [0, {top}], got {slots}")
    plain = target_ranks(scores, targets)
    if slots == 0 or not len(targets):
        return plain
    s = torch.nan_to_num(scores.float(), nan=float("-inf"))
    listed = torch.zeros_like(visited, dtype=torch.bool)
    position = torch.zeros(len(targets), dtype=torch.int64)  # 0: not listed
    rows = torch.arange(len(targets))
    for p in range(1, top + 1):
        blocked = listed | visited if p > top - slots else listed
        pick = s.masked_fill(blocked, float("-inf")).argmax(1)
        # a row whose unvisited venues ran out picks among everything not yet listed
        pick = torch.where(blocked[rows, pick], s.masked_fill(listed, float("-inf")).argmax(1), pick)
        # ties in the target's favour, as in target_ranks
        free = ~blocked[rows, targets] | blocked[rows, pick]  # the target may take this position
        tie = (s[rows, targets] == s[rows, pick]) & ~listed[rows, targets] & free
        pick = torch.where(tie, targets, pick)
        listed[rows, pick] = True
        position = torch.where((pick == targets) & (position == 0), torch.full_like(position, p), position)
    st = s[rows, targets].unsqueeze(1)
    after = (listed & (s <= st)).sum(1) - listed[rows, targets].long()
    return torch.where(position > 0, position, torch.clamp(plain + after, max=scores.size(1)))
