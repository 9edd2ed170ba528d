"""``graphrep modality train --kind image|text|trajectory``: non-graph data as graphs through graphrep's encoders.

Writes ``metrics.json`` (config, per-seed runs, mean ± std) and ``curves.png`` (validation accuracy per epoch) to
``--out``, a checkpoint per seed in ``--out/checkpoints``, and prints one line per model. Trains on the shared engine:
the flags of every training subcommand (``--accelerator --devices --strategy --num-nodes --precision --resume
--seeds --out --overwrite --root``), checked with the model flags before any work.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def add_parser(subparsers) -> None:
    from graphrep.commands._args import add_run_arguments

    p = subparsers.add_parser("modality", help="images, documents and trajectories as graphs (patch, token and "
                              "transition graphs) through graphrep's encoders")
    sub = p.add_subparsers(dest="modality_command", required=True)
    t = sub.add_parser("train", help="train a graph model on one modality beside its plain baseline; writes "
                       "metrics.json and curves.png")
    t.add_argument("--kind", required=True, choices=["image", "text", "trajectory"])
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
    t.add_argument("--pretrain-epochs", type=int, default=0, help="GraphCL pre-training epochs on the unlabelled "
                   "training graphs first (image, text)")
    t.add_argument("--patch-size", type=int, help="image: patch side in pixels (default 2)")
    t.add_argument("--tokenizer", choices=["whitespace", "encoder"],
                   help="text: whitespace words (learned embeddings, the default) or the sentence encoder's word "
                   "pieces (its frozen input embeddings)")
    t.add_argument("--window", type=int, help="text: co-occurrence window (default 3)")
    t.add_argument("--max-tokens", type=int, help="text: tokens kept per document (default 128)")
    t.add_argument("--history", type=int, help="trajectory: visits the sequence model sees (default 10)")
    add_run_arguments(t, seeds_default=[0, 1, 2], root_help="folder holding tag/ and mobility/ (text, trajectory; "
                      "default $GRAPHREP_DATA)", resume_help="continue an interrupted run (one seed) from its "
                      "checkpoint, OUT/checkpoints/seed<N>.pt")


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


#: flags that only one or two kinds read, and their defaults there; given with another kind they are refused
KIND_FLAGS = {"dataset": (("text", "trajectory"), None), "patch_size": (("image",), 2),
              "tokenizer": (("text",), "whitespace"), "window": (("text",), 3), "max_tokens": (("text",), 128),
              "history": (("trajectory",), 10)}


def check_flags(args) -> None:
    """The model flags that cannot train (one line naming them), before any work; then the kind's defaults are set
    for the kind-specific flags left out."""
    from graphrep.data.errors import UserInputError

    for name, (kinds, default) in KIND_FLAGS.items():
        flag = f"--{name.replace('_', '-')}"
        if getattr(args, name) is not None and args.kind not in kinds:
            raise UserInputError(f"{flag} with --kind {args.kind}: {flag} applies to --kind {' or '.join(kinds)} only")
        if getattr(args, name) is None:
            setattr(args, name, default)

    for name in ("hidden", "layers", "epochs", "batch_size", "patch_size", "window", "max_tokens", "history"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserInputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.pretrain_epochs < 0:
        raise UserInputError(f"--pretrain-epochs must be >= 0, got {args.pretrain_epochs}")
    if args.lr <= 0:
        raise UserInputError(f"--lr must be > 0, got {args.lr}")
    if not 0 <= args.dropout < 1:
        raise UserInputError(f"--dropout must be in [0, 1), got {args.dropout}")
    conv = args.conv or ("gin" if args.kind == "image" else "gcn")
    if args.knn is not None and args.knn < 1:
        raise UserInputError(f"--knn must be >= 1, got {args.knn}")
    if args.knn is not None and conv in ("euclidean", "hyperbolic"):
        raise UserInputError(f"--conv {conv} with --knn {args.knn}: the geometry experts propagate on the input "
                             "graph; --knn works with gin, gcn, sage or gat")
    if args.knn is not None and args.kind == "trajectory":
        raise UserInputError("--knn with --kind trajectory: the venue encoder propagates on the transition graph; "
                             "--knn is for images and text")
    if args.pretrain_epochs and args.kind == "trajectory":
        raise UserInputError("--pretrain-epochs with --kind trajectory: GraphCL pre-trains graph classifiers "
                             "(image, text)")
    if args.kind == "image" and 8 % args.patch_size:
        raise UserInputError(f"--patch-size {args.patch_size}: the 8 x 8-pixel digits are not divisible into "
                              f"{args.patch_size} x {args.patch_size} patches (use 1, 2, 4 or 8)")
    if args.kind == "trajectory" and conv in ("euclidean", "hyperbolic"):
        raise UserInputError(f"--conv {conv} with --kind trajectory: the venue encoder takes gin, gcn, sage or gat")
    if str(args.precision) in ("16-true", "bf16-true"):
        # whole-model half precision: the data paths feed fp32 features to the model (measured: "mat1 and mat2 must
        # have the same dtype"); mixed precision (autocast) works, on the CPU too
        raise UserInputError(f"--precision {args.precision}: modality training runs in 32-true, 64-true or mixed "
                             "precision (bf16-mixed, 16-mixed), not with half-precision weights")


def run(args) -> int:
    import json

    import torch

    from graphrep.commands._args import check_run_arguments, engine_settings

    check_flags(args)
    args.out = args.out or f"runs/modality-{args.kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    check_run_arguments(args)
    from graphrep.tasks.modalities.training import ModalityConfig, run_modality
    from graphrep.train.engine import Engine

    torch.set_num_threads(max(1, torch.get_num_threads()))
    conv = args.conv or ("gin" if args.kind == "image" else "gcn")
    batch = args.batch_size or (1024 if args.kind == "trajectory" else 64)
    config = ModalityConfig(
        kind=args.kind, root=args.root, dataset=args.dataset, conv=conv, knn=args.knn, hidden=args.hidden,
        layers=args.layers, epochs=args.epochs, lr=args.lr, batch_size=batch, dropout=args.dropout, seeds=args.seeds,
        pretrain_epochs=args.pretrain_epochs, patch_size=args.patch_size, tokenizer=args.tokenizer,
        window=args.window, max_tokens=args.max_tokens, history=args.history)
    engine = Engine(engine_settings(args))
    out = Path(args.out)
    start = time.perf_counter()
    results = run_modality(config, engine, out_dir=out, resume=args.resume)
    results["wall_seconds"] = time.perf_counter() - start
    if not engine.is_global_zero:
        return 0
    (out / "metrics.json").write_text(json.dumps(results, indent=1))
    _plot(results, out / "curves.png")
    for name, s in results["summary"].items():
        label = f"{conv}{f' k-NN {args.knn}' if args.knn else ''}" if name == "graph" else name
        print(f"{args.kind} {label:<30} test accuracy {100 * s['mean']:.1f} ± {100 * s['std']:.1f} % "
              f"({s['train_seconds']:.1f} s training per run)", file=sys.stdout)
    print(f"results in {out.resolve()} (metrics.json, curves.png)")
    return 0
