r"""Trajectories as a city-wide venue transition graph (the view of GETNext / STHGCN), and GPS points to stay points.

From training trajectories, each a time-ordered list of ``(venue, time)`` visits, the directed graph has one node per
venue and an edge ``u -> v`` for every consecutive pair of visits ``(u, t), (v, t')`` in one trajectory:

- ``edge_weight[u -> v]`` = the number of such transitions;
- ``edge_attr[u -> v]`` = time-gap statistics over them, ``[mean, std, min, max]`` of ``t' - t`` (population std, 0
  for a single transition), in the unit of the times given.

Raw GPS goes through :func:`stay_points` (Li et al. 2008: a stay is a run of points within ``distance_m`` of its first
point lasting at least ``duration_s``), then :func:`stay_locations` (stays snapped to a square grid of ``cell_m``
metres, cell ids by first appearance) into the same :func:`transition_graph`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from graphrep.data.errors import InvalidInputError
from graphrep.data.mobility.checkins import SPLIT_NAMES
from graphrep.data.mobility.llmmob import load_llmmob, split_files

__all__ = ["transition_graph", "stay_points", "stay_locations", "gps_to_transition_graph", "haversine_m", "read_visits"]

EARTH_RADIUS_M = 6_371_000.0


def transition_graph(trajectories: Sequence[Sequence[tuple[int, float]]], num_venues: int | None = None,
                     skip_short: bool = False) -> Data:
    """The directed transition graph of ``trajectories`` (see the module docstring).

    Args:
        trajectories: each a sequence of ``(venue id >= 0, time)``, in time order (ties keep their order).
        num_venues: number of nodes (default: largest venue id + 1).
        skip_short: skip trajectories with fewer than 2 visits and count them in ``data.skipped_short``
            (default: such a trajectory is an error naming it).

    Returns ``Data`` with ``edge_index`` ``[2, E]`` (sorted by source, then target), ``edge_weight`` ``[E]`` counts,
    ``edge_attr`` ``[E, 4]`` gap statistics, ``num_nodes`` and ``skipped_short``.
    """
    if len(trajectories) == 0:
        raise InvalidInputError("transition_graph needs at least one trajectory")
    src, dst, gap, skipped = [], [], [], 0
    for i, traj in enumerate(trajectories):
        arr = np.asarray(traj, dtype=np.float64)
        if arr.ndim != 2 or (arr.size and arr.shape[1] != 2):
            raise InvalidInputError(f"trajectory {i}: expected (venue, time) pairs, got an array of shape {arr.shape}")
        if len(arr) < 2:
            if skip_short:
                skipped += 1
                continue
            raise InvalidInputError(f"trajectory {i} has {len(arr)} point(s); a transition needs at least 2")
        venues, times = arr[:, 0], arr[:, 1]
        if (venues < 0).any() or (venues != np.round(venues)).any():
            raise InvalidInputError(f"trajectory {i}: venue ids must be non-negative integers")
        if (np.diff(times) < 0).any():
            raise InvalidInputError(f"trajectory {i}: times are not in increasing order "
                                    f"(first decrease at visit {int(np.argmax(np.diff(times) < 0)) + 1})")
        src.append(venues[:-1])
        dst.append(venues[1:])
        gap.append(np.diff(times))
    if not src:
        raise InvalidInputError(f"no trajectory has 2 or more visits ({skipped} skipped)")
    s, d, g = (np.concatenate(a) for a in (src, dst, gap))
    s, d = s.astype(np.int64), d.astype(np.int64)
    n = int(max(s.max(), d.max())) + 1
    if num_venues is not None:
        if n > num_venues:
            raise InvalidInputError(f"venue id {n - 1} is outside num_venues={num_venues}")
        n = num_venues
    key = s * n + d
    keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, weights=g) / counts
    var = np.bincount(inverse, weights=(g - mean[inverse]) ** 2) / counts
    lo = np.full(len(keys), np.inf)
    hi = np.full(len(keys), -np.inf)
    np.minimum.at(lo, inverse, g)
    np.maximum.at(hi, inverse, g)
    edge_index = torch.from_numpy(np.stack([keys // n, keys % n]))
    attr = torch.from_numpy(np.stack([mean, np.sqrt(var), lo, hi], 1)).float()
    return Data(edge_index=edge_index, edge_weight=torch.from_numpy(counts).float(), edge_attr=attr, num_nodes=n,
                skipped_short=skipped)


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in metres between points given in degrees (arrays broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def stay_points(lat: Sequence[float], lon: Sequence[float], t: Sequence[float], distance_m: float = 200.0,
                duration_s: float = 1200.0) -> np.ndarray:
    """Stay points of one GPS trace (Li et al. 2008).

    From point ``i``, extend ``j`` while ``dist(p_i, p_j) <= distance_m``; if the run ``i..j-1`` lasts at least
    ``duration_s`` it is a stay (mean position, arrival ``t_i``, departure ``t_{j-1}``) and the scan resumes at ``j``,
    else at ``i + 1``.

    Shapes: lat, lon, t ``[P]`` (degrees, seconds, increasing) -> ``[S, 4]`` rows (lat, lon, arrival, departure)
    """
    lat, lon, t = (np.asarray(a, dtype=np.float64) for a in (lat, lon, t))
    if not (lat.shape == lon.shape == t.shape) or lat.ndim != 1:
        raise InvalidInputError(f"GPS trace: lat, lon, t must be 1-D of one length, got {lat.shape}, {lon.shape}, "
                                f"{t.shape}")
    if len(t) < 2:
        raise InvalidInputError(f"GPS trace has {len(t)} point(s); stay-point detection needs at least 2")
    if (np.diff(t) < 0).any():
        raise InvalidInputError("GPS trace: timestamps are not in increasing order")
    out, i, n = [], 0, len(t)
    while i < n - 1:
        dist = haversine_m(lat[i], lon[i], lat[i + 1:], lon[i + 1:])
        far = np.nonzero(dist > distance_m)[0]
        j = i + 1 + (int(far[0]) if far.size else n - i - 1)
        if t[j - 1] - t[i] >= duration_s:
            out.append((lat[i:j].mean(), lon[i:j].mean(), t[i], t[j - 1]))
            i = j
        else:
            i += 1
    return np.asarray(out, dtype=np.float64).reshape(-1, 4)


def stay_locations(stays: Sequence[np.ndarray], cell_m: float = 250.0) -> tuple[list[np.ndarray], dict]:
    """Snap the stays of every trace to grid cells of ``cell_m`` metres; cells get ids by first appearance.

    Returns per trace the ``(location id, arrival time)`` rows ``[S, 2]``, and ``cell -> id``.
    """
    all_lat = np.concatenate([s[:, 0] for s in stays if len(s)] or [np.zeros(0)])
    lat0 = float(all_lat.mean()) if all_lat.size else 0.0
    dy = cell_m / (math.pi * EARTH_RADIUS_M / 180.0)
    dx = dy / max(math.cos(math.radians(lat0)), 1e-6)
    ids: dict[tuple[int, int], int] = {}
    out = []
    for s in stays:
        cells = zip(np.floor(s[:, 0] / dy).astype(int).tolist(), np.floor(s[:, 1] / dx).astype(int).tolist())
        loc = [ids.setdefault(c, len(ids)) for c in cells]
        out.append(np.stack([np.asarray(loc, dtype=np.float64), s[:, 2]], 1) if len(s) else np.zeros((0, 2)))
    return out, ids


def gps_to_transition_graph(traces: Sequence[tuple[Sequence[float], Sequence[float], Sequence[float]]],
                            distance_m: float = 200.0, duration_s: float = 1200.0, cell_m: float = 250.0,
                            skip_short: bool = True) -> Data:
    """GPS traces ``(lat, lon, t)`` -> stay points -> grid locations -> :func:`transition_graph`.

    Traces with fewer than 2 stays are skipped and counted in ``skipped_short`` (``skip_short=False``: an error).
    The result also carries ``num_stays`` (per trace).
    """
    stays = [stay_points(la, lo, t, distance_m, duration_s) for la, lo, t in traces]
    visits, _ = stay_locations(stays, cell_m)
    graph = transition_graph([v.tolist() for v in visits], skip_short=skip_short)
    graph.num_stays = [len(s) for s in stays]
    return graph


def read_visits(folder, parts: Sequence[str] = ("train", "valid", "test")) -> dict[str, np.ndarray]:
    """Visits of an LLM-Mob style check-in folder (``<part>.csv[.gz]`` with ``user_id, location_id, start_day,
    start_min``), e.g. ``mobility/fsq_nyc`` or ``mobility/geolife``, read by the one reader of that layout,
    :func:`graphrep.data.mobility.llmmob.load_llmmob` (its error policy: malformed rows are skipped, counted and named;
    a mostly-malformed file is an error).

    Returns per part an ``[n, 3]`` int64 array of (user, venue, minute), sorted by user then time (ties in file
    order): user and venue are the original integer ids (vocabulary indices where an id is not an integer), minute is
    the reader's local time, ``1440 * start_day + start_min`` shifted per user so that the released weekday holds
    (differences within a user are the released ones).
    """
    folder = Path(folder)
    present = {path.name.split(".")[0] for _, path in split_files(folder)}
    for part in parts:
        if part not in present:
            raise InvalidInputError(f"{folder}: no {part}.csv.gz or {part}.csv (an LLM-Mob style check-in folder)")
    data = load_llmmob(folder)
    c = data.checkins
    user, venue = _integer_ids(c.user_ids)[c.user], _integer_ids(c.venue_ids)[c.venue]
    out = {}
    for part in parts:
        sel = data.split == SPLIT_NAMES.index(part)
        if not sel.any():
            raise InvalidInputError(f"{folder}: no usable visits in {part} ({c.skipped.summary()})")
        out[part] = np.stack([user[sel], venue[sel], c.time[sel]], 1).astype(np.int64)
    return out


def _integer_ids(ids: Sequence[str]) -> np.ndarray:
    """``[n]`` int64: the ids as integers when every one is, else their indices."""
    try:
        return np.asarray([int(i) for i in ids], dtype=np.int64)
    except ValueError:
        return np.arange(len(ids), dtype=np.int64)
