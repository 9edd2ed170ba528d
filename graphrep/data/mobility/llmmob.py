r"""LLM-Mob's released splits, read as released, with the test samples LLM-Mob scores.

Layout (``fsq_nyc``, ``geolife``: xlwang233/LLM-Mob @9ace25f ``data/{fsq,geolife}``, MIT; ``fsq_tky``:
Kkhhrr/LLM-Mob-with-Category, valid split only): ``{train,valid,test}.csv.gz`` (or plain ``.csv``) with columns ``id, user_id,
location_id, start_day, start_min, weekday`` and, for Foursquare, ``latitude, longitude`` (normalised, not degrees).
Geolife has no coordinates (every venue gets ``(0, 0)``, ``venue_exact = False``). ``start_day`` counts days from the
user's first record and ``weekday`` is that day's weekday (Monday = 0); times are placed on the calendar so that
:func:`graphrep.data.mobility.hour_of_week` gives the released weekday: minute
:math:`1440\,(d + s_u) + m` with the per-user shift :math:`s_u \equiv w - d - 3 \pmod 7` (1970-01-01 was a Thursday).

The split is the file a row comes from (LLM-Mob's, i.e. MHSA's, per-user 60/20/20 cut by days); it must be
chronological per user. The scored test rows follow MHSA's ``get_valid_sequence`` applied to the test file alone, as
LLM-Mob's ``testset.pk`` was made: a test row of user :math:`u` on day :math:`d` is a sample iff
:math:`d - \min_u d \ge 7` (the minimum over the user's test rows) and at least 3 earlier test rows of :math:`u` have
day :math:`\ge d - 7`. On ``fsq_nyc`` this gives the 12,141 test stays of LLM-Mob's paper.

Malformed rows (wrong number of fields, non-integer day or minute, minute outside 0..1439, empty user or location,
non-finite coordinates, a weekday that disagrees with the user's other rows) are skipped, counted by reason and named
(``file:line``) in ``CheckIns.skipped``; a file with more than ``max_malformed`` of its rows malformed is an error.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataNotFoundError, InvalidInputError
from .checkins import SPLIT_NAMES, CheckIns, SkipLog, _Builder, _rows

__all__ = ["LLMMobData", "load_llmmob", "split_files", "valid_sequence", "LLMMOB_PUBLISHED"]

#: LLM-Mob (Wang et al., 2023, arXiv:2308.15197, Table 2, fsq NYC, n = 12,141 test stays): GPT-3.5 with the top-10
#: prompt, and the "most frequent location" baseline on the same rows.
LLMMOB_PUBLISHED = {
    "source": "LLM-Mob (Wang et al. 2023, arXiv:2308.15197), Foursquare NYC test stays, n = 12,141",
    "LLM-Mob (GPT-3.5)": {"acc@1": 0.2744, "acc@5": 0.5736, "acc@10": 0.6924, "mrr@10": 0.375},
    "most frequent location": {"acc@1": 0.2161},
}

_REQUIRED = ["user_id", "location_id", "start_day", "start_min"]


@dataclass
class LLMMobData:
    """One LLM-Mob dataset: check-ins (sorted by user, time), ``split`` ``[N]`` (0 train, 1 valid, 2 test: the file
    of each row), ``samples`` ``[N]`` bool (the test rows LLM-Mob scores), ``rows`` per file read, ``valid_samples``
    ``[N]`` bool (the same rule applied to the valid file alone: the validation rows of MHSA's protocol, drawn from
    the same population as the scored test rows)."""

    checkins: CheckIns
    split: np.ndarray
    samples: np.ndarray
    rows: dict[str, int]
    valid_samples: np.ndarray | None = None

    def describe(self) -> dict:
        return {"checkins": len(self.checkins), "users": self.checkins.num_users,
                "venues": self.checkins.num_venues, "rows": self.rows, "test_samples": int(self.samples.sum()),
                "valid_samples": None if self.valid_samples is None else int(self.valid_samples.sum()),
                "skipped": dict(self.checkins.skipped.counts)}


def valid_sequence(user: np.ndarray, day: np.ndarray, previous_day: int = 7, min_history: int = 3) -> np.ndarray:
    """MHSA's sample rule (module docstring) over rows sorted by (user, time). Shapes: ``[N]`` -> ``[N]`` bool."""
    user, day = np.asarray(user), np.asarray(day)
    out = np.zeros(len(user), dtype=bool)
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]]) if len(user) else np.zeros(0, dtype=int)
    for s, e in zip(starts, np.r_[starts[1:], len(user)]):
        d = day[s:e]
        # earlier rows with day >= d_i - previous_day: d is sorted, so they are rows first..i-1
        first = np.searchsorted(d, d - previous_day, side="left")
        history = np.arange(e - s) - first
        out[s:e] = (d - d.min() >= previous_day) & (history >= min_history)
    return out


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            return None
        return int(value) if math.isfinite(value) and value == int(value) else None


def split_files(root: str | Path) -> list[tuple[int, Path]]:
    """``(split index, path)`` of the split files present under ``root``: ``<name>.csv.gz``, else ``<name>.csv``."""
    root = Path(root)
    out = []
    for k, name in enumerate(SPLIT_NAMES):
        path = next((p for p in (root / f"{name}.csv.gz", root / f"{name}.csv") if p.is_file()), None)
        if path is not None:
            out.append((k, path))
    return out


