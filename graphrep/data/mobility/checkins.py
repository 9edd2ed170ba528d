"""Check-in tables: loaders for the shared Foursquare layouts and the original TSMC2014 files, the per-user
chronological split, and trajectories cut at long gaps.

Layouts read (``root`` is the folder holding the files):

- ``"kgtb-nyc"`` (``fsq_nyc_cat``): ``data_mapping_NYC.csv.gz`` (Uid, Pid, Catname id, Region id, Time) with
  ``catname_mapping``, ``region_mapping`` (6-character plus-code prefixes), ``pid_mapping`` (original venue ids) and
  ``venues_{val,test}_raw.csv.gz`` (original ids with exact coordinates). A venue without an exact coordinate takes the
  centre of its plus-code cell (about 5 km; decoded with ``openlocationcode``) and ``coord_exact = False``.
- ``"kgtb-tky"`` (``fsq_tky_cat``): ``filtered_TKY_{val,test}.csv.gz`` (Uid, Pid, Catname, Region, Latitude,
  Longitude, Local Time), concatenated and split again here.
- ``"tsmc2014"``: ``dataset_TSMC2014_{NYC,TKY}.txt`` (tab-separated userId, venueId, venueCategoryId, venueCategory,
  latitude, longitude, timezoneOffset minutes, UTC time ``Tue Apr 03 18:00:09 +0000 2012``); local time = UTC + offset.
- ``"llmmob"`` (``fsq_nyc``, ``fsq_tky``, ``geolife``): ``{train,valid,test}.csv.gz`` (or ``.csv``) with id, user_id, location_id,
  latitude, longitude (already normalised), start_day, start_min, weekday; no categories (category text
  ``"unknown"``). Read by :func:`graphrep.data.mobility.llmmob.load_llmmob`, which also keeps the released split.

Times are local wall-clock minutes since 1970-01-01 (int64). Malformed rows (bad time, unknown venue or category,
missing or out-of-range coordinates) are skipped, counted by reason and named (``file:line``) in ``CheckIns.skipped``.
"""

from __future__ import annotations

import csv
import functools
from array import array
import gzip
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ..errors import DataNotFoundError, InvalidInputError

__all__ = ["CheckIns", "SkipLog", "load_checkins", "chronological_split", "trajectory_ids", "LAYOUTS", "CITY_LAYOUTS",
           "SPLIT_NAMES", "decode_plus_code"]

SPLIT_NAMES = ("train", "valid", "test")
LAYOUTS = ("kgtb-nyc", "kgtb-tky", "tsmc2014", "llmmob")
#: city shortcut -> (folder under ``<data>/mobility``, layout)
CITY_LAYOUTS = {"nyc": ("fsq_nyc_cat", "kgtb-nyc"), "tky": ("fsq_tky_cat", "kgtb-tky")}
_EPOCH = datetime(1970, 1, 1)


