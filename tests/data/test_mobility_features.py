"""Venue features without one training visit (:func:`leave_visit_out`) against the features recomputed from the
training rows minus that row; the popularity rank shared by tied venues."""

import numpy as np
import torch

from graphrep.data.mobility import chronological_split, hour_of_week, venue_features
from graphrep.data.mobility.features import leave_visit_out

from test_mobility_checkins import fake_embed, synthetic  # tests/data is on sys.path (rootdir import)


def test_leave_visit_out_equals_features_recomputed_without_the_row(tmp_path):
    c = synthetic(tmp_path, users=6, per_user=30, venues=9, seed=3)
    train = chronological_split(c) == 0
    vf = venue_features(c, train, embed_categories=fake_embed)
    full = vf.matrix()
    counts = vf.train_counts
    rows = [r for r in np.flatnonzero(train) if counts[c.venue[r]] < counts.max()]  # the city's maximum stays
    assert len(rows) > 50
    venue = torch.as_tensor(c.venue[rows])
    hour = torch.as_tensor(hour_of_week(c.time[rows]))
    got = leave_visit_out(full[venue], venue, hour, vf.visits, category_dim=8)
    for m, r in enumerate(rows):
        mask = train.copy()
        mask[r] = False
        expect = venue_features(c, mask, embed_categories=fake_embed).matrix()[c.venue[r]]
        assert torch.allclose(got[m], expect, atol=1e-6), r
    # a visit that is not in the counts (here: a valid row's hour where the venue has no training visit) changes nothing
    empty = (vf.visits == 0).nonzero()[0]
    same = leave_visit_out(full[empty[:1]], empty[:1], empty[1:], vf.visits, category_dim=8)
    assert torch.allclose(same, full[empty[:1]], atol=1e-6)


def test_popularity_rank_ties_share_the_best_rank(tmp_path):
    c = synthetic(tmp_path, users=4, per_user=25, venues=8, seed=1)
    train = chronological_split(c) == 0
    vf = venue_features(c, train, embed_categories=fake_embed)
    counts = vf.train_counts.numpy()
    v = len(counts)
    for i in range(v):
        higher = (counts > counts[i]).sum()  # brute force: venues visited more often
        assert vf.popularity[i, 0].item() == np.float32(1 - higher / (v - 1))
    assert vf.visits.sum() == train.sum() and torch.equal(vf.visits.sum(1), vf.train_counts)


def test_visits_counted_in_row_blocks_equal_one_count_of_all_training_rows(tmp_path, monkeypatch):
    """venue_features counts visits in blocks of rows (issue 26): the counts, totals and histograms are those of one
    np.add.at over every training row."""
    from graphrep.data.mobility import features

    c = synthetic(tmp_path, users=7, per_user=40, venues=11, seed=5)
    train = chronological_split(c) == 0
    monkeypatch.setattr(features, "_ROWS", 13)  # blocks that split users and venues
    vf = venue_features(c, train, embed_categories=fake_embed)
    visits = np.zeros((c.num_venues, 168))
    np.add.at(visits, (c.venue[train], hour_of_week(c.time[train])), 1.0)
    counts = np.bincount(c.venue[train], minlength=c.num_venues)
    assert np.array_equal(vf.visits.numpy(), visits) and np.array_equal(vf.train_counts.numpy(), counts)
    assert torch.allclose(vf.hours, torch.as_tensor(visits / np.maximum(counts, 1)[:, None], dtype=torch.float32))
