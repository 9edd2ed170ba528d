"""Zero-shot node classification on text-attributed graphs (issue 5), all rows in one run.

Two protocols:
  * ``all classes``: classify every node of the evaluated TAG among all its class names (for trained models: trained
    on another TAG, CiteSeer -> Cora and Cora -> CiteSeer);
  * ``held-out classes``: per seed, ``--unseen`` classes are held out (seeded split shared by all rows); nodes of those
    classes are classified among the held-out class names only (trained models train on the other classes' nodes).

Rows (all in one run, same graphs, same splits, same seeds):
  * training-free (deterministic given the split): text only, i.e. cosine argmax between a node's text embedding and
    the class-name prompt embeddings; propagation k = 1..4, the same after k rounds of D^-1/2 (A + I) D^-1/2
    smoothing of the text embeddings (ZeroG); and each of these "centred" (the graph's mean node embedding
    subtracted before the argmax: label-free, training-free);
  * GraphShaper (graphrep.models.GraphShaper trained by graphrep.tasks.tag_alignment, one run per seed): each single
    expert (Euclidean, hyperbolic = Poincare ball, spherical), uniform fusion of the three, the gated model, and the
    gated model with MoCHi hard-negative mixing (transfer only: also with neighbour-text positives, and an ablation
    whose skip path is the node's own text instead of the 2-round propagated text). Every model's skip path is the
    propagated text and its projection starts at zero, so untrained it equals the propagation k=2 row. Transfer rows
    are also scored with centred node embeddings (", centred"), to compare like with like.
    ``all classes``: trained on one TAG, evaluated on the other (both directions). ``held-out classes``: trained on
    the same TAG with only the seen classes' nodes as anchors.

Also: training time per run, the gate's weights against the structural descriptors (``tag_gate_weights.png``), and
training-step throughput of the 3-expert gated model on graphrep's fused ops vs the same model (same parameters)
on PyG's stock layers.

Each row producer ``producer(ctx) -> list[dict]`` (``PRODUCERS``) returns rows naming ``protocol``, ``family``,
``method``, ``train`` (source TAG or "none"), ``eval``, ``seed`` and the metrics; rows sharing (protocol, family,
method, train, eval) are aggregated into mean ± std over seeds.

Usage::

    PYTHONPATH=. python benchmarks/tag_zero_shot.py --data-root ../shared/data/tag --cache-dir /work/cache/text

Writes ``benchmarks/results/tag_zero_shot.{json,md,png}`` and ``tag_gate_weights.png``; ``--baselines-only`` skips
the trained rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from graphrep.data.tag import load_tag, tag_info
from graphrep.data.text import DEFAULT_TEXT_MODEL, TextEncoder
from graphrep.data.transforms.structural import STRUCTURAL_NAMES, structural_descriptors
from graphrep.models import GraphShaper
from graphrep.nn.experts import PropagationGraph
from graphrep.tasks.tag_alignment import DEFAULT_HARD_NEGATIVES, AlignmentConfig, evaluate_zero_shot, train_alignment
from graphrep.tasks.zero_shot import (DEFAULT_TEMPLATE, class_embeddings, evaluate_propagation, held_out_class_split,
                                      zero_shot_scores)

REPO = Path(__file__).resolve().parents[1]

# Values stated in issue 5 for all-MiniLM-L6-v2 and "This paper is about <class>.": text only, and k = 2.
ISSUE_REFERENCE = {"cora": {0: 58.1, 2: 63.0}, "citeseer": {0: 67.4, 2: 70.0}}


@dataclass
class Context:
    """Everything row producers share: graphs, the text encoder, embeddings and the run's settings."""

    args: argparse.Namespace
    encoder: TextEncoder
    graphs: dict = field(default_factory=dict)  # name -> torch_geometric Data
    node_emb: dict = field(default_factory=dict)  # name -> [N, d] text embeddings of the nodes
    class_emb: dict = field(default_factory=dict)  # name -> [C, d] prompt embeddings of the classes
    splits: dict = field(default_factory=dict)  # (name, seed) -> (seen classes, unseen classes)
    timings: dict = field(default_factory=dict)
    gate: dict = field(default_factory=dict)  # "train->eval" -> gate weights and descriptors of the seed-0 gated model
    throughput: dict = field(default_factory=dict)


