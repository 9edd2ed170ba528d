r"""Training the routed GraphShaper's gate on source graphs: which expert (text only, propagation, signed) to trust
on which graph and node, learnt from the sources' labels and class names, then applied to an unseen target.

Every graph gets two label-free graph-level gate inputs (:func:`graph_features`): the agreement :math:`a_1` and the
structure ratio :math:`\hat s` of :func:`graphrep.tasks.tag.adaptation.structure_estimate`, computed from the graph's
own texts, edges and class prompts. The gate (:class:`graphrep.nn.gate.StructuralGate`) reads them beside each node's
standardised structural descriptors.

:func:`fit_router` minimises, over source graphs :math:`g` and their nodes, the cross-entropy of the zero-shot scores
:math:`\cos(e_i - \bar e, t_c) / \tau` of the model's (centred) node embeddings against the source labels (ZeroG's
protocol also trains on the sources' labels and class names; the target's are never read). Only the gate trains by
default: with the projection zero-initialised the model is :math:`e_i = \sum_k g_{ik} (S_k X)_i`, a per-node mixture
of the experts' training-free views, so the gate alone decides between text and neighbours.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from graphrep.models import GraphShaper
from graphrep.tasks.tag.adaptation import (choose_route, knn_adjacency, refine_prototypes, score_propagation,
                                           structure_estimate, text_probs)
from graphrep.tasks.tag.zero_shot import normalized_adjacency

__all__ = ["graph_features", "fit_router", "mean_gate_weights", "LOW_BRANCHES", "ROUTE_ALPHAS", "KNN_WEIGHTS",
           "ROUTE_OPTIONS", "KNN_NEIGHBOURS", "choose_two_way_route",
           "source_two_way_route", "two_way_scores", "route_gain", "sources_two_way_route", "route_branch"]


def graph_features(data, class_emb: torch.Tensor) -> torch.Tensor:
    """``[2]``: (agreement, structure) of :func:`~graphrep.tasks.tag.adaptation.structure_estimate` on ``data.x``
    (text embeddings) and ``data.edge_index``; NaN (no edges) becomes 0. Label-free."""
    est = structure_estimate(data.x, data.edge_index, class_emb)
    vals = [est["agreement"], est["structure"]]
    return torch.tensor([0.0 if v != v else max(-2.0, min(2.0, v)) for v in vals])


def fit_router(model: GraphShaper, sources: list, class_embs: list[torch.Tensor], epochs: int = 200,
               lr: float = 0.05, temperature: float = 0.05, gate_only: bool = True, seed: int = 0,
               centre: bool = True) -> list[float]:
    """Train ``model``'s gate (everything with ``gate_only=False``) on the labelled ``sources`` (each a ``Data`` with
    ``x``, ``edge_index``, ``y`` and ``graph_features``) against their class embeddings ``class_embs[g]`` ``[C_g, d]``:
    full batch, one Adam step per epoch over all sources, the per-graph cross-entropies averaged (each graph weighs
    the same). ``centre``: score the centred embeddings :math:`e_i - \bar e` (else the plain ones: on WebKB
    centring costs 5-20 points under every view, so a centred fit learns little about which view to trust there).
    Returns the loss per epoch."""
    if model.gate is None:
        raise ValueError(f"variant {model.variant!r} has no gate to fit; use a gated variant (e.g. 'routed')")
    if len(sources) != len(class_embs) or not sources:
        raise ValueError("need one class-embedding matrix per source graph")
    torch.manual_seed(seed)
    prepared = []
    for g, t in zip(sources, class_embs):
        inputs = model.inputs(g)
        frozen = None
        if gate_only:  # experts and projection are fixed: encode once, re-mix per step (the same function)
            x, graph = inputs[0], inputs[1]
            with torch.no_grad():
                zs = torch.stack([e.to_shared(e(x, graph)) for e in model.experts], -1)
                views = torch.stack([e.skip(x, graph, model.skip_hops) for e in model.experts], -1)
            frozen = (zs, views)
        prepared.append((inputs, frozen, g.y.long(), F.normalize(t.float(), dim=-1)))
    params = list(model.gate.parameters()) if gate_only else list(model.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    model.train()
    losses = []
    for _ in range(epochs):
        loss = 0.0
        for inputs, frozen, y, t in prepared:
            if frozen is None:
                e = model(*inputs).embedding
            else:
                desc, glob = inputs[2], inputs[3] if len(inputs) > 3 else None
                w = model.gate(desc, inputs[0] if model.gate.emb is not None else None, glob).unsqueeze(1)
                e = model.proj((frozen[0] * w).sum(-1))
                if model.residual:
                    e = e + (frozen[1] * w).sum(-1)
            e = F.normalize(e - e.mean(0, keepdim=True) if centre else e, dim=-1)
            loss = loss + F.cross_entropy(e @ t.t() / temperature, y)
        loss = loss / len(prepared)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


@torch.no_grad()
def mean_gate_weights(model: GraphShaper, data) -> dict[str, float]:
    """Mean gate weight per expert over ``data``'s nodes (what the gate learnt for this graph)."""
    _, w = model.encode_nodes(data, return_weights=True)
    return dict(zip(model.expert_names, w.mean(0).tolist()))


