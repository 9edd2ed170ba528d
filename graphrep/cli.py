"""The ``graphrep`` command.

``graphrep`` with no arguments runs the main job: the GIN of Hu et al. 2020 trained on an RDKit-shipped labelled set
(CHEMBL2321810 pIC50, scaffold split) beside a Morgan-fingerprint random forest, offline, writing JSON, a markdown table
and a learning-curve plot. Subcommands: ``data list``, ``data info NAME``, ``train``, ``pretrain``, ``finetune``,
``tag zero-shot`` (GraphShaper trained on one text-attributed graph, classifying another from class names), ``bench``.
Errors print as one line (``graphrep: error: ...``) unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import logging
import os

# Before torch (and its OpenMP runtime) is imported: idle OpenMP threads sleep instead of spinning. With spinning, any
# other busy process on a 2-core machine made a 2-thread GIN epoch 20x slower (96 s vs 3.7 s, measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import runpy
import sys
import time
from pathlib import Path

MAIN_JOB = {"dataset": "chembl2321810", "epochs": 30, "seeds": [0, 1, 2]}


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed")
    return seeds


def _devices(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _add_lightning_arguments(p: argparse.ArgumentParser) -> None:
    """What passes through to Lightning's Trainer, shared by train, finetune and pretrain."""
    p.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu, gpu, auto")
    p.add_argument("--devices", type=_devices, default=1, help="Lightning devices (count or 'auto')")
    p.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")
    p.add_argument("--num-nodes", type=int, default=1)
    p.add_argument("--precision", default="32-true", help="Lightning precision, e.g. bf16-mixed")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=MAIN_JOB["dataset"], help="registered dataset name (default: %(default)s)")
    p.add_argument("--root", help="folder holding the dataset files (else GRAPHREP_DATA, the cache, packages)")
    p.add_argument("--features", choices=["ogb", "pretrain"], default="ogb", help="molecule featurisation")
    p.add_argument("--split", choices=["scaffold", "random"], default="scaffold")
    p.add_argument("--epochs", type=int, default=MAIN_JOB["epochs"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--hidden", type=int, default=300)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--seeds", type=_seeds, default=MAIN_JOB["seeds"], help="comma-separated, e.g. 0,1,2")
    p.add_argument("--out", help="output directory (default: runs/<data>-<time>)")
    p.add_argument("--no-baseline", action="store_true", help="skip the fingerprint random forest")
    p.add_argument("--rf-trees", type=int, default=500)
    p.add_argument("--from", dest="encoder_checkpoint", help="initialise the encoder from this checkpoint")
    p.add_argument("--resume", help="continue a run from its last.ckpt (one seed)")
    p.add_argument("--readout", default="graph", help="graph (linear head on the GIN embedding) or a hybrid readout "
                   "adding molecule features: ecfp, rdkit, ecfp+rdkit")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights used for evaluation (0: off)")
    p.add_argument("--ensemble", action="store_true", help="also score the average of the seeds' best models")
    _add_lightning_arguments(p)


def _add_tag_zero_shot_arguments(p: argparse.ArgumentParser) -> None:
    from .models.graphshaper import VARIANTS

    p.add_argument("--train", required=True, help="TAG to train on (cora, citeseer, or a folder name under --root)")
    p.add_argument("--eval", required=True, help="TAG to classify zero-shot")
    p.add_argument("--out", help="output directory (default: runs/tag-<train>-<eval>-<time>)")
    p.add_argument("--root", help="folder holding <name>/nodes.jsonl.gz etc. (default $GRAPHREP_DATA/tag)")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="gated")
    p.add_argument("--hard-negatives", action="store_true", help="MoCHi hard-negative mixing in the InfoNCE loss")
    p.add_argument("--neighbour-positives", action="store_true", help="neighbours' texts count as positives")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--hidden", type=int, default=64, help="expert width and shared tangent size")
    p.add_argument("--batch-size", type=int, default=1024, help="anchors per step (0: all nodes)")
    p.add_argument("--edge-drop", type=float, default=0.2)
    p.add_argument("--feature-mask", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--template", action="append", dest="templates",
                   help="prompt template with {} for the class name (repeatable; default 'This paper is about {}.')")
    p.add_argument("--text-model", help="sentence-transformers model (default: the offline all-MiniLM-L6-v2)")
    p.add_argument("--cache-dir", help="text-embedding cache (default $GRAPHREP_CACHE/text)")