@dataclass
class SkipLog:
    """Rows skipped while loading: counts per reason and up to ``keep`` named examples (``file:line: reason``)."""

    counts: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    keep: int = 20

    def add(self, reason: str, where: str, detail: str = "") -> None:
        self.counts[reason] += 1
        if len(self.examples) < self.keep:
            self.examples.append(f"{where}: {reason}{' (' + detail + ')' if detail else ''}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        if not self.total:
            return "no rows skipped"
        reasons = ", ".join(f"{n} {r}" for r, n in self.counts.most_common())
        return f"{self.total} rows skipped ({reasons}); first: {self.examples[0]}"


@dataclass
class CheckIns:
    """One city's check-ins, sorted by (user, time, file order), with its venue vocabulary.

    Attributes:
        city: a name. user: ``[N]`` int64 user index (0..U-1); ``user_ids`` the original ids.
        venue: ``[N]`` int64 index into the vocabulary (0..V-1). time: ``[N]`` int64 local minutes since 1970-01-01.
        venue_ids: ``[V]`` original venue ids. venue_category: ``[V]`` category text. venue_lat, venue_lon: ``[V]``
        float64 degrees (or the layout's normalised units). venue_exact: ``[V]`` bool, False where the coordinate is a
        plus-code cell centre. skipped: the :class:`SkipLog`.
    """

    city: str
    user: np.ndarray
    venue: np.ndarray
    time: np.ndarray
    user_ids: list[str]
    venue_ids: list[str]
    venue_category: list[str]
    venue_lat: np.ndarray
    venue_lon: np.ndarray
    venue_exact: np.ndarray
    skipped: SkipLog

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_venues(self) -> int:
        return len(self.venue_ids)

    def __len__(self) -> int:
        return len(self.user)

    def __repr__(self) -> str:
        return (f"CheckIns({self.city}: {len(self)} check-ins, {self.num_users} users, {self.num_venues} venues, "
                f"{len(set(self.venue_category))} categories; {self.skipped.summary()})")


def decode_plus_code(prefix: str) -> tuple[float, float]:
    """Centre (lat, lon) of the cell named by a plus-code prefix of 2, 4, 6 or 8 characters (e.g. ``"87G7HX"``)."""
    from openlocationcode import openlocationcode as olc

    code = prefix.strip().upper()
    if len(code) not in (2, 4, 6, 8):
        raise InvalidInputError(f"plus-code prefix {prefix!r} must have 2, 4, 6 or 8 characters")
    full = code.ljust(8, "0") + "+"
    if not olc.isValid(full) or not olc.isFull(full):
        raise InvalidInputError(f"{prefix!r} is not a valid plus-code prefix")
    area = olc.decode(full)
    return float(area.latitudeCenter), float(area.longitudeCenter)


# reading ---------------------------------------------------------------------------------------------------------
def _open_text(path: Path):
    """Lines of a text file (gzip when ``.gz``), streamed: the file is never held whole. Lines end only at ``\n``
    (kept); a truncated gzip stream or a line that is not UTF-8 is an :class:`InvalidInputError` naming the file (and
    the line)."""
    if not path.is_file():
        raise DataNotFoundError(f"{path}: file not found")
    number = 0
    with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as raw:
        try:
            for number, line in enumerate(raw, 1):
                try:
                    yield line.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    raise InvalidInputError(f"{path}:{number}: not valid UTF-8 ({e.reason} at byte {e.start + 1} of "
                                            "the line); save the file as UTF-8") from None
        except (EOFError, gzip.BadGzipFile, zlib.error) as e:
            raise InvalidInputError(f"{path}: the gzip stream is truncated or corrupt after line {number} ({e}); "
                                    "re-copy or re-download the file") from None


def _rows(path: Path, required: list[str], delimiter: str = ","):
    """(line number, row dict) of a CSV with a header that has ``required`` columns."""
    f = _open_text(path)
    reader = csv.reader(f, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise InvalidInputError(f"{path}: empty file")
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInputError(f"{path}:1: missing column(s) {missing} (header: {header})")
    for i, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        yield i, dict(zip(header, (c.strip() for c in row))), len(row) == len(header)


@functools.lru_cache(maxsize=1 << 16)  # check-ins share timestamps (minute resolution); strptime dominated loading
def _parse_minutes(text: str, formats: tuple[str, ...]) -> int | None:
    for fmt in formats:
        try:
            t = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if t.tzinfo is not None:
            t = t.replace(tzinfo=None)
        return int((t - _EPOCH).total_seconds() // 60)
    return None


_LOCAL_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")


def _coord(lat: str, lon: str, normalised: bool = False) -> tuple[float, float] | None:
    try:
        a, b = float(lat), float(lon)
    except ValueError:
        return None
    if not (np.isfinite(a) and np.isfinite(b)):
        return None
    if not normalised and (abs(a) > 90 or abs(b) > 180):
        return None
    return a, b


class _Builder:
    """Collects (user, venue, time) rows and venue attributes, then sorts them into :class:`CheckIns` (``order``: the
    added row at each place of the sorted rows)."""

    def __init__(self, city: str, skipped: SkipLog):
        self.city, self.skipped = city, skipped
        self.users: dict[str, int] = {}
        self.venues: dict[str, int] = {}
        self.category: list[str] = []
        self.coords: list[list[tuple[float, float]]] = []
        self.region: list[str | None] = []
        # (user, venue, minutes) of each row, as machine integers: 24 bytes a row, not a Python tuple of ints (~100)
        self.rows = (array("q"), array("q"), array("q"))

    def venue(self, vid: str, category: str) -> int:
        if vid not in self.venues:
            self.venues[vid] = len(self.venues)
            self.category.append(category)
            self.coords.append([])
            self.region.append(None)
        return self.venues[vid]

    def add(self, uid: str, vidx: int, minutes: int) -> None:
        u = self.users.setdefault(uid, len(self.users))
        self.rows[0].append(u)
        self.rows[1].append(vidx)
        self.rows[2].append(minutes)

    def build(self, fixed_coords: dict[int, tuple[float, float]] | None = None) -> CheckIns:
        if not len(self.rows[0]):
            raise InvalidInputError(f"{self.city}: no usable check-ins ({self.skipped.summary()})")
        v = len(self.venues)
        lat, lon, exact = np.zeros(v), np.zeros(v), np.ones(v, dtype=bool)
        for i in range(v):
            if fixed_coords and i in fixed_coords:
                (lat[i], lon[i]), exact[i] = fixed_coords[i], False
            elif self.coords[i]:
                c = np.asarray(self.coords[i])
                lat[i], lon[i] = np.median(c[:, 0]), np.median(c[:, 1])
            else:
                raise InvalidInputError(f"{self.city}: venue {list(self.venues)[i]!r} has no coordinates")
        user, venue, minutes = (np.frombuffer(a, dtype=np.int64) for a in self.rows)
        self.order = order = np.lexsort((np.arange(len(user)), minutes, user))  # order[i]: the added row at place i
        return CheckIns(self.city, user[order], venue[order], minutes[order], list(self.users),
                        list(self.venues), self.category, lat, lon, exact, self.skipped)


def _load_kgtb_nyc(root: Path, city: str) -> CheckIns:
    skipped = SkipLog()
    cats = {r["Mapped_Catname"]: r["Original_Catname"]
            for _, r, _ in _rows(root / "catname_mapping_NYC.csv.gz", ["Original_Catname", "Mapped_Catname"])}
    regions = {r["Mapped_Region"]: r["Original_Region"]
               for _, r, _ in _rows(root / "region_mapping_NYC.csv.gz", ["Original_Region", "Mapped_Region"])}
    pids = {r["Mapped_Pid"]: r["Original_Pid"]
            for _, r, _ in _rows(root / "pid_mapping_NYC.csv.gz", ["Original_Pid", "Mapped_Pid"])}
    exact: dict[str, list[tuple[float, float]]] = {}
    for name in ("venues_val_raw.csv.gz", "venues_test_raw.csv.gz"):
        path = root / name
        if not path.is_file():
            continue
        for line, r, ok in _rows(path, ["POI_id", "latitude", "longitude"]):
            c = _coord(r["latitude"], r["longitude"]) if ok else None
            if c is not None:
                exact.setdefault(r["POI_id"], []).append(c)
    b = _Builder(city, skipped)
    region_centre: dict[str, tuple[float, float]] = {}
    fixed: dict[int, tuple[float, float]] = {}
    path = root / "data_mapping_NYC.csv.gz"
    for line, r, ok in _rows(path, ["Uid", "Pid", "Catname", "Region", "Time"]):
        where = f"{path.name}:{line}"
        if not ok:
            skipped.add("wrong number of fields", where)
            continue
        minutes = _parse_minutes(r["Time"], _LOCAL_FORMATS)
        if minutes is None:
            skipped.add("bad time", where, repr(r["Time"]))
            continue
        original = pids.get(r["Pid"])
        if original is None:
            skipped.add("unknown venue", where, f"Pid {r['Pid']!r} not in pid_mapping")
            continue
        cat = cats.get(r["Catname"])
        if cat is None:
            skipped.add("unknown category", where, f"Catname {r['Catname']!r} not in catname_mapping")
            continue
        region = regions.get(r["Region"])
        if original not in exact:
            if region is None:
                skipped.add("missing coordinates", where, f"venue {original} has no exact coordinate and Region "
                            f"{r['Region']!r} is not in region_mapping")
                continue
            if region not in region_centre:
                try:
                    region_centre[region] = decode_plus_code(region)
                except InvalidInputError as e:
                    skipped.add("missing coordinates", where, str(e))
                    continue
        v = b.venue(original, cat)
        if not b.coords[v]:
            if original in exact:
                b.coords[v].extend(exact[original])
            else:
                fixed[v] = region_centre[region]
        b.add(r["Uid"], v, minutes)
    return b.build(fixed)


def _existing_rows(root: Path, names: list[str], required: list[str], skipped: SkipLog, layout: str):
    """``(file:line, row)`` of the well-formed rows of those of ``names`` that exist under ``root``."""
    files = [root / n for n in names]
    if not any(p.is_file() for p in files):
        raise DataNotFoundError(f"{root}: none of {', '.join(names)} found ({layout} layout)")
    for path in files:
        if not path.is_file():
            continue
        for line, r, ok in _rows(path, required):
            where = f"{path.name}:{line}"
            if ok:
                yield where, r
            else:
                skipped.add("wrong number of fields", where)


def _record(b: _Builder, where: str, uid: str, vid: str, category: str, coord: tuple[float, float] | None,
            minutes: int | None, raw_time: str, raw_coord: str) -> None:
    """Add one check-in, or count and name why it is skipped."""
    if minutes is None:
        b.skipped.add("bad time", where, repr(raw_time))
    elif not vid:
        b.skipped.add("unknown venue", where, "empty venue id")
    elif coord is None:
        b.skipped.add("missing coordinates", where, raw_coord)
    else:
        v = b.venue(vid, category or "unknown")
        b.coords[v].append(coord)
        b.add(uid, v, minutes)


def _load_kgtb_tky(root: Path, city: str) -> CheckIns:
    b = _Builder(city, SkipLog())
    for where, r in _existing_rows(root, ["filtered_TKY_val.csv.gz", "filtered_TKY_test.csv.gz"],
                                   ["Uid", "Pid", "Catname", "Latitude", "Longitude", "Local Time"], b.skipped,
                                   "kgtb-tky"):
        _record(b, where, r["Uid"], r["Pid"], r["Catname"], _coord(r["Latitude"], r["Longitude"]),
                _parse_minutes(r["Local Time"], _LOCAL_FORMATS), r["Local Time"],
                f"{r['Latitude']!r}, {r['Longitude']!r}")
    return b.build()


def _load_tsmc2014(path: Path, city: str) -> CheckIns:
    b = _Builder(city, SkipLog())
    for line, text in enumerate(_open_text(path), start=1):
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        where = f"{path.name}:{line}"
        parts = text.split("\t")
        if len(parts) != 8:
            b.skipped.add("wrong number of fields", where, f"{len(parts)} instead of 8")
            continue
        uid, vid, _, cat, lat, lon, offset, utc = parts
        try:
            local = datetime.strptime(utc, "%a %b %d %H:%M:%S %z %Y").replace(tzinfo=None) + \
                timedelta(minutes=int(offset))
            minutes = int((local - _EPOCH).total_seconds() // 60)
        except ValueError:
            minutes = None
        _record(b, where, uid, vid, cat, _coord(lat, lon), minutes, f"{utc} offset {offset}", f"{lat!r}, {lon!r}")
    return b.build()


def _load_llmmob(root: Path, city: str) -> CheckIns:
    from .llmmob import load_llmmob  # llmmob builds on this module's readers

    return load_llmmob(root, city).checkins


def load_checkins(path: str | Path, layout: str | None = None, city: str | None = None) -> CheckIns:
    """Load a city's check-ins from a folder (kgtb/LLM-Mob layouts) or a file (TSMC2014).

    ``layout`` is guessed from the files when not given. Raises :class:`~graphrep.data.errors.DataNotFoundError` when
    files are missing and :class:`~graphrep.data.errors.InvalidInputError` when nothing usable remains.
    """
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"{path}: not found (check-in folder or TSMC2014 file)")
    if layout is None:
        if path.is_file():
            layout = "tsmc2014"
        elif (path / "data_mapping_NYC.csv.gz").is_file():
            layout = "kgtb-nyc"
        elif any((path / f"filtered_TKY_{s}.csv.gz").is_file() for s in ("val", "test")):
            layout = "kgtb-tky"
        elif any((path / f"{s}.csv{z}").is_file() for s in SPLIT_NAMES for z in (".gz", "")):
            layout = "llmmob"
        else:
            raise DataNotFoundError(f"{path}: no known check-in files (data_mapping_NYC.csv.gz, filtered_TKY_*.csv.gz, "
                                    "train/valid/test.csv.gz, or a TSMC2014 .txt file)")
    if layout not in LAYOUTS:
        raise InvalidInputError(f"unknown check-in layout {layout!r} (known: {', '.join(LAYOUTS)})")
    city = city or path.stem.split(".")[0]
    loader = {"kgtb-nyc": _load_kgtb_nyc, "kgtb-tky": _load_kgtb_tky, "tsmc2014": _load_tsmc2014,
              "llmmob": _load_llmmob}[layout]
    return loader(path, city)


def chronological_split(checkins: CheckIns, fractions: tuple[float, float] = (0.8, 0.9)) -> np.ndarray:
    """Per-user chronological split: each user's first 80% of check-ins -> 0 (train), next 10% -> 1 (valid), rest -> 2.

    With ``n`` check-ins a user has ``floor(0.8 n)`` training rows and ``floor(0.9 n) - floor(0.8 n)`` validation
    rows. Shapes: output ``[N]`` int64 aligned with ``checkins.user`` (rows are sorted by user then time).
    """
    a, b = fractions
    if not 0 < a <= b <= 1:
        raise InvalidInputError(f"split fractions must satisfy 0 < train <= train+valid <= 1, got {fractions}")
    user = checkins.user
    rows = len(user)
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]][:rows])
    n = np.diff(np.r_[starts, rows])  # each user's check-ins
    # the split number steps up by one at each user's first validation row and first test row, and drops back to 0 at
    # the next user: a running sum of those steps (one [N] array, the output, rather than per-row temporaries)
    out = np.zeros(rows, dtype=np.int64)
    for at, step in ((starts + np.floor(a * n).astype(np.int64), 1), (starts + np.floor(b * n).astype(np.int64), 1),
                     (starts + n, -2)):
        np.add.at(out, at[at < rows], step)
    return np.cumsum(out, out=out)


def trajectory_ids(checkins: CheckIns, max_gap_hours: float = 72.0) -> np.ndarray:
    """Trajectory index per check-in: a new trajectory starts at each user's first check-in and after any gap longer
    than ``max_gap_hours``. Shapes: ``[N]`` int64, non-decreasing."""
    if max_gap_hours <= 0:
        raise InvalidInputError(f"max_gap_hours must be > 0, got {max_gap_hours}")
    user, t = checkins.user, checkins.time
    new = np.r_[True, (user[1:] != user[:-1]) | (np.diff(t) > max_gap_hours * 60)]
    return np.cumsum(new) - 1
