"""Zero-shot node classification on text-attributed graphs (issue 5), all rows in one run.

Two protocols:
  * ``all classes``: classify every node of the evaluated TAG among all its class names (for trained models: trained
    on another TAG, CiteSeer -> Cora and Cora -> CiteSeer);
  * ``held-out classes``: per seed, ``--unseen`` classes are held out (seeded split shared by all rows); nodes of those
    classes are classified among the held-out class names only (trained models train on the other classes' nodes).

Rows so far (training-free; deterministic given the split):
  * text only: cosine argmax between a node's text embedding and the class-name prompt embeddings;
  * propagation k = 1..4: the same after k rounds of D^-1/2 (A + I) D^-1/2 smoothing of the text embeddings (ZeroG).

Trained models (single experts, uniform fusion, gated, gated + hard negatives; several seeds) plug in as further
*row producers*: functions ``producer(ctx) -> list[dict]`` appended to ``PRODUCERS``; each row names ``protocol``,
``family``, ``method``, ``train`` (source TAG or "none"), ``eval``, ``seed`` and the metrics; use
``ctx.splits[(name, seed)]`` for the held-out classes. Rows sharing (protocol, family, method, train, eval) are
aggregated into mean ± std over seeds.

Usage::

    python benchmarks/tag_zero_shot.py --data-root ../shared/data/tag --cache-dir /work/cache/text

Writes ``benchmarks/results/tag_zero_shot_baselines.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from graphrep.data.tag import load_tag, tag_info
from graphrep.data.text import DEFAULT_TEXT_MODEL, TextEncoder
from graphrep.tasks.zero_shot import DEFAULT_TEMPLATE, class_embeddings, evaluate_propagation, held_out_class_split

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
            res = evaluate_propagation(ctx.node_emb[name], ctx.class_emb[name], data.y, data.edge_index,
                                       ks=ctx.args.ks, mask=mask, candidates=candidates)
            for k, scores in res.items():
                rows.append({"protocol": protocol, "family": "training-free",
                             "method": "text only" if k == 0 else f"propagation k={k}", "train": "none",
                             "eval": name, "seed": seed, **scores})
        ctx.timings[f"{name}/training_free_eval_s"] = time.perf_counter() - t0
    return rows


PRODUCERS: list[tuple[str, Callable[[Context], list[dict]]]] = [("training-free", training_free_rows)]


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
        out.append(entry)
    return out


def _pct(mean: float, std: float, runs: int) -> str:
    return f"{100 * mean:.1f}" if runs == 1 else f"{100 * mean:.1f} ± {100 * std:.1f}"


def write_markdown(path: Path, summary: list[dict], meta: dict) -> None:
    lines = ["# Zero-shot node classification on text-attributed graphs", "",
             f"Text model `{meta['model']}`, prompt template(s) {', '.join(repr(t) for t in meta['templates'])}; "
             "*all classes*: every node of the evaluated graph, among all class names (one deterministic run for "
             "training-free rows). *held-out classes*: per seed, the nodes of the held-out classes, among the held-out "
             f"class names only; mean ± std over seeds {meta['seeds']} (the std mostly reflects which classes "
             "are held out, listed per seed in the JSON).", "",
             "| protocol | eval | method | train | accuracy (%) | macro-F1 (%) | runs |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(summary, key=lambda r: (r["protocol"], r["eval"], 0 if r["family"] == "training-free" else 1)):
        lines.append(f"| {r['protocol']} | {r['eval']} | {r['method']} | {r['train']} | "
                     f"{_pct(r['accuracy'], r['accuracy_std'], r['runs'])} | "
                     f"{_pct(r['macro_f1'], r['macro_f1_std'], r['runs'])} | {r['runs']} |")
    ref = [f"{name}: text only {v[0]}%, k=2 about {v[2]:.0f}%" for name, v in ISSUE_REFERENCE.items()
           if name in meta["datasets"]]
    if ref:
        lines += ["", "Values stated in issue 5 for the same model and prompt: " + "; ".join(ref) + "."]
    lines += ["", f"Command: `{meta['command']}`; wall time {meta['wall_s']:.1f} s "
                  f"(text embeddings {'from cache' if meta['all_cached'] else 'computed, then cached'}).", ""]
    path.write_text("\n".join(lines))


def write_plot(path: Path, summary: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    free = [r for r in summary if r["family"] == "training-free" and r["protocol"] == "all classes"]
    for name in dict.fromkeys(r["eval"] for r in free):
        rs = [r for r in free if r["eval"] == name]
        ks = [0 if r["method"] == "text only" else int(r["method"].split("=")[1]) for r in rs]
        line, = ax.plot(ks, [100 * r["accuracy"] for r in rs], marker="o", label=f"{name} accuracy")
        ax.plot(ks, [100 * r["macro_f1"] for r in rs], marker="s", ls="--", color=line.get_color(),
                label=f"{name} macro-F1")
    ax.set_xticks(sorted({0 if r["method"] == "text only" else int(r["method"].split("=")[1]) for r in free}))
    ax.set_xlabel("propagation rounds k (0 = text only)")
    ax.set_ylabel("%")
    ax.set_title("Training-free zero-shot node classification (all classes)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
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
    p.add_argument("--name", default="tag_zero_shot_baselines", help="stem of the result files")
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
        "command": "python benchmarks/tag_zero_shot.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "issue_reference_percent": ISSUE_REFERENCE,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    result = {"meta": meta, "summary": summary, "rows": rows}
    (args.out_dir / f"{args.name}.json").write_text(json.dumps(result, indent=1))
    write_markdown(args.out_dir / f"{args.name}.md", summary, meta)
    write_plot(args.out_dir / f"{args.name}.png", summary)
    print((args.out_dir / f"{args.name}.md").read_text())
    return result


if __name__ == "__main__":
    main()