def _add_pretrain_arguments(p: argparse.ArgumentParser) -> None:
    from .models import PRETRAINING_METHODS

    p.add_argument("--method", choices=sorted(PRETRAINING_METHODS), default="dsla")
    p.add_argument("--data", default="zinc-sample", help="pre-training corpus, any registered molecule dataset "
                   "(zinc-sample, rdkit-shipped, zinc2m, ...; default: %(default)s)")
    p.add_argument("--root", help="folder holding the dataset files (else GRAPHREP_DATA, the cache, packages)")
    p.add_argument("--limit", type=int, help="pre-train on a seeded random subset of this many molecules")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--hidden", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output directory (default: runs/pretrain-<method>-<data>-<time>)")
    p.add_argument("--resume", help="continue a run from its last.ckpt")
    p.add_argument("--checkpoint-every", type=int, default=10, help="keep a checkpoint every N epochs (last.ckpt is "
                   "written after every epoch)")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--chunks", type=int, default=1, help="split each pass into N epochs, each ending in last.ckpt "
                   "(resume a long pass over a large corpus)")
    _add_lightning_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphrep", description="Transferable graph representations. With no command: the main job "
        "(GIN vs fingerprint random forest on CHEMBL2321810, offline).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and library logs")
    sub = parser.add_subparsers(dest="command")

    data = sub.add_parser("data", help="the dataset registry")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    listing = data_sub.add_parser("list", help="registered datasets")
    listing.add_argument("--kind", help="only this kind (molecules, ogb, tag)")
    info = data_sub.add_parser("info", help="a dataset's card, and whether its files are found")
    info.add_argument("name")
    info.add_argument("--root")

    train = sub.add_parser("train", help="train and evaluate a GIN beside the fingerprint random forest")
    _add_train_arguments(train)

    tag = sub.add_parser("tag", help="text-attributed graphs")
    tag_sub = tag.add_subparsers(dest="tag_command", required=True)
    zs = tag_sub.add_parser("zero-shot", help="train GraphShaper on one TAG, classify another zero-shot from class "
                            "names; writes metrics.json and predictions.csv")
    _add_tag_zero_shot_arguments(zs)

    pretrain = sub.add_parser("pretrain", help="self-supervised pre-training of the molecule GIN (D-SLA, AttrMasking, "
                              "GraphCL)")
    _add_pretrain_arguments(pretrain)

    finetune = sub.add_parser("finetune", help="fine-tune a pre-trained encoder (from `graphrep pretrain`) beside the "
                              "fingerprint random forest")
    _add_train_arguments(finetune)
    # The encoder's shape comes from the checkpoint; dropout 0.5, batch 32, lr 1e-3 are the fine-tuning defaults.
    finetune.set_defaults(features=None, layers=None, hidden=None)
    for action in finetune._actions:
        if action.dest == "encoder_checkpoint":
            action.required = True
            action.help = "pre-training checkpoint (e.g. runs/pretrain/checkpoints/last.ckpt)"

    from .commands import main_job

    main_job.add_parser(sub)
    bench = sub.add_parser("bench", help="run a benchmark script from benchmarks/ (source checkout)")
    bench.add_argument("name", nargs="?", help="benchmark name; omit to list them")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    return parser


def _quiet_libraries() -> None:
    import warnings

    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", category=UserWarning, module="torch_geometric")


