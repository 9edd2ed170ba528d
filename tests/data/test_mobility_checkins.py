"""Check-in loaders (shared files, hand-written malformed rows), the chronological split, trajectories, and venue
features from the training split only."""

import gzip

import numpy as np
import pytest
import torch

from graphrep.data.errors import DataNotFoundError, InvalidInputError
from graphrep.data.mobility import (CheckIns, SkipLog, chronological_split, decode_plus_code, hour_of_week,
                                    load_checkins, trajectory_ids, venue_features)
from graphrep.data.mobility.sequences import build_windows, history_features, spatial_priors

TKY_HEADER = "Uid,Pid,Catname,Region,Latitude,Longitude,Local Time\n"


def write_gz(path, text):
    path.write_bytes(gzip.compress(text.encode()))


def fake_embed(names):
    """Deterministic stand-in for the sentence encoder: one-hot-ish vectors from the name's hash."""
    return torch.stack([torch.tensor([float((hash(n) >> i) & 1) for i in range(8)]) for n in names])


def test_tky_layout_counts_and_names_malformed_rows(tmp_path):
    rows = [
        "1,a,Cafe,8Q7XMG,35.60,139.70,2013-01-01 10:00",
        "1,b,Bar,8Q7XMG,35.61,139.71,2013-01-01 12:00",
        "1,a,Cafe,8Q7XMG,35.62,139.72,not a time",     # line 4: bad time
        "2,,Cafe,8Q7XMG,35.60,139.70,2013-01-01 10:00",  # line 5: empty venue
        "2,c,Park,8Q7XMG,,139.70,2013-01-01 11:00",      # line 6: missing latitude
        "2,c,Park,8Q7XMG,95.0,139.70,2013-01-01 11:00",  # line 7: latitude out of range
        "2,c,Park,8Q7XMG,35.63",                          # line 8: too few fields
        "2,a,Cafe,8Q7XMG,35.64,139.74,2013-01-02 09:00",
    ]
    write_gz(tmp_path / "filtered_TKY_val.csv.gz", TKY_HEADER + "\n".join(rows) + "\n")
    c = load_checkins(tmp_path, city="t")
    assert len(c) == 3 and c.num_users == 2 and c.num_venues == 2
    assert dict(c.skipped.counts) == {"bad time": 1, "unknown venue": 1, "missing coordinates": 2,
                                      "wrong number of fields": 1}
    assert c.skipped.examples[0].startswith("filtered_TKY_val.csv.gz:4: bad time")
    assert any(e.startswith("filtered_TKY_val.csv.gz:8:") for e in c.skipped.examples)
    # venue a: median of its three valid coordinates (35.60, 35.64) -> 35.62
    a = c.venue_ids.index("a")
    assert c.venue_lat[a] == pytest.approx(35.62) and c.venue_category[a] == "Cafe"
    assert c.user.tolist() == [0, 0, 1] and (np.diff(c.time[:2]) == 120).all()


def test_missing_folder_and_bad_layout(tmp_path):
    with pytest.raises(DataNotFoundError, match="no known check-in files"):
        load_checkins(tmp_path)
    with pytest.raises(DataNotFoundError, match="not found"):
        load_checkins(tmp_path / "nope")
    write_gz(tmp_path / "filtered_TKY_val.csv.gz", "Uid,Pid\n1,a\n")
    with pytest.raises(InvalidInputError, match=r"filtered_TKY_val.csv.gz:1: missing column"):
        load_checkins(tmp_path)


