"""Target times, per-slot history before each window, and the time-matched visit counts of
:mod:`graphrep.data.mobility.sequences`, against hand-computed values and a brute-force count over the user's earlier
check-ins (the slot is recomputed from the calendar with :mod:`datetime`, independently of :func:`time_slot`)."""

from datetime import datetime, timedelta

import numpy as np
import pytest
import torch

from graphrep.data.mobility import chronological_split, trajectory_ids, venue_features
from graphrep.data.mobility.checkins import CheckIns, SkipLog
from graphrep.data.mobility.sequences import SLOTS, build_windows, slot_counts, spatial_priors, time_slot

from test_mobility_checkins import fake_embed, synthetic  # tests/data is on sys.path (rootdir import)

EPOCH = datetime(1970, 1, 1)


def minute(y, mo, d, h, mi):
    return int((datetime(y, mo, d, h, mi) - EPOCH).total_seconds() // 60)


def toy(times, venues):
    """One user's check-ins at ``venues`` (indices) and ``times`` (minutes), three venues."""
    n = len(times)
    return CheckIns("toy", np.zeros(n, dtype=np.int64), np.asarray(venues, dtype=np.int64),
                    np.asarray(times, dtype=np.int64), ["u"], ["a", "b", "c"], ["x", "y", "z"],
                    np.array([35.0, 35.01, 35.02]), np.array([139.0, 139.01, 139.02]), np.ones(3, dtype=bool),
                    SkipLog())


def reference_slot(m: int) -> tuple[bool, int]:
    """(weekend, hour of day) of a minute count, from the calendar."""
    when = EPOCH + timedelta(minutes=int(m))
    return when.weekday() >= 5, when.hour


def test_time_slot_on_known_dates():
    # 2013-01-07 is a Monday, 2013-01-12 a Saturday, 2013-01-13 a Sunday
    cases = {minute(2013, 1, 7, 0, 10): 0, minute(2013, 1, 7, 9, 59): 9, minute(2013, 1, 11, 23, 0): 23,
             minute(2013, 1, 12, 0, 0): 24, minute(2013, 1, 13, 23, 59): 47, minute(1970, 1, 1, 5, 0): 5}
    got = time_slot(np.array(list(cases)))
    assert got.tolist() == list(cases.values())
    assert time_slot(torch.tensor(list(cases))).tolist() == list(cases.values())


def test_target_times_and_base_slots_on_a_toy_sequence():
    times = [minute(2013, 1, 7, 9, 0), minute(2013, 1, 7, 10, 30), minute(2013, 1, 12, 9, 15),
             minute(2013, 1, 13, 23, 59), minute(2013, 1, 14, 0, 10)]
    c = toy(times, [0, 1, 0, 2, 0])
    split = np.array([0, 0, 0, 2, 2])
    pri = np.zeros((5, 4), dtype=np.float32)
    # one target per window, one input before it in the window: rows before the window go to base_slots
    w = build_windows(c, split, 2, pri, length=2, chunk=1)
    assert len(w) == 2
    # window 0: inputs rows 1, 2 -> target row 3 at position 1; window 1: inputs rows 2, 3 -> target row 4
    assert w.target_rows.tolist() == [[-1, 3], [-1, 4]]
    assert w.target_times.tolist() == [[0, times[3]], [0, times[4]]]
    assert w.inputs.tolist() == [[1, 0], [0, 2]]
    # base_slots: the visits before each window (row 0; rows 0 and 1), per candidate (venues visited so far) and slot
    assert w.candidates[0].tolist() == [0, 1] and w.candidates[1].tolist() == [0, 1, 2]
    expect0 = torch.zeros(2, SLOTS)
    expect0[0, 9] = 1  # row 0: venue 0, Monday 09:00
    expect1 = torch.zeros(3, SLOTS)
    expect1[0, 9] = expect1[1, 10] = 1  # + row 1: venue 1, Monday 10:30
    assert torch.equal(w.base_slots[0], expect0) and torch.equal(w.base_slots[1], expect1)
    # batched: padded to K = 3, targets' times kept
    b = w.batch(torch.arange(2))
    assert b["base_slots"].shape == (2, 3, SLOTS) and b["base_slots"][0, 2].sum() == 0
    assert torch.equal(b["target_times"], w.target_times)
    # restrict keeps the aligned fields
    r = w.restrict(np.arange(5) == 4)
    assert r.target_times.tolist() == [[0, times[4]]] and torch.equal(r.base_slots[0], expect1)


def test_slot_counts_of_the_toy_sequence_by_hand():
    # target on Saturday 10:00: matches weekend slots 9, 10, 11 (width 1); the Saturday 09:15 and 11:50 visits count,
    # the Monday 10:30 visit does not (weekday), nor the Sunday 13:00 one (hour)
    times = [minute(2013, 1, 7, 10, 30), minute(2013, 1, 12, 9, 15), minute(2013, 1, 12, 11, 50),
             minute(2013, 1, 13, 13, 0), minute(2013, 1, 19, 10, 0)]
    c = toy(times, [0, 0, 1, 2, 1])
    w = build_windows(c, np.array([0, 0, 0, 0, 2]), 2, np.zeros((5, 4), np.float32), length=2, chunk=1)
    b = w.batch(torch.arange(len(w)))
    assert w.candidates[0].tolist() == [0, 1, 2]
    assert slot_counts(b).tolist() == [[1.0, 1.0, 0.0]]
    assert slot_counts(b, width=3).tolist() == [[1.0, 1.0, 1.0]]  # Sunday 13:00 is 3 h away; Monday never matches


@pytest.mark.parametrize("part,length,chunk,width", [(0, 8, 8, 1), (2, 8, 4, 1), (2, 6, 3, 2), (1, 8, 4, 0)])
def test_slot_counts_match_a_brute_force_count(tmp_path, part, length, chunk, width):
    c = synthetic(tmp_path, users=6, per_user=30, venues=7, seed=part + length + width)
    split = chronological_split(c)
    vf = venue_features(c, split == 0, embed_categories=fake_embed)
    w = build_windows(c, split, part, spatial_priors(c, vf.xy.numpy(), trajectory_ids(c)), length=length, chunk=chunk)
    b = w.batch(torch.arange(len(w)))
    got = slot_counts(b, width=width)
    rows = b["targets"] >= 0
    target_rows = w.target_rows[rows].numpy()
    cands = b["candidates"][:, None, :].expand(-1, rows.size(1), -1)[rows]
    sizes = torch.tensor([len(x) for x in w.candidates])[:, None].expand(-1, rows.size(1))[rows]
    first = np.r_[0, np.flatnonzero(np.diff(c.user)) + 1][c.user]
    checked = 0
    for m, r in enumerate(target_rows):
        weekend, hour = reference_slot(c.time[r])
        expect = {}
        for q in range(first[r], r):  # every earlier check-in of the same user
            we, h = reference_slot(c.time[q])
            d = abs(h - hour)
            if we == weekend and min(d, 24 - d) <= width:
                expect[int(c.venue[q])] = expect.get(int(c.venue[q]), 0) + 1
        for k in range(int(sizes[m])):
            assert got[m, k].item() == expect.get(int(cands[m, k]), 0), (r, int(cands[m, k]))
            checked += 1
        assert got[m, int(sizes[m]):].sum() == 0  # padding
        assert sum(expect.values()) == got[m].sum().item()  # every matching visit is of a candidate
    assert checked > 50 and got.sum() > 0
