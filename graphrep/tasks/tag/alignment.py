r"""Training GraphShaper by node-text alignment, and its zero-shot evaluation (a plain full-batch loop, seeded).

One step on a graph with frozen node-text embeddings :math:`x_i` (:math:`\|x_i\| = 1`):

1. augment: drop each undirected edge with probability ``edge_drop``; zero feature columns (or whole node rows, or
   entries; ``feature_mask_mode``) with probability ``feature_mask`` (:mod:`graphrep.data.transforms.corrupt`);
2. encode all nodes, :math:`e = \mathrm{GraphShaper}(\tilde X, \tilde G)`;
3. draw ``batch_size`` anchors among the training nodes (all of them when ``None``) and minimise the symmetric
   InfoNCE with a learnable temperature between :math:`e_i` and the clean text embeddings :math:`x_j` of the anchors
   (:class:`graphrep.objectives.InfoNCE`); positives are each node's own text, plus its neighbours' texts with
   ``neighbour_positives``; ``hard_negatives`` adds MoCHi mixtures; plus ``gate_entropy`` times the mean gate
   entropy (:func:`graphrep.nn.gate.gate_entropy`).

Evaluation: cosine argmax between the model's node embeddings and the class-prompt embeddings
(:mod:`graphrep.tasks.tag.zero_shot`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import torch
from torch_geometric.utils import subgraph

from graphrep.data.tag import strip_labels, tag_info
from graphrep.data.transforms.corrupt import drop_edges, mask_features
from graphrep.models import GraphShaper
from graphrep.nn.experts import PropagationGraph
from graphrep.nn.gate import gate_entropy
from graphrep.objectives.contrastive import InfoNCE, neighbour_positive_mask
from graphrep.tasks.tag.adaptation import ADAPTATIONS, AdaptationConfig, adapt_scores
from graphrep.tasks.tag.zero_shot import DEFAULT_TEMPLATE, accuracy, class_embeddings, macro_f1, zero_shot_predict

__all__ = ["AlignmentConfig", "train_alignment", "run_signature", "predict_zero_shot", "score", "evaluate_zero_shot", "run_transfer",
           "default_templates", "DEFAULT_HARD_NEGATIVES", "TRANSFER_ADAPTATIONS", "source_adaptation_config"]

#: what :func:`run_transfer` (and ``graphrep tag zero-shot --adaptation``) accepts: the two-way route chosen on the
#: training graphs (:func:`graphrep.tasks.tag.routing.sources_two_way_route`), then :data:`ADAPTATIONS`
TRANSFER_ADAPTATIONS = ("route", *ADAPTATIONS)

DEFAULT_HARD_NEGATIVES = {"num_hard": 16, "num_mix": 8, "num_self_mix": 4}


@dataclass
class AlignmentConfig:
    """Training settings (defaults are the benchmark's)."""

    epochs: int = 30
    lr: float = 5e-3
    weight_decay: float = 0.0
    temperature: float = 0.07
    batch_size: int | None = 1024
    edge_drop: float = 0.2
    feature_mask: float = 0.2
    feature_mask_mode: str = "column"
    neighbour_positives: bool = False
    hard_negatives: dict | None = None
    gate_entropy: float = 0.0
    max_nodes: int | None = 4096  # larger graphs: a random induced subgraph per step
    seed: int = 0
    history: list = field(default_factory=list, repr=False)


def _check(cfg: AlignmentConfig) -> None:
    if cfg.epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {cfg.epochs}")
    if cfg.lr <= 0:
        raise ValueError(f"lr must be > 0, got {cfg.lr}")
    if cfg.batch_size is not None and cfg.batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (in-batch negatives) or None, got {cfg.batch_size}")
    if cfg.max_nodes is not None and cfg.max_nodes < 2:
        raise ValueError(f"max_nodes must be >= 2 or None, got {cfg.max_nodes}")


def _anchor_nodes(n: int, train_nodes: torch.Tensor | None) -> torch.Tensor:
    if train_nodes is None:
        return torch.arange(n)
    train_nodes = torch.as_tensor(train_nodes)
    nodes = train_nodes.nonzero().flatten() if train_nodes.dtype == torch.bool else train_nodes.long()
    if nodes.numel() < 2:
        raise ValueError(f"need at least 2 training nodes, got {nodes.numel()}")
    return nodes


def _sample_view(x, ei, desc, nodes, max_nodes, gen):
    """A random node-induced subgraph of at most ``max_nodes`` nodes (GraphSAINT's node sampler), or the graph."""
    n = x.size(0)
    if max_nodes is None or n <= max_nodes:
        return x, ei, desc, nodes
    keep = torch.randperm(n, generator=gen)[:max_nodes].sort().values
    sub_ei, _ = subgraph(keep, ei, relabel_nodes=True, num_nodes=n)
    pos = torch.full((n,), -1, dtype=torch.long)
    pos[keep] = torch.arange(keep.numel())
    sub_nodes = pos[nodes]
    return x[keep], sub_ei, None if desc is None else desc[keep], sub_nodes[sub_nodes >= 0]


class _AlignmentStep(torch.nn.Module):
    """The model and the loss as one module, so that one forward is one training step (what DDP wraps: one forward,
    one backward, the gradients of the model and of the learnable temperature averaged over the processes)."""

    def __init__(self, model: GraphShaper, criterion: InfoNCE):
        super().__init__()
        self.model, self.criterion = model, criterion

    def forward(self, views: list, gate_weight: float, generator: torch.Generator) -> torch.Tensor:
        emb, txt, masks, entropy = [], [], [], []
        for view_x, graph, desc, glob, anchors, clean_x, mask in views:
            out = self.model(view_x, graph, desc, *glob)
            emb.append(out.embedding[anchors])
            txt.append(clean_x[anchors])
            if mask is not None:
                masks.append(mask)
            if out.weights is not None and self.model.fusion == "gated":
                entropy.append(gate_entropy(out.weights))
        pos = torch.block_diag(*masks) if masks else None
        loss = self.criterion(torch.cat(emb), torch.cat(txt), pos, generator=generator)
        if gate_weight and entropy:
            loss = loss + gate_weight * torch.stack(entropy).mean()
        return loss


def run_signature(model: GraphShaper, data, config: AlignmentConfig) -> dict:
    """What a checkpoint must share with a run to continue it: the architecture, the starting weights, the training
    settings but the epoch count, and every training graph's text embeddings and edges."""
    from graphrep.train.checkpoint import tensor_digest

    graphs = list(data) if isinstance(data, (list, tuple)) else [data]
    return {"command": "tag", "variant": model.variant, "experts": list(model.expert_names),
            "initial_weights": tensor_digest(*model.state_dict().values()),
            "settings": {k: v for k, v in asdict(config).items() if k not in ("history", "epochs")},
            "graphs": [getattr(g, "name", "") for g in graphs],
            "data": tensor_digest(*[t for g in graphs for t in (model.inputs(g)[0], g.edge_index)])}


def train_alignment(model: GraphShaper, data, config: AlignmentConfig | None = None,
                    train_nodes: torch.Tensor | None = None, engine=None, checkpoint=None) -> dict:
    """Train ``model`` on one TAG or on several (``data``: a ``Data`` or a list of them; each needs ``edge_index``
    and ``x`` text embeddings or ``text``).

    With several graphs, every step encodes each graph (a random induced subgraph of at most
    ``config.max_nodes`` nodes for larger ones) and draws ``batch_size / #graphs`` anchors from each, so one InfoNCE
    batch mixes graphs: a node's negatives include other graphs' texts. Labels are never read.

    Runs on the shared engine (:class:`graphrep.train.engine.Engine`; default one CPU process, fp32): devices,
    precision and ``--strategy ddp``. Under DDP every process draws the same views and global anchors (one seeded
    generator) and encodes whole views (message passing needs the graph), then contrasts its share of each graph's
    anchors (:meth:`~graphrep.train.engine.Engine.shard`): the in-batch negatives are that share's, so a DDP step
    is the single-process step with ``batch_size / world_size`` anchors per process, gradients averaged.
    ``checkpoint`` (:class:`~graphrep.train.engine.LoopCheckpoint`, signature from :func:`run_signature`) receives
    the loop state every ``checkpoint.every`` epochs and at the end; made with ``resume``, training continues from
    the saved epoch exactly (weights, optimiser, temperature, both random generators). SIGINT/SIGTERM stop at the
    next epoch boundary with a checkpoint and a resume command.

    Args:
        train_nodes: indices (or a bool mask) of the nodes used as anchors (e.g. seen classes); all nodes by default.
            One graph only. Message passing always runs over the whole graph (or its sampled subgraph).

    Returns:
        ``{"loss": [per epoch], "temperature": final tau, "seconds": wall time, "steps_per_s": ..., "config": ...}``
    """
    from graphrep.train.checkpoint import refuse_past_total
    from graphrep.train.engine import Engine, rng_state, set_rng_state

    cfg = config or AlignmentConfig()
    _check(cfg)
    graphs = list(data) if isinstance(data, (list, tuple)) else [data]
    if not graphs:
        raise ValueError("no training graph given")
    if train_nodes is not None and len(graphs) > 1:
        raise ValueError("train_nodes selects anchors of one graph; give one graph with it")
    engine = engine or Engine()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    prepared = []
    for g in graphs:
        x, _, desc, *glob = model.inputs(g)  # glob: the routed gate's graph-level features, when it reads them
        prepared.append((x, g.edge_index, desc, _anchor_nodes(x.size(0), train_nodes), glob))
    criterion = InfoNCE(cfg.temperature, learnable=True, hard_negatives=cfg.hard_negatives)
    step_module = _AlignmentStep(model, criterion)
    opt = torch.optim.Adam(step_module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loop = {"epoch": 0, "loss": [], "seconds": 0.0}
    resumed = checkpoint.resumed_state() if checkpoint is not None else None
    if resumed is not None:
        step_module.load_state_dict(resumed.pop("weights"))
        opt.load_state_dict(resumed.pop("optimizer"))
        gen.set_state(resumed.pop("generator"))
        set_rng_state(resumed.pop("rng"))
        loop.update(resumed)
        refuse_past_total(loop["epoch"], cfg.epochs, "alignment")
    wrapped, opt = engine.setup(step_module, opt)
    device = engine.device

    def state():
        return {**loop, "weights": step_module.state_dict(), "optimizer": opt.state_dict(),
                "generator": gen.get_state(), "rng": rng_state()}

    step_module.train()
    per_graph = None if cfg.batch_size is None else max(2, cfg.batch_size // len(graphs))
    with engine.interruptible():
        for epoch in range(loop["epoch"], cfg.epochs):
            engine.check_interrupt(checkpoint, state)
            t0 = time.perf_counter()
            views = []
            for x, ei, desc, nodes, glob in prepared:
                x, ei, desc, nodes = _sample_view(x, ei, desc, nodes, cfg.max_nodes, gen)
                n = x.size(0)
                view_ei = drop_edges(ei, cfg.edge_drop, force_undirected=True, generator=gen)[0] if cfg.edge_drop else ei
                view_x = (mask_features(x, cfg.feature_mask, cfg.feature_mask_mode, generator=gen)[0]
                          if cfg.feature_mask else x)
                if per_graph is not None and nodes.numel() > per_graph:
                    anchors = nodes[torch.randperm(nodes.numel(), generator=gen)[:per_graph]]
                else:
                    anchors = nodes
                anchors = engine.shard(anchors)
                mask = neighbour_positive_mask(ei, anchors) if cfg.neighbour_positives else None
                graph = PropagationGraph.build(view_ei.to(device), n, model.backend)
                views.append((view_x.to(device), graph, None if desc is None else desc.to(device),
                              [t.to(device) for t in glob], anchors.to(device), x.to(device),
                              None if mask is None else mask.to(device)))
            loss = wrapped(views, cfg.gate_entropy, gen)
            opt.zero_grad(set_to_none=True)
            engine.backward(loss)
            opt.step()
            loop["loss"].append(engine.sum_over_processes(float(loss.detach())) / engine.world_size)
            loop["seconds"] += time.perf_counter() - t0
            loop["epoch"] = epoch + 1
            if checkpoint is not None and (checkpoint.due(epoch) or loop["epoch"] == cfg.epochs):
                checkpoint.save(state())
    model.eval()
    seconds = loop["seconds"]
    return {"loss": loop["loss"], "temperature": float(criterion.temperature.detach()), "seconds": seconds,
            "steps_per_s": len(loop["loss"]) / seconds if seconds > 0 else float("nan"),
            "config": {k: v for k, v in asdict(cfg).items() if k != "history"}}


@torch.no_grad()
def predict_zero_shot(model: GraphShaper, data, templates: str | Sequence[str] = DEFAULT_TEMPLATE,
                      candidates: Sequence[int] | None = None, adaptation: str = "none",
                      adapt_config: AdaptationConfig | None = None, seed: int = 0,
                      class_emb: torch.Tensor | None = None, route: dict | None = None) -> dict:
    """Zero-shot predictions of ``model`` on ``data``, adapted label-free by ``adaptation``
    (:data:`TRANSFER_ADAPTATIONS`). Reads the graph's texts (or ``x``), edges and class names,
    never ``data.y``. ``class_emb`` ``[C, d]``: class embeddings to use instead of the templated class names (e.g.
    :func:`~graphrep.tasks.tag.zero_shot.description_embeddings`).

    ``adaptation="route"``: :func:`~graphrep.tasks.tag.routing.two_way_scores` of the model's embeddings under
    ``route`` (chosen on source graphs, :func:`~graphrep.tasks.tag.routing.sources_two_way_route`); the branch is
    picked by the target's label-free agreement :math:`a_1` (``data.graph_features[0]`` when set, as the routed
    model's text fallback reads it, else from its text embeddings and ``class_emb``).

    Returns ``{"pred" [N], "scores" [N, C], "weights" [N, K] or None, "adaptation": {...}}``; with an adaptation the
    scores are its class probabilities, else cosine similarities.
    """
    if not getattr(data, "class_names", None):
        raise ValueError(f"graph {getattr(data, 'name', '')!r} has no class_names for zero-shot prompts")
    if adaptation not in TRANSFER_ADAPTATIONS:
        raise ValueError(f"unknown adaptation {adaptation!r}; choose from {TRANSFER_ADAPTATIONS}")
    emb, weights = model.encode_nodes(data, return_weights=True)
    cls = class_embeddings(data.class_names, model.encode_text, templates=templates) if class_emb is None else class_emb
    info = {}
    if adaptation == "none":
        pred, scores = zero_shot_predict(emb, cls, candidates)
    elif candidates is not None:
        raise ValueError("adaptation classifies among all classes; candidates are for adaptation='none'")
    elif adaptation == "route":
        from graphrep.tasks.tag.routing import graph_features, route_branch, two_way_scores

        if route is None:
            raise ValueError("adaptation 'route' needs the route chosen on the sources (sources_two_way_route)")
        feats = getattr(data, "graph_features", None)
        a1 = float((feats if feats is not None else graph_features(data, cls))[0])
        scores = two_way_scores(emb, cls, data.edge_index, route, a1)
        pred = scores.argmax(-1)
        info = {"method": "route", **route, "agreement": a1, "branch": route_branch(route, a1)}
    else:
        res = adapt_scores(emb, cls, data.edge_index, adaptation, adapt_config, seed=seed, text_emb=data.x)
        pred, scores = res.pop("pred"), res.pop("probs")
        info = {"method": adaptation, **res}
    return {"pred": pred, "scores": scores, "weights": weights, "adaptation": info}


def source_adaptation_config(route: dict, agreement: float, config: AdaptationConfig | None = None) -> AdaptationConfig:
    r"""The settings of :func:`~graphrep.tasks.tag.adaptation.adapt_scores` decided by a ``route`` chosen on source
    graphs instead of by the fixed feature-homophily rule (whose scale 0.2 and sign test were set by looking at
    evaluated graphs): above the route's threshold on the target's label-free ``agreement``, propagate with the
    route's :math:`\alpha` and centre; at or below it, neither."""
    act = agreement > route["threshold"]
    return replace(config or AdaptationConfig(), alpha=route["alpha"] if act else 0.0, center=act)


def score(pred: torch.Tensor, y: torch.Tensor, num_classes: int, mask: torch.Tensor | None = None,
          candidates: Sequence[int] | None = None) -> dict[str, float]:
    """``{"accuracy", "macro_f1"}`` of ``pred`` against the labels ``y`` (over ``mask``; macro-F1 over
    ``candidates``, default all ``num_classes``): the only place the evaluated labels are read."""
    if mask is not None:
        pred, y = pred[mask], y[mask]
    labels = range(num_classes) if candidates is None else candidates
    return {"accuracy": accuracy(pred, y), "macro_f1": macro_f1(pred, y, labels=labels)}


def evaluate_zero_shot(model: GraphShaper, data, templates: str | Sequence[str] = DEFAULT_TEMPLATE,
                       mask: torch.Tensor | None = None, candidates: Sequence[int] | None = None,
                       adaptation: str = "none", adapt_config: AdaptationConfig | None = None, seed: int = 0) -> dict:
    """:func:`predict_zero_shot` on ``data`` without its labels, then :func:`score` against ``data.y`` (all nodes
    among all classes by default).

    Returns ``{"accuracy", "macro_f1", "pred" [N], "scores" [N, C], "weights" [N, K] or None, "adaptation"}``;
    predictions are over all nodes, metrics over ``mask``.
    """
    res = predict_zero_shot(model, strip_labels(data), templates, candidates, adaptation, adapt_config, seed)
    return {**score(res["pred"], data.y, len(data.class_names), mask, candidates), **res}


def _names(value: str | Sequence[str]) -> list[str]:
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v).strip() for v in value]
    if not names or any(not n for n in names):
        raise ValueError(f"expected comma-separated TAG names, got {value!r}")
    return names


def default_templates(name: str) -> list[str]:
    """The prompt template of TAG ``name``'s card (``prompt``), else :data:`DEFAULT_TEMPLATE`."""
    info = tag_info(name)
    return [info.option("prompt", DEFAULT_TEMPLATE)] if info is not None else [DEFAULT_TEMPLATE]


def run_transfer(train: str | Sequence[str], eval: str, out_dir, root=None, variant: str = "euclidean",
                 config: AlignmentConfig | None = None, model_kwargs: dict | None = None,
                 templates: Sequence[str] | None = None, text_model: str | None = None,
                 text_cache_dir=None, baselines: bool = True, adaptation: str = "route",
                 target_epochs: int = 0, adapt_config: AdaptationConfig | None = None,
                 class_descriptions=None, engine=None, checkpoint: str | None = None,
                 resume: str | None = None, checkpoint_every: int = 10) -> dict:
    """Train GraphShaper on the TAGs ``train`` (one name, a comma-separated list or a sequence; leave-one-graph-out:
    ``eval`` may not be among them) and classify TAG ``eval`` zero-shot, adapted label-free by ``adaptation``
    (after ``target_epochs`` of self-supervised alignment on ``eval``'s own texts and edges); write ``metrics.json``
    and ``predictions.csv`` (one row per node of ``eval``: id, label, prediction, their class names, the score of the
    prediction and the fusion weights per expert) into ``out_dir``.

    ``templates``: default the card prompt of ``eval`` (:func:`default_templates`). ``eval``'s labels are read only
    by :func:`score` (and written to ``predictions.csv``). ``metrics.json`` also holds the training-free rows on
    ``eval`` (text only, propagation k = 2, the same centred, the two-way route on the texts) and the trained model
    without adaptation.

    ``adaptation`` (:data:`TRANSFER_ADAPTATIONS`): ``"route"`` (default) is the two-way route chosen on the *training*
    graphs alone (:func:`~graphrep.tasks.tag.routing.sources_two_way_route`: alpha, threshold on the label-free
    agreement :math:`a_1`, low branch) applied to the model's embeddings; the others are
    :func:`~graphrep.tasks.tag.adaptation.adapt_scores`, whose propagation strength and centring the same route
    decides (:func:`source_adaptation_config`) unless ``adapt_config`` is given. The routed variant falls back to its
    text expert on a target at or below the route's threshold (``GraphShaper.set_text_fallback``). The route is in
    ``metrics.json`` (``"route"``).
    ``class_descriptions``: a JSON file, class -> one or more descriptions
    (:func:`~graphrep.tasks.tag.zero_shot.read_class_descriptions`), averaged over descriptions and templates in place
    of the class names. Returns the metrics dictionary.

    ``engine`` (:class:`~graphrep.train.engine.Engine`, default one CPU process): devices, precision, DDP of the
    source training; only rank 0 writes. ``checkpoint``: file for the source training's loop state (every
    ``checkpoint_every`` epochs and at its end); ``resume``: a checkpoint of this run (same signature) to continue
    from. The later phases (router fit, target alignment, adaptation) are seeded and short: after an interrupt in
    them the resume starts from the end of the source training and repeats them.
    """
    import csv
    import json
    from pathlib import Path

    from graphrep.data.tag import load_tag
    from graphrep.data.text import DEFAULT_TEXT_MODEL, TextEncoder
    from graphrep.tasks.tag.zero_shot import evaluate_propagation

    cfg = config or AlignmentConfig()
    if adaptation not in TRANSFER_ADAPTATIONS:
        raise ValueError(f"unknown adaptation {adaptation!r}; choose from {TRANSFER_ADAPTATIONS}")
    sources = _names(train)
    if eval.lower() in {s.lower() for s in sources}:
        raise ValueError(f"--eval {eval!r} is also a training graph; zero-shot transfer leaves the evaluated graph out")
    templates = list(templates) if templates else default_templates(eval)
    out_dir = Path(out_dir)
    encoder = TextEncoder(text_model or DEFAULT_TEXT_MODEL, cache_dir=text_cache_dir, normalize=True)
    srcs = [load_tag(s, root=root) for s in sources]
    dst = load_tag(eval, root=root)
    _check_zero_shot_graphs([*srcs, dst])
    labels, target = dst.y, strip_labels(dst)
    for d in (*srcs, target):
        d.x = encoder.encode(d.text)
    torch.manual_seed(cfg.seed)
    model = GraphShaper(int(target.x.size(1)), variant=variant, text_encoder=encoder, **(model_kwargs or {}))
    route = None
    if model.graph_channels or adaptation != "none":
        # every graph's label-free agreement a1 (its own texts, edges, class prompts): the routed gate reads it, and
        # the two-way route (alpha, threshold, low branch) is chosen on the sources alone, as the benchmark does
        from graphrep.data.tag import tag_prompts
        from graphrep.tasks.tag.routing import graph_features, sources_two_way_route

        src_cls = [class_embeddings(s.class_names, encoder.encode, templates=default_templates(s.name)) for s in srcs]
        for d, c in zip(srcs, src_cls):
            d.graph_features = graph_features(d, c)
        target.graph_features = graph_features(target, class_embeddings(target.class_names, encoder.encode,
                                                                        templates=templates))
        route = sources_two_way_route(srcs, [class_embeddings(s.class_names, encoder.encode, templates=tag_prompts(
            s.name) or default_templates(s.name)) for s in srcs])
        if adaptation in ADAPTATIONS and adapt_config is None:
            adapt_config = source_adaptation_config(route, float(target.graph_features[0]))
    from graphrep.train.engine import Engine, LoopCheckpoint
    from graphrep.train.trainer import TrainingInterrupted

    engine = engine or Engine()
    loop_ckpt = None
    if checkpoint is not None or resume is not None:
        loop_ckpt = LoopCheckpoint(engine, checkpoint, run_signature(model, srcs, cfg), every=checkpoint_every,
                                   resume=resume)
    hist = train_alignment(model, srcs, cfg, engine=engine, checkpoint=loop_ckpt)
    model.cpu()  # the router fit, evaluation and adaptation run on the CPU tensors of the graphs
    if model.graph_channels:
        from graphrep.tasks.tag.routing import fit_router

        # scored on plain embeddings: a centred fit learns nothing about WebKB, where centring costs every view
        hist["router_loss"] = fit_router(model, srcs, src_cls, seed=cfg.seed, centre=False)
        model.set_text_fallback(route["threshold"])  # a graph the sources' route sends to text gets the text expert
    target_hist = None
    if target_epochs:
        try:
            target_hist = train_alignment(model, target, replace(cfg, epochs=target_epochs), engine=engine)
        except TrainingInterrupted as exc:  # the resume starts from the end of the source training, repeats this
            exc.checkpoint = str(loop_ckpt.last) if loop_ckpt is not None and loop_ckpt.last is not None else None
            raise
        model.cpu()
    n_cls = len(dst.class_names)
    cls = None
    if class_descriptions is not None:
        from graphrep.tasks.tag.zero_shot import description_embeddings, read_class_descriptions

        cls = description_embeddings(read_class_descriptions(class_descriptions, dst.class_names), model.encode_text,
                                     templates)
    plain = predict_zero_shot(model, target, templates, class_emb=cls)
    res = predict_zero_shot(model, target, templates, adaptation=adaptation, adapt_config=adapt_config,
                            seed=cfg.seed, class_emb=cls, route=route)
    metrics = {"train": [s.name for s in srcs], "eval": dst.name, "variant": variant,
               **score(res["pred"], labels, n_cls), "adaptation": res["adaptation"], "route": route,
               "without_adaptation": score(plain["pred"], labels, n_cls), "train_seconds": hist["seconds"],
               "final_loss": hist["loss"][-1] if hist["loss"] else None, "temperature": hist["temperature"],
               "target_alignment": None if target_hist is None else {"epochs": target_epochs,
                                                                     "seconds": target_hist["seconds"]},
               "config": hist["config"], "model": model_kwargs or {},
               "templates": templates, "text_model": encoder.model_id,
               "class_descriptions": None if class_descriptions is None else str(class_descriptions),
               "curvatures": {e.kind: float(e.manifold.curvature.detach()) for e in model.experts},
               "text_fallback": model.text_fallback}
    if res["weights"] is not None:
        metrics["mean_gate_weights"] = dict(zip(model.expert_names, res["weights"].mean(0).tolist()))
    if baselines:
        if cls is None:
            cls = class_embeddings(dst.class_names, model.encode_text, templates=templates)
        base = evaluate_propagation(target.x, cls, labels, target.edge_index, ks=(0, 2))
        centred = evaluate_propagation(target.x, cls, labels, target.edge_index, ks=(2,), center=True)
        metrics["baselines"] = {"text only": base[0], "propagation k=2": base[2],
                                "propagation k=2, centred": centred[2]}
        if route is not None:  # the benchmark's label-free row: the same route on the text embeddings
            from graphrep.tasks.tag.routing import two_way_scores

            probs = two_way_scores(target.x, cls, target.edge_index, route, float(target.graph_features[0]))
            metrics["baselines"]["two-way route"] = score(probs.argmax(-1), labels, n_cls)
    s = engine.settings
    metrics["engine"] = {"accelerator": s.accelerator, "devices": s.devices, "strategy": s.strategy,
                         "num_nodes": s.num_nodes, "precision": s.precision, "world_size": engine.world_size}
    if not engine.is_global_zero:
        return metrics
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    names = dst.class_names
    pred, scores = res["pred"], res["scores"]
    with open(out_dir / "predictions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["node_id", "label", "label_name", "pred", "pred_name", "score"]
                   + ([f"weight_{k}" for k in model.expert_names] if res["weights"] is not None else []))
        for i in range(dst.num_nodes):
            p = int(pred[i])
            row = [int(dst.node_id[i]), int(labels[i]), names[int(labels[i])], p, names[p],
                   f"{float(scores[i, p]):.6f}"]
            if res["weights"] is not None:
                row += [f"{float(v):.6f}" for v in res["weights"][i]]
            w.writerow(row)
    return metrics


def _check_zero_shot_graphs(graphs) -> None:
    """Refuse graphs zero-shot classification cannot use: fewer than two classes (one class scores a trivial 100%)
    or no node text at all (text is what zero-shot reads)."""
    from graphrep.data.errors import InvalidInputError

    for d in graphs:
        if len(d.class_names) < 2:
            raise InvalidInputError(f"TAG {d.name}: {len(d.class_names)} class ({', '.join(d.class_names)}): zero-shot "
                                    "classification needs at least 2 classes")
        if not any(t.strip() for t in d.text):
            raise InvalidInputError(f"TAG {d.name}: every node text is empty; zero-shot classification reads the text")