def training_free_rows(ctx: Context) -> list[dict]:
    """Text-only (k = 0) and propagation k = 1..K rows on each TAG, under both protocols."""
    rows = []
    for name, data in ctx.graphs.items():
        t0 = time.perf_counter()
        runs = [("all classes", None, None, None)]
        for seed in ctx.args.seeds:
            _, unseen = ctx.splits[(name, seed)]
            runs.append(("held-out classes", seed, torch.isin(data.y, torch.tensor(unseen)), unseen))
        for protocol, seed, mask, candidates in runs:
            for center in (False, True):
                res = evaluate_propagation(ctx.node_emb[name], ctx.class_emb[name], data.y, data.edge_index,
                                           ks=ctx.args.ks, mask=mask, candidates=candidates, center=center)
                for k, scores in res.items():
                    method = "text only" if k == 0 else f"propagation k={k}"
                    rows.append({"protocol": protocol, "family": "training-free",
                                 "method": method + (", centred" if center else ""), "train": "none",
                                 "eval": name, "seed": seed, **scores})
        ctx.timings[f"{name}/training_free_eval_s"] = time.perf_counter() - t0
    return rows


@dataclass(frozen=True)
class Method:
    variant: str
    hard_negatives: bool = False
    neighbour_positives: bool = False
    skip_hops: int = 2  # 0: the skip path is the node's own text (ablation of the propagated skip)


METHODS = {
    "Euclidean expert": Method("euclidean"),
    "hyperbolic expert": Method("hyperbolic"),
    "spherical expert": Method("spherical"),
    "uniform fusion": Method("uniform"),
    "gated": Method("gated"),
    "gated + hard negatives": Method("gated", hard_negatives=True),
    "gated + hard negatives + neighbour positives": Method("gated", hard_negatives=True, neighbour_positives=True),
    "gated, own-text skip (ablation)": Method("gated", skip_hops=0),
}
HELD_OUT_METHODS = list(METHODS)[:6]


def _config(ctx: Context, seed: int, method: Method) -> AlignmentConfig:
    a = ctx.args
    return AlignmentConfig(epochs=a.epochs, lr=a.lr, batch_size=a.train_batch_size, edge_drop=a.edge_drop,
                           feature_mask=a.feature_mask, seed=seed, neighbour_positives=method.neighbour_positives,
                           hard_negatives=dict(DEFAULT_HARD_NEGATIVES) if method.hard_negatives else None)


def _model(ctx: Context, method: Method, seed: int, backend: str = "graphrep") -> GraphShaper:
    torch.manual_seed(seed)
    return GraphShaper(ctx.node_emb[next(iter(ctx.graphs))].size(1), ctx.args.hidden, ctx.args.hidden,
                       variant=method.variant, skip_hops=method.skip_hops, backend=backend, text_encoder=ctx.encoder)


def _with_features(ctx: Context, name: str):
    data = ctx.graphs[name]
    data.x = ctx.node_emb[name]
    if getattr(data, "struct", None) is None:
        data.struct = structural_descriptors(data.edge_index, data.num_nodes, log_counts=True)[0]
    return data


