r"""Which non-history signals rank a user's *new* venues among the venues they have not visited (no training).

For every validation target new to its user (absent from all the user's earlier check-ins) the unvisited venues are
ranked by one signal computed from the training rows only, and Acc@1/5/10 of the target among them is reported,
per cell (per-user split NYC / TKY with categories, LLM-Mob's NYC split). Ties go to the target (as
``graphrep.train.metrics.target_ranks``); every signal but popularity is broken by popularity (a tiny multiple of the
log-count), as a learned combination would. Signals, with :math:`S` the user's visited venues before the target,
:math:`c` the current venue, :math:`B` the binary user x venue matrix of training visits, :math:`C = B^\top B`
(users who visited both), :math:`M` the all-users training transition counts, :math:`n_v` training visits:

- ``popularity``: :math:`n_v`;
- ``markov`` :math:`M_{cv}` (the existing psi); ``markov2``: :math:`(\bar M \bar M)_{cv}` (row-normalised, 2 steps);
- ``covisit``: :math:`\sum_{w \in S} C_{wv}` with the user's own row left out
  (:math:`C^{-u} = C - b_u b_u^\top`); ``covisit/cos``: :math:`\sum_{w \in S} C_{wv} / \sqrt{|U_w| |U_v|}`;
  ``covisit/n_v``: :math:`\sum_{w \in S} C_{wv} / |U_v|^{1/2}`;
- ``user-knn``: :math:`\sum_{u' \ne u} \cos(S, T_{u'})\, b_{u'v}` (venues popular with similar users);
- ``near current``, ``near centroid``, ``near home``: :math:`-d` in km from the current venue, the user's visit-weighted
  centroid, the user's most visited venue; ``pop x near current``: :math:`\log(1+n_v) - \log(1 + d(c, v))`;
- ``category transition`` (categorised cells): :math:`P(\kappa_v \mid \kappa_c)\, n_v / n_{\kappa_v}`;
- ``hour-of-week pop``: training visits of :math:`v` in the target's hour of week :math:`\pm 1` h;
- ``... + pop`` combinations: :math:`\log(1 + s_v) + \log(1 + n_v)`.

    python benchmarks/mobility_exploration_signals.py      # writes results/mobility_exploration_signals.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from graphrep.data.mobility import CITY_LAYOUTS, chronological_split, hour_of_week, load_checkins, venue_features
from graphrep.data.mobility.llmmob import load_llmmob
from graphrep.tasks.mobility.exploration import novel_targets


class _F32List(list):
    def append(self, x):
        super().append(np.asarray(x, dtype=np.float32))


def signals(c, split, part=1):
    """name -> [T, V] scores for the new targets of split ``part``, and the targets and the visited masks."""
    user, venue, tm = c.user, c.venue, c.time
    nv, nu = c.num_venues, c.num_users
    train = split == 0
    pop = np.bincount(venue[train], minlength=nv).astype(np.float64)
    lpop = np.log1p(pop)
    b = np.zeros((nu, nv))
    b[user[train], venue[train]] = 1.0
    cmat = b.T @ b
    users_of = b.sum(0)
    same = np.r_[user[1:] == user[:-1]]
    pair = train[:-1] & train[1:] & same
    m = np.zeros((nv, nv))
    np.add.at(m, (venue[:-1][pair], venue[1:][pair]), 1.0)
    mn = m / np.maximum(m.sum(1, keepdims=True), 1.0)
    visits = np.zeros((nv, 168))
    np.add.at(visits, (venue[train], hour_of_week(tm[train])), 1.0)
    planar = bool(np.all(np.abs(c.venue_lat) <= 90)) and c.city not in ("fsq_nyc", "fsq_tky", "geolife")
    no_category = lambda names: torch.zeros(len(names), 1)  # noqa: E731 (only the coordinates are read)
    xy = venue_features(c, train, embed_categories=no_category, planar=planar).xy.double().numpy()
    cats = sorted(set(c.venue_category))
    has_cat = len(cats) > 1
    cat = np.array([cats.index(k) for k in c.venue_category]) if has_cat else np.zeros(nv, dtype=int)
    nk = len(cats)
    ct = np.zeros((nk, nk))
    np.add.at(ct, (cat[venue[:-1][pair]], cat[venue[1:][pair]]), 1.0)
    ct = (ct + 0.1) / (ct + 0.1).sum(1, keepdims=True)
    cat_pop = np.bincount(cat, weights=pop, minlength=nk)
    within = pop / np.maximum(cat_pop[cat], 1.0)

    is_new = novel_targets(user, venue)
    rows = np.flatnonzero((split == part) & is_new & np.r_[False, same])
    # per target: visited set (all the user's earlier rows), incremental co-visit sums
    out = {k: _F32List() for k in ("popularity", "markov", "markov2", "covisit", "covisit/cos", "covisit/n_v", "user-knn",
                           "near current", "near centroid", "near home", "pop x near current", "hour-of-week pop",
                           "category transition")}
    visited_rows, targets = [], []
    starts = np.flatnonzero(np.r_[True, ~same])
    ends = np.r_[starts[1:], len(user)]
    want = np.zeros(len(user), dtype=bool)
    want[rows] = True
    inv_sqrt_users = 1.0 / np.sqrt(np.maximum(users_of, 1.0))
    train_sizes = np.maximum(b.sum(1), 1.0)
    overlaps = []
    for s, e in zip(starts, ends):
        if not want[s:e].any():
            continue
        u = user[s]
        seen = np.zeros(nv, dtype=bool)
        cnt = np.zeros(nv)
        cov, cos, covn = np.zeros(nv), np.zeros(nv), np.zeros(nv)
        overlap = np.zeros(nu)
        own = b[u]
        for r in range(s, e):
            if want[r]:
                cur = venue[r - 1]
                k = own[seen].sum()  # leave the user's own co-visits out: C^{-u} = C - b_u b_u^T
                out["covisit"].append(cov - k * own)
                out["covisit/cos"].append(cos - (own * inv_sqrt_users) * (own[seen] * inv_sqrt_users[seen]).sum())
                out["covisit/n_v"].append(covn - k * own * inv_sqrt_users)
                ov = overlap.copy()
                ov[u] = 0.0
                overlaps.append(ov / np.sqrt(train_sizes))
                out["markov"].append(m[cur])
                out["markov2"].append(mn[cur] @ mn)
                d = np.linalg.norm(xy - xy[cur], axis=1)
                out["near current"].append(-d)
                out["pop x near current"].append(lpop - np.log1p(d))
                centroid = (cnt[:, None] * xy).sum(0) / cnt.sum()
                out["near centroid"].append(-np.linalg.norm(xy - centroid, axis=1))
                out["near home"].append(-np.linalg.norm(xy - xy[np.argmax(cnt)], axis=1))
                how = hour_of_week(tm[r])
                out["hour-of-week pop"].append(visits[:, [(how - 1) % 168, how, (how + 1) % 168]].sum(1))
                out["category transition"].append(ct[cat[cur]][cat] * within)
                out["popularity"].append(pop)
                visited_rows.append(seen.copy())
                targets.append(venue[r])
            w = venue[r]
            if not seen[w]:
                seen[w] = True
                cov += cmat[w]
                cos += cmat[w] * inv_sqrt_users[w] * inv_sqrt_users
                covn += cmat[w] * inv_sqrt_users
                overlap += b[:, w]
            cnt[w] += 1
    ov = np.stack(overlaps)
    out["user-knn"] = list(ov @ b)
    if not has_cat:
        del out["category transition"]
    scores = {k: np.stack(v) for k, v in out.items()}
    return scores, np.array(targets), np.stack(visited_rows), lpop


def accuracy(score, targets, visited, lpop, tie_break=True):
    s = score + (1e-6 * lpop if tie_break else 0.0)
    s = np.where(visited, -np.inf, s)
    t = s[np.arange(len(targets)), targets]
    rank = 1 + (s > t[:, None]).sum(1)
    return {k: float((rank <= k).mean()) for k in (1, 5, 10)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--part", type=int, default=1, help="1 validation (default), 2 test")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "mobility_exploration_signals.md"))
    a = p.parse_args(argv)
    root = Path(a.root) / "mobility"
    start = time.perf_counter()
    cells = {}
    for name in ("nyc", "tky"):
        c = load_checkins(root / CITY_LAYOUTS[name][0], city=name)
        cells[f"{name.upper()} per-user split"] = (c, chronological_split(c))
    ll = load_llmmob(root / "fsq_nyc", "fsq_nyc")
    cells["LLM-Mob NYC split"] = (ll.checkins, ll.split)
    lines = [f"# Non-history signals on new-venue targets, ranked among the user's unvisited venues "
             f"({'validation' if a.part == 1 else 'test'} split, no training)", "",
             "Written by `benchmarks/mobility_exploration_signals.py` (definitions in its docstring). "
             "Acc@k of the new target among the venues its user had not visited; n = new targets.", ""]
    table = {}
    for cell, (c, split) in cells.items():
        scores, targets, visited, lpop = signals(c, split, a.part)
        res = {k: accuracy(v, targets, visited, lpop, k != "popularity") for k, v in scores.items()}
        for k in ("markov", "markov2", "covisit", "covisit/cos", "covisit/n_v", "user-knn", "hour-of-week pop",
                  "category transition"):
            if k in scores:
                res[f"{k} + pop"] = accuracy(np.log1p(np.maximum(scores[k], 0) * (100 if k == "markov2" else 1))
                                             + lpop, targets, visited, lpop)
        res["covisit/cos + markov + pop"] = accuracy(np.log1p(scores["covisit/cos"]) + np.log1p(scores["markov"])
                                                     + lpop, targets, visited, lpop)
        table[cell] = (len(targets), res)
        print(f"[{time.perf_counter() - start:5.0f} s] {cell}: n={len(targets)}", flush=True)
    names = list(dict.fromkeys(k for _, r in table.values() for k in r))
    lines.append("| signal | " + " | ".join(f"{c} Acc@1 | {c} Acc@5 | {c} Acc@10" for c in table) + " |")
    lines.append("|---|" + "---|" * (3 * len(table)))
    lines.append("| n (new targets) | " + " | ".join(f"{n} | | " for n, _ in table.values()) + " |")
    for k in names:
        cols = []
        for _, r in table.values():
            cols += [f"{100 * r[k][j]:.2f}" if k in r else "-" for j in (1, 5, 10)]
        lines.append(f"| {k} | " + " | ".join(cols) + " |")
    text = "\n".join(lines) + "\n"
    Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