def test_nyc_layout_joins_pid_mapping_and_decodes_plus_codes(tmp_path):
    write_gz(tmp_path / "catname_mapping_NYC.csv.gz", "Original_Catname,Mapped_Catname\nBar,1\nGym,2\n")
    write_gz(tmp_path / "region_mapping_NYC.csv.gz", "Original_Region,Mapped_Region\n87G7HX,1\n")
    write_gz(tmp_path / "pid_mapping_NYC.csv.gz", "Original_Pid,Mapped_Pid\nvenueA,1\nvenueB,2\n")
    write_gz(tmp_path / "venues_val_raw.csv.gz", "user_id,POI_id,latitude,longitude\n9,venueA,40.70,-73.90\n")
    write_gz(tmp_path / "data_mapping_NYC.csv.gz", "Uid,Pid,Catname,Region,Time\n"
             "1,1,1,1,2012-04-03 14:00\n"
             "1,2,2,1,2012-04-03 15:00\n"
             "1,3,1,1,2012-04-03 16:00\n"     # line 4: Pid 3 not in pid_mapping
             "1,1,7,1,2012-04-03 17:00\n"     # line 5: category 7 unknown
             "1,2,2,1,2012-13-03 17:00\n")    # line 6: month 13
    c = load_checkins(tmp_path, city="nyc")
    assert len(c) == 2 and c.venue_ids == ["venueA", "venueB"] and c.venue_category == ["Bar", "Gym"]
    assert dict(c.skipped.counts) == {"unknown venue": 1, "unknown category": 1, "bad time": 1}
    assert "data_mapping_NYC.csv.gz:4: unknown venue" in c.skipped.examples[0]
    # venueA exact; venueB at the centre of plus-code cell 87G7HX: lat 40.55-40.60, lon -74.05 to -74.00
    assert c.venue_exact.tolist() == [True, False]
    assert (c.venue_lat[0], c.venue_lon[0]) == (pytest.approx(40.70), pytest.approx(-73.90))
    assert (c.venue_lat[1], c.venue_lon[1]) == (pytest.approx(40.575), pytest.approx(-74.025))
    with pytest.raises(InvalidInputError):
        decode_plus_code("87G")


def test_llmmob_layout(tmp_path):
    head = "id,user_id,location_id,latitude,longitude,start_day,start_min,weekday\n"
    write_gz(tmp_path / "train.csv.gz", head + "1,1,10,0.1,0.2,0,600,1\n2,1,11,0.3,0.1,0,700,1\n3,1,12,0.3,0.1,x,700,1\n")
    write_gz(tmp_path / "test.csv.gz", head + "4,1,10,0.1,0.2,1,60,2\n")
    c = load_checkins(tmp_path, city="g")
    # day 0 is a Tuesday (weekday 1): placed on the calendar 5 days after 1970-01-01 (a Thursday)
    assert len(c) == 3 and c.time.tolist() == [5 * 1440 + 600, 5 * 1440 + 700, 6 * 1440 + 60]
    assert int(hour_of_week(c.time[0])) == 24 + 10 and set(c.venue_category) == {"unknown"}
    assert dict(c.skipped.counts) == {"bad time": 1} and c.skipped.examples[0].startswith("train.csv.gz:4")


def test_tsmc2014_local_time_from_utc_and_offset(tmp_path):
    lines = ["u1\tv1\tcat\tBar\t40.7\t-74.0\t-240\tTue Apr 03 18:00:09 +0000 2012",
             "u1\tv2\tcat\tGym\t40.8\t-74.1\t-240\tTue Apr 03 19:30:00 +0000 2012",
             "u1\tv2\tcat\tGym\t40.8\t-74.1\t-240\tyesterday",
             "u1\tv2\tcat\tGym\t40.8"]
    (tmp_path / "dataset_TSMC2014_NYC.txt").write_text("\n".join(lines) + "\n", encoding="latin-1")
    c = load_checkins(tmp_path / "dataset_TSMC2014_NYC.txt")
    assert len(c) == 2 and dict(c.skipped.counts) == {"bad time": 1, "wrong number of fields": 1}
    # 18:00 UTC - 4 h = 14:00 local on Tuesday 2012-04-03 -> hour of week 24 + 14
    assert int(hour_of_week(c.time[0])) == 24 + 14 and c.time[1] - c.time[0] == 90


