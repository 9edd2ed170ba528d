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
(:mod:`graphrep.tasks.zero_shot`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Sequence

import torch

from graphrep.data.transforms.corrupt import drop_edges, mask_features
from graphrep.models import GraphShaper
from graphrep.nn.experts import PropagationGraph
from graphrep.nn.gate import gate_entropy
from graphrep.objectives.contrastive import InfoNCE, neighbour_positive_mask
from graphrep.tasks.zero_shot import DEFAULT_TEMPLATE, class_embeddings, zero_shot_predict, zero_shot_scores

__all__ = ["AlignmentConfig", "train_alignment", "evaluate_zero_shot", "run_transfer", "DEFAULT_HARD_NEGATIVES"]

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
    seed: int = 0
    history: list = field(default_factory=list, repr=False)


def _check(cfg: AlignmentConfig) -> None:
    if cfg.epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {cfg.epochs}")
    if cfg.lr <= 0:
        raise ValueError(f"lr must be > 0, got {cfg.lr}")
    if cfg.batch_size is not None and cfg.batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (in-batch negatives) or None, got {cfg.batch_size}")


def train_alignment(model: GraphShaper, data, config: AlignmentConfig | None = None,
                    train_nodes: torch.Tensor | None = None) -> dict:
    """Train ``model`` on one TAG ``data`` (needs ``edge_index`` and ``x`` text embeddings or ``text``).

    Args:
        train_nodes: indices (or a bool mask) of the nodes used as anchors (e.g. seen classes); all nodes by default.
            Message passing always runs over the whole graph.

    Returns:
        ``{"loss": [per epoch], "temperature": final tau, "seconds": wall time, "steps_per_s": ..., "config": ...}``
    """
    cfg = config or AlignmentConfig()
    _check(cfg)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    x, _, desc = model.inputs(data)
    n, ei = x.size(0), data.edge_index
    if train_nodes is None:
        nodes = torch.arange(n)
    else:
        train_nodes = torch.as_tensor(train_nodes)
        nodes = train_nodes.nonzero().flatten() if train_nodes.dtype == torch.bool else train_nodes.long()
        if nodes.numel() < 2:
            raise ValueError(f"need at least 2 training nodes, got {nodes.numel()}")
    criterion = InfoNCE(cfg.temperature, learnable=True, hard_negatives=cfg.hard_negatives)
    params = list(model.parameters()) + list(criterion.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    criterion.train()
    losses = []
    t0 = time.perf_counter()
    for _ in range(cfg.epochs):
        view_ei = drop_edges(ei, cfg.edge_drop, force_undirected=True, generator=gen)[0] if cfg.edge_drop else ei
        view_x = mask_features(x, cfg.feature_mask, cfg.feature_mask_mode, generator=gen)[0] if cfg.feature_mask else x
        graph = PropagationGraph.build(view_ei, n, model.backend)
        out = model(view_x, graph, desc)
        if cfg.batch_size is not None and nodes.numel() > cfg.batch_size:
            anchors = nodes[torch.randperm(nodes.numel(), generator=gen)[:cfg.batch_size]]
        else:
            anchors = nodes
        pos = neighbour_positive_mask(ei, anchors) if cfg.neighbour_positives else None
        loss = criterion(out.embedding[anchors], x[anchors], pos, generator=gen)
        if cfg.gate_entropy and out.weights is not None and model.fusion == "gated":
            loss = loss + cfg.gate_entropy * gate_entropy(out.weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    seconds = time.perf_counter() - t0
    model.eval()
    return {"loss": losses, "temperature": float(criterion.temperature.detach()), "seconds": seconds,
            "steps_per_s": cfg.epochs / seconds if seconds > 0 else float("nan"),
            "config": {k: v for k, v in asdict(cfg).items() if k != "history"}}


@torch.no_grad()
def evaluate_zero_shot(model: GraphShaper, data, templates: str | Sequence[str] = DEFAULT_TEMPLATE,
                       mask: torch.Tensor | None = None, candidates: Sequence[int] | None = None) -> dict:
    """Zero-shot scores of ``model`` on ``data`` (all nodes among all classes by default).

    Returns ``{"accuracy", "macro_f1", "pred" [N], "scores" [N, C], "weights" [N, K] or None}``; predictions are over
    all nodes, metrics over ``mask``.
    """
    if not getattr(data, "class_names", None):
        raise ValueError(f"graph {getattr(data, 'name', '')!r} has no class_names for zero-shot prompts")
    emb, weights = model.encode_nodes(data, return_weights=True)
    cls = class_embeddings(data.class_names, model.encode_text, templates=templates)
    pred, scores = zero_shot_predict(emb, cls, candidates)
    metrics = zero_shot_scores(emb, cls, data.y, mask, candidates)
    return {**metrics, "pred": pred, "scores": scores, "weights": weights}


def run_transfer(train: str, eval: str, out_dir, root=None, variant: str = "gated",
                 config: AlignmentConfig | None = None, model_kwargs: dict | None = None,
                 templates: Sequence[str] = (DEFAULT_TEMPLATE,), text_model: str | None = None,
                 text_cache_dir=None, baselines: bool = True) -> dict:
    """Train GraphShaper on TAG ``train`` and classify TAG ``eval`` zero-shot; write ``metrics.json`` and
    ``predictions.csv`` (one row per node of ``eval``: id, label, prediction, their class names, the cosine score of
    the prediction and the fusion weights per expert) into ``out_dir``.

    ``metrics.json`` also holds the training-free rows on ``eval`` (text only, propagation k = 2, and the same
    centred: mean node embedding subtracted) for comparison.
    Returns the metrics dictionary.
    """
    import csv
    import json
    from pathlib import Path

    from graphrep.data.tag import load_tag
    from graphrep.data.text import DEFAULT_TEXT_MODEL, TextEncoder
    from graphrep.tasks.zero_shot import evaluate_propagation

    cfg = config or AlignmentConfig()
    out_dir = Path(out_dir)
    encoder = TextEncoder(text_model or DEFAULT_TEXT_MODEL, cache_dir=text_cache_dir, normalize=True)
    src, dst = load_tag(train, root=root), load_tag(eval, root=root)
    for d in (src, dst):
        d.x = encoder.encode(d.text)
    torch.manual_seed(cfg.seed)
    model = GraphShaper(int(src.x.size(1)), variant=variant, text_encoder=encoder, **(model_kwargs or {}))
    hist = train_alignment(model, src, cfg)
    res = evaluate_zero_shot(model, dst, templates=list(templates))
    metrics = {"train": src.name, "eval": dst.name, "variant": variant, "accuracy": res["accuracy"],
               "macro_f1": res["macro_f1"], "train_seconds": hist["seconds"], "final_loss": hist["loss"][-1],
               "temperature": hist["temperature"], "config": hist["config"], "model": model_kwargs or {},
               "templates": list(templates), "text_model": encoder.model_id,
               "curvatures": {e.kind: float(e.manifold.curvature.detach()) for e in model.experts}}
    if res["weights"] is not None:
        metrics["mean_gate_weights"] = dict(zip(model.expert_names, res["weights"].mean(0).tolist()))
    if baselines:
        cls = class_embeddings(dst.class_names, model.encode_text, templates=list(templates))
        base = evaluate_propagation(dst.x, cls, dst.y, dst.edge_index, ks=(0, 2))
        centred = evaluate_propagation(dst.x, cls, dst.y, dst.edge_index, ks=(2,), center=True)
        metrics["baselines"] = {"text only": base[0], "propagation k=2": base[2],
                                "propagation k=2, centred": centred[2]}
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
            row = [int(dst.node_id[i]), int(dst.y[i]), names[int(dst.y[i])], p, names[p], f"{float(scores[i, p]):.6f}"]
            if res["weights"] is not None:
                row += [f"{float(v):.6f}" for v in res["weights"][i]]
            w.writerow(row)
    return metrics
