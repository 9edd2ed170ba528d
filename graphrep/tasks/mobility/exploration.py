r"""Exploration metrics: next-location metrics on targets new to the user and on returns, separately.

A target check-in :math:`r` of user :math:`u` at venue :math:`v_r` is **new** iff :math:`v_r` is absent from every
earlier check-in of :math:`u` (all splits: :math:`v_r \notin \{v_q : q < r,\ u_q = u\}`), otherwise a **return**.
A model that only copies the user's history scores zero Acc@k on new targets beyond what its fallback gives.
"""

from __future__ import annotations

import numpy as np

from graphrep.train.metrics import ranking_metrics

__all__ = ["novel_targets", "exploration_metrics", "PARTS"]

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
