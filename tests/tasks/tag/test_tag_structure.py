"""Label-free structure estimate, LLM-BP's signed step, prototype refinement, class descriptions, score propagation,
and thresholds and routes chosen on source graphs only (issue 24)."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from graphrep.data.errors import InvalidInputError
from graphrep.tasks.tag.adaptation import (choose_route, choose_threshold, knn_adjacency, refine_prototypes,
                                           score_propagation, signed_propagation, source_route, source_threshold,
                                           structure_estimate)
from graphrep.tasks.tag.zero_shot import description_embeddings, read_class_descriptions


def _sbm(n=600, c=4, p_in=0.9, deg=6, noise=0.9, seed=0):
    """Planted classes; each node's 'text' is its class direction plus Gaussian noise (``noise`` sets text
    quality); a fraction ``p_in`` of edges join nodes of the same class."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % c
    protos = F.normalize(torch.randn(c, 32, generator=g), dim=-1)
    m = n * deg // 2
    src = torch.randint(0, n, (m,), generator=g)
    same = torch.rand(m, generator=g) < p_in
    # a same-class partner: a random node shifted to src's class; else any node
    other = torch.randint(0, n // c, (m,), generator=g) * c
    dst = torch.where(same, other + y[src], torch.randint(0, n, (m,), generator=g))
    ei = to_undirected(torch.stack([src, dst]))
    return y, protos, ei, g


def _texts(y, protos, noise, seed):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(protos[y] + noise * torch.randn(y.numel(), protos.size(1), generator=g) / 4, dim=-1)


def _add_random(ei, n, frac, seed=1):
    g = torch.Generator().manual_seed(seed)
    extra = torch.randint(0, n, (2, int(frac * ei.size(1) / 2)), generator=g)
    return torch.cat([ei, extra, extra.flip(0)], 1)


def test_structure_estimate_falls_with_random_edges_not_with_worse_texts():
    y, protos, ei, _ = _sbm()
    n = y.numel()
    good, bad = _texts(y, protos, 1.0, 0), _texts(y, protos, 2.0, 0)
    base = structure_estimate(good, ei, protos)
    noisy_edges = structure_estimate(good, _add_random(ei, n, 0.2), protos)
    short_texts = structure_estimate(bad, ei, protos)
    # the worse texts are really worse (zero-shot accuracy drops) ...
    acc = lambda x: float(((x @ protos.t()).argmax(-1) == y).float().mean())
    assert acc(bad) < acc(good) - 0.1
    # ... which the 1-hop agreement sees, but the structure ratio does not; random edges lower the ratio
    assert short_texts["agreement"] < base["agreement"] - 0.05
    assert noisy_edges["structure"] < base["structure"] - 0.05
    assert abs(short_texts["structure"] - base["structure"]) < 0.05


def test_structure_estimate_without_edges_is_nan():
    x = torch.randn(5, 4)
    est = structure_estimate(x, torch.empty(2, 0, dtype=torch.long), torch.randn(2, 4))
    assert est["agreement"] != est["agreement"] and est["structure"] != est["structure"]


def _loop_bp(probs, ei, h):
    """Per-node loop reference of one belief-propagation step."""
    n, c = probs.shape
    comp = h * torch.eye(c) + (1 - h) / c
    nbrs = {i: set() for i in range(n)}
    for a, b in ei.t().tolist():
        if a != b:
            nbrs[a].add(b)
            nbrs[b].add(a)
    out = []
    for i in range(n):
        logp = probs[i].clamp_min(1e-6).log()
        if nbrs[i]:
            logp = logp + sum((comp @ probs[j]).clamp_min(1e-6).log() for j in nbrs[i]) / len(nbrs[i])
        out.append(torch.softmax(logp, -1))
    return torch.stack(out)


@pytest.mark.parametrize("h", [-0.6, 0.0, 0.7])
def test_signed_propagation_matches_a_loop(h):
    torch.manual_seed(0)
    probs = torch.softmax(torch.randn(7, 3), -1)
    ei = torch.tensor([[0, 1, 2, 3, 0, 5], [1, 2, 3, 4, 4, 6]])
    out = signed_propagation(probs, ei, h)
    torch.testing.assert_close(out, _loop_bp(probs, ei, h), atol=1e-5, rtol=1e-5)
    if h == 0:
        torch.testing.assert_close(out, probs, atol=1e-5, rtol=1e-5)


def test_signed_propagation_sign_follows_the_estimate():
    probs = torch.tensor([[0.5, 0.5], [0.9, 0.1]])  # node 0 undecided, its neighbour says class 0
    ei = torch.tensor([[0], [1]])
    assert signed_propagation(probs, ei, 0.8)[0, 0] > 0.5
    assert signed_propagation(probs, ei, -0.8)[0, 0] < 0.5


def test_refined_prototypes_are_robust_to_a_reworded_class():
    y, protos, ei, g = _sbm(seed=3)
    x = _texts(y, protos, 1.5, 3)
    # 'synonyms': each class prompt rotated away from its class by a random direction
    worded = F.normalize(protos + 0.9 * F.normalize(torch.randn(protos.shape, generator=g), dim=-1), dim=-1)
    acc = lambda t: float(((x @ t.t()).argmax(-1) == y).float().mean())
    refined = refine_prototypes(x, worded)
    assert acc(refined) > acc(worded) + 0.05
    assert acc(refine_prototypes(x, protos)) > acc(protos) - 0.02  # good prompts stay good


def _sources(step):
    """Four tiny labelled graphs ("target" last) whose estimate is ``h``; ``called`` records every graph that an
    estimate or gain function was called on; ``gain(scale)`` reads the graph's labels."""
    torch.manual_seed(0)
    graphs = {}
    for i, name in enumerate(["a", "b", "c", "target"]):
        d = Data(edge_index=torch.randint(0, 10, (2, 20)), y=torch.randint(0, 3, (10,)), num_nodes=10)
        d.h = step * i
        graphs[name] = d
    called = []

    def estimate(d):
        called.append(d)
        return d.h

    def gain(scale=1.0):
        def g(d):
            called.append(d)
            return scale * (float(d.y.float().mean()) - 1.0 + d.h)
        return g

    return graphs, called, estimate, gain


def _change_target(graphs):
    """Other labels, another graph and another estimate for the target."""
    graphs["target"].y = 2 - graphs["target"].y
    graphs["target"].edge_index = graphs["target"].edge_index.flip(0)[:, :5]
    graphs["target"].h = -3.0


def test_choose_threshold_known_value_and_source_only():
    # acting helps the two homophilous sources (0.7, 0.6) and hurts the two others (0.1, 0.2)
    assert choose_threshold([0.7, 0.1, 0.6, 0.2], [3.0, -5.0, 2.0, -1.0]) == pytest.approx(0.4)
    graphs, called, estimate, gain = _sources(0.2)
    t = source_threshold(graphs, "target", estimate, gain())
    assert all(d is not graphs["target"] for d in called)
    _change_target(graphs)
    assert source_threshold(graphs, "target", estimate, gain()) == t


def test_class_descriptions_file(tmp_path):
    classes = ["Rule_Learning", "Theory"]
    f = tmp_path / "d.json"
    f.write_text(json.dumps({"_about": "comment", "rule learning": ["rules", "rule induction"], "Theory": "bounds"}))
    assert read_class_descriptions(f, classes) == [["rules", "rule induction"], ["bounds"]]
    for bad, msg in [({"Theory": "x"}, "no description"), ({"Theory": "x", "Rule_Learning": "", }, "non-empty"),
                     ({"Theory": "x", "Rule_Learning": "y", "Physics": "z"}, "not a class")]:
        f.write_text(json.dumps(bad))
        with pytest.raises(InvalidInputError, match=msg):
            read_class_descriptions(f, classes)
    f.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        read_class_descriptions(f, classes)


def test_description_embeddings_average_descriptions():
    table = {"a": torch.tensor([1.0, 0, 0]), "b": torch.tensor([0, 1.0, 0]), "c": torch.tensor([0, 0, 1.0])}
    encode = lambda texts: torch.stack([table[t] for t in texts])
    out = description_embeddings([["a", "b"], ["c"]], encode, templates="{}")
    torch.testing.assert_close(out, torch.tensor([[2 ** -0.5, 2 ** -0.5, 0], [0, 0, 1.0]]))


def test_score_propagation_matches_a_dense_reference_and_helps_on_homophilous_graphs():
    y, protos, ei, _ = _sbm(n=200, seed=5)
    x = _texts(y, protos, 2.0, 5)
    n, c = y.numel(), protos.size(0)
    # dense reference: class-centred cosine scores, softmax, APPNP with D^-1/2 (A + I) D^-1/2, renormalised
    a = torch.zeros(n, n)
    a[ei[0], ei[1]] = 1.0
    a = a.fill_diagonal_(0) + torch.eye(n)  # self-loops of the edge list count once, as in normalized_adjacency
    dinv = a.sum(1).rsqrt()
    a_hat = dinv[:, None] * a * dinv[None, :]
    s = x @ protos.t()
    p0 = torch.softmax((s - s.mean(0)) / 0.05, -1)
    p = p0
    for _ in range(10):
        p = 0.1 * p0 + 0.9 * a_hat @ p
    p = p / p.sum(-1, keepdim=True)
    out = score_propagation(x, protos, ei, alpha=0.9)
    torch.testing.assert_close(out, p, atol=1e-5, rtol=1e-4)
    assert out.shape == (n, c)
    acc = lambda q: float((q.argmax(-1) == y).float().mean())
    assert acc(out) > acc(s) + 0.1  # neighbours of the same class fix noisy texts
    # alpha = 0: the class-centred text scores alone
    torch.testing.assert_close(score_propagation(x, protos, ei, alpha=0.0), p0)


def _dense_hat(a):
    """D^-1/2 (A + I) D^-1/2 of a dense 0/1 adjacency (its diagonal ignored)."""
    a = a.clone().fill_diagonal_(0) + torch.eye(a.size(0))
    dinv = a.sum(1).rsqrt()
    return dinv[:, None] * a * dinv[None, :]


def test_knn_adjacency_matches_a_dense_reference_in_blocks():
    x = torch.randn(50, 8, generator=torch.Generator().manual_seed(3))
    xn = F.normalize(x, dim=-1)
    sim = (xn @ xn.t()).fill_diagonal_(-2.0)
    a = torch.zeros(50, 50)
    a[torch.arange(50).repeat_interleave(4), sim.topk(4, dim=-1).indices.flatten()] = 1.0
    a = ((a + a.t()) > 0).float()  # undirected
    ref = _dense_hat(a)
    for block in (7, 2048):  # the row blocks do not change the graph
        torch.testing.assert_close(knn_adjacency(x, 4, block=block).to_dense(), ref)
    with pytest.raises(ValueError, match="k must be"):
        knn_adjacency(x, 0)


def test_score_propagation_with_the_knn_graph_matches_a_dense_reference_and_helps_without_structure():
    y, protos, _, _ = _sbm(n=200, seed=6)
    x = _texts(y, protos, 3.0, 6)
    n = y.numel()
    g = torch.Generator().manual_seed(6)
    ei = to_undirected(torch.randint(0, n, (2, n), generator=g))  # random edges: no class structure
    a = torch.zeros(n, n)
    a[ei[0], ei[1]] = 1.0
    mixed = 0.65 * _dense_hat(a) + 0.35 * knn_adjacency(x, 10).to_dense()
    s = x @ protos.t()
    p0 = torch.softmax((s - s.mean(0)) / 0.05, -1)
    p = p0
    for _ in range(10):
        p = 0.1 * p0 + 0.9 * mixed @ p
    out = score_propagation(x, protos, ei, alpha=0.9, knn_weight=0.35, knn=10)
    torch.testing.assert_close(out, p / p.sum(-1, keepdim=True), atol=1e-5, rtol=1e-4)
    # weight 0 is the graph alone; the texts' own neighbours carry the class where the edges do not
    torch.testing.assert_close(score_propagation(x, protos, ei, 0.9, knn_weight=0.0),
                               score_propagation(x, protos, ei, 0.9))
    acc = lambda q: float((q.argmax(-1) == y).float().mean())
    assert acc(out) > acc(score_propagation(x, protos, ei, 0.9)) + 0.03
    with pytest.raises(ValueError, match="knn_weight"):
        score_propagation(x, protos, ei, 0.9, knn_weight=1.5)


def test_choose_route_known_choice_and_source_only():
    # option "b" earns 3 + 2 on the two homophilous sources, "a" only 1 + 1
    values = [0.7, 0.1, 0.6, 0.2]
    option, t = choose_route(values, {"a": [1.0, -5.0, 1.0, -1.0], "b": [3.0, -5.0, 2.0, -1.0]})
    assert option == "b" and t == pytest.approx(0.4)
    assert choose_route(values, {"a": [1.0, 0, 0, 0], "b": [1.0, 0, 0, 0]})[0] == "a"  # ties: the first listed
    graphs, called, estimate, gain = _sources(0.3)
    route = source_route(graphs, "target", estimate, {0.8: gain(1.0), 0.9: gain(2.0)})
    assert all(d is not graphs["target"] for d in called)
    _change_target(graphs)
    assert source_route(graphs, "target", estimate, {0.8: gain(1.0), 0.9: gain(2.0)}) == route
