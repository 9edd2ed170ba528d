"""Label-free adaptation: feature homophily, score propagation and self-training against references, and proof
that the evaluated labels are read only by the scorer."""

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from graphrep.data.tag import strip_labels
from graphrep.models import GraphShaper
from graphrep.tasks.tag.adaptation import (ADAPTATIONS, AdaptationConfig, adapt_scores, feature_homophily,
                                           propagate_scores, propagation_alpha, self_train)
from graphrep.tasks.tag.alignment import evaluate_zero_shot, predict_zero_shot
from graphrep.tasks.tag.zero_shot import normalized_adjacency


def _two_clusters(n=40, d=8, seed=0, homophilous=True):
    """Two noisy clusters along e0/e1; edges inside clusters (homophilous) or only across them."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = F.one_hot(y, d).float() + 0.3 * torch.randn(n, d, generator=g)
    a, b = (y == 0).nonzero().flatten(), (y == 1).nonzero().flatten()
    if homophilous:
        pairs = [(c[i], c[(i + 1) % len(c)]) for c in (a, b) for i in range(len(c))]
    else:
        pairs = [(a[i], b[i]) for i in range(len(a))] + [(a[i], b[(i + 1) % len(b)]) for i in range(len(a))]
    ei = torch.tensor([[int(s) for s, _ in pairs], [int(t) for _, t in pairs]])
    return x, torch.cat([ei, ei.flip(0)], 1), y


def _homophily_reference(x, ei):
    x = F.normalize(x, dim=-1)
    nbrs = {i: set() for i in range(x.size(0))}
    for s, t in ei.t().tolist():
        if s != t:
            nbrs[s].add(t)
            nbrs[t].add(s)
    has = [i for i in nbrs if nbrs[i]]
    mean = x.mean(0)
    resid = sum(float((x[i] - x[sorted(nbrs[i])].mean(0)).pow(2).sum()) for i in has)
    total = sum(float((x[i] - mean).pow(2).sum()) for i in has)
    return 1 - resid / total


def test_feature_homophily_matches_a_loop_and_separates_homophily_from_heterophily():
    for homophilous in (True, False):
        x, ei, _ = _two_clusters(homophilous=homophilous)
        assert feature_homophily(x, ei) == pytest.approx(_homophily_reference(x, ei), abs=1e-5)
    assert feature_homophily(*_two_clusters()[:2]) > 0.3
    assert feature_homophily(*_two_clusters(homophilous=False)[:2]) < -0.3
    x = torch.randn(5, 3)
    no_edges = torch.zeros(2, 0, dtype=torch.long)
    assert feature_homophily(x, no_edges) != feature_homophily(x, no_edges)  # nan
    assert propagation_alpha(float("nan")) == 0 and propagation_alpha(-0.4) == 0
    assert propagation_alpha(0.1, scale=0.2) == pytest.approx(0.5) and propagation_alpha(5.0) == 0.9


def test_propagate_scores_is_the_personalised_pagerank_iteration():
    x, ei, _ = _two_clusters()
    p0 = torch.softmax(torch.randn(x.size(0), 2, generator=torch.Generator().manual_seed(1)), -1)
    s = normalized_adjacency(ei, x.size(0)).to_dense()
    ref = p0.clone()
    for _ in range(7):
        ref = 0.3 * p0 + 0.7 * s @ ref
    ref = ref / ref.sum(-1, keepdim=True)
    assert torch.allclose(propagate_scores(p0, ei, 0.7, steps=7), ref, atol=1e-5)
    assert propagate_scores(p0, ei, 0.0) is p0
    with pytest.raises(ValueError, match="alpha"):
        propagate_scores(p0, ei, 1.0)


def test_self_training_repairs_a_noisy_prior_on_separable_data():
    x, _, y = _two_clusters(n=200, d=8)
    g = torch.Generator().manual_seed(0)
    # prior: right but unconfident on most nodes, confidently right on a few, wrong on 30%
    logits = torch.where(y.unsqueeze(1) == torch.arange(2), 0.2, 0.0)
    flip = torch.rand(200, generator=g) < 0.3
    logits[flip] = logits[flip].flip(-1)
    logits[:10] = torch.where(y[:10].unsqueeze(1) == torch.arange(2), 5.0, 0.0)
    prior = torch.softmax(logits, -1)
    before = float((prior.argmax(-1) == y).float().mean())
    after = float((self_train(x, prior, threshold=0.9, min_per_class=3).argmax(-1) == y).float().mean())
    assert before < 0.7 and after > 0.85


@pytest.mark.parametrize("method", ADAPTATIONS)
def test_adaptation_never_needs_labels_and_ignores_them(method):
    x, ei, y = _two_clusters()
    cls = torch.eye(8)[:2]
    out = adapt_scores(x, cls, ei, method, AdaptationConfig(min_per_class=2))
    assert out["pred"].shape == (40,) and torch.allclose(out["probs"].sum(-1), torch.ones(40), atol=1e-5)
    assert float((out["pred"] == y).float().mean()) > 0.9
    if "propagate" in method:
        assert out["alpha"] > 0  # homophilous: propagation is on
    x_het, ei_het, _ = _two_clusters(homophilous=False)
    het = adapt_scores(x_het, cls, ei_het, method, AdaptationConfig(min_per_class=2))
    assert het["alpha"] == 0  # heterophilous: propagation is off


class FakeEncoder:
    """Deterministic bag-of-characters embedding."""

    def encode(self, texts):
        out = torch.zeros(len(texts), 16)
        for i, t in enumerate(texts):
            for ch in t:
                out[i, ord(ch) % 16] += 1
        return F.normalize(out, dim=-1)


def test_evaluated_labels_are_read_only_by_the_scorer():
    texts = [w for w in ("alpha", "omega") for _ in range(6)]
    ei = torch.tensor([[i, i + 1] for i in range(11) if i != 5]).t()
    data = Data(edge_index=torch.cat([ei, ei.flip(0)], 1), y=torch.tensor([0] * 6 + [1] * 6), text=texts,
                class_names=["alpha", "omega"], num_nodes=12)
    model = GraphShaper(16, 8, 8, variant="euclidean", text_encoder=FakeEncoder())
    for method in ADAPTATIONS:
        # the prediction path runs on a graph that has no labels at all: any read of y would raise
        bare = strip_labels(data)
        pred = predict_zero_shot(model, bare, "{}", adaptation=method,
                                 adapt_config=AdaptationConfig(min_per_class=2))["pred"]
        # and the evaluation path gives the same predictions whatever the labels say
        res = evaluate_zero_shot(model, data, "{}", adaptation=method, adapt_config=AdaptationConfig(min_per_class=2))
        flipped = data.clone()
        flipped.y = 1 - data.y
        res_flipped = evaluate_zero_shot(model, flipped, "{}", adaptation=method,
                                         adapt_config=AdaptationConfig(min_per_class=2))
        assert torch.equal(res["pred"], pred) and torch.equal(res_flipped["pred"], pred)
        assert res["accuracy"] == pytest.approx(1 - res_flipped["accuracy"])
        assert res["accuracy"] == pytest.approx(float((pred == data.y).float().mean()))


def test_homophily_is_read_from_the_text_embeddings_when_given():
    x, ei, _ = _two_clusters(homophilous=False)
    smoothed = torch.sparse.mm(normalized_adjacency(ei, x.size(0)), x)  # a graph model's output: looks homophilous
    smoothed = torch.sparse.mm(normalized_adjacency(ei, x.size(0)), smoothed)
    cls = torch.eye(8)[:2]
    assert adapt_scores(smoothed, cls, ei, "propagate")["homophily"] > feature_homophily(x, ei)
    out = adapt_scores(smoothed, cls, ei, "propagate", text_emb=x)
    assert out["homophily"] == pytest.approx(feature_homophily(x, ei)) and out["alpha"] == 0


def _messy_graph(n=60, e=400, seed=3):
    """Random directed edges with duplicates, both directions of some pairs, and self-loops; one isolated node."""
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n - 1, (2, e), generator=g)
    return torch.cat([ei, ei[:, :50].flip(0), torch.tensor([[4, 4], [4, 9]])], 1), n


def _homophily_gather(x, edge_index):
    """feature_homophily as it was before it went through the CSR (gathers x[src], E x d): the scale reference."""
    x = F.normalize(x.float(), dim=-1)
    n = x.size(0)
    ei = edge_index[:, edge_index[0] != edge_index[1]]
    ei = torch.cat([ei, ei.flip(0)], 1).unique(dim=1)
    deg = torch.zeros(n).index_add_(0, ei[1], torch.ones(ei.size(1)))
    has = deg > 0
    nbr = torch.zeros_like(x).index_add_(0, ei[1], x[ei[0]]) / deg.clamp_min(1).unsqueeze(1)
    return float(1 - (x - nbr)[has].pow(2).sum() / (x - x.mean(0, keepdim=True))[has].pow(2).sum())


def test_feature_homophily_through_the_csr_matches_the_gather_version():
    ei, n = _messy_graph()
    x = torch.randn(n, 16, generator=torch.Generator().manual_seed(0))
    x[:30] += 2 * F.one_hot(torch.arange(30) % 3, 16)
    assert feature_homophily(x, ei) == pytest.approx(_homophily_gather(x, ei), abs=1e-5)
    assert feature_homophily(x, ei) == pytest.approx(_homophily_reference(x, ei), abs=1e-5)


def test_adapt_scores_with_one_adjacency_matches_the_steps_run_separately():
    """adapt_scores builds S once for feature hops and score propagation; the same steps with S built per call give
    the same probabilities."""
    from graphrep.tasks.tag.adaptation import _probs
    from graphrep.tasks.tag.zero_shot import propagate, zero_shot_predict

    x, ei, _ = _two_clusters(n=60, d=8)
    cls = F.one_hot(torch.arange(2), 8).float()
    cfg = AdaptationConfig()
    out = adapt_scores(x, cls, ei, "propagate", cfg)
    assert out["alpha"] > 0
    h = propagate(F.normalize(x, dim=-1), ei, cfg.feature_hops)
    h = h - h.mean(0, keepdim=True)
    ref = propagate_scores(_probs(zero_shot_predict(h, cls)[1], cfg.temperature), ei, out["alpha"], cfg.steps)
    assert torch.allclose(out["probs"], ref, atol=1e-6)


def test_feature_homophily_in_row_blocks_equals_the_one_shot_formula(monkeypatch):
    """Summed in row blocks (bounded memory), the estimate is the whole-matrix formula; isolated nodes left out."""
    import numpy as np

    from graphrep.tasks.tag import adaptation
    from graphrep.tasks.tag.zero_shot import symmetric_adjacency

    gen = torch.Generator().manual_seed(0)
    n = 3000
    x = torch.randn(n, 8, generator=gen) + 0.5
    ei = torch.randint(0, n - 100, (2, 6000), generator=gen)  # the last 100 nodes are isolated
    xx = F.normalize(x, dim=-1)
    a = symmetric_adjacency(ei, n)
    deg = torch.from_numpy(np.diff(a.indptr).astype(np.float32))
    has = deg > 0
    nbr = torch.from_numpy(np.asarray(a @ xx.numpy())) / deg.clamp_min(1).unsqueeze(1)
    ref = 1 - (xx - nbr)[has].pow(2).sum() / (xx - xx.mean(0, keepdim=True))[has].pow(2).sum()
    monkeypatch.setattr(adaptation, "_ROWS", 256)
    assert adaptation.feature_homophily(x, ei) == pytest.approx(float(ref), rel=1e-5)


@pytest.mark.parametrize("hops", [0, 1, 2, 3])
@pytest.mark.parametrize("center", [False, True])
def test_streamed_features_are_the_propagated_features(monkeypatch, hops, center):
    """adapt_scores never holds the [N, d] propagated features (issue 26): their row norms, column statistics,
    products and gathered rows, streamed in column blocks, equal those of the whole tensor."""
    from graphrep.tasks.tag import adaptation
    from graphrep.tasks.tag.zero_shot import propagate

    monkeypatch.setattr(adaptation, "_VALUES", 120)  # 2 columns per block at N = 60
    monkeypatch.setattr(adaptation, "_ROWS", 7)
    ei, n = _messy_graph()
    x = torch.randn(n, 6, generator=torch.Generator().manual_seed(1)) + 0.3
    adj = normalized_adjacency(ei, n)
    ref = propagate(F.normalize(x, dim=-1), ei, hops, adj)
    ref = ref - ref.mean(0, keepdim=True) if center else ref
    z = adaptation._Streamed(x, hops, adj if hops else None, center)
    assert torch.allclose(z.sq, ref.pow(2).sum(1), atol=1e-5)
    assert torch.allclose(z.fmean, ref.mean(0), atol=1e-6) and torch.allclose(z.fstd, ref.std(0), atol=1e-5)
    w = torch.randn(3, 6, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(z.products(w), ref @ w.t(), atol=1e-5)
    assert torch.allclose(z.cosine(w), F.normalize(ref, dim=-1) @ F.normalize(w, dim=-1).t(), atol=1e-5)
    idx = torch.tensor([4, 0, 59, 17, 4, 33])  # the isolated node 59, a repeat
    assert torch.allclose(z.rows(idx), ref[idx], atol=1e-5)
    if hops:
        assert not torch.allclose(ref, F.normalize(x, dim=-1), atol=1e-3)  # it did propagate


@pytest.mark.parametrize("method", ADAPTATIONS)
def test_streamed_adaptation_equals_the_whole_tensor_steps(method):
    """adapt_scores (streamed) gives the probabilities of the steps on whole tensors: normalise, propagate,
    centre, cosine scores, score propagation, self-training on the features."""
    from graphrep.tasks.tag.adaptation import _probs
    from graphrep.tasks.tag.zero_shot import propagate, zero_shot_predict

    x, ei, _ = _two_clusters(n=60, d=8)
    cls = F.one_hot(torch.arange(2), 8).float() + 0.1
    cfg = AdaptationConfig()
    out = adapt_scores(x, cls, ei, method, cfg)
    h = F.normalize(x, dim=-1)
    if "propagate" in method:
        h = propagate(h, ei, cfg.feature_hops)
    h = h - h.mean(0, keepdim=True)
    ref = _probs(zero_shot_predict(h, cls)[1], cfg.temperature)
    if "propagate" in method:
        ref = propagate_scores(ref, ei, out["alpha"], cfg.steps)
    if "self-train" in method:
        ref = self_train(h, ref, cfg.threshold, cfg.min_per_class, cfg.rounds, prior_weight=cfg.prior_weight)
    assert out["alpha"] > 0
    assert torch.allclose(out["probs"], ref, atol=1e-5)


def test_source_chosen_alpha_and_centring_replace_the_homophily_rule():
    """AdaptationConfig(alpha=...) propagates with that alpha whatever the homophily estimate says (heterophilous
    edges here, whose rule alpha is 0); source_adaptation_config turns a route into those settings."""
    from graphrep.tasks.tag.adaptation import _probs
    from graphrep.tasks.tag.alignment import source_adaptation_config
    from graphrep.tasks.tag.zero_shot import propagate, zero_shot_predict

    x, ei, _ = _two_clusters(n=60, d=8, homophilous=False)
    cls = F.one_hot(torch.arange(2), 8).float()
    assert adapt_scores(x, cls, ei, "propagate")["alpha"] == 0.0  # the fixed rule: no propagation here
    route = {"alpha": 0.8, "threshold": 0.3, "low": "text"}
    cfg = source_adaptation_config(route, agreement=0.5)
    assert cfg.alpha == 0.8 and cfg.center is True and cfg.temperature == AdaptationConfig().temperature
    out = adapt_scores(x, cls, ei, "propagate", cfg)
    h = propagate(F.normalize(x, dim=-1), ei, cfg.feature_hops)
    ref = propagate_scores(_probs(zero_shot_predict(h - h.mean(0, keepdim=True), cls)[1], cfg.temperature), ei, 0.8,
                           cfg.steps)
    assert out["alpha"] == 0.8 and torch.allclose(out["probs"], ref, atol=1e-6)
    low = source_adaptation_config(route, agreement=0.3)  # at the threshold: neither propagate nor centre
    assert low.alpha == 0.0 and low.center is False
    plain = adapt_scores(x, cls, ei, "propagate", low)
    assert torch.allclose(plain["probs"], _probs(zero_shot_predict(x, cls)[1], low.temperature), atol=1e-6)
