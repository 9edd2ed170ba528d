r"""Venue features computed from the training split only, in units shared by every city.

For venue :math:`v` with training check-ins :math:`T_v` (never valid/test rows):

- ``category``: sentence embedding of the category name (all-MiniLM-L6-v2 by default, L2-normalised), so New York's
  and Tokyo's categories live in one space;
- ``xy``: local planar coordinates in km from the city's venue centroid,
  :math:`x = 111.32 \cos(\bar\phi)(\lambda - \bar\lambda)`, :math:`y = 110.57 (\phi - \bar\phi)`, and ``coords`` the
  same divided by the city's RMS venue radius (normalised per city); ``exact``: 1 for a surveyed coordinate, 0 for a
  plus-code cell centre;
- ``popularity``: :math:`1 - r_v/(V - 1)` with :math:`r_v = |\{u : |T_u| > |T_v|\}|` (1 = most visited; ties share
  the best rank, unvisited venues the lowest) and :math:`\log(1+|T_v|)/\log(1+\max_u |T_u|)`;
- ``hours``: hour-of-week histogram :math:`h_v[k] = |\{t \in T_v: \mathrm{how}(t) = k\}| / |T_v|`, 168 bins
  (Monday 00:00 = bin 0), all zero for a venue with no training visit.

A training target's own check-in is one of these visits, and a test target's never is: :func:`leave_visit_out`
recomputes the popularity and histogram of the target venues without that one visit (for a venue seen once in training,
the histogram would otherwise be 1 at exactly the target's hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import InvalidInputError
from .checkins import CheckIns

__all__ = ["VenueFeatures", "venue_features", "leave_visit_out", "hour_of_week", "HOURS_PER_WEEK"]

HOURS_PER_WEEK = 168


def hour_of_week(minutes: np.ndarray | torch.Tensor):
    """Hour-of-week bin 0..167 (Monday 00:00-00:59 = 0) of local minutes since 1970-01-01 (a Thursday)."""
    hours = minutes // 60
    return (hours + 3 * 24) % HOURS_PER_WEEK


@dataclass
class VenueFeatures:
    """Per-venue features of one city (see the module docstring); ``matrix()`` concatenates them.

    Shapes: category ``[V, C]``, coords ``[V, 2]``, xy ``[V, 2]`` (km), exact ``[V, 1]``, popularity ``[V, 2]``,
    hours ``[V, 168]``; ``matrix()`` -> ``[V, C + 173]``; ``train_counts`` ``[V]`` and ``visits`` ``[V, 168]`` the raw
    training visit counts (total and per hour of week).
    """

    category: torch.Tensor
    coords: torch.Tensor
    xy: torch.Tensor
    exact: torch.Tensor
    popularity: torch.Tensor
    hours: torch.Tensor
    train_counts: torch.Tensor
    visits: torch.Tensor | None = None

    def matrix(self) -> torch.Tensor:
        return torch.cat([self.category, self.coords, self.exact, self.popularity, self.hours], dim=1)

    @property
    def num_venues(self) -> int:
        return self.category.size(0)

    @property
    def dim(self) -> int:
        return self.category.size(1) + 2 + 1 + 2 + HOURS_PER_WEEK


def _planar_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    lat0, lon0 = float(np.mean(lat)), float(np.mean(lon))
    return np.stack([111.32 * np.cos(np.radians(lat0)) * (lon - lon0), 110.57 * (lat - lat0)], axis=1)


_ROWS = 1 << 16


def _visit_counts(venue: np.ndarray, time: np.ndarray, mask: np.ndarray, num_venues: int) -> np.ndarray:
    """``[V, 168]`` float64 counts of the rows where ``mask`` is True, per venue and hour of week; read in blocks of
    rows, so the temporaries are a block's, never the whole input's (issue 26)."""
    visits = np.zeros(num_venues * HOURS_PER_WEEK, dtype=np.int64)
    for r in range(0, len(venue), _ROWS):
        keep = mask[r:r + _ROWS]
        flat = venue[r:r + _ROWS][keep] * HOURS_PER_WEEK + hour_of_week(time[r:r + _ROWS][keep])
        np.add.at(visits, flat, 1)  # unbuffered: repeated bins all count
    return visits.reshape(num_venues, HOURS_PER_WEEK).astype(np.float64)


def venue_features(checkins: CheckIns, train_mask: np.ndarray,
                   embed_categories: Callable[[Sequence[str]], torch.Tensor] | None = None,
                   planar: bool = True) -> VenueFeatures:
    """Features of every venue in ``checkins`` from the rows where ``train_mask`` is True.

    Args:
        train_mask: ``[N]`` bool, the training rows (e.g. ``chronological_split(c) == 0``, possibly restricted to a
            subset of users); valid/test rows never enter the counts or histograms.
        embed_categories: texts -> ``[n, C]`` embeddings; default :class:`graphrep.data.text.TextEncoder` (offline MiniLM).
        planar: coordinates are degrees (convert to km); ``False`` for layouts whose coordinates are already normalised.
    """
    train_mask = np.asarray(train_mask, dtype=bool)
    if train_mask.shape != checkins.venue.shape:
        raise InvalidInputError(f"train_mask must have one entry per check-in ({len(checkins)}), got {train_mask.shape}")
    if embed_categories is None:
        from ..text import TextEncoder

        embed_categories = TextEncoder(show_progress=False)
    names = sorted(set(checkins.venue_category))
    table = embed_categories(names)
    if table.dim() != 2 or table.size(0) != len(names):
        raise InvalidInputError(f"category embedding returned {tuple(table.shape)} for {len(names)} names")
    index = {n: i for i, n in enumerate(names)}
    category = table[torch.tensor([index[c] for c in checkins.venue_category])].float()

    xy = _planar_km(checkins.venue_lat, checkins.venue_lon) if planar else \
        np.stack([checkins.venue_lon, checkins.venue_lat], axis=1) - np.array([[checkins.venue_lon.mean(),
                                                                               checkins.venue_lat.mean()]])
    radius = float(np.sqrt((xy ** 2).sum(1).mean())) or 1.0

    v = checkins.num_venues
    visits = _visit_counts(checkins.venue, checkins.time, train_mask, v)
    counts = visits.sum(1)
    hours = visits / np.maximum(counts, 1.0)[:, None]
    rank = v - np.searchsorted(np.sort(counts), counts, side="right")  # venues visited more often
    rank_score = 1.0 - rank / max(v - 1, 1)
    log_count = np.log1p(counts) / max(np.log1p(counts.max()), 1e-12)

    f32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    return VenueFeatures(category=category, coords=f32(xy / radius), xy=f32(xy),
                         exact=f32(checkins.venue_exact.astype(np.float64))[:, None],
                         popularity=f32(np.stack([rank_score, log_count], axis=1)), hours=f32(hours),
                         train_counts=f32(counts), visits=f32(visits))


def leave_visit_out(rows: torch.Tensor, venue: torch.Tensor, hour: torch.Tensor, visits: torch.Tensor,
                    category_dim: int) -> torch.Tensor:
    r"""Feature rows of ``venue`` as :func:`venue_features` would give them without one training visit at hour of
    week ``hour``: with :math:`c` the venue's count and :math:`n_k` its visits at hour :math:`k`,
    :math:`r' = |\{u \ne v: c_u > c - 1\}|`, :math:`\log(1 + c - 1)/\log(1 + \max_u c_u)` (the city's maximum kept)
    and :math:`h'_k = (n_k - [k = \text{hour}]) / \max(c - 1, 1)`. Rows whose venue has no visit at ``hour`` are
    returned unchanged (that visit is not in the counts).

    Shapes: rows ``[M, C + 173]`` (``matrix()`` rows of ``venue``); venue, hour ``[M]`` int64; visits ``[V, 168]``
    (``VenueFeatures.visits``) -> ``[M, C + 173]``.
    """
    counts = visits.sum(1)
    own = visits[venue]  # [M, 168]
    held = (own.gather(1, hour[:, None]) >= 1).to(own.dtype)  # [M, 1]
    own = own.scatter_add(1, hour[:, None], -held)
    c = counts[venue] - held[:, 0]
    v = visits.size(0)
    higher = v - torch.searchsorted(counts.sort().values.contiguous(), c.contiguous(), right=True)
    higher = higher - (held[:, 0] > 0).long()  # the venue itself, still counted with c + 1 > c
    p = category_dim + 3  # category, 2 coordinates, the exactness flag, then popularity and the histogram
    out = rows.clone()
    out[:, p] = 1.0 - higher.to(rows.dtype) / max(v - 1, 1)
    out[:, p + 1] = torch.log1p(c) / torch.log1p(counts.max()).clamp_min(1e-12)
    out[:, p + 2:p + 2 + HOURS_PER_WEEK] = own / c.clamp_min(1.0)[:, None]
    return out