def cmd_data(args) -> int:
    from .data import list_cards
    from .data.registry import get_card
    from .data.resolve import resolve_file

    if args.data_command == "list":
        cards = [c for c in list_cards() if not args.kind or c.kind == args.kind]
        width = max(len(c.name) for c in cards) if cards else 4
        print(f"{'name':<{width}}  {'kind':<9}  {'rows':>7}  {'task':<14}  title")
        for c in cards:
            print(f"{c.name:<{width}}  {c.kind:<9}  {c.rows:>7}  {c.task_type:<14}  {c.title}")
        return 0
    card = get_card(args.name)
    print(f"{card.name}: {card.title}")
    for key in ("kind", "task_type", "rows", "split", "license", "citation", "homepage"):
        print(f"  {key:<9} {getattr(card, key)}")
    if card.option("members"):
        print(f"  members   {', '.join(card.option('members'))} (deduplicated by canonical SMILES)")
    if card.option("path"):
        print(f"  file      <root>/{card.option('path')}\n  obtain    {card.option('obtain', card.homepage)}")
    for f in card.files:
        try:
            where = str(resolve_file(card, f, root=args.root, download=False))
        except Exception as exc:  # not found / checksum: report, do not fail the listing
            where = f"NOT AVAILABLE ({exc})"
        print(f"  file      {f.path}\n    sha256  {f.content_sha256} (decompressed content)\n    source  "
              f"{f.url or ('package ' + f.package if f.package else card.homepage)}\n    found   {where}")
    return 0


def _train_settings(args) -> dict:
    """``TrainConfig`` fields from the train/finetune arguments (``None`` where the argument was not given)."""
    return dict(
        dataset=args.data, root=args.root, features=args.features, split=args.split, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, layers=args.layers,
        hidden=args.hidden, dropout=args.dropout, seeds=args.seeds,
        out_dir=args.out or f"runs/{args.data}-{time.strftime('%Y%m%d-%H%M%S')}", baseline=not args.no_baseline,
        rf_trees=args.rf_trees, accelerator=args.accelerator, devices=args.devices, strategy=args.strategy,
        num_nodes=args.num_nodes, precision=args.precision, progress=not args.no_progress and sys.stderr.isatty(),
        resume=args.resume, encoder_checkpoint=args.encoder_checkpoint, readout=args.readout, ema=args.ema,
        ensemble=args.ensemble)


def cmd_train(args) -> int:
    from .tasks.experiment import TrainConfig

    return _run_training(TrainConfig(**_train_settings(args)))


def cmd_finetune(args) -> int:
    from .tasks.pretraining import finetune_config

    settings = _train_settings(args)
    return _run_training(finetune_config(settings.pop("encoder_checkpoint"), **settings))


def _run_training(config) -> int:
    from .tasks.experiment import run_experiment
    from .tasks.report import results_table, write_report

    out = config.out_dir
    start = time.perf_counter()
    results = run_experiment(config)
    if not results["gin"][-1]["is_global_zero"]:
        return 0
    results["wall_seconds"] = time.perf_counter() - start
    paths = write_report(results, Path(out))
    print(results_table(results))
    print(f"\nwall time {results['wall_seconds']:.0f} s; results in {Path(out).resolve()} "
          f"({paths['json'].name}, {paths['md'].name}, {paths['png'].name})")
    return 0


def cmd_tag(args) -> int:
    from .tasks.tag_alignment import DEFAULT_HARD_NEGATIVES, AlignmentConfig, run_transfer
    from .tasks.zero_shot import DEFAULT_TEMPLATE

    if args.epochs < 0 or args.batch_size < 0 or args.hidden < 1:
        raise ValueError("--epochs and --batch-size must be >= 0 and --hidden >= 1")
    out = args.out or f"runs/tag-{args.train}-{args.eval}-{time.strftime('%Y%m%d-%H%M%S')}"
    config = AlignmentConfig(
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size or None, edge_drop=args.edge_drop,
        feature_mask=args.feature_mask, neighbour_positives=args.neighbour_positives,
        hard_negatives=dict(DEFAULT_HARD_NEGATIVES) if args.hard_negatives else None, seed=args.seed)
    m = run_transfer(args.train, args.eval, out, root=args.root, variant=args.variant, config=config,
                     model_kwargs={"hidden_channels": args.hidden, "shared_channels": args.hidden},
                     templates=args.templates or [DEFAULT_TEMPLATE], text_model=args.text_model,
                     text_cache_dir=args.cache_dir)
    base = m["baselines"]
    print(f"GraphShaper ({args.variant}{', hard negatives' if args.hard_negatives else ''}) trained on {m['train']}, "
          f"zero-shot on {m['eval']}: accuracy {100 * m['accuracy']:.1f}%, macro-F1 {100 * m['macro_f1']:.1f}% "
          f"({m['train_seconds']:.0f} s training)")
    for name, r in base.items():
        print(f"  training-free {name:<25} accuracy {100 * r['accuracy']:.1f}%, macro-F1 {100 * r['macro_f1']:.1f}%")
    print(f"results in {Path(out).resolve()} (metrics.json, predictions.csv)")
    return 0