def transfer_rows(ctx: Context) -> list[dict]:
    """GraphShaper variants trained on one TAG and evaluated zero-shot on each other one, per seed."""
    rows = []
    names = list(ctx.graphs)
    for src in names:
        for dst in names:
            if src == dst:
                continue
            for method in ctx.args.methods:
                spec = METHODS[method]
                for seed in ctx.args.seeds:
                    model = _model(ctx, spec, seed)
                    hist = train_alignment(model, _with_features(ctx, src), _config(ctx, seed, spec))
                    res = evaluate_zero_shot(model, _with_features(ctx, dst), templates=ctx.args.templates)
                    common = {"protocol": "all classes", "family": "GraphShaper", "train": src, "eval": dst,
                              "seed": seed, "train_s": hist["seconds"]}
                    rows.append({**common, "method": method, "accuracy": res["accuracy"], "macro_f1": res["macro_f1"],
                                 "final_loss": hist["loss"][-1], "temperature": hist["temperature"],
                                 "curvatures": {e.kind: float(e.manifold.curvature.detach()) for e in model.experts}})
                    emb = model.encode_nodes(ctx.graphs[dst])
                    centred = zero_shot_scores(emb - emb.mean(0, keepdim=True), ctx.class_emb[dst], ctx.graphs[dst].y)
                    rows.append({**common, "method": method + ", centred", **centred})
                    print(f"  {src}->{dst} {method:<24} seed {seed}: acc {100 * res['accuracy']:.1f} "
                          f"({hist['seconds']:.1f} s)", flush=True)
                    if method == "gated" and seed == ctx.args.seeds[0]:
                        src_w = model.encode_nodes(ctx.graphs[src], return_weights=True)[1]
                        ctx.gate[f"{src}->{dst}"] = {
                            "experts": list(model.expert_names),
                            "eval": dst, "weights": res["weights"], "descriptors": ctx.graphs[dst].struct,
                            "train": src, "train_weights": src_w, "train_descriptors": ctx.graphs[src].struct}
    return rows


def held_out_rows(ctx: Context) -> list[dict]:
    """GraphShaper trained on one TAG with the seen classes' nodes as anchors; unseen nodes among unseen classes."""
    rows = []
    for name, data in ctx.graphs.items():
        data = _with_features(ctx, name)
        for method in ctx.args.held_out_methods:
            spec = METHODS[method]
            for seed in ctx.args.seeds:
                seen, unseen = ctx.splits[(name, seed)]
                model = _model(ctx, spec, seed)
                hist = train_alignment(model, data, _config(ctx, seed, spec), train_nodes=torch.isin(data.y,
                                                                                                  torch.tensor(seen)))
                mask = torch.isin(data.y, torch.tensor(unseen))
                res = evaluate_zero_shot(model, data, templates=ctx.args.templates, mask=mask, candidates=unseen)
                rows.append({"protocol": "held-out classes", "family": "GraphShaper", "method": method, "train": name,
                             "eval": name, "seed": seed, "accuracy": res["accuracy"], "macro_f1": res["macro_f1"],
                             "train_s": hist["seconds"]})
                print(f"  held-out {name} {method:<24} seed {seed}: acc {100 * res['accuracy']:.1f}", flush=True)
    return rows


def throughput(ctx: Context) -> list[dict]:
    """Training steps per second of the 3-expert gated model, graphrep's fused ops vs PyG's stock layers (same
    initial parameters, same inputs and seed): full steps (augment, encode, InfoNCE, backward, Adam) as timed inside
    :func:`train_alignment`, and the experts' forward + backward alone; backends interleaved over repeats (so machine
    load hits both alike), median."""
    name = ctx.args.throughput_graph
    data = _with_features(ctx, name)
    x = ctx.node_emb[name]
    steps, repeats = ctx.args.throughput_steps, ctx.args.throughput_repeats
    out = {"graph": name, "nodes": data.num_nodes, "edges": int(data.edge_index.size(1)),
           "threads": torch.get_num_threads(), "steps": steps, "repeats": repeats, "hidden": ctx.args.hidden}
    rates = {"train_step": {"graphrep": [], "pyg": []}, "experts_fwd_bwd": {"graphrep": [], "pyg": []}}
    for r in range(repeats + 1):  # round 0 is a warm-up
        for backend in ("graphrep", "pyg"):
            model = _model(ctx, METHODS["gated"], 0, backend=backend)
            cfg = _config(ctx, 0, METHODS["gated"])
            cfg.epochs = steps
            hist = train_alignment(model, data, cfg)
            graph = PropagationGraph.build(data.edge_index, data.num_nodes, backend)
            t0 = time.perf_counter()
            for _ in range(steps):
                loss = sum(e.to_shared(e(x, graph)).square().mean() for e in model.experts)
                loss.backward()
            expert_rate = steps / (time.perf_counter() - t0)
            if r:
                rates["train_step"][backend].append(hist["steps_per_s"])
                rates["experts_fwd_bwd"][backend].append(expert_rate)
    for label, rs in rates.items():
        out[label] = {b: {"steps_per_s": statistics.median(v), "all": v} for b, v in rs.items()}
        out[label]["speedup"] = out[label]["graphrep"]["steps_per_s"] / out[label]["pyg"]["steps_per_s"]
    ctx.throughput = out
    print(f"  throughput on {name}: train step graphrep {out['train_step']['graphrep']['steps_per_s']:.2f}/s, "
          f"pyg {out['train_step']['pyg']['steps_per_s']:.2f}/s", flush=True)
    return []