# --- two-way route: score propagation above a source-chosen threshold, text (or refined prototypes) below ------------
LOW_BRANCHES = ("text", "refined prototypes")
ROUTE_ALPHAS = (0.8, 0.9, 0.95)  # score-propagation strengths the sources choose among
KNN_WEIGHTS = (0.0, 0.1, 0.2, 0.35, 0.5)  # weights of the text-similarity graph in the propagation (0: the graph alone)
KNN_NEIGHBOURS = 10  # neighbours per node of that graph (adaptation.knn_adjacency)
#: the sources' choices above the threshold: (alpha, kNN weight) of score propagation
ROUTE_OPTIONS = tuple((a, w) for a in ROUTE_ALPHAS for w in KNN_WEIGHTS)


def _option(option) -> tuple[float, float]:
    """(alpha, kNN weight) of a route option: a pair of :data:`ROUTE_OPTIONS`, or an alpha alone (weight 0)."""
    return (float(option[0]), float(option[1])) if isinstance(option, (tuple, list)) else (float(option), 0.0)


def choose_two_way_route(values: list[float], high_gains: dict, low_gains: dict,
                         midpoint: str = "geometric") -> dict:
    r"""A route between two branches, chosen on *source* graphs with label-free estimates ``values[g]``:

    * above the threshold, the option of ``high_gains`` (e.g. score propagation with some :math:`\alpha`) and the
      threshold are :func:`~graphrep.tasks.tag.adaptation.choose_route` (gains over text only);
    * at or below it, the option of ``low_gains`` (``{name: gains over text only per source}``, e.g.
      :data:`LOW_BRANCHES`) that earns most over the sources that fall at or below the threshold; text only (gain 0)
      unless an option earns more than 0 there, the first listed on ties.

    Returns ``{"alpha", "knn_weight", "threshold": t, "low": low option}``: the high option split by
    :func:`_option` (an alpha alone has kNN weight 0).
    """
    option, t = choose_route(values, high_gains, midpoint)
    alpha, knn_weight = _option(option)
    below = [i for i, v in enumerate(values) if v <= t]
    low, earned = "text", 0.0
    for option, g in low_gains.items():
        e = sum(g[i] for i in below)
        if e > earned:
            low, earned = option, e
    return {"alpha": alpha, "knn_weight": knn_weight, "threshold": t, "low": low}


def source_two_way_route(graphs: dict, target: str, estimate, high_gains: dict, low_gains: dict,
                         midpoint: str = "geometric") -> dict:
    """:func:`choose_two_way_route` over every graph of ``graphs`` (name -> graph) except ``target``
    (leave-one-graph-out): ``estimate(graph)`` is label-free; ``high_gains[option](graph)`` and
    ``low_gains[option](graph)`` may read that *source* graph's labels. None of them is ever called on the target, so
    neither its labels nor its graph can move the route."""
    names = [n for n in graphs if n != target]
    if not names:
        raise ValueError(f"no source graph besides the target {target!r}")
    values = [float(estimate(graphs[n])) for n in names]
    return choose_two_way_route(values, {o: [float(fn(graphs[n])) for n in names] for o, fn in high_gains.items()},
                                {o: [float(fn(graphs[n])) for n in names] for o, fn in low_gains.items()}, midpoint)


