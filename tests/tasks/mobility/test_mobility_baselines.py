"""The user-transition rule (hand-computed ranking on a toy sequence), the exact lexicographic score, and the
exploration split (a target is new iff absent from the user's earlier check-ins) through the windows."""

import numpy as np
import pytest
import torch

from graphrep.data.mobility import CheckIns, SkipLog
from graphrep.data.mobility.sequences import build_windows
from graphrep.tasks.mobility.baselines import baseline_scores, lexicographic
from graphrep.data.errors import InvalidInputError
from graphrep.tasks.mobility.exploration import exploration_metrics, novel_targets
from graphrep.train.metrics import target_ranks


def toy_checkins(users, venues, num_venues):
    n = len(venues)
    return CheckIns("toy", np.asarray(users, dtype=np.int64), np.asarray(venues, dtype=np.int64),
                    np.arange(n, dtype=np.int64) * 60, [str(u) for u in sorted(set(users))],
                    [f"v{i}" for i in range(num_venues)], ["unknown"] * num_venues, np.zeros(num_venues),
                    np.zeros(num_venues), np.ones(num_venues, dtype=bool), SkipLog())


def only_test_batch(c, split, length=16):
    w = build_windows(c, np.asarray(split), 2, np.zeros((len(c), 4), dtype=np.float32), length, length // 2)
    return w, w.batch(torch.arange(len(w)))


def test_user_transition_rule_hand_computed_ranking():
    # one user: 0 1 0 2 0 1 3 0 | target. From venue 0 the user moved to 1 twice and to 2 once; visit counts
    # 0:4, 1:2, 2:1, 3:1, 4:0, 5:0; popularity 5 > 0 > 4 > 2 > 3 > 1.
    seq = [0, 1, 0, 2, 0, 1, 3, 0, 3]
    c = toy_checkins([0] * len(seq), seq, 6)
    _, batch = only_test_batch(c, [0] * 8 + [2])
    pop = torch.tensor([5.0, 1.0, 3.0, 2.0, 4.0, 6.0])
    scores, targets = baseline_scores("user_transition", batch, pop)
    assert targets.tolist() == [3]
    # own moves from 0 first (1 before 2), then own visits (0 before 3), then popularity among unvisited (5 before 4)
    assert torch.argsort(scores[0], descending=True).tolist() == [1, 2, 0, 3, 5, 4]
    assert target_ranks(scores, targets).tolist() == [4]
    scores, _ = baseline_scores("user_frequency", batch, pop)
    assert torch.argsort(scores[0], descending=True).tolist() == [0, 1, 2, 3, 5, 4]
    scores, _ = baseline_scores("popularity", batch, pop)
    assert target_ranks(scores, targets).tolist() == [5]


def test_lexicographic_orders_by_first_key_then_next():
    rng = np.random.default_rng(0)
    keys = [rng.integers(0, 4, 200), rng.integers(0, 50, 200), rng.random(200) * 1000]
    s = lexicographic(*(torch.tensor(k)[None] for k in keys))[0].numpy()
    order = np.lexsort((keys[2], keys[1], keys[0]))  # np.lexsort sorts by the last key first
    assert np.all(np.diff(s[order]) > 0)


def brute_novel(user, venue):
    return np.array([venue[r] not in set(venue[:r][user[:r] == user[r]]) for r in range(len(user))])


def test_novel_targets_iff_absent_from_the_users_earlier_rows():
    assert novel_targets(np.array([0, 0, 0, 1, 1]), np.array([2, 2, 3, 2, 2])).tolist() == [True, False, True, True,
                                                                                            False]
    rng = np.random.default_rng(1)
    user = np.sort(rng.integers(0, 5, 300))
    venue = rng.integers(0, 30, 300)
    assert novel_targets(user, venue).tolist() == brute_novel(user, venue).tolist()


def test_window_targets_map_to_their_rows_and_restrict_keeps_the_chosen_ones():
    rng = np.random.default_rng(2)
    user = np.sort(rng.integers(0, 4, 120))
    venue = rng.integers(0, 12, 120)
    c = toy_checkins(user.tolist(), venue.tolist(), 12)
    split = np.zeros(len(user), dtype=np.int64)
    for u in range(4):
        rows = np.flatnonzero(user == u)
        split[rows[len(rows) // 2:]] = 2
    w, _ = only_test_batch(c, split, length=8)
    scored = w.targets >= 0
    rows = w.target_rows[scored].numpy()
    assert sorted(rows.tolist()) == np.flatnonzero((split == 2) & np.r_[False, user[1:] == user[:-1]]).tolist()
    assert w.targets[scored].tolist() == venue[rows].tolist()
    keep = novel_targets(user, venue)
    r = w.restrict(keep)
    kept = r.target_rows[r.targets >= 0].numpy()
    assert sorted(kept.tolist()) == sorted(x for x in rows.tolist() if keep[x])
    assert r.targets[r.targets >= 0].tolist() == venue[kept].tolist()


def test_exploration_metrics_split_new_and_returns():
    m = exploration_metrics(np.array([1, 3, 20, 2]), np.array([True, False, True, False]))
    assert m["new_share"] == 0.5 and m["n"] == 4 and m["new/n"] == 2
    assert m["new/acc@1"] == 0.5 and m["new/acc@10"] == 0.5 and m["return/acc@1"] == 0.0
    assert m["return/acc@5"] == 1.0 and m["acc@5"] == 0.75
    assert m["new/mrr@10"] == pytest.approx(0.5) and m["new/mrr"] == pytest.approx((1 + 1 / 20) / 2)
    assert "new/acc@1" not in exploration_metrics(np.array([2]), np.array([False]))


def test_zero_fraction_markov_counts_use_every_training_row(tmp_path):
    """``transfer --fraction 0`` prepares the target with a vanishing fraction and feature_users="all": its Markov
    counts must be those of all training rows (they had come from the one drawn user)."""
    from graphrep.tasks.mobility.training import prepare_city

    rng = np.random.default_rng(3)
    user = np.sort(rng.integers(0, 6, 200))
    c = toy_checkins(user.tolist(), rng.integers(0, 9, 200).tolist(), 9)
    embed = lambda names: torch.zeros(len(names), 4)  # noqa: E731
    full = prepare_city("toy", checkins=c, embed_categories=embed, length=8)
    zero = prepare_city("toy", checkins=c, embed_categories=embed, length=8, fraction=1e-9, feature_users="all")
    assert len(zero.train_users) == 1 and full.markov.sum() > 0
    assert torch.equal(zero.markov, full.markov)


def test_unvisited_rank_counts_only_venues_the_user_had_not_visited():
    from graphrep.tasks.mobility.evaluation import collect_ranks

    seq = [0, 1, 0, 2, 0, 1, 3, 0, 4]  # target 4: never visited; unvisited venues are 4 and 5
    c = toy_checkins([0] * len(seq), seq, 6)
    w, _ = only_test_batch(c, [0] * 8 + [2])
    pop = torch.tensor([5.0, 1.0, 3.0, 2.0, 4.0, 6.0])
    ranks, rows, unvisited = collect_ranks(w, lambda b: baseline_scores("popularity", b, pop))
    assert rows.tolist() == [8] and ranks.tolist() == [3] and unvisited.tolist() == [2]
    m = exploration_metrics(ranks, novel_targets(c.user, c.venue)[rows], unvisited)
    assert m["new/acc@1"] == 0.0 and m["new-among-unvisited/mrr"] == 0.5


def brute_slate(scores, visited, slots, target, top=5):
    """The slate of ``slate_ranks`` built by sorting, one row: best first, ties to the target, then the lower id."""
    order = sorted(range(len(scores)), key=lambda v: (-scores[v], v != target, v))
    listed = []
    for p in range(1, top + 1):
        pool = [v for v in order if v not in listed and (p <= top - slots or not visited[v])]
        pool = pool or [v for v in order if v not in listed]
        listed.append(pool[0])
    return listed + [v for v in order if v not in listed]


def test_slate_ranks_match_an_explicitly_built_list():
    from graphrep.tasks.mobility.exploration import slate_ranks

    rng = np.random.default_rng(0)
    for trial in range(40):
        m, v = 7, int(rng.integers(6, 14))
        scores = torch.tensor(rng.integers(0, 5, (m, v)), dtype=torch.float32)  # many ties
        visited = torch.tensor(rng.random((m, v)) < (0.9 if trial % 4 == 0 else 0.4))  # some rows short of unvisited
        targets = torch.tensor(rng.integers(0, v, m))
        for slots in range(0, 6):
            got = slate_ranks(scores, targets, visited, slots)
            for i in range(m):
                slate = brute_slate(scores[i].tolist(), visited[i].tolist(), slots, int(targets[i]))
                t = int(targets[i])
                if slate.index(t) < 5:
                    want = slate.index(t) + 1
                else:  # below the top five: the model's order, ties counted in the target's favour as in target_ranks
                    want = 6 + sum(1 for u in slate[5:] if scores[i, u] > scores[i, t])
                assert int(got[i]) == want, (trial, slots, i)
    with pytest.raises(InvalidInputError, match="slots"):
        slate_ranks(scores, targets, visited, 6)


def test_exploration_slots_put_the_best_unvisited_venue_in_the_top_five():
    from graphrep.tasks.mobility.exploration import slate_ranks

    scores = torch.tensor([[9.0, 8, 7, 6, 5, 4, 3, 2]])
    visited = torch.tensor([[True] * 6 + [False] * 2])
    assert slate_ranks(scores, torch.tensor([6]), visited, 0).tolist() == [7]
    assert slate_ranks(scores, torch.tensor([6]), visited, 1).tolist() == [5]
    assert slate_ranks(scores, torch.tensor([7]), visited, 2).tolist() == [5]
    assert slate_ranks(scores, torch.tensor([0]), visited, 2).tolist() == [1]  # Acc@1 unchanged
    assert slate_ranks(scores, torch.tensor([3]), visited, 2).tolist() == [6]  # a return pushed below the slots