PRODUCERS: list[tuple[str, Callable[[Context], list[dict]]]] = [
    ("training-free", training_free_rows), ("transfer", transfer_rows), ("held-out", held_out_rows),
    ("throughput", throughput)]


def aggregate(rows: list[dict]) -> list[dict]:
    """Mean and sample std (0 for one run) of accuracy and macro-F1 per (method, train, eval), in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["protocol"], r["family"], r["method"], r["train"], r["eval"]), []).append(r)
    out = []
    for (protocol, family, method, train, ev), rs in groups.items():
        entry = {"protocol": protocol, "family": family, "method": method, "train": train, "eval": ev, "runs": len(rs),
                 "seeds": [r["seed"] for r in rs]}
        for metric in ("accuracy", "macro_f1"):
            vals = [r[metric] for r in rs]
            entry[metric] = statistics.fmean(vals)
            entry[f"{metric}_std"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
        if all("train_s" in r for r in rs):
            entry["train_s"] = statistics.fmean(r["train_s"] for r in rs)
        out.append(entry)
    return out


def _ranks(v: torch.Tensor) -> torch.Tensor:
    """Average ranks (ties share their mean rank), for Spearman correlations."""
    v = v.double()
    order = v.argsort()
    ranks = torch.empty_like(v)
    ranks[order] = torch.arange(v.numel(), dtype=torch.float64)
    uniq, inv = torch.unique(v, return_inverse=True)
    sums = torch.zeros(uniq.numel(), dtype=torch.float64).index_add_(0, inv, ranks)
    counts = torch.zeros(uniq.numel(), dtype=torch.float64).index_add_(0, inv, torch.ones_like(ranks))
    return (sums / counts)[inv]


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = float(ra.norm() * rb.norm())
    return float((ra * rb).sum()) / den if den > 0 else 0.0


def gate_summary(gate: dict) -> dict:
    """Per direction: mean gate weight per expert (train and eval graph) and the Spearman correlation of each
    expert's weight with each structural descriptor on the evaluated graph."""
    out = {}
    for key, g in gate.items():
        w, d = g["weights"], g["descriptors"]
        out[key] = {
            "mean_weight_eval": dict(zip(g["experts"], w.mean(0).tolist())),
            "std_weight_eval": dict(zip(g["experts"], w.std(0).tolist())),
            "mean_weight_train": dict(zip(g["experts"], g["train_weights"].mean(0).tolist())),
            "spearman_eval": {e: {n: _spearman(w[:, k], d[:, j]) for j, n in enumerate(STRUCTURAL_NAMES)}
                              for k, e in enumerate(g["experts"])}}
    return out


def _pct(mean: float, std: float, runs: int) -> str:
    return f"{100 * mean:.1f}" if runs == 1 else f"{100 * mean:.1f} ± {100 * std:.1f}"