def cmd_pretrain(args) -> int:
    from .tasks.pretraining import PretrainConfig, run_pretraining

    out = args.out or f"runs/pretrain-{args.method}-{args.data}-{time.strftime('%Y%m%d-%H%M%S')}"
    config = PretrainConfig(
        method=args.method, corpus=args.data, root=args.root, limit=args.limit, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, layers=args.layers, hidden=args.hidden, seed=args.seed, out_dir=out,
        accelerator=args.accelerator, devices=args.devices, strategy=args.strategy, num_nodes=args.num_nodes,
        precision=args.precision, progress=not args.no_progress and sys.stderr.isatty(), resume=args.resume,
        num_workers=args.num_workers, checkpoint_every=args.checkpoint_every, chunks=args.chunks)
    summary = run_pretraining(config)
    if not summary["is_global_zero"]:
        return 0
    last = summary["epochs"][-1] if summary["epochs"] else {}
    losses = ", ".join(f"{k.split('/', 1)[1]} {v:.4f}" for k, v in last.items() if k.startswith("train/"))
    print(f"{args.method} on {summary['corpus']['name']} ({summary['corpus']['molecules']} molecules): "
          f"{len(summary['epochs'])} epoch(s) in {summary['fit_seconds']:.0f} s, "
          f"{summary['molecules_per_s']:.0f} molecules/s; last epoch: {losses or 'no batch trained'}")
    print(f"checkpoint {Path(summary['checkpoint']).resolve()}\n"
          f"fine-tune: graphrep finetune --from {summary['checkpoint']} --data bbbp")
    return 0


def benchmark_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "benchmarks"


def cmd_bench(args) -> int:
    from .data.errors import GraphrepError

    directory = benchmark_dir()
    if not directory.is_dir():
        raise GraphrepError(f"benchmarks are scripts in the source checkout; {directory} does not exist here")
    scripts = sorted(p.stem for p in directory.glob("*.py") if not p.name.startswith("_"))
    if not args.name:
        print("\n".join(scripts))
        return 0
    if args.name not in scripts:
        raise GraphrepError(f"unknown benchmark {args.name!r} (available: {', '.join(scripts)})")
    sys.argv = [str(directory / f"{args.name}.py"), *args.args]
    runpy.run_path(sys.argv[0], run_name="__main__")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .commands import main_job as main_job_command

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="graphrep: %(message)s")
    if not args.debug:
        _quiet_libraries()
    if args.command is None:  # the main job
        args = parser.parse_args([*(["--debug"] if args.debug else []), "main-job"])
    handlers = {"data": cmd_data, "train": cmd_train, "pretrain": cmd_pretrain, "finetune": cmd_finetune,
                "tag": cmd_tag, "bench": cmd_bench, "main-job": main_job_command.run}
    try:
        return handlers[args.command](args)
    except BrokenPipeError:  # output piped into `head` and closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("graphrep: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        from .data.errors import GraphrepError

        user_error = isinstance(exc, (GraphrepError, FileNotFoundError, ValueError))
        kind = "error" if user_error else f"internal error ({type(exc).__name__})"
        hint = "" if user_error else " (run with --debug for the traceback)"
        print(f"graphrep: {kind}: {exc}{hint}", file=sys.stderr)
        return 2 if user_error else 1


if __name__ == "__main__":
    sys.exit(main())
