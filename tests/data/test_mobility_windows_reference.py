""":func:`build_windows` and :func:`spatial_priors` (array operations) against slow references written from the
definitions in :mod:`graphrep.data.mobility.sequences`, one window, position or row at a time, on small random
check-ins: integer fields equal, float fields equal up to float32 rounding."""

import numpy as np
import pytest
import torch

from graphrep.data.mobility import chronological_split, trajectory_ids
from graphrep.data.mobility.checkins import CheckIns, SkipLog
from graphrep.data.mobility import sequences
from graphrep.data.mobility.sequences import _NEVER, SLOTS, build_windows, spatial_priors, time_slot


def random_checkins(seed: int, users: int = 7, venues: int = 5) -> CheckIns:
    """Users with 1 to 40 check-ins among a few venues (so revisits and self-moves are common), times non-decreasing per
    user with some ties."""
    rng = np.random.default_rng(seed)
    user, venue, time = [], [], []
    for u in range(users):
        n = int(rng.choice([1, 2, 3, int(rng.integers(4, 41))]))
        t = int(rng.integers(0, 10_000)) + 22_000_000
        for _ in range(n):
            t += int(rng.choice([0, int(rng.integers(1, 3000))]))
            user.append(u)
            venue.append(int(rng.integers(venues)))
            time.append(t)
    lat = 35 + rng.random(venues) / 10
    lon = 139 + rng.random(venues) / 10
    return CheckIns("rnd", np.array(user, dtype=np.int64), np.array(venue, dtype=np.int64),
                    np.array(time, dtype=np.int64), [str(u) for u in range(users)], [f"v{v}" for v in range(venues)],
                    [f"c{v % 2}" for v in range(venues)], lat, lon, np.ones(venues, dtype=bool), SkipLog())


def reference_windows(c: CheckIns, split, part, priors, length, chunk, users=None) -> list[dict]:
    """One dict per window, each field computed from its definition with plain loops."""
    user, venue, time = c.user.tolist(), c.venue.tolist(), c.time.tolist()
    out = []
    for u in sorted(set(user)):
        if users is not None and u not in set(users):
            continue
        mine = [r for r in range(len(user)) if user[r] == u]
        u0 = mine[0]
        targets = [r for r in mine[1:] if split[r] == part]
        if not targets:
            continue
        for a in range(targets[0], targets[-1] + 1, chunk):
            b = min(a + chunk, targets[-1] + 1)
            e = b - 1
            s = max(u0, e - length)
            cands = sorted(set(venue[u0:e]))
            win = {"user": u, "candidates": cands, "inputs": [0] * length, "targets": [-1] * length,
                   "times": [0] * length, "mask": [False] * length, "local": [0] * length, "rows": [-1] * length,
                   "target_times": [0] * length, "priors": np.zeros((length, priors.shape[1]), dtype=np.float32),
                   "trans": np.zeros((length, len(cands)), dtype=np.float32)}
            before = range(u0, s)
            win["base_counts"] = [sum(venue[r] == v for r in before) for v in cands]
            win["base_last"] = [max([time[r] for r in before if venue[r] == v], default=_NEVER) for v in cands]
            win["base_slots"] = [[sum(venue[r] == v and int(time_slot(time[r])) == k for r in before)
                                  for k in range(SLOTS)] for v in cands]
            for p in range(e - s):
                r = s + p
                win["inputs"][p], win["times"][p], win["mask"][p] = venue[r], time[r], True
                win["priors"][p] = priors[r]
                win["local"][p] = cands.index(venue[r])
                if r + 1 >= a:  # position p predicts item r + 1
                    win["targets"][p], win["rows"][p], win["target_times"][p] = venue[r + 1], r + 1, time[r + 1]
                for k, v in enumerate(cands):  # moves venue[r] -> v of this user among rows <= r
                    win["trans"][p, k] = sum(venue[q - 1] == venue[r] and venue[q] == v for q in range(u0 + 1, r + 1))
            out.append(win)
    return out


