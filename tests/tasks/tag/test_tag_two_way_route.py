"""The two-way route (score propagation above a source-chosen threshold on the label-free agreement estimate, text or
refined prototypes below), the geometric threshold, and the routed GraphShaper's text fallback (issue 24)."""

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from graphrep.data.transforms.structural import structural_descriptors
from graphrep.models import GraphShaper
from graphrep.tasks.tag.adaptation import (_probs, choose_threshold, refine_prototypes, score_propagation,
                                           structure_estimate)
from graphrep.tasks.tag.routing import (LOW_BRANCHES, ROUTE_OPTIONS, choose_two_way_route, graph_features,
                                        route_gain, source_two_way_route, sources_two_way_route, two_way_scores)

ALPHAS = (0.8, 0.9)
N, C, D = 400, 4, 32
PROTOS = F.normalize(torch.randn(C, D, generator=torch.Generator().manual_seed(7)), dim=-1)


def _graph(random_edges: bool, seed: int) -> Data:
    """Noisy 'texts' around planted class directions; edges join same-class nodes (homophilous) or uniformly random
    nodes (no structure)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(N) % C
    x = F.normalize(PROTOS[y] + 0.6 * torch.randn(N, D, generator=g), dim=-1)
    src = torch.randint(0, N, (3 * N,), generator=g)
    dst = (torch.randint(0, N, (src.numel(),), generator=g) if random_edges
           else torch.randint(0, N // C, (src.numel(),), generator=g) * C + y[src])
    keep = src != dst
    return Data(x=x, y=y, edge_index=to_undirected(torch.stack([src[keep], dst[keep]])), num_nodes=N)


def _acc(probs, d):
    return float((probs.argmax(-1) == d.y).float().mean())


def _gain(option):
    """Accuracy gain over text only on a *source* graph (reads its labels); records every graph it is called on."""
    def gain(d):
        _gain.called.append(d)
        text = _probs(d.x @ PROTOS.t(), 0.05)
        if option in ("text", "refined prototypes"):
            probs = two_way_scores(d.x, PROTOS, d.edge_index, {"threshold": float("inf"), "low": option}, 0.0)
        else:
            alpha, w = option if isinstance(option, tuple) else (option, 0.0)
            probs = score_propagation(d.x, PROTOS, d.edge_index, alpha, knn_weight=w)
        return _acc(probs, d) - _acc(text, d)
    return gain


_gain.called = []


def _estimate(d):
    return structure_estimate(d.x, d.edge_index, PROTOS)["agreement"]


def _route(graphs, target):
    return source_two_way_route(graphs, target, _estimate, {a: _gain(a) for a in ALPHAS},
                                {b: _gain(b) for b in ("text", "refined prototypes")})


def _sources():
    return {"homo0": _graph(False, 0), "homo1": _graph(False, 1), "rand0": _graph(True, 2), "rand1": _graph(True, 3)}


def test_two_way_route_sends_random_edges_to_text_and_homophilous_graphs_to_propagation():
    graphs = _sources()
    graphs["target_homo"], graphs["target_rand"] = _graph(False, 10), _graph(True, 11)
    # propagation helps the homophilous sources and hurts the random-edge ones (so the sources have a choice)
    assert _gain(0.9)(graphs["homo0"]) > 0.1 and _gain(0.9)(graphs["rand0"]) < -0.02
    for target, should_propagate in (("target_homo", True), ("target_rand", False)):
        others = {k: v for k, v in graphs.items() if k.startswith(("homo", "rand")) or k == target}
        route = _route(others, target)
        d = graphs[target]
        a1 = _estimate(d)
        probs = two_way_scores(d.x, PROTOS, d.edge_index, route, a1)
        if should_propagate:
            assert a1 > route["threshold"]
            torch.testing.assert_close(probs, score_propagation(d.x, PROTOS, d.edge_index, route["alpha"]))
            assert _acc(probs, d) > _acc(_probs(d.x @ PROTOS.t(), 0.05), d) + 0.05
        else:
            assert a1 <= route["threshold"]
            t = refine_prototypes(d.x, PROTOS) if route["low"] == "refined prototypes" else PROTOS
            torch.testing.assert_close(probs, _probs(d.x @ F.normalize(t, dim=-1).t(), 0.05))
            # and propagating would have cost accuracy there
            assert _acc(score_propagation(d.x, PROTOS, d.edge_index, 0.9), d) < _acc(probs, d) - 0.02


def test_two_way_route_comes_from_sources_only():
    graphs = _sources()
    graphs["target"] = _graph(True, 11)
    _gain.called.clear()
    route = _route(graphs, "target")
    assert _gain.called and all(d is not graphs["target"] for d in _gain.called)
    # the target's labels and graph changed: the same route
    t = graphs["target"]
    t.y = torch.randint(0, C, (N,), generator=torch.Generator().manual_seed(5))
    t.edge_index = _graph(False, 12).edge_index
    assert _route(graphs, "target") == route
    # a source's labels do move it (so the test above can fail): relabel the homophilous sources at random
    for k in ("homo0", "homo1"):
        graphs[k].y = torch.randint(0, C, (N,), generator=torch.Generator().manual_seed(6))
    assert _route(graphs, "target") != route


def test_choose_threshold_geometric_midpoint_and_two_way_known_values():
    values, gains = [0.1, 0.9, 0.2, 0.8], [-1.0, 2.0, -1.0, 2.0]
    assert choose_threshold(values, gains) == pytest.approx(0.5)
    assert choose_threshold(values, gains, midpoint="geometric") == pytest.approx((0.2 * 0.8) ** 0.5)
    assert choose_threshold([-0.2, 0.6], [-1.0, 1.0], midpoint="geometric") == pytest.approx(0.2)  # <= 0: arithmetic
    with pytest.raises(ValueError, match="midpoint"):
        choose_threshold(values, gains, midpoint="harmonic")
    route = choose_two_way_route(values, {0.8: [-1.0, 1.0, -1.0, 1.0], 0.9: gains},
                                 {"text": [0.0] * 4, "refined prototypes": [3.0, -9.0, 1.0, -9.0]})
    # 0.9 earns more on the sources above; below the threshold refinement earns 3 + 1 (the -9s are above)
    assert route == {"alpha": 0.9, "knn_weight": 0.0, "threshold": pytest.approx(0.4), "low": "refined prototypes"}
    route = choose_two_way_route(values, {0.9: gains}, {"text": [0.0] * 4, "refined prototypes": [-1.0, 9, 0.5, 9]})
    assert route["low"] == "text"  # refinement loses below the threshold (-1 + 0.5), whatever it earns above
    # an (alpha, kNN weight) option is split into the route's two settings; an alpha alone has weight 0
    route = choose_two_way_route(values, {(0.95, 0.35): gains, (0.9, 0.0): [-1.0, 1.0, -1.0, 1.0]},
                                 {"text": [0.0] * 4})
    assert route == {"alpha": 0.95, "knn_weight": 0.35, "threshold": pytest.approx(0.4), "low": "text"}


def _routed_model(data, seed=0):
    torch.manual_seed(seed)
    model = GraphShaper(D, 8, 8, variant="routed")
    with torch.no_grad():  # a trained-looking projection, so the learnt correction is not zero
        for p in model.proj.parameters():
            p.normal_(0, 0.3)
    data.struct = structural_descriptors(data.edge_index, data.num_nodes, log_counts=True)[0]
    data.graph_features = graph_features(data, PROTOS)
    return model


def test_text_fallback_returns_the_input_embedding_exactly_below_the_threshold():
    d = _graph(True, 4)
    model = _routed_model(d)
    a1 = float(d.graph_features[0])
    plain = model.encode_nodes(d)
    model.set_text_fallback(a1 + 1e-3)  # the graph is at or below the threshold: text expert alone
    out = model(*model.inputs(d))
    assert torch.equal(out.embedding, F.normalize(d.x.float(), dim=-1))  # the (normalised) input, the same values
    emb, w = model.encode_nodes(d, return_weights=True)
    torch.testing.assert_close(emb, F.normalize(d.x.float(), dim=-1))
    assert torch.equal(w, torch.tensor([[1.0, 0.0, 0.0]]).expand(N, 3))
    assert not torch.allclose(plain, emb, atol=1e-3)  # without the fallback the model differs from text
    model.set_text_fallback(a1 - 1e-3)  # above the threshold: the model as it was
    torch.testing.assert_close(model.encode_nodes(d), plain)
    model.set_text_fallback(None)
    torch.testing.assert_close(model.encode_nodes(d), plain)
    with pytest.raises(ValueError, match="text expert"):
        GraphShaper(D, 8, 8, variant="gated").set_text_fallback(0.3)


def test_the_cli_route_over_a_list_of_sources_is_the_benchmark_leave_one_out_route():
    """sources_two_way_route (graphrep tag zero-shot: the --train graphs, no target argument) equals
    source_two_way_route over the same graphs with the target left out (the benchmark), and route_gain is the
    hand-written gain of the tests above."""
    graphs = _sources()
    graphs["target"] = _graph(True, 11)
    for option in (0.9, "refined prototypes"):
        assert route_gain(graphs["homo0"], PROTOS, option) == pytest.approx(_gain(option)(graphs["homo0"]))
    expect = source_two_way_route(graphs, "target", _estimate, {a: _gain(a) for a in ROUTE_OPTIONS},
                                  {b: _gain(b) for b in LOW_BRANCHES})
    got = sources_two_way_route([g for k, g in graphs.items() if k != "target"], [PROTOS] * 4)
    assert got == expect and (got["alpha"], got["knn_weight"]) in ROUTE_OPTIONS
    with pytest.raises(ValueError, match="one class-embedding"):
        sources_two_way_route([graphs["homo0"]], [])

