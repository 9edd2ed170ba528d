"""The shared first-order Markov rule: counts first, popularity breaks ties, an unknown previous venue ranks by
popularity alone; checked against a hand-computed ranking."""

import torch

from graphrep.train.baselines import markov_scores


def test_markov_ranking_by_hand():
    counts = torch.tensor([[0., 3., 1., 1.],
                           [2., 0., 0., 0.],
                           [0., 0., 0., 0.],
                           [5000., 4999., 0., 0.]])
    pop = torch.tensor([1., 10., 4., 7.])
    s = markov_scores(counts, torch.tensor([0, 1, 2, -1, 3]), pop)
    assert s.dtype == torch.float64 and s.shape == (5, 4)
    order = s.argsort(1, descending=True).tolist()
    assert order[0] == [1, 3, 2, 0]          # 3 moves to 1; 2 and 3 tie at 1 move, 3 is more popular
    assert order[1] == [0, 1, 3, 2]          # one move, then popularity
    assert order[2] == [1, 3, 2, 0]          # no move from venue 2: popularity
    assert order[3] == [1, 3, 2, 0]          # unknown previous venue: popularity
    assert order[4][:2] == [0, 1]            # a count difference of 1 among thousands is not overridden by popularity


def test_markov_is_lexicographic_on_random_counts():
    g = torch.Generator().manual_seed(0)
    counts = torch.randint(0, 50, (30, 30), generator=g).float()
    pop = torch.randint(0, 1000, (30,), generator=g).float()
    prev = torch.randint(-1, 30, (40,), generator=g)
    s = markov_scores(counts, prev, pop)
    for m, u in enumerate(prev.tolist()):
        row = counts[u] if u >= 0 else torch.zeros(30)
        for a in range(30):
            for b in range(30):
                key_a, key_b = (float(row[a]), float(pop[a])), (float(row[b]), float(pop[b]))
                if key_a > key_b:
                    assert s[m, a] > s[m, b]
                elif key_a == key_b:
                    assert s[m, a] == s[m, b]
