"""``graphrep modality train --kind image|text|trajectory``: non-graph data as graphs through graphrep's encoders.

Writes ``metrics.json`` (config, per-seed runs, mean ± std) and ``curves.png`` (validation accuracy per epoch) to
``--out``, and prints one line per model.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def add_parser(subparsers) -> None:
    from graphrep.commands._args import seeds

    p = subparsers.add_parser("modality", help="images, documents and trajectories as graphs (patch, token and "
                              "transition graphs) through graphrep's encoders")
    sub = p.add_subparsers(dest="modality_command", required=True)
    t = sub.add_parser("train", help="train a graph model on one modality beside its plain baseline; writes "
                       "metrics.json and curves.png")
    t.add_argument("--kind", required=True, choices=["image", "text", "trajectory"])
    t.add_argument("--root", help="folder holding tag/ and mobility/ (text, trajectory; default $GRAPHREP_DATA)")
    t.add_argument("--dataset", help="text: cora or citeseer (default cora); trajectory: fsq_nyc or geolife "
                   "(default fsq_nyc)")
    t.add_argument("--conv", default=None, choices=["gin", "gcn", "sage", "gat", "euclidean", "hyperbolic"],
                   help="encoder (default: gin for images, gcn for text and trajectories)")
    t.add_argument("--knn", type=int, help="rebuild k-NN edges in feature space at every layer (Vision GNN)")
    t.add_argument("--hidden", type=int, default=64)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--batch-size", type=int, default=None, help="default 64 (image, text), 1024 (trajectory)")
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--seeds", type=seeds, default=[0, 1, 2], help="comma-separated, e.g. 0,1,2")
    t.add_argument("--pretrain-epochs", type=int, default=0, help="GraphCL pre-training epochs on the unlabelled "
                   "training graphs first (image, text)")
    t.add_argument("--patch-size", type=int, default=2, help="image patch side in pixels")
    t.add_argument("--tokenizer", choices=["whitespace", "encoder"], default="whitespace",
                   help="text: whitespace words (learned embeddings) or the sentence encoder's word pieces (its "
                   "frozen input embeddings)")
    t.add_argument("--window", type=int, default=3, help="text: co-occurrence window")
    t.add_argument("--max-tokens", type=int, default=128, help="text: tokens kept per document")
    t.add_argument("--history", type=int, default=10, help="trajectory: visits the sequence model sees")
    t.add_argument("--out", help="output folder (default runs/modality-<kind>-<time>); must be new or empty")
    t.add_argument("--overwrite", action="store_true", help="write into a non-empty --out folder")


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, runs in results["runs"].items():
        for i, r in enumerate(runs):
            if r.get("curve"):
                e, _, v = zip(*r["curve"])
                ax.plot(e, v, color="C0" if name == "graph" else "C1", alpha=0.7,
                        label=name if i == 0 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title(f"modality: {results['config']['kind']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args) -> int:
    import json

    import torch

    from graphrep.tasks.modalities.training import ModalityConfig, run_modality

    torch.set_num_threads(max(1, torch.get_num_threads()))
    conv = args.conv or ("gin" if args.kind == "image" else "gcn")
    batch = args.batch_size or (1024 if args.kind == "trajectory" else 64)
    config = ModalityConfig(
        kind=args.kind, root=args.root, dataset=args.dataset, conv=conv, knn=args.knn, hidden=args.hidden,
        layers=args.layers, epochs=args.epochs, lr=args.lr, batch_size=batch, dropout=args.dropout, seeds=args.seeds,
        pretrain_epochs=args.pretrain_epochs, patch_size=args.patch_size, tokenizer=args.tokenizer,
        window=args.window, max_tokens=args.max_tokens, history=args.history)
    out = Path(args.out or f"runs/modality-{args.kind}-{time.strftime('%Y%m%d-%H%M%S')}")
    from graphrep.train.outdir import check_out_dir

    check_out_dir(out, args.overwrite)
    start = time.perf_counter()
    results = run_modality(config)
    results["wall_seconds"] = time.perf_counter() - start
    (out / "metrics.json").write_text(json.dumps(results, indent=1))
    _plot(results, out / "curves.png")
    for name, s in results["summary"].items():
        label = f"{conv}{f' k-NN {args.knn}' if args.knn else ''}" if name == "graph" else name
        print(f"{args.kind} {label:<30} test accuracy {100 * s['mean']:.1f} ± {100 * s['std']:.1f} % "
              f"({s['train_seconds']:.1f} s training per run)", file=sys.stdout)
    print(f"results in {out.resolve()} (metrics.json, curves.png)")
    return 0