def two_way_scores(x: torch.Tensor, class_emb: torch.Tensor, edge_index: torch.Tensor, route: dict,
                   agreement: float, temperature: float = 0.05, adj: torch.Tensor | None = None,
                   knn_adj: torch.Tensor | None = None) -> torch.Tensor:
    r"""Class probabilities of a target under a two-way ``route`` (:func:`source_two_way_route`), label-free:
    ``agreement`` (the target's :math:`a_1`, from its own texts, edges and class prompts) above ``route["threshold"]``:
    :func:`~graphrep.tasks.tag.adaptation.score_propagation` with :math:`\alpha` = ``route["alpha"]`` and the
    text-similarity graph's weight ``route["knn_weight"]`` (0 when absent; ``knn_adj`` its adjacency if known); else
    :math:`\mathrm{softmax}(\cos(x, t)/\tau)` with :math:`t` the class embeddings (``low = "text"``) or the prototypes
    refined on the target's own confident nodes (``"refined prototypes"``,
    :func:`~graphrep.tasks.tag.adaptation.refine_prototypes` on the raw texts).

    Shapes: x ``[N, d]``, class_emb ``[C, d]``, edge_index ``[2, E]`` -> ``[N, C]``.
    """
    if agreement > route["threshold"]:
        return score_propagation(x, class_emb, edge_index, route["alpha"], temperature, adj=adj,
                                 knn_weight=route.get("knn_weight", 0.0), knn=KNN_NEIGHBOURS, knn_adj=knn_adj)
    if route["low"] not in LOW_BRANCHES:
        raise ValueError(f"unknown low branch {route['low']!r}; choose from {LOW_BRANCHES}")
    t = refine_prototypes(x, class_emb) if route["low"] == "refined prototypes" else class_emb
    return text_probs(x, t, temperature)


def route_branch(route: dict, agreement: float) -> str:
    """The branch of ``route`` that a graph with label-free agreement ``agreement`` takes, in words."""
    if agreement <= route["threshold"]:
        return route["low"]
    w = route.get("knn_weight", 0.0)
    return f"score propagation, alpha {route['alpha']}" + (f", kNN weight {w}" if w else "")


def route_gain(data, class_emb: torch.Tensor, option, temperature: float = 0.05,
               knn_adj: torch.Tensor | None = None, adj: torch.Tensor | None = None) -> float:
    r"""Accuracy gain over text only of one route ``option`` on a *source* graph ``data`` (``x``, ``edge_index`` and
    its labels ``y``): an :math:`\alpha` or an (:math:`\alpha`, kNN weight) pair of score propagation
    (:data:`ROUTE_OPTIONS`), or a low branch of :data:`LOW_BRANCHES`, scored with ``class_emb`` ``[C, d]`` (e.g. the
    source's prompt ensemble). ``knn_adj``, ``adj``: the source's text-similarity graph and normalised citation graph
    when the caller has them (one per source, not one per option). Reads
    ``data.y``: never call it on a target."""
    from graphrep.tasks.tag.zero_shot import accuracy

    if option in LOW_BRANCHES:
        probs = two_way_scores(data.x, class_emb, data.edge_index, {"threshold": float("inf"), "low": option}, 0.0,
                               temperature)
    else:
        alpha, w = _option(option)
        probs = score_propagation(data.x, class_emb, data.edge_index, alpha, temperature, adj=adj, knn_weight=w,
                                  knn=KNN_NEIGHBOURS, knn_adj=knn_adj)
    return accuracy(probs.argmax(-1), data.y) - accuracy(text_probs(data.x, class_emb, temperature).argmax(-1), data.y)


def sources_two_way_route(sources: list, class_embs: list[torch.Tensor], alphas=ROUTE_OPTIONS,
                          midpoint: str = "geometric") -> dict:
    """The two-way route chosen on ``sources`` alone (the target is not an argument, so neither its labels nor its
    graph can move it): each source's label-free estimate is its ``graph_features[0]`` (:math:`a_1`, or from
    :func:`graph_features` with ``class_embs[g]`` when absent) and its gains are :func:`route_gain` with
    ``class_embs[g]``. What ``graphrep tag zero-shot`` uses; :func:`choose_two_way_route` documents the rule."""
    if len(sources) != len(class_embs) or not sources:
        raise ValueError("need one class-embedding matrix per source graph")
    values = [float((g.graph_features if getattr(g, "graph_features", None) is not None
                     else graph_features(g, c))[0]) for g, c in zip(sources, class_embs)]
    knn = [knn_adjacency(g.x, KNN_NEIGHBOURS) if any(_option(a)[1] > 0 for a in alphas) else None for g in sources]
    adj = [normalized_adjacency(g.edge_index, g.x.size(0)) for g in sources]
    return choose_two_way_route(values, {a: [route_gain(g, c, a, knn_adj=k, adj=m)
                                             for g, c, k, m in zip(sources, class_embs, knn, adj)] for a in alphas},
                                {b: [route_gain(g, c, b) for g, c in zip(sources, class_embs)] for b in LOW_BRANCHES},
                                midpoint)