def load_llmmob(root: str | Path, city: str | None = None, max_malformed: float = 0.5) -> LLMMobData:
    """Read ``root/{train,valid,test}.csv.gz`` (or ``.csv``; those present; see the module docstring).

    Raises :class:`~graphrep.data.errors.DataNotFoundError` when no split file exists and
    :class:`~graphrep.data.errors.InvalidInputError` for a missing column, a mostly-malformed file, or a user whose
    rows are not in train -> valid -> test order.
    """
    root = Path(root)
    files = split_files(root)
    if not files:
        raise DataNotFoundError(f"{root}: none of train.csv.gz, valid.csv.gz, test.csv.gz (or .csv) found "
                                "(LLM-Mob layout)")
    skipped = SkipLog()
    parsed = []  # (split, where, uid, vid, day, minute, weekday or None, coord)
    counts: dict[str, int] = {}
    malformed: dict[str, list] = {}  # file name -> [rows malformed, first one named]
    has_coords = False
    for part, path in files:
        before, n = skipped.total, 0
        first_bad = None
        for line, r, ok in _rows(path, _REQUIRED):
            n += 1
            where = f"{path.name}:{line}"
            reason, detail = None, ""
            if not ok:
                reason = "wrong number of fields"
            else:
                day, minute = _int(r["start_day"]), _int(r["start_min"])
                if day is None or minute is None:
                    reason, detail = "bad time", f"start_day {r['start_day']!r}, start_min {r['start_min']!r}"
                elif not 0 <= minute < 1440:
                    reason, detail = "bad time", f"start_min {minute} outside 0..1439"
                elif not r["user_id"] or not r["location_id"]:
                    reason = "empty user or location id"
                else:
                    coord = (0.0, 0.0)
                    if "latitude" in r and "longitude" in r:
                        has_coords = True
                        try:
                            coord = (float(r["latitude"]), float(r["longitude"]))
                        except ValueError:
                            coord = (math.nan, math.nan)
                        if not all(map(math.isfinite, coord)):
                            reason, detail = "bad coordinates", f"{r['latitude']!r}, {r['longitude']!r}"
                    weekday = _int(r["weekday"]) if r.get("weekday") else None
                    if reason is None and weekday is not None and not 0 <= weekday <= 6:
                        reason, detail = "bad weekday", repr(r["weekday"])
            if reason is not None:
                skipped.add(reason, where, detail)
                first_bad = first_bad or f"{where}: {reason}{' (' + detail + ')' if detail else ''}"
                continue
            parsed.append((part, where, r["user_id"], r["location_id"], day, minute, weekday, coord))
        counts[path.name] = n
        bad = skipped.total - before
        malformed[path.name] = [bad, first_bad]
        if n and bad > max_malformed * n:
            raise InvalidInputError(f"{path}: {bad} of {n} rows malformed (more than {max_malformed:.0%}); "
                                    f"first: {first_bad}")
    # one weekday shift per user: the most common, rows that disagree are malformed
    shifts: dict[str, Counter] = {}
    for _, _, uid, _, day, _, weekday, _ in parsed:
        if weekday is not None:
            shifts.setdefault(uid, Counter())[(weekday - day - 3) % 7] += 1
    shift = {u: c.most_common(1)[0][0] for u, c in shifts.items()}
    b = _Builder(city or root.name, skipped)
    part_of = []
    for part, where, uid, vid, day, minute, weekday, coord in parsed:
        if weekday is not None and (weekday - day - 3) % 7 != shift[uid]:
            skipped.add("weekday disagrees with start_day", where, f"weekday {weekday} on day {day}")
            bad = malformed[where.rsplit(":", 1)[0]]
            bad[0] += 1
            bad[1] = bad[1] or f"{where}: weekday disagrees with start_day (weekday {weekday} on day {day})"
            continue
        v = b.venue(vid, "unknown")
        b.coords[v].append(coord)
        b.add(uid, v, (day + shift.get(uid, 0)) * 1440 + minute)
        part_of.append(part)
    for name, (bad, first_bad) in malformed.items():
        if counts[name] and bad > max_malformed * counts[name]:
            raise InvalidInputError(f"{root / name}: {bad} of {counts[name]} rows malformed (more than "
                                    f"{max_malformed:.0%}); first: {first_bad}")
    checkins = b.build()
    order = b.order  # the rows' order in checkins (by user, time, file order)
    if not has_coords:
        checkins.venue_exact[:] = False
    split = np.asarray(part_of, dtype=np.int64)[order]
    user = checkins.user
    same = user[1:] == user[:-1]
    back = np.flatnonzero(same & (np.diff(split) < 0))
    if len(back):
        u = checkins.user_ids[user[back[0]]]
        raise InvalidInputError(f"{root}: user {u!r} has {SPLIT_NAMES[split[back[0] + 1]]} rows after "
                                f"{SPLIT_NAMES[split[back[0]]]} rows (the split must be chronological per user)")
    day = checkins.time // 1440
    samples = {}
    for part in (1, 2):  # each file alone, as MHSA made its valid and test sets
        rows = split == part
        samples[part] = np.zeros(len(split), dtype=bool)
        samples[part][rows] = valid_sequence(user[rows], day[rows])
    return LLMMobData(checkins, split, samples[2], counts, valid_samples=samples[1])
