"""Zero-shot node classification on every shared text-attributed graph, leave-one-graph-out (issue 12).

Columns: every shared TAG as the target (cora, citeseer, dblp, webkb_cornell/texas/washington/wisconsin), plus two
robustness columns on Cora: 30% of its undirected edges dropped (seeded per seed), and titles only (the text before
" : "). Trained models are trained on all the other shared TAGs (never on the target; the robustness columns use
Cora's models); no label of the target is read except by the scorer.

Rows (all in one run, same graphs, prompts and seeds):
  * training-free: text only, propagation k = 1..4 (ZeroG), each also centred (the graph's mean embedding
    subtracted);
  * label-free adaptation of the training-free text embeddings (graphrep.tasks.tag.adaptation): homophily-gated
    score propagation, pseudo-label self-training, both (centred when the label-free homophily estimate is > 0,
    the default; and always centred);
  * GraphShaper variants (Euclidean expert, gated 3 experts), multi-source trained, scored plain and centred;
  * GraphShaper (Euclidean) + each adaptation; GraphShaper (Euclidean) + self-supervised alignment on the target's
    own texts and edges, alone and followed by propagation + self-training.

Each cell: accuracy (and macro-F1) averaged over the target card's prompt set (6 paraphrased templates) and seeds,
written "mean ± std" with the sample std (ddof=1) over all prompt x seed runs (training-free rows: over prompts).

Usage::

    PYTHONPATH=. python benchmarks/tag_zero_shot.py --data-root ../shared/data/tag --cache-dir CACHE

Writes ``benchmarks/results/tag_zero_shot.{json,md,png}``.
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
from dataclasses import replace
from pathlib import Path

import torch

from graphrep.data.tag import load_tag, strip_labels, tag_prompts, title_only
from graphrep.data.text import DEFAULT_TEXT_MODEL, TextEncoder
from graphrep.data.transforms.corrupt import drop_edges
from graphrep.data.transforms.structural import structural_descriptors
from graphrep.models import GraphShaper
from graphrep.tasks.tag.adaptation import (ADAPTATIONS, AdaptationConfig, adapt_scores, feature_homophily,
                                           propagation_alpha)
from graphrep.tasks.tag.alignment import AlignmentConfig, score, train_alignment
from graphrep.tasks.tag.zero_shot import class_embeddings, normalized_adjacency, propagate, zero_shot_predict

REPO = Path(__file__).resolve().parents[1]
TAGS = ["cora", "citeseer", "dblp", "webkb_cornell", "webkb_texas", "webkb_washington", "webkb_wisconsin"]
EDGE_DROP, TITLES = "cora, 30% edges dropped", "cora, titles only"
ADAPTED = [a for a in ADAPTATIONS if a != "none"]


def default_data_root() -> Path:
    env = os.environ.get("GRAPHREP_DATA")
    return Path(env) / "tag" if env else REPO.parent / "shared" / "data" / "tag"


def _record(rows, method, family, column, prompt, seed, pred, y, n_cls, **extra):
    rows.append({"method": method, "family": family, "target": column, "prompt": prompt, "seed": seed,
                 **score(pred, y, n_cls), **extra})


def training_free_rows(column, data, x, class_embs, ks, adj) -> list[dict]:
    rows = []
    xs = {0: torch.nn.functional.normalize(x, dim=-1)}
    for k in range(1, max(ks) + 1):
        xs[k] = propagate(xs[k - 1], data.edge_index, 1, adj)
    n_cls = len(data.class_names)
    for p, cls in enumerate(class_embs):
        for k in ks:
            for centred in (False, True):
                z = xs[k] - xs[k].mean(0, keepdim=True) if centred else xs[k]
                pred, _ = zero_shot_predict(z, cls)
                name = ("text only" if k == 0 else f"propagation k={k}") + (", centred" if centred else "")
                _record(rows, name, "training-free", column, p, None, pred, data.y, n_cls)
    return rows


def adaptation_rows(column, data, emb, class_embs, seeds, prefix, family, cfg, suffix="",
                    methods=ADAPTED) -> list[dict]:
    """Label-free adaptations of ``emb`` (which never saw labels), per prompt and seed."""
    rows = []
    n_cls = len(data.class_names)
    unlabelled = strip_labels(data)
    for method in methods:
        for p, cls in enumerate(class_embs):
            for seed in seeds if "self-train" in method else seeds[:1]:
                res = adapt_scores(emb, cls, unlabelled.edge_index, method, cfg, seed=seed, text_emb=data.x)
                _record(rows, f"{prefix}{method}{suffix}", family, column, p, seed, res["pred"], data.y, n_cls,
                        alpha=res["alpha"], homophily=res["homophily"], pseudo_labelled=res["pseudo_labelled"])
    return rows


def build_model(args, dim, variant, seed, encoder):
    torch.manual_seed(seed)
    return GraphShaper(dim, args.hidden, args.hidden, variant=variant, text_encoder=encoder)


def train_config(args, seed, epochs=None):
    return AlignmentConfig(epochs=args.epochs if epochs is None else epochs, lr=args.lr,
                           batch_size=args.train_batch_size, edge_drop=0.2, feature_mask=0.2,
                           max_nodes=args.max_nodes, seed=seed)


def aggregate(rows: list[dict]) -> list[dict]:
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["family"], r["method"], r["target"]), []).append(r)
    out = []
    for (family, method, target), rs in groups.items():
        acc = [100 * r["accuracy"] for r in rs]
        f1 = [100 * r["macro_f1"] for r in rs]
        out.append({"family": family, "method": method, "target": target, "runs": len(rs),
                    "accuracy": statistics.mean(acc), "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                    "macro_f1": statistics.mean(f1), "macro_f1_std": statistics.stdev(f1) if len(f1) > 1 else 0.0})
    return out


def _cell(r, key):
    return f"{r[key]:.1f} ± {r[key + '_std']:.1f}" if r else "-"


def write_markdown(path: Path, summary: list[dict], meta: dict) -> list[dict]:
    columns = meta["columns"]
    methods = list(dict.fromkeys((r["family"], r["method"]) for r in summary))
    lookup = {(r["family"], r["method"], r["target"]): r for r in summary}
    lines = ["# Zero-shot node classification on every shared TAG, leave-one-graph-out", "",
             f"Text model `{meta['model_id']}`. Each target is classified from its class names with each of its "
             f"card's {meta['num_prompts']} paraphrased prompt templates; trained rows are trained on all other "
             f"shared TAGs (never the target) with seeds {meta['seeds']}. Cells: mean ± sample std (ddof=1) over "
             f"prompts x seeds (training-free rows and the label-free adaptation of the text embeddings: over prompts, "
             f"seed 0). Robustness columns: Cora with 30% of its edges "
             f"dropped (seeded), and Cora titles only; both use Cora's trained models. Scale: {meta['scale']}. "
             f"CPU, {meta['threads']} thread; wall time {meta['wall_s']:.0f} s.", ""]
    for key, title in (("accuracy", "Accuracy (%)"), ("macro_f1", "Macro-F1 (%)")):
        lines += [f"## {title}", "", "| family | method | " + " | ".join(columns) + " |",
                  "|---|---|" + "---|" * len(columns)]
        for family, method in methods:
            cells = [_cell(lookup.get((family, method, c)), key) for c in columns]
            lines.append(f"| {family} | {method} | " + " | ".join(cells) + " |")
        lines.append("")
    verdicts = []
    lines += ["## Best trained or adapted row vs best training-free row (accuracy)", "",
              "| target | best training-free | best trained / adapted | gain (points) | goal (>= 3) met |",
              "|---|---|---|---|---|"]
    for c in columns:
        rs = [r for r in summary if r["target"] == c]
        free = max((r for r in rs if r["family"] == "training-free"), key=lambda r: r["accuracy"])
        best = max((r for r in rs if r["family"] != "training-free"), key=lambda r: r["accuracy"])
        gain = best["accuracy"] - free["accuracy"]
        verdicts.append({"target": c, "free": free, "best": best, "gain": gain})
        lines.append(f"| {c} | {free['method']} {_cell(free, 'accuracy')} | {best['family']}: {best['method']} "
                     f"{_cell(best, 'accuracy')} | {gain:+.1f} | {'yes' if gain >= 3 else 'no'} |")
    lines += ["", "## Homophily of each target (label-free estimate used by the adaptation, and the true one)", "",
              "| target | feature homophily (label-free) | propagation alpha | edge label homophily (for reference) |",
              "|---|---|---|---|"]
    for c in columns:
        h = meta["homophily"][c]
        lines.append(f"| {c} | {h['feature']:.3f} | {h['alpha']:.2f} | {h['label']:.3f} |")
    lines += ["", f"Command: `{meta['command']}`"]
    path.write_text("\n".join(lines) + "\n")
    return verdicts


def write_plot(path: Path, verdicts: list[dict], summary: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [v["target"] for v in verdicts]
    groups = [("best training-free", lambda c: max((r for r in summary if r["target"] == c
                                                    and r["family"] == "training-free"), key=lambda r: r["accuracy"])),
              ("best GraphShaper (no adaptation)", lambda c: max(
                  (r for r in summary if r["target"] == c and r["family"] == "GraphShaper"),
                  key=lambda r: r["accuracy"])),
              ("best trained / adapted", lambda c: next(v["best"] for v in verdicts if v["target"] == c))]
    fig, ax = plt.subplots(figsize=(13, 4.5))
    width = 0.27
    for i, (label, pick) in enumerate(groups):
        rs = [pick(c) for c in cols]
        ax.bar([j + i * width for j in range(len(cols))], [r["accuracy"] for r in rs], width,
               yerr=[r["accuracy_std"] for r in rs], capsize=2, label=label)
    ax.set_xticks([j + width for j in range(len(cols))])
    ax.set_xticklabels(cols, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%), mean ± std over prompts x seeds")
    ax.set_title("Zero-shot, leave-one-graph-out: best row of each family per target")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", type=Path, default=default_data_root())
    p.add_argument("--targets", nargs="+", default=TAGS, help="target TAGs (columns)")
    p.add_argument("--sources", nargs="+", default=TAGS, help="TAGs loaded; every one but the target is a source")
    p.add_argument("--model", default=DEFAULT_TEXT_MODEL)
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--ks", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--variants", nargs="+", default=["euclidean", "gated"])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--target-epochs", type=int, default=10)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--train-batch-size", type=int, default=1024)
    p.add_argument("--max-nodes", type=int, default=2048)
    p.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--name", default="tag_zero_shot")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    encoder = TextEncoder(args.model, cache_dir=args.cache_dir, show_progress=False)
    tags = [t for t in TAGS if t in args.sources]
    graphs = {n: load_tag(n, root=args.data_root) for n in tags}
    for n, d in graphs.items():
        d.x = encoder.encode(d.text)
        print(f"[{time.strftime('%H:%M:%S')}] {n}: {d.num_nodes} nodes embedded", flush=True)
    dim = next(iter(graphs.values())).x.size(1)
    titles, dropped = None, {}
    if "cora" in args.targets:
        cora = graphs["cora"]
        titles = cora.clone()
        titles.text = title_only(cora.text)
        titles.x = encoder.encode(titles.text)
        for seed in args.seeds:  # 30% of Cora's undirected edges dropped, per seed
            dropped[seed] = cora.clone()
            dropped[seed].edge_index = drop_edges(cora.edge_index, 0.3, force_undirected=True,
                                                  generator=torch.Generator().manual_seed(seed))[0]
    columns = list(args.targets) + ([EDGE_DROP, TITLES] if "cora" in args.targets else [])
    prompts = {n: tag_prompts(n) for n in tags}
    class_embs = {n: [class_embeddings(graphs[n].class_names, encoder.encode, templates=t) for t in prompts[n]]
                  for n in tags}
    cfg = AdaptationConfig()
    rows, homophily = [], {}

    def views(column):
        """(data, seed) pairs evaluated for a column: the robustness columns per seed, others once."""
        if column == EDGE_DROP:
            return [(dropped[s], s) for s in args.seeds]
        return [(titles if column == TITLES else graphs[column], None)]

    # training-free and adaptation of the raw text embeddings
    for column in columns:
        base = "cora" if column in (EDGE_DROP, TITLES) else column
        t0 = time.perf_counter()
        for data, seed in views(column):
            adj = normalized_adjacency(data.edge_index, data.num_nodes)
            rows += training_free_rows(column, data, data.x, class_embs[base], args.ks, adj)
            # one seed: the only randomness of these rows is the self-training head's init and subsample
            one = [seed if seed is not None else args.seeds[0]]
            rows += adaptation_rows(column, data, data.x, class_embs[base], one, "text + ", "label-free adaptation",
                                    cfg)
            rows += adaptation_rows(column, data, data.x, class_embs[base], one, "text + ", "label-free adaptation",
                                    replace(cfg, center=True), ", always centred", ["propagate + self-train"])
        d0 = views(column)[0][0]
        h = feature_homophily(d0.x, d0.edge_index)
        homophily[column] = {"feature": h, "alpha": propagation_alpha(h, cfg.homophily_scale, cfg.max_alpha),
                             "label": float((d0.y[d0.edge_index[0]] == d0.y[d0.edge_index[1]]).float().mean())}
        print(f"[{time.strftime('%H:%M:%S')}] {column}: training-free + adaptation ({time.perf_counter() - t0:.0f} s)",
              flush=True)

    # GraphShaper, leave-one-graph-out
    for n in tags:
        if "gated" in args.variants:
            graphs[n].struct = structural_descriptors(graphs[n].edge_index, graphs[n].num_nodes, log_counts=True)[0]
    train_s = {}
    for target in args.targets:
        sources = [graphs[s] for s in tags if s != target]
        targets = [c for c in columns if c == target or (target == "cora" and c in (EDGE_DROP, TITLES))]
        for variant in args.variants:
            for seed in args.seeds:
                model = build_model(args, dim, variant, seed, encoder)
                hist = train_alignment(model, sources, train_config(args, seed))
                train_s.setdefault(f"{variant}", []).append(hist["seconds"])
                for column in targets:
                    for data, view_seed in views(column):
                        if view_seed is not None and view_seed != seed:
                            continue
                        unlabelled = strip_labels(data)
                        if variant == "gated":
                            unlabelled.struct = structural_descriptors(data.edge_index, data.num_nodes,
                                                                       log_counts=True)[0]
                        emb = model.encode_nodes(unlabelled)
                        n_cls = len(data.class_names)
                        base = "cora" if column in (EDGE_DROP, TITLES) else column
                        name = f"GraphShaper ({variant})"
                        for p, cls in enumerate(class_embs[base]):
                            for centred in (False, True):
                                z = emb - emb.mean(0, keepdim=True) if centred else emb
                                pred, _ = zero_shot_predict(z, cls)
                                _record(rows, name + (", centred" if centred else ""), "GraphShaper", column, p, seed,
                                        pred, data.y, n_cls)
                        if variant != "euclidean":
                            continue
                        rows += adaptation_rows(column, data, emb, class_embs[base], [seed], f"{name} + ",
                                                "GraphShaper + adaptation", cfg,
                                                methods=["propagate", "propagate + self-train"])
                        # self-supervised alignment on the target's own texts and edges (a copy of the model)
                        tuned = build_model(args, dim, variant, seed, encoder)
                        tuned.load_state_dict(model.state_dict())
                        train_alignment(tuned, unlabelled, train_config(args, seed, args.target_epochs))
                        t_emb = tuned.encode_nodes(unlabelled)
                        for p, cls in enumerate(class_embs[base]):
                            pred, _ = zero_shot_predict(t_emb - t_emb.mean(0, keepdim=True), cls)
                            _record(rows, f"{name} + target alignment, centred", "GraphShaper + adaptation", column,
                                    p, seed, pred, data.y, n_cls)
                            res = adapt_scores(t_emb, cls, unlabelled.edge_index, "propagate + self-train", cfg,
                                               seed=seed, text_emb=data.x)
                            _record(rows, f"{name} + target alignment + propagate + self-train",
                                    "GraphShaper + adaptation", column, p, seed, res["pred"], data.y, n_cls)
                print(f"[{time.strftime('%H:%M:%S')}] {target} <- {len(sources)} sources, {variant}, seed {seed}: "
                      f"trained {hist['seconds']:.0f} s", flush=True)

    summary = aggregate(rows)
    meta = {"model_id": encoder.model_id, "columns": columns, "seeds": args.seeds, "prompts": prompts,
            "num_prompts": min(len(v) for v in prompts.values()), "homophily": homophily,
            "threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
            "train_seconds_mean": {k: statistics.mean(v) for k, v in train_s.items()},
            "adaptation": cfg.__dict__, "wall_s": time.perf_counter() - t_start,
            "scale": (f"GraphShaper {args.epochs} epochs (one step each) on all other shared TAGs, each encoded as a "
                      f"random induced subgraph of <= {args.max_nodes} nodes per step, {args.train_batch_size} "
                      f"anchors per step over all sources, width {args.hidden}; target alignment "
                      f"{args.target_epochs} epochs; self-training 2 rounds x 50 Adam steps on <= 2000 "
                      f"pseudo-labelled nodes"),
            "command": "python benchmarks/tag_zero_shot.py " + shlex.join(argv if argv is not None else sys.argv[1:])}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    verdicts = write_markdown(args.out_dir / f"{args.name}.md", summary, meta)
    write_plot(args.out_dir / f"{args.name}.png", verdicts, summary)
    (args.out_dir / f"{args.name}.json").write_text(json.dumps({"meta": meta, "summary": summary, "rows": rows}))
    print((args.out_dir / f"{args.name}.md").read_text())
    return {"meta": meta, "summary": summary}


if __name__ == "__main__":
    main()
