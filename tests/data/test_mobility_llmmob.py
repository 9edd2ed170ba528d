"""LLM-Mob's released layout: split kept from the files, malformed rows counted and named, a mostly-malformed file
rejected, weekdays placed on the calendar, and MHSA's test-sample rule checked against a direct transcription."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from graphrep.data.errors import DataNotFoundError, InvalidInputError
from graphrep.data.mobility import hour_of_week
from graphrep.data.mobility.llmmob import load_llmmob, valid_sequence

HEAD = "id,user_id,location_id,latitude,longitude,start_day,start_min,weekday\n"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "mobility"


def write(path, rows):
    path.write_bytes(gzip.compress((HEAD + "".join(r + "\n" for r in rows)).encode()))


def test_split_from_files_and_malformed_rows_named(tmp_path):
    write(tmp_path / "train.csv.gz", ["1,7,a,0.1,0.2,0,600,0", "2,7,b,0.3,0.1,0,700,0", "3,7,c,0.3,0.1,zz,700,0",
                                      "4,7,a,0.1,0.2,1,65,1", "5,7,b,0.3", "6,8,a,0.1,0.2,0,10,3"])
    write(tmp_path / "valid.csv.gz", ["7,7,b,0.3,0.1,2,10,2", "8,8,b,nan,0.1,1,10,4", "9,8,c,0.2,0.2,1,20,4"])
    write(tmp_path / "test.csv.gz", ["10,7,c,0.2,0.2,3,1500,3", "11,7,a,0.1,0.2,3,30,3", "12,8,a,0.1,0.2,2,5,5",
                                     "13,7,a,0.1,0.2,4,30,0"])
    d = load_llmmob(tmp_path, city="toy")
    c = d.checkins
    assert dict(c.skipped.counts) == {"bad time": 2, "wrong number of fields": 1, "bad coordinates": 1,
                                      "weekday disagrees with start_day": 1}
    named = "\n".join(c.skipped.examples)
    for where in ("train.csv.gz:4", "train.csv.gz:6", "valid.csv.gz:3", "test.csv.gz:2", "test.csv.gz:5"):
        assert where in named
    # user 7: days 0,0,1,2,3 (train,train,train,valid,test); user 8: days 0,1,2 (train,valid,test)
    assert [c.user_ids[u] for u in c.user] == ["7"] * 5 + ["8"] * 3
    assert d.split.tolist() == [0, 0, 0, 1, 2, 0, 1, 2]
    assert [c.venue_ids[v] for v in c.venue] == ["a", "b", "a", "b", "a", "a", "c", "a"]
    # the released weekday is the calendar weekday of the placed time (Monday = 0)
    assert (hour_of_week(c.time) // 24).tolist() == [0, 0, 1, 2, 3, 3, 4, 5]
    assert d.rows == {"train.csv.gz": 6, "valid.csv.gz": 3, "test.csv.gz": 4}
    # too short a history for MHSA's rule in either file
    assert not d.samples.any() and not d.valid_samples.any()


def test_mostly_malformed_file_is_an_error(tmp_path):
    write(tmp_path / "train.csv.gz", ["1,7,a,0.1,0.2,0,600,0", "2,7,b,x,0.1,0,700,0", "3,7,c,0.3,0.1,0,-5,0"])
    with pytest.raises(InvalidInputError, match=r"train.csv.gz: 2 of 3 rows malformed.*train.csv.gz:3"):
        load_llmmob(tmp_path)


def test_mostly_wrong_weekdays_is_an_error(tmp_path):
    # user 7's rows agree with each other on days 0-2 (train); test.csv.gz gives 2 of 3 rows another weekday
    write(tmp_path / "train.csv.gz", ["1,7,a,0.1,0.2,0,600,0", "2,7,b,0.1,0.2,1,600,1", "3,7,b,0.1,0.2,2,600,2"])
    write(tmp_path / "test.csv.gz", ["4,7,a,0.1,0.2,3,600,3", "5,7,a,0.1,0.2,4,600,6", "6,7,a,0.1,0.2,5,600,6"])
    with pytest.raises(InvalidInputError, match=r"test.csv.gz: 2 of 3 rows malformed.*test.csv.gz:3: weekday"):
        load_llmmob(tmp_path)


def test_missing_files_and_unordered_split(tmp_path):
    with pytest.raises(DataNotFoundError):
        load_llmmob(tmp_path)
    write(tmp_path / "train.csv.gz", ["1,7,a,0.1,0.2,5,600,0"])
    write(tmp_path / "test.csv.gz", ["2,7,b,0.1,0.2,1,600,3"])
    with pytest.raises(InvalidInputError, match="user '7' has train rows after test rows"):
        load_llmmob(tmp_path)


def mhsa_valid_sequence(user, day, previous_day=7):
    """A direct transcription of MHSA's loop: per user, skip rows in the first ``previous_day`` days, keep rows with
    at least 3 earlier rows on a day >= day - previous_day."""
    out = []
    for u in dict.fromkeys(user):
        d = [x for x, v in zip(day, user) if v == u]
        for i, x in enumerate(d):
            hist = [y for y in d[:i] if y >= x - previous_day]
            out.append(x - min(d) >= previous_day and len(hist) >= 3)
    return np.array(out)


def test_valid_sequence_matches_the_reference_loop():
    rng = np.random.default_rng(0)
    user = np.repeat(np.arange(6), rng.integers(1, 40, 6))
    day = np.concatenate([np.sort(rng.integers(0, 30, (user == u).sum())) for u in range(6)])
    got = valid_sequence(user, day)
    assert got.any() and not got.all()
    assert got.tolist() == mhsa_valid_sequence(user.tolist(), day.tolist()).tolist()


@pytest.mark.skipif(not (SHARED / "fsq_nyc").is_dir(), reason="../shared/data/mobility/fsq_nyc not present")
def test_fsq_nyc_as_released_has_llmmobs_12141_test_stays():
    d = load_llmmob(SHARED / "fsq_nyc", "fsq_nyc")
    assert d.rows == {"train.csv.gz": 59701, "valid.csv.gz": 17073, "test.csv.gz": 18598}
    assert d.checkins.skipped.total == 0 and int(d.samples.sum()) == 12141
    # the same rule on the valid file alone: within it, and what the reference loop keeps of its rows
    valid = d.split == 1
    assert not (d.valid_samples & ~valid).any() and 0 < d.valid_samples.sum() < valid.sum()
    day = d.checkins.time // 1440
    expected = mhsa_valid_sequence(d.checkins.user[valid].tolist(), day[valid].tolist())
    assert d.valid_samples[valid].tolist() == expected.tolist()