def synthetic(tmp_path, users=5, per_user=20, venues=6, seed=0):
    rng = np.random.default_rng(seed)
    lines = []
    for u in range(users):
        t = 0
        for i in range(per_user):
            t += int(rng.integers(30, 600)) + (5000 if i == per_user // 2 else 0)  # one gap > 72 h per user
            v = int(rng.integers(venues))
            day, minute = divmod(t, 1440)
            lines.append(f"{u},v{v},cat{v % 3},R,{35 + v / 100},{139 + v / 100},"
                         f"2013-01-{1 + day:02d} {minute // 60:02d}:{minute % 60:02d}")
    rng.shuffle(lines)  # the loader sorts
    write_gz(tmp_path / "filtered_TKY_val.csv.gz", TKY_HEADER + "\n".join(lines) + "\n")
    return load_checkins(tmp_path, city="syn")


def test_split_is_chronological_per_user(tmp_path):
    c = synthetic(tmp_path)
    split = chronological_split(c)
    for u in range(c.num_users):
        rows = c.user == u
        s, t = split[rows], c.time[rows]
        assert (np.diff(s) >= 0).all() and (np.diff(t) >= 0).all()
        assert (s == 0).sum() == 16 and (s == 1).sum() == 2 and (s == 2).sum() == 2
        assert t[s == 0].max() <= t[s == 1].min() <= t[s == 2].min()
    traj = trajectory_ids(c, 72)
    assert traj.max() + 1 == 2 * c.num_users  # one cut per user, plus each user's start
    assert trajectory_ids(c, 1e6).max() + 1 == c.num_users


def test_hour_of_week_histogram_ignores_valid_and_test_rows(tmp_path):
    c = synthetic(tmp_path)
    split = chronological_split(c)
    f1 = venue_features(c, split == 0, embed_categories=fake_embed)
    # rewrite every valid/test row: other times, other venues -> features must not move
    c.time[split > 0] += 7 * 60 + 13
    c.venue[split > 0] = (c.venue[split > 0] + 1) % c.num_venues
    f2 = venue_features(c, split == 0, embed_categories=fake_embed)
    for name in ("hours", "popularity", "train_counts", "coords", "category"):
        assert torch.equal(getattr(f1, name), getattr(f2, name)), name
    # the histogram is exactly the training rows' hour-of-week counts, normalised
    expected = np.zeros((c.num_venues, 168))
    np.add.at(expected, (c.venue[split == 0], hour_of_week(c.time[split == 0])), 1)
    expected /= np.maximum(expected.sum(1, keepdims=True), 1)
    assert np.allclose(f1.hours.numpy(), expected, atol=1e-6)
    # and it does change when training rows change
    c.time[split == 0] += 60
    assert not torch.equal(venue_features(c, split == 0, embed_categories=fake_embed).hours, f1.hours)
    assert f1.matrix().shape == (c.num_venues, 8 + 2 + 1 + 2 + 168)


def test_hour_of_week_monday_midnight_is_zero():
    from datetime import datetime

    monday = int((datetime(2013, 1, 7, 0, 30) - datetime(1970, 1, 1)).total_seconds() // 60)
    assert hour_of_week(np.array([monday, monday + 60 * 25, monday + 60 * 167]))[...].tolist() == [0, 25, 167]


def test_windows_score_each_target_once_with_history(tmp_path):
    c = synthetic(tmp_path)
    split = chronological_split(c)
    vf = venue_features(c, split == 0, embed_categories=fake_embed)
    pri = spatial_priors(c, vf.xy.numpy(), trajectory_ids(c))
    assert pri.shape == (len(c), 4) and (pri[:, 3] >= 0).all()
    for part, chunk in ((0, 8), (2, 4)):
        w = build_windows(c, split, part, pri, length=8, chunk=chunk)
        expected = sum(((split == part) & (np.arange(len(c)) > np.r_[0, np.flatnonzero(np.diff(c.user)) + 1][c.user]))
                       .astype(int))
        assert w.num_targets == expected
    # history: user-frequency counts at a test position equal a slow count over the user's earlier check-ins
    w = build_windows(c, split, 2, pri, length=8, chunk=4)
    b = w.batch(torch.arange(len(w)))
    phi = history_features(b["local"], b["times"], b["mask"], b["base_counts"], b["base_last"])
    starts = np.r_[0, np.flatnonzero(np.diff(c.user)) + 1]
    for i in range(len(w)):
        u = int(b["user"][i])
        for p in np.flatnonzero(b["targets"][i].numpy() >= 0):
            t_row = np.flatnonzero((c.user == u) & (c.time == int(b["times"][i, p])))[-1]
            prior = c.venue[starts[u]:t_row + 1]
            counts = np.expm1(phi[i, p, :, 0].numpy())
            for k, v in enumerate(b["candidates"][i].tolist()):
                if k < len(w.candidates[i]):
                    assert counts[k] == pytest.approx((prior == v).sum())


@pytest.mark.shared_data
def test_shared_nyc_and_tky(shared_data):
    nyc = load_checkins(shared_data / "mobility" / "fsq_nyc_cat", city="nyc")
    assert (len(nyc), nyc.num_users, nyc.num_venues, nyc.skipped.total) == (77526, 816, 2805, 0)
    assert int(nyc.venue_exact.sum()) == 1679  # exact coordinates through pid_mapping + venues_*_raw
    assert 40.4 < nyc.venue_lat.min() and nyc.venue_lat.max() < 41.1 and -74.4 < nyc.venue_lon.min()
    from graphrep.data import load_dataset

    tky = load_dataset("fsq-tky-cat", root=shared_data)  # through the registry: checksums verified
    assert (len(tky), tky.num_users, tky.num_venues, tky.skipped.total) == (42572, 791, 946, 0)
    assert tky.venue_exact.all() and 35.3 < tky.venue_lat.mean() < 35.9
    split = chronological_split(tky)
    assert abs((split == 0).mean() - 0.8) < 0.02


def _random_checkins(seed=0, users=30, venues=12):
    """Random sorted check-ins: users of 1-40 rows, few venues (many repeats), gaps that cut trajectories."""
    import numpy as np

    from graphrep.data.mobility import CheckIns, SkipLog

    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 41, users)
    user = np.repeat(np.arange(users), sizes)
    time = np.concatenate([np.cumsum(rng.integers(1, 6000, k)) for k in sizes])
    venue = rng.integers(0, venues, len(user))
    return CheckIns("r", user, venue, time, [str(u) for u in range(users)], [str(v) for v in range(venues)],
                    ["c"] * venues, rng.random(venues), rng.random(venues), np.ones(venues, bool), SkipLog())


def test_vectorised_split_and_entropy_match_the_loops_they_replaced():
    import numpy as np

    from graphrep.data.mobility.sequences import spatial_priors

    c = _random_checkins()
    split = np.zeros(len(c), dtype=np.int64)  # the per-user loop chronological_split used to run
    starts = np.flatnonzero(np.r_[True, c.user[1:] != c.user[:-1]])
    for s, e in zip(starts, np.r_[starts[1:], len(c)]):
        n_train, n_tv = int(np.floor(0.8 * (e - s))), int(np.floor(0.9 * (e - s)))
        split[s + n_train:s + n_tv], split[s + n_tv:e] = 1, 2
    assert np.array_equal(chronological_split(c), split)

    traj = trajectory_ids(c, max_gap_hours=48)
    entropy = []  # the per-row loop spatial_priors used to run: entropy of the venues visited so far
    for i in range(len(c)):
        seen = c.venue[(traj == traj[i]) & (np.arange(len(c)) <= i)]
        p = np.bincount(seen) / len(seen)
        entropy.append(-(p[p > 0] * np.log(p[p > 0])).sum())
    pri = spatial_priors(c, np.random.default_rng(1).random((12, 2)), traj)
    assert np.allclose(pri[:, 2], entropy, atol=1e-5)
    assert (np.diff(traj) > 0).sum() > 10 and len(set(c.venue.tolist())) == 12  # trajectories cut, venues repeat


def test_streamed_reading_names_a_truncated_gzip(tmp_path):
    import gzip

    from graphrep.data.errors import InvalidInputError

    folder = tmp_path / "llm"
    folder.mkdir()
    body = "id,user_id,location_id,latitude,longitude,start_day,start_min\n" + "".join(
        f"{i},1,{i % 7},0.1,0.2,{i},5\n" for i in range(5000))
    packed = gzip.compress(body.encode())
    (folder / "train.csv.gz").write_bytes(packed[:len(packed) // 2])
    with pytest.raises(InvalidInputError, match="train.csv.gz: the gzip stream is truncated"):
        load_checkins(folder, layout="llmmob")
    (folder / "train.csv.gz").write_bytes(packed)
    assert len(load_checkins(folder, layout="llmmob")) == 5000


@pytest.mark.parametrize("fractions", [(0.8, 0.9), (0.5, 0.5), (0.3, 1.0), (1.0, 1.0), (0.01, 0.02)])
def test_split_matches_a_per_user_reference(fractions):
    """The running-sum split against the definition, one user at a time, on users of 1 to 30 check-ins."""
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 31, size=40)
    user = np.repeat(np.arange(len(sizes)), sizes)
    c = CheckIns("x", user, np.zeros(len(user), dtype=np.int64), np.arange(len(user)), [str(u) for u in sizes],
                 ["v"], ["c"], np.zeros(1), np.zeros(1), np.ones(1, dtype=bool), SkipLog())
    expect = []
    for k in sizes:
        n_train, n_tv = int(np.floor(fractions[0] * k)), int(np.floor(fractions[1] * k))
        expect += [0 if i < n_train else 1 if i < n_tv else 2 for i in range(k)]
    got = chronological_split(c, fractions)
    assert got.dtype == np.int64 and got.tolist() == expect
    empty = CheckIns("x", np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), [],
                     ["v"], ["c"], np.zeros(1), np.zeros(1), np.ones(1, dtype=bool), SkipLog())
    assert chronological_split(empty, fractions).shape == (0,)