def assert_same(w, ref, length):
    assert len(w) == len(ref)
    assert w.inputs.shape == (len(ref), length) and w.priors.dtype == torch.float32
    for i, r in enumerate(ref):
        for name, field in [("inputs", "inputs"), ("targets", "targets"), ("times", "times"), ("mask", "mask"),
                            ("local", "local"), ("rows", "target_rows"), ("target_times", "target_times")]:
            assert getattr(w, field)[i].tolist() == r[name], (i, name)
        assert int(w.user[i]) == r["user"]
        assert w.candidates[i].dtype == torch.int64 and w.candidates[i].tolist() == r["candidates"]
        assert w.base_counts[i].dtype == torch.float32 and w.base_counts[i].tolist() == r["base_counts"]
        assert w.base_last[i].dtype == torch.float32
        np.testing.assert_allclose(w.base_last[i].numpy(), np.array(r["base_last"], dtype=np.float32))
        assert w.base_slots[i].shape == (len(r["candidates"]), SLOTS)
        assert w.base_slots[i].tolist() == r["base_slots"]
        assert w.trans[i].shape == (length, len(r["candidates"])) and w.trans[i].dtype == torch.float32
        np.testing.assert_array_equal(w.trans[i].numpy(), r["trans"])
        np.testing.assert_allclose(w.priors[i].numpy(), r["priors"])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("length,chunk", [(4, 4), (6, 3), (5, 1), (64, 32)])
@pytest.mark.parametrize("step", [None, 1, 7])
def test_build_windows_matches_the_reference(seed, length, chunk, step, monkeypatch):
    if step is not None:  # the chunked passes, a few rows (or one) at a time
        monkeypatch.setattr(sequences, "_CHUNK", step)
    c = random_checkins(seed)
    rng = np.random.default_rng(100 + seed)
    priors = rng.normal(size=(len(c), 4)).astype(np.float32)
    splits = [chronological_split(c), rng.integers(0, 3, size=len(c))]  # the real split, and scattered targets
    for split in splits:
        for part in (0, 1, 2):
            ref = reference_windows(c, split, part, priors, length, chunk)
            assert_same(build_windows(c, split, part, priors, length, chunk), ref, length)
    users = [1, 4, 5]
    ref = reference_windows(c, splits[0], 0, priors, length, chunk, users=users)
    assert_same(build_windows(c, splits[0], 0, priors, length, chunk, users=np.array(users)), ref, length)


def test_build_windows_without_targets_is_empty():
    c = random_checkins(0)
    priors = np.zeros((len(c), 4), dtype=np.float32)
    w = build_windows(c, np.zeros(len(c), dtype=np.int64), 2, priors, length=8)
    assert len(w) == 0 and w.inputs.shape == (0, 8) and w.candidates == [] and w.trans == []
    assert len(build_windows(c, chronological_split(c), 0, priors, length=8, users=np.array([], dtype=np.int64))) == 0


def reference_priors(c: CheckIns, xy: np.ndarray, trajectory: np.ndarray) -> np.ndarray:
    """The four priors of every row from the module docstring, one row at a time."""
    out = np.zeros((len(c), 4))
    for i in range(len(c)):
        first = i
        while first > 0 and trajectory[first - 1] == trajectory[i]:
            first -= 1
        visited = [int(v) for v in c.venue[first:i + 1]]
        points = xy[visited]
        out[i, 0] = np.log1p(0.0 if i == first else np.hypot(*(xy[c.venue[i]] - xy[c.venue[i - 1]])))
        out[i, 1] = np.log1p(np.sqrt(max((points ** 2).sum(1).mean() - (points.mean(0) ** 2).sum(), 0.0)))
        n = len(visited)
        out[i, 2] = np.log(n) - sum(k * np.log(k) for k in np.unique(visited, return_counts=True)[1]) / n
        same_user = i > 0 and c.user[i - 1] == c.user[i]
        out[i, 3] = np.log1p((c.time[i] - c.time[i - 1]) / 60.0 if same_user else 0.0)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_spatial_priors_match_the_reference(seed):
    c = random_checkins(seed, users=9)
    xy = np.random.default_rng(seed).normal(scale=3.0, size=(c.num_venues, 2))
    for hours in (1.0, 24.0, 1e6):  # trajectories cut at gaps of an hour, a day, never
        traj = trajectory_ids(c, hours)
        got = spatial_priors(c, xy, traj)
        assert got.dtype == np.float32 and got.shape == (len(c), 4)
        np.testing.assert_allclose(got, reference_priors(c, xy, traj), rtol=1e-5, atol=1e-5)
