"""TrajMoE: causal, city-agnostic (any number of venues, no per-venue parameters), the user-history component."""

import torch

from graphrep.models.trajmoe import TrajMoE


def batch(b=2, n=6, v=9, seed=0):
    """A batch as ``Windows.batch`` gives it: candidates = each window's distinct inputs, padded with venue 0."""
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, v, (b, n), generator=g)
    uniques = [torch.unique(r) for r in inputs]
    k = max(len(u) for u in uniques)
    cand = torch.stack([torch.cat([u, torch.zeros(k - len(u), dtype=torch.long)]) for u in uniques])
    local = torch.stack([torch.searchsorted(u, r) for u, r in zip(uniques, inputs)])
    return {"inputs": inputs, "targets": torch.randint(0, v, (b, n), generator=g),
            "times": torch.cumsum(torch.randint(10, 500, (b, n), generator=g), 1),
            "priors": torch.rand(b, n, 4, generator=g), "mask": torch.ones(b, n, dtype=torch.bool),
            "local": local, "candidates": cand, "base_counts": torch.zeros(b, k), "base_last": torch.full((b, k), -1e12),
            "trans": torch.zeros(b, n, k)}


def features(v, seed=0):
    return torch.randn(v, 8 + 2 + 1 + 2 + 168, generator=torch.Generator().manual_seed(seed))


def test_causal_and_any_number_of_venues():
    torch.manual_seed(0)
    for backbone in ("moe", "dense", "gru"):
        model = TrajMoE(category_dim=8, dim=16, heads=2, expert_hidden=8, backbone=backbone, max_len=8).eval()
        b = batch()
        logits, targets = model(features(9), b)
        assert logits.shape == (12, 9) and torch.equal(targets, b["targets"].reshape(-1))
        later = dict(b)
        later["inputs"] = b["inputs"].clone()
        later["inputs"][:, -1] = (b["inputs"][:, -1] + 1) % 9
        logits2, _ = model(features(9), later)
        # the first five positions of each window do not see the changed last input
        rows = torch.tensor([p for i in range(2) for p in range(i * 6, i * 6 + 5)])
        assert torch.allclose(logits[rows], logits2[rows], atol=1e-5)
        # another city: 30 venues, same weights
        assert model(features(30, 1), batch(v=30))[0].shape == (12, 30)
    assert not any(p.size(0) in (9, 30) for p in model.parameters() if p.dim() > 0)


def test_history_component_adds_scores_only_to_visited_venues():
    torch.manual_seed(0)
    model = TrajMoE(category_dim=8, dim=16, heads=2, expert_hidden=8, max_len=8).eval()
    b = batch()
    b["base_counts"] = torch.zeros_like(b["base_counts"])
    b["base_counts"][0, 0] = 3.0
    b["base_last"][0, 0] = 0.0
    with torch.no_grad():
        model.history.weight.zero_()
        model.history.bias.copy_(torch.tensor([1.0, 0, 0, 0, 0, 0]))  # + log(1 + count)
    with_hist, _ = model(features(9), b)
    model.history = None
    without, _ = model(features(9), b)
    diff = with_hist - without
    v0 = int(b["candidates"][0, 0])
    visits = torch.zeros(6, 9)
    for p in range(6):
        visits[p, v0] += 3
        for q in range(p + 1):
            visits[p, b["inputs"][0, q]] += 1
    assert torch.allclose(diff[:6], torch.log1p(visits), atol=1e-5)
    assert model.active_parameters() < sum(p.numel() for p in model.parameters())


def test_global_scores_leave_each_training_targets_own_move_out():
    """In training, the city-wide counts from the current venue miss the target's own move (once); in evaluation they
    are the counts as given. Reference: the same formula on counts edited by hand."""
    torch.manual_seed(0)
    v = 9
    model = TrajMoE(category_dim=8, dim=16, heads=2, expert_hidden=8, max_len=8, backbone="dense", dropout=0.0,
                    global_scores=True)
    b = batch(v=v)
    m = torch.randint(0, 4, (v, v)).float()
    cur, tgt = b["inputs"].reshape(-1), b["targets"].reshape(-1)
    m[cur[0], tgt[0]] = 0.0  # a target whose move is not in the counts: nothing to leave out, no negative count
    m[cur[1], tgt[1]] = 3.0
    feats = features(v)
    for j in (0, 1):  # psi_0 = log(1 + M), psi_1 = log(1 + M) / log(2 + out-degree)
        with torch.no_grad():
            model.globals.weight.zero_()
            model.globals.bias.zero_()
            model.globals.bias[j] = 1.0
        model.eval()
        with torch.no_grad():
            evaluated, _ = model(feats, b, transitions=m)
            model.train()
            trained, _ = model(feats, b, transitions=m)
        counts = m[cur].clone()
        held = counts[torch.arange(len(tgt)), tgt].clamp_max(1.0)
        counts[torch.arange(len(tgt)), tgt] -= held
        if j == 0:
            expect_eval, expect_train = torch.log1p(m[cur]), torch.log1p(counts)
        else:
            expect_eval = torch.log1p(m[cur]) / torch.log(2 + m[cur].sum(1, keepdim=True))
            expect_train = torch.log1p(counts) / torch.log(2 + counts.sum(1, keepdim=True))
        assert torch.allclose(evaluated - trained, expect_eval - expect_train, atol=1e-5)
        if j == 0:  # only the target's own entry moves, by log(1 + c) - log(c) where c > 0
            changed = (evaluated - trained).abs() > 1e-6
            assert torch.equal(changed, torch.nn.functional.one_hot(tgt, v).bool() & (m[cur, tgt] > 0)[:, None])
            assert changed[1, tgt[1]] and not changed[0].any()


def test_explore_gate_splits_the_mass_between_visited_and_new_venues():
    """With the gate, each row is a distribution whose mass on the venues visited so far is sigmoid(-g); within each
    group, the order of the plain scores is kept; a position without history is one softmax."""
    torch.manual_seed(0)
    v = 9
    kw = dict(category_dim=8, dim=16, heads=2, expert_hidden=8, max_len=8, dropout=0.0)
    plain = TrajMoE(**kw).eval()
    gated = TrajMoE(**kw, explore_gate=True).eval()
    gated.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        gated.gate.bias.fill_(0.7)
    b = batch(v=v)
    with torch.no_grad():
        z, _ = plain(features(v), b)
        logp, _ = gated(features(v), b)
    assert torch.allclose(logp.exp().sum(1), torch.ones(len(logp)), atol=1e-5)
    for m in range(len(logp)):
        w, p = divmod(m, b["inputs"].size(1))
        seen = torch.zeros(v, dtype=torch.bool)
        seen[b["inputs"][w, :p + 1]] = True  # the window's inputs up to the position (no visits before the window)
        assert torch.isclose(logp[m].exp()[seen].sum(), torch.sigmoid(torch.tensor(-0.7)), atol=1e-5)
        for group in (seen, ~seen):
            assert torch.allclose(logp[m][group] - logp[m][group].max(), z[m][group] - z[m][group].max(), atol=1e-4)
    # no history at all (an empty window position is never scored, so: no candidate has a count): plain softmax
    empty = dict(b, local=torch.zeros_like(b["local"]), mask=torch.zeros_like(b["mask"]))
    with torch.no_grad():
        z0, _ = plain(features(v), empty)
        p0, _ = gated(features(v), empty)
    assert torch.allclose(p0, torch.log_softmax(z0, 1), atol=1e-5)