def write_markdown(path: Path, summary: list[dict], meta: dict) -> None:
    tr = meta.get("training")
    lines = ["# Zero-shot node classification on text-attributed graphs", "",
             f"Text model `{meta['model']}`, prompt template(s) {', '.join(repr(t) for t in meta['templates'])}; "
             "*all classes*: every node of the evaluated graph, among all class names (one deterministic run for "
             "training-free rows; GraphShaper rows are trained on the other TAG, one run per seed). "
             "*held-out classes*: per seed, the nodes of the held-out classes, among the held-out "
             f"class names only (GraphShaper trained on the same TAG with the seen classes' nodes as anchors); "
             f"mean ± std over seeds {meta['seeds']} (for training-free rows the std mostly reflects which classes "
             "are held out, listed per seed in the JSON).", ""]
    if tr:
        lines += [f"GraphShaper settings: {tr['epochs']} epochs full-batch (InfoNCE over {tr['batch_size']} random "
                  f"anchor nodes per step), expert width = shared tangent size {tr['hidden']}, 2 layers per expert, "
                  f"Adam lr {tr['lr']}, edge drop {tr['edge_drop']}, feature-column mask {tr['feature_mask']}, "
                  f"learnable temperature (init 0.07) and curvatures (init 1); the skip path is the 2-round "
                  f"propagated text embedding (the training-free k=2 row) and the projection's last layer starts at "
                  f"zero, so every untrained model equals that row (the ablation row uses the node's own text as the "
                  f"skip path instead); hard negatives: MoCHi {tr['hard_negatives']}. CPU, {meta['threads']} "
                  f"threads.", ""]
    lines += ["| protocol | eval | method | train | accuracy (%) | macro-F1 (%) | runs | train time (s) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in sorted(summary, key=lambda r: (r["protocol"], r["eval"], 0 if r["family"] == "training-free" else 1)):
        t = f"{r['train_s']:.1f}" if "train_s" in r else "0"
        lines.append(f"| {r['protocol']} | {r['eval']} | {r['method']} | {r['train']} | "
                     f"{_pct(r['accuracy'], r['accuracy_std'], r['runs'])} | "
                     f"{_pct(r['macro_f1'], r['macro_f1_std'], r['runs'])} | {r['runs']} | {t} |")
    verdict = []
    for protocol in ("all classes", "held-out classes"):
        for ev in meta["datasets"]:
            free = [r for r in summary if r["protocol"] == protocol and r["eval"] == ev and r["family"] != "GraphShaper"]
            trained = [r for r in summary if r["protocol"] == protocol and r["eval"] == ev
                       and r["family"] == "GraphShaper"]
            if not free or not trained:
                continue
            bt = max((r for r in trained if not r["method"].endswith(", centred")), key=lambda r: r["accuracy"])
            parts = []
            for label, pool in (("best uncentred training-free row", [r for r in free
                                                                      if not r["method"].endswith(", centred")]),
                                ("best training-free row with centring", [r for r in free
                                                                           if r["method"].endswith(", centred")])):
                if not pool:
                    continue
                bf = max(pool, key=lambda r: r["accuracy"])
                beats = bt["accuracy"] - bt["accuracy_std"] > bf["accuracy"] + bf["accuracy_std"]
                parts.append(f"{'beats' if beats else 'does not beat'} the {label} ({bf['method']}, "
                             f"{_pct(bf['accuracy'], bf['accuracy_std'], bf['runs'])})")
            verdict.append(f"{protocol}, {ev}: best GraphShaper row {bt['method']} (trained on {bt['train']}) "
                           f"{_pct(bt['accuracy'], bt['accuracy_std'], bt['runs'])} " + "; ".join(parts)
                           + " (beats = mean - std above the other's mean + std)")
    if verdict:
        lines += ["", "**Trained vs training-free** (accuracy):", ""] + [f"- {v}." for v in verdict]
    ref = [f"{name}: text only {v[0]}%, k=2 about {v[2]:.0f}%" for name, v in ISSUE_REFERENCE.items()
           if name in meta["datasets"]]
    if ref:
        lines += ["", "Values stated in issue 5 for the same model and prompt: " + "; ".join(ref) + "."]
    th = meta.get("throughput")
    if th:
        lines += ["", f"## Training-step throughput, 3-expert gated model ({th['graph']}: {th['nodes']} nodes, "
                      f"{th['edges']} directed edges; width {th['hidden']}; CPU, {th['threads']} threads; median of "
                      f"{th['repeats']} interleaved repeats of {th['steps']} steps)", "",
                  "| what | graphrep fused ops (steps/s) | PyG stock layers (steps/s) | ratio |", "|---|---|---|---|"]
        for label, what in (("train_step", "full training step (augment, encode, InfoNCE, backward, Adam)"),
                            ("experts_fwd_bwd", "the three experts' forward + backward only")):
            lines.append(f"| {what} | {th[label]['graphrep']['steps_per_s']:.2f} | {th[label]['pyg']['steps_per_s']:.2f}"
                         f" | {th[label]['speedup']:.2f}x |")
    gs = meta.get("gate")
    if gs:
        lines += ["", "## Gate weights (gated model, first seed; plot: tag_gate_weights.png)", "",
                  "| train -> eval | mean weight on eval graph (E / H / S) | on train graph | strongest Spearman "
                  "correlation on eval graph |", "|---|---|---|---|"]
        for key, g in gs.items():
            ev = " / ".join(f"{v:.3f} ± {g['std_weight_eval'][k]:.3f}" for k, v in g["mean_weight_eval"].items())
            trw = " / ".join(f"{v:.3f}" for v in g["mean_weight_train"].values())
            best = max(((e, n, c) for e, cs in g["spearman_eval"].items() for n, c in cs.items()),
                       key=lambda t: abs(t[2]))
            lines.append(f"| {key} | {ev} | {trw} | {best[0]} weight vs {best[1]}: {best[2]:+.2f} |")
    lines += ["", f"Command: `{meta['command']}`; wall time {meta['wall_s']:.1f} s "
                  f"(text embeddings {'from cache' if meta['all_cached'] else 'computed, then cached'}).", ""]
    path.write_text("\n".join(lines))


def write_plot(path: Path, summary: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = [r for r in summary if r["family"] == "GraphShaper" and r["protocol"] == "all classes"]
    fig, axes = plt.subplots(1, 2 if trained else 1, figsize=(13 if trained else 7, 4.6 if trained else 3.8),
                             squeeze=False, gridspec_kw={"width_ratios": [1, 1.6]} if trained else None)
    ax = axes[0, 0]
    free = [r for r in summary if r["family"] == "training-free" and r["protocol"] == "all classes"]

    def k_of(method: str) -> int:
        return 0 if method.startswith("text only") else int(method.split("=")[1].split(",")[0])

    for name in dict.fromkeys(r["eval"] for r in free):
        color = None
        for centred, style in ((False, "-"), (True, "-.")):
            rs = [r for r in free if r["eval"] == name and r["method"].endswith(", centred") == centred]
            line, = ax.plot([k_of(r["method"]) for r in rs], [100 * r["accuracy"] for r in rs], marker="o", ls=style,
                            color=color, label=f"{name}{', centred' if centred else ''}")
            color = line.get_color()
    ax.set_xticks(sorted({k_of(r["method"]) for r in free}))
    ax.set_xlabel("propagation rounds k (0 = text only)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Training-free (all classes)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if trained:
        ax = axes[0, 1]
        evals = list(dict.fromkeys(r["eval"] for r in trained))
        methods = list(dict.fromkeys(r["method"] for r in trained if not r["method"].endswith(", centred")))
        width = 0.8 / len(methods)
        for i, m in enumerate(methods):
            rs = [next(r for r in trained if r["eval"] == e and r["method"] == m) for e in evals]
            ax.bar([j + i * width for j in range(len(evals))], [100 * r["accuracy"] for r in rs], width,
                   yerr=[100 * r["accuracy_std"] for r in rs], label=m, capsize=2)
        for j, e in enumerate(evals):
            plain = [r for r in free if r["eval"] == e and not r["method"].endswith(", centred")]
            centred = [r for r in free if r["eval"] == e and r["method"].endswith(", centred")]
            for r, style in ((next((r for r in plain if r["method"] == "text only"), None), ":"),
                             (max(plain, key=lambda r: r["accuracy"], default=None), "--"),
                             (max(centred, key=lambda r: r["accuracy"], default=None), "-.")):
                if r is not None:
                    ax.hlines(100 * r["accuracy"], j - width / 2, j + 0.8 - width / 2, colors="k", linestyles=style)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(evals))])
        ax.set_xticklabels([f"{next(r['train'] for r in trained if r['eval'] == e)} -> {e}" for e in evals])
        ax.set_ylabel("accuracy (%)")
        ax.set_title("GraphShaper transfer, uncentred (mean ± std over seeds)\n"
                     "lines: dotted text only, dashed best propagation, dash-dot best centred propagation")
        lo = min(100 * r["accuracy"] for r in trained + free)
        ax.set_ylim(max(0, lo - 10), None)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_gate_plot(path: Path, gate: dict, bins: int = 8) -> None:
    """Mean gate weight per expert in quantile bins of each structural descriptor, one row per direction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {"degree": "log(1 + degree)", "core_number": "log(1 + core number)", "triangles": "log(1 + triangles)",
              "four_cycles": "log(1 + 4-cycles)", "clustering": "clustering", "forman_curvature": "Forman curvature"}
    keys = list(gate)
    fig, axes = plt.subplots(len(keys), len(STRUCTURAL_NAMES), figsize=(2.6 * len(STRUCTURAL_NAMES),
                                                                       2.4 * len(keys)), squeeze=False)
    for i, key in enumerate(keys):
        g = gate[key]
        w, d = g["weights"], g["descriptors"]
        for j, name in enumerate(STRUCTURAL_NAMES):
            ax = axes[i, j]
            col = d[:, j].double()
            edges = torch.unique(torch.quantile(col, torch.linspace(0, 1, bins + 1, dtype=torch.float64)))
            idx = torch.bucketize(col, edges[1:-1], right=True) if edges.numel() > 1 else torch.zeros_like(col).long()
            centres = [float(col[idx == b].mean()) for b in range(int(idx.max()) + 1) if (idx == b).any()]
            for k, e in enumerate(g["experts"]):
                means = [float(w[idx == b, k].mean()) for b in range(int(idx.max()) + 1) if (idx == b).any()]
                ax.plot(centres, means, marker="o", ms=3, label=e)
            ax.set_xlabel(labels[name], fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{key}\nmean gate weight", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Gate weights on the evaluated graph vs structural descriptors (quantile bins)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def default_data_root() -> Path:
    env = os.environ.get("GRAPHREP_DATA")
    return Path(env) / "tag" if env else REPO.parent / "shared" / "data" / "tag"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, default=default_data_root(),
                   help="folder holding <dataset>/ in the TAG layout "
                        "(default $GRAPHREP_DATA/tag or ../shared/data/tag)")
    p.add_argument("--datasets", nargs="+", default=["cora", "citeseer"])
    p.add_argument("--model", default=DEFAULT_TEXT_MODEL)
    p.add_argument("--template", action="append", dest="templates",
                   help=f"prompt template with {{}} for the class name (repeatable; default {DEFAULT_TEMPLATE!r})")
    p.add_argument("--ks", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="propagation rounds (0 = text only)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the held-out-class splits")
    p.add_argument("--unseen", type=int, default=None, help="held-out classes per split (default C // 2)")
    p.add_argument("--cache-dir", type=Path, default=None, help="text-embedding cache (default $GRAPHREP_CACHE/text)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--name", default="tag_zero_shot", help="stem of the result files")
    p.add_argument("--baselines-only", action="store_true", help="training-free rows only")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS), metavar="METHOD",
                   help=f"GraphShaper rows for the transfer protocol (default all: {', '.join(METHODS)})")
    p.add_argument("--held-out-methods", nargs="*", default=HELD_OUT_METHODS, choices=list(METHODS), metavar="METHOD",
                   help=f"GraphShaper rows for the held-out-class protocol (default: {', '.join(HELD_OUT_METHODS)}; "
                        "none: skip)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--hidden", type=int, default=64, help="expert width = shared tangent size")
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--train-batch-size", type=int, default=1024, help="InfoNCE anchors per step")
    p.add_argument("--edge-drop", type=float, default=0.2)
    p.add_argument("--feature-mask", type=float, default=0.2)
    p.add_argument("--throughput-graph", default="citeseer")
    p.add_argument("--throughput-steps", type=int, default=10)
    p.add_argument("--throughput-repeats", type=int, default=3)
    args = p.parse_args(argv)
    args.templates = args.templates or [DEFAULT_TEMPLATE]

    t_start = time.perf_counter()
    encoder = TextEncoder(args.model, device=args.device, batch_size=args.batch_size, cache_dir=args.cache_dir)
    ctx = Context(args=args, encoder=encoder)
    for name in args.datasets:
        data = load_tag(name, root=args.data_root)
        t0 = time.perf_counter()
        ctx.node_emb[name] = encoder.encode(data.text)
        ctx.timings[f"{name}/encode_nodes_s"] = time.perf_counter() - t0
        ctx.class_emb[name] = class_embeddings(data.class_names, encoder.encode, templates=args.templates)
        ctx.graphs[name] = data
        c = len(data.class_names)
        for seed in args.seeds:
            ctx.splits[(name, seed)] = held_out_class_split(c, args.unseen or c // 2, seed)

    rows = []
    for label, producer in PRODUCERS:
        if args.baselines_only and label != "training-free":
            continue
        print(f"[{time.strftime('%H:%M:%S')}] {label}", flush=True)
        t0 = time.perf_counter()
        rows += producer(ctx)
        ctx.timings[f"{label}_s"] = time.perf_counter() - t0
    summary = aggregate(rows)

    meta = {
        "model": args.model, "model_id": encoder.model_id, "templates": args.templates, "datasets": args.datasets,
        "ks": args.ks, "seeds": args.seeds,
        "held_out_classes": {f"{n}/seed{sd}": [ctx.graphs[n].class_names[i] for i in unseen]
                             for (n, sd), (_, unseen) in ctx.splits.items()},
        "data_root": str(args.data_root),
        "graphs": {n: {"nodes": d.num_nodes, "directed_edges": int(d.edge_index.size(1)),
                       "classes": d.class_names, "source": getattr(tag_info(n), "homepage", None)}
                   for n, d in ctx.graphs.items()},
        "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
        "threads": torch.get_num_threads(), "timings_s": ctx.timings, "all_cached": encoder.num_computed == 0,
        "wall_s": time.perf_counter() - t_start,
        "command": "python benchmarks/tag_zero_shot.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "issue_reference_percent": ISSUE_REFERENCE,
        "training": None if args.baselines_only else {
            "epochs": args.epochs, "hidden": args.hidden, "lr": args.lr, "batch_size": args.train_batch_size,
            "edge_drop": args.edge_drop, "feature_mask": args.feature_mask, "hard_negatives": DEFAULT_HARD_NEGATIVES,
            "methods": args.methods, "held_out_methods": args.held_out_methods, "seeds": args.seeds},
        "throughput": ctx.throughput,
        "gate": gate_summary(ctx.gate),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    result = {"meta": meta, "summary": summary, "rows": rows}
    (args.out_dir / f"{args.name}.json").write_text(json.dumps(result, indent=1))
    write_markdown(args.out_dir / f"{args.name}.md", summary, meta)
    write_plot(args.out_dir / f"{args.name}.png", summary)
    if ctx.gate:
        write_gate_plot(args.out_dir / "tag_gate_weights.png", ctx.gate)
    print((args.out_dir / f"{args.name}.md").read_text())
    return result


if __name__ == "__main__":
    main()
