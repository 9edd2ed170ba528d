"""Non-graph data as graphs (issue 11): does the graph view help, against plain models on the same splits?

Rows (all in one run; every row of a modality uses the same split, stratified 60/20/20 with split seed 0, and the same
training seeds; test accuracy at the best validation epoch; training time per run beside each number):

* images (scikit-learn digits, 1,797 8x8 images, 2x2 patches -> 16-node patch graphs with 8-d sine positions):
  GIN on the static grid, GIN on dynamic k-NN edges rebuilt per layer (Vision GNN), Euclidean expert (GCN) and
  hyperbolic expert (Poincare HGCN) on the grid, GIN grid after GraphCL pre-training on the unlabelled training
  graphs; baselines an MLP on pixels and a small CNN, all of about the same parameter count;
* documents (Cora node texts + labels, citation edges ignored): GCN on token graphs (the sentence encoder's word
  pieces, its frozen input embeddings as node features, window-3 co-occurrence edges weighted by PMI from the training
  documents only), with and without GraphCL pre-training; baselines TF-IDF + logistic regression and frozen
  sentence-encoder (all-MiniLM-L6-v2) document embeddings + logistic regression;
* trajectories (Foursquare NYC, LLM-Mob's chronological train/valid/test): next-venue accuracy of a GRU over the last
  10 visits whose venue embeddings pass through a GCN on the training transition graph (log(1 + count) weights), vs
  the same GRU with a plain embedding table, and a first-order Markov ranking.

Usage::

    PYTHONPATH=. python benchmarks/modalities.py --root ../shared/data --cache-dir CACHE

Writes ``benchmarks/results/modalities.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # a script beside this one must never shadow an installed package (tests/test_benchmark_names.py)

import numpy as np
import torch

from graphrep.models.modality import GraphClassifier, MLPClassifier, NextVenueModel, SmallCNN
from graphrep.tasks.modalities.training import (fit, graphcl_pretrain, graph_list_batcher, image_task, markov_next_venue,
                                     prepare_documents, text_encoder_args, tfidf_logreg, trajectory_task,
                                     transition_weights)

RESULTS = Path(__file__).resolve().parent / "results"


def mean_std(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if len(v) > 1 else f"{v.mean():.1f}"


def image_rows(args, log) -> list[dict]:
    images, labels, split, make, in_dim = image_task(args.patch_size)
    pixels = images[0].numel()
    gnn = dict(in_channels=in_dim, hidden=args.image_hidden, layers=2, dropout=0.1)
    train_graphs = lambda idx: make(torch.as_tensor(split.train)[idx])[0]  # noqa: E731
    specs = [
        ("GIN, static grid", False, lambda: GraphClassifier(10, conv="gin", **gnn), "graph"),
        (f"GIN, dynamic k-NN (k={args.knn})", False, lambda: GraphClassifier(10, conv="gin", knn=args.knn, **gnn),
         "graph"),
        ("Euclidean expert (GCN), grid", False, lambda: GraphClassifier(10, conv="euclidean", **gnn), "graph"),
        ("hyperbolic expert (Poincare HGCN), grid", False, lambda: GraphClassifier(10, conv="hyperbolic", **gnn),
         "graph"),
        ("GIN, static grid", True, lambda: GraphClassifier(10, conv="gin", **gnn), "graph"),
        ("MLP on pixels", False, lambda: MLPClassifier(pixels, args.mlp_hidden, 10, 0.1), "pixels"),
        ("small CNN", False, lambda: SmallCNN(images.size(1), args.cnn_width, 10), "pixels"),
    ]
    rows = []
    for name, pretrain, build, inputs in specs:
        runs = []
        for seed in args.seeds:
            torch.manual_seed(seed)
            model = build()
            extra = {}
            if pretrain:
                res = graphcl_pretrain(model.encoder, train_graphs, len(split.train), epochs=args.image_pretrain_epochs,
                                       seed=seed)
                extra = {"pretrain_seconds": res["seconds"], "pretrain_losses": res["losses"]}
            batcher = make if inputs == "graph" else (lambda idx: (images[idx], labels[idx]))
            r = fit(model, batcher, split, epochs=args.image_epochs, lr=args.lr, batch_size=64, seed=seed)
            runs.append({**r, **extra, "seed": seed})
            log(f"image | {name}{' + GraphCL' if pretrain else ''} | seed {seed}: {100 * r['test_acc']:.1f}% "
                f"({r['train_seconds']:.0f} s)")
        rows.append(_row("images", "digits", name, pretrain, runs, "macro-F1"))
    return rows


def text_rows(args, log) -> list[dict]:
    from graphrep.data.modalities import encoder_tokenizer
    from graphrep.data.text import TextEncoder

    rows = []
    for dataset in args.text_datasets:
        docs = prepare_documents(dataset, root=Path(args.root) / "tag", tokenizer=encoder_tokenizer(), window=3,
                                 max_tokens=args.max_tokens)
        log(f"text | {dataset}: {len(docs.graphs)} token graphs, {len(docs.builder.vocab)} word pieces, "
            f"stats {docs.builder.stats}")
        make = graph_list_batcher(docs.graphs, docs.labels)
        enc_args = text_encoder_args(docs, "encoder")
        train_graphs = lambda idx: make(torch.as_tensor(docs.split.train)[idx])[0]  # noqa: E731
        for pretrain in (False, True):
            runs = []
            for seed in args.seeds:
                torch.manual_seed(seed)
                model = GraphClassifier(docs.num_classes, conv="gcn", hidden=64, layers=2, dropout=0.1, **enc_args)
                extra = {}
                if pretrain:
                    res = graphcl_pretrain(model.encoder, train_graphs, len(docs.split.train),
                                           epochs=args.text_pretrain_epochs, seed=seed)
                    extra = {"pretrain_seconds": res["seconds"], "pretrain_losses": res["losses"]}
                r = fit(model, make, docs.split, epochs=args.text_epochs, lr=args.lr, batch_size=64, seed=seed)
                runs.append({**r, **extra, "seed": seed})
                log(f"text | {dataset} token-graph GCN{' + GraphCL' if pretrain else ''} | seed {seed}: "
                    f"{100 * r['test_acc']:.1f}% ({r['train_seconds']:.0f} s)")
            rows.append(_row("documents", dataset, "GCN on PMI token graphs (frozen word-piece embeddings)", pretrain,
                             runs, "macro-F1", extra={"token_graph_stats": dict(docs.builder.stats)}))
        r = tfidf_logreg(docs)
        rows.append(_row("documents", dataset, "TF-IDF + logistic regression", False, [r], "macro-F1"))
        start = time.perf_counter()
        emb = TextEncoder(cache_dir=args.cache_dir).encode(docs.texts).numpy()
        encode_s = time.perf_counter() - start
        r = tfidf_logreg(docs, features=emb)
        r["train_seconds"] += encode_s
        rows.append(_row("documents", dataset, "frozen sentence embedding + logistic regression", False, [r],
                         "macro-F1", extra={"encode_seconds": encode_s}))
        log(f"text | {dataset} baselines: tf-idf {100 * rows[-2]['runs'][0]['test_acc']:.1f}%, sentence "
            f"{100 * r['test_acc']:.1f}%")
    return rows


def trajectory_rows(args, log) -> list[dict]:
    data, split, make = trajectory_task(Path(args.root) / "mobility" / "fsq_nyc", history=10)
    log(f"trajectory | fsq_nyc: {data.info}")
    rows = []
    for name, graph in (("GRU + transition-graph GCN venue embeddings", transition_weights(data.graph)),
                        ("GRU, plain venue embeddings", None)):
        runs = []
        for seed in args.seeds:
            torch.manual_seed(seed)
            model = NextVenueModel(data.num_venues, 64, graph=graph, conv="gcn", layers=2, dropout=0.1)
            r = fit(model, make, split, epochs=args.traj_epochs, lr=args.lr, batch_size=1024, seed=seed, topk=5)
            runs.append({**r, "seed": seed})
            log(f"trajectory | {name} | seed {seed}: {100 * r['test_acc']:.1f}% acc@1, "
                f"{100 * r['test_acc@5']:.1f}% acc@5 ({r['train_seconds']:.0f} s)")
        rows.append(_row("trajectories", "fsq_nyc", name, False, runs, "acc@5"))
    m = markov_next_venue(data, "test")
    rows.append(_row("trajectories", "fsq_nyc", "first-order Markov (training transition counts)", False,
                     [{"test_acc": m["acc"], "test_acc@5": m["acc@5"], "train_seconds": 0.0}], "acc@5"))
    rows[-1]["data"] = data.info
    return rows


def _row(modality, dataset, model, pretrain, runs, second, extra=None) -> dict:
    key = "test_macro_f1" if second == "macro-F1" else "test_acc@5"
    row = {"modality": modality, "dataset": dataset, "model": model, "graphcl": pretrain, "runs": runs,
           "accuracy": mean_std([100 * r["test_acc"] for r in runs]),
           "second_name": second, "second": mean_std([100 * r[key] for r in runs]),
           "train_seconds": float(np.mean([r["train_seconds"] + r.get("pretrain_seconds", 0.0) for r in runs])),
           "parameters": runs[0].get("parameters", "-"), "num_runs": len(runs)}
    row.update(extra or {})
    return row


def table(rows) -> str:
    lines = ["| modality | data | model | GraphCL pre-training | test accuracy (%) | second metric (%) | parameters "
             "| runs | train time per run (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['modality']} | {r['dataset']} | {r['model']} | {'yes' if r['graphcl'] else 'no'} | "
                     f"{r['accuracy']} | {r['second_name']} {r['second']} | {r['parameters']} | {r['num_runs']} | "
                     f"{r['train_seconds']:.1f} |")
    return "\n".join(lines)


def plot(rows, path: Path) -> None:
    """One panel per modality: each row's test accuracy (trajectories: accuracy@5), mean ± std over its runs; graph
    models and plain baselines in two colours; x axes from 0 to 100 %."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [m for m in ("images", "documents", "trajectories") if any(r["modality"] == m for r in rows)]
    sizes = [sum(r["modality"] == m for r in rows) for m in groups]
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, 1.2 + 0.62 * sum(sizes)), squeeze=False,
                             gridspec_kw={"height_ratios": sizes})
    for ax, m in zip(axes[:, 0], groups):
        rs = [r for r in rows if r["modality"] == m]
        key = "test_acc@5" if m == "trajectories" else "test_acc"  # where the transition graph shows its effect
        means = [np.mean([100 * x[key] for x in r["runs"]]) for r in rs]
        stds = [np.std([100 * x[key] for x in r["runs"]], ddof=1) if len(r["runs"]) > 1 else 0 for r in rs]
        names = [f"{r['dataset']}: {r['model']}" + (" + GraphCL" if r["graphcl"] else "") for r in rs]
        is_graph = ["GIN" in r["model"] or "GCN" in r["model"] or "expert" in r["model"] for r in rs]
        ax.barh(range(len(rs)), means, xerr=stds, capsize=2, color=["C0" if g else "C1" for g in is_graph])
        ax.set_yticks(range(len(rs)), [textwrap.fill(n, 58, break_long_words=False) for n in names], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("test accuracy@5 (%)" if m == "trajectories" else "test accuracy (%)", fontsize=8)
        ax.set_title(m, fontsize=10)
        for i, (v, s) in enumerate(zip(means, stds)):
            ax.text(v + s + 1, i, f"{v:.1f}", va="center", fontsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color="C0"), plt.Rectangle((0, 0), 1, 1, color="C1")]
    fig.legend(handles, ["graph model", "plain baseline"], loc="upper right", fontsize=8, ncol=2)
    fig.suptitle("Non-graph data as graphs: mean ± std over seeds", fontsize=11, x=0.02, ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def replot(result: dict, path: Path) -> None:
    """The plot again from the stored ``modalities.json``."""
    plot(result["rows"], path)


def describe(settings: dict, total: float) -> str:
    """What a run measured and at which scale (only the parts it ran)."""
    only = settings["only"].split(",")
    scale = {"images": f"images {settings['image_epochs']} epochs (GraphCL {settings['image_pretrain_epochs']}), "
                       f"hidden {settings['image_hidden']}, k-NN k={settings['knn']}",
             "documents": f"documents ({', '.join(settings['text_datasets'])}) {settings['text_epochs']} epochs "
                          f"(GraphCL {settings['text_pretrain_epochs']}), first {settings['max_tokens']} word pieces "
                          "per document",
             "trajectories": f"trajectories {settings['traj_epochs']} epochs, batch 1024"}
    return (f"Test accuracy at the best validation epoch, mean ± std (sample, ddof=1) over seeds "
            f"{','.join(map(str, settings['seeds']))}; one fixed split per modality, the same for every row "
            "(images, documents: stratified 60/20/20, split seed 0; trajectories: LLM-Mob's chronological split). "
            "Second metric: macro-F1 (images, documents) or accuracy@5 (trajectories). Train time: seconds per run, "
            f"GraphCL pre-training included. Scale: {'; '.join(scale[o] for o in only)}; Adam lr {settings['lr']}. "
            f"{platform.machine()}, 1 thread on a 2-core CPU shared with other jobs; this part took "
            f"{total / 60:.1f} min.")


def write(rows, notes, out: Path, meta: dict) -> None:
    out.with_suffix(".json").write_text(json.dumps({"rows": rows, "notes": notes, **meta,
                                                    "machine": f"{platform.machine()}, 1 thread"}, indent=1))
    out.with_suffix(".md").write_text(table(rows) + "\n\n" + "\n\n".join(notes) + "\n")
    plot(rows, out.with_suffix(".png"))


def merge(paths, out: Path) -> None:
    rows, notes, parts = [], [], []
    for path in paths:
        d = json.loads(Path(path).read_text())
        rows += d["rows"]
        notes.append(f"[{', '.join(d['settings']['only'].split(','))}] {describe(d['settings'], d['total_seconds'])}")
        parts.append({"path": str(path), "settings": d["settings"], "total_seconds": d["total_seconds"]})
    order = {"images": 0, "documents": 1, "trajectories": 2}
    seen, unique = set(), []
    for r in rows:  # a baseline that two parts both ran (same data, same split): the first part's row
        key = (r["modality"], r["dataset"], r["model"], r["graphcl"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    rows = sorted(unique, key=lambda r: order[r["modality"]])
    write(rows, notes, out, {"parts": parts})
    print(table(rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default="../shared/data")
    p.add_argument("--cache-dir", default=None, help="sentence-embedding cache")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--only", default="images,documents,trajectories")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--patch-size", type=int, default=2)
    p.add_argument("--knn", type=int, default=4)
    p.add_argument("--image-epochs", type=int, default=20)
    p.add_argument("--image-pretrain-epochs", type=int, default=20)
    p.add_argument("--image-hidden", type=int, default=48)
    p.add_argument("--mlp-hidden", type=int, default=160)
    p.add_argument("--cnn-width", type=int, default=24)
    p.add_argument("--text-datasets", default="cora")
    p.add_argument("--text-epochs", type=int, default=15)
    p.add_argument("--text-pretrain-epochs", type=int, default=5)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--traj-epochs", type=int, default=5)
    p.add_argument("--out", default=str(RESULTS / "modalities"))
    p.add_argument("--label", default="", help="appended to every model name of this run (e.g. a longer schedule)")
    p.add_argument("--merge", nargs="+", help="only merge the rows of these JSON results (runs of --only parts in "
                   "separate processes) into --out")
    args = p.parse_args()
    if args.merge:
        merge(args.merge, Path(args.out))
        return
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.text_datasets = args.text_datasets.split(",")
    torch.set_num_threads(1)
    start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - start:6.0f} s] {msg}", flush=True)

    rows = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    producers = {"images": image_rows, "documents": text_rows, "trajectories": trajectory_rows}
    for part in args.only.split(","):
        new = producers[part](args, log)
        for r in new:  # the label names a training schedule: baselines without epochs keep their names
            if args.label and any(run.get("curve") for run in r["runs"]):
                r["model"] += f" {args.label}"
        rows += new
        total = time.perf_counter() - start
        settings = {k: v for k, v in vars(args).items() if k != "out"}
        note = describe(settings, total)
        write(rows, [note], out, {"settings": settings, "total_seconds": total})
    print(table(rows))
    log("done")


if __name__ == "__main__":
    main()
