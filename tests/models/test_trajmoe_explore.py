"""TrajMoE's returners-and-explorers mixture (``new_scores``): the gate mixes two restricted softmaxes."""

import math

import pytest
import torch

from graphrep.data.errors import InvalidInputError
from graphrep.models.trajmoe import TrajMoE, first_visits, gated_log_probs, path_evidence

from test_trajmoe import batch, features  # tests/models is on sys.path (rootdir import)

KW = dict(category_dim=8, dim=16, heads=2, expert_hidden=8, max_len=8, dropout=0.0)


def test_gated_log_probs_match_a_hand_computed_mixture():
    # 4 venues, the user visited 0 and 2; g = log(1/3): pi = sigmoid(g) = 0.25
    z_ret = torch.tensor([[math.log(3.0), 5.0, 0.0, -1.0]])
    z_new = torch.tensor([[9.0, math.log(4.0), 7.0, 0.0]])
    visited = torch.tensor([[True, False, True, False]])
    g = torch.tensor([math.log(1 / 3)])
    p = gated_log_probs(z_ret, z_new, visited, g, torch.tensor([True])).exp()[0]
    # returns: 0.75 * (3, 1) / 4; explorations: 0.25 * (4, 1) / 5
    assert torch.allclose(p, torch.tensor([0.75 * 3 / 4, 0.25 * 4 / 5, 0.75 * 1 / 4, 0.25 * 1 / 5]), atol=1e-6)
    # no history: one softmax of the exploration scores
    q = gated_log_probs(z_ret, z_new, visited, g, torch.tensor([False])).exp()[0]
    assert torch.allclose(q, torch.softmax(z_new[0], 0), atol=1e-6)


def test_each_path_keeps_its_mass_on_its_own_venues():
    """The visited venues' probabilities depend on the return scores alone and sum to 1 - pi; the unvisited ones' on
    the exploration scores alone and sum to pi; every row sums to 1."""
    g0 = torch.Generator().manual_seed(0)
    m, v = 5, 12
    z_ret, z_new, g = torch.randn(m, v, generator=g0), torch.randn(m, v, generator=g0), torch.randn(m, generator=g0)
    visited = torch.rand(m, v, generator=g0) < 0.4
    visited[:, 0], visited[:, 1] = True, False  # both sets non-empty
    has = torch.ones(m, dtype=torch.bool)
    p = gated_log_probs(z_ret, z_new, visited, g, has).exp()
    assert torch.allclose(p.sum(1), torch.ones(m), atol=1e-5)
    pi = torch.sigmoid(g)
    assert torch.allclose((p * visited).sum(1), 1 - pi, atol=1e-5)
    assert torch.allclose((p * ~visited).sum(1), pi, atol=1e-5)
    # moving the exploration scores of visited venues, or the return scores of unvisited ones, changes nothing
    p2 = gated_log_probs(z_ret + 5 * (~visited) * torch.randn(m, v, generator=g0),
                         z_new + 5 * visited * torch.randn(m, v, generator=g0), visited, g, has).exp()
    assert torch.allclose(p, p2, atol=1e-6)
    # ... while moving one unvisited venue's exploration score moves only the unvisited venues
    z3 = z_new.clone()
    z3[:, 1] += 2.0
    p3 = gated_log_probs(z_ret, z3, visited, g, has).exp()
    assert torch.allclose(p3[visited], p[visited], atol=1e-6) and (p3[:, 1] > p[:, 1]).all()


def test_first_visits_count_visits_before_the_window():
    # one window over venues (candidates) 4, 7, 9; venue 7 was visited once before the window
    b = {"local": torch.tensor([[0, 1, 0, 2, 1]]), "mask": torch.ones(1, 5, dtype=torch.bool),
         "candidates": torch.tensor([[4, 7, 9]]), "base_counts": torch.tensor([[0.0, 1.0, 0.0]]),
         "targets": torch.tensor([[1, 1, 1, 1, 1]])}
    first = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0])  # 4 new, 7 seen before, 4 again, 9 new, 7 again
    rate, now = first_visits(b, recent=2)
    assert torch.equal(now, first)
    assert torch.allclose(rate, torch.tensor([1.0, 0.5, 0.0, 0.5, 0.5]))
    rate_all, _ = first_visits(b, recent=10)
    assert torch.allclose(rate_all, first.cumsum(0) / torch.arange(1, 6))


def test_new_scores_start_as_popularity_among_unvisited_venues():
    torch.manual_seed(0)
    v = 9
    model = TrajMoE(**KW, explore_gate=True, new_scores=True).eval()
    b = batch(v=v)
    f = features(v)
    with torch.no_grad():
        logp, _ = model(f, b, transitions=torch.zeros(v, v))
    log_pop = f[:, 8 + 4]
    pi = torch.sigmoid(torch.tensor(-1.386))  # the gate's starting bias, zero weights
    for m in range(len(logp)):
        w, pos = divmod(m, b["inputs"].size(1))
        seen = torch.zeros(v, dtype=torch.bool)
        seen[b["inputs"][w, :pos + 1]] = True
        assert torch.isclose(logp[m].exp()[~seen].sum(), pi, atol=1e-5)
        expect = torch.log_softmax(7.0 * log_pop[~seen], 0) + torch.log(pi)
        assert torch.allclose(logp[m][~seen], expect, atol=1e-4)


def test_new_scores_need_the_gate_and_the_transitions():
    with pytest.raises(InvalidInputError, match="explore_gate"):
        TrajMoE(**KW, new_scores=True)
    model = TrajMoE(**KW, explore_gate=True, new_scores=True).eval()
    with pytest.raises(ValueError, match="transitions"):
        model(features(9), batch())


def test_path_evidence_compares_the_two_paths_over_their_own_venues():
    z_ret = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    z_new = torch.tensor([[0.0, 5.0, 1.0], [0.0, 5.0, 1.0]])
    visited = torch.tensor([[True, False, True], [False, False, False]])  # row 1: no history
    lse, top = path_evidence(z_ret, z_new, visited)
    assert torch.allclose(lse, torch.tensor([5.0 - math.log(math.e + math.e ** 3), 0.0]))
    assert torch.allclose(top, torch.tensor([5.0 - 3.0, 0.0]))
    with pytest.raises(InvalidInputError, match="gate_evidence needs new_scores"):
        TrajMoE(**KW, explore_gate=True, gate_evidence=True)
