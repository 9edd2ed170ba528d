"""TrajMoE's co-visitation evidence (``covisit``): item-item collaborative filtering from the user's visited venues,
the user's own training visits left out."""

import pytest
import torch

from graphrep.data.errors import InvalidInputError
from graphrep.models.trajmoe import TrajMoE, covisit_scores

from test_trajmoe import batch, features  # tests/models is on sys.path (rootdir import)

KW = dict(category_dim=8, dim=16, heads=2, expert_hidden=8, max_len=8, dropout=0.0)


def toy():
    """One window of user 0: inputs 0, 1, 0 (candidates [0, 1, 2], venue 2 visited before the window), 3 targets."""
    return {"inputs": torch.tensor([[0, 1, 0]]), "targets": torch.tensor([[1, 0, 3]]),
            "local": torch.tensor([[0, 1, 0]]), "mask": torch.ones(1, 3, dtype=torch.bool),
            "candidates": torch.tensor([[0, 1, 2]]), "base_counts": torch.tensor([[0.0, 0.0, 2.0]]),
            "user": torch.tensor([0])}


USERS = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0],   # user 0 (the window's): left out
                      [1.0, 0.0, 0.0, 1.0, 1.0],   # user 1: visited 0, 3, 4
                      [0.0, 2.0, 1.0, 0.0, 1.0]])  # user 2: visited 1 (twice), 2, 4


def test_covisit_scores_match_a_hand_computation():
    # position 0: S = {2, 0}; |S & T_1| = 1, |S & T_2| = 1 -> b_1 + b_2 = [1, 1, 1, 1, 2]
    # position 1: S = {2, 0, 1}; |S & T_1| = 1, |S & T_2| = 2 -> b_1 + 2 b_2 = [1, 2, 2, 1, 3]; position 2: the same
    expect = torch.tensor([[1.0, 1, 1, 1, 2], [1, 2, 2, 1, 3], [1, 2, 2, 1, 3]])
    assert torch.allclose(covisit_scores(toy(), USERS), expect)
    # the same through C = sum_{u' != 0} b_u' b_u'^T: s_v = sum_{w in S} C_wv
    b = (USERS[1:] > 0).float()
    c = b.T @ b
    assert torch.allclose(covisit_scores(toy(), USERS)[0], c[[2, 0]].sum(0))


def test_covisit_scores_leave_the_users_own_visits_out():
    """Whatever the window's user visited in training (their later targets included), the scores do not move; another
    user's visits do move them."""
    base = covisit_scores(toy(), USERS)
    for row in (torch.zeros(5), torch.ones(5), torch.tensor([0.0, 0.0, 0.0, 0.0, 9.0])):
        users = USERS.clone()
        users[0] = row
        assert torch.equal(covisit_scores(toy(), users), base)
    users = USERS.clone()
    users[1, 2] = 1.0
    assert not torch.equal(covisit_scores(toy(), users), base)


def test_covisit_needs_a_city_wide_path_and_the_user_matrix():
    with pytest.raises(InvalidInputError, match="covisit"):
        TrajMoE(**KW, covisit=True)
    model = TrajMoE(**KW, explore_gate=True, new_scores=True, covisit=True).eval()
    b = batch(v=9)
    b["user"] = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="users"):
        model(features(9), b, transitions=torch.zeros(9, 9))


def test_the_exploration_path_starts_as_its_rule_and_reads_the_covisits():
    """At the start, p_new over the unvisited venues is the softmax of 2 log-pop + 1.5 log(1 + co-visits)
    - 2.5 log(1 + 10 d) + log(1 + M), on psi as the model computes it."""
    torch.manual_seed(0)
    v = 9
    model = TrajMoE(**KW, explore_gate=True, new_scores=True, covisit=True).eval()
    b = batch(v=v)
    b["user"] = torch.tensor([0, 1])
    f = features(v)
    m = torch.randint(0, 3, (v, v)).float()
    users = torch.randint(0, 2, (3, v)).float()
    with torch.no_grad():
        logp, _ = model(f, b, transitions=m, users=users)
    cov = covisit_scores(b, users)
    coords, log_pop = f[:, 8:10], f[:, 8 + 4]
    pi = torch.sigmoid(torch.tensor(-1.386))
    for row in range(len(logp)):
        w, pos = divmod(row, b["inputs"].size(1))
        cur = b["inputs"][w, pos]
        seen = torch.zeros(v, dtype=torch.bool)
        seen[b["inputs"][w, :pos + 1]] = True
        z = (2.0 * log_pop + 1.5 * torch.log1p(cov[row]) - 2.5 * torch.log1p(10 * (coords - coords[cur]).norm(dim=1))
             + torch.log1p(m[cur]))
        assert torch.allclose(logp[row][~seen], torch.log_softmax(z[~seen], 0) + torch.log(pi), atol=1e-4)


def test_the_covisit_column_is_relative_to_the_rows_best_venue():
    """In the city-wide scores, the column is log(1 + s_v) - max_w log(1 + s_w): 0 at the row's best venue, whatever
    the city's level of co-visits."""
    torch.manual_seed(0)
    v = 9
    model = TrajMoE(**KW, global_scores=True, covisit=True).eval()
    b = batch(v=v)
    b["user"] = torch.tensor([0, 1])
    f, m = features(v), torch.zeros(v, v)
    users = torch.randint(0, 2, (4, v)).float()
    with torch.no_grad():
        base, _ = model(f, b, transitions=m, users=users)
        model.globals.bias[-1] = 1.0  # the covisit column, weight 1
        with_cov, _ = model(f, b, transitions=m, users=users)
    cov = torch.log1p(covisit_scores(b, users))
    assert torch.allclose(with_cov - base, cov - cov.amax(1, keepdim=True), atol=1e-5)
