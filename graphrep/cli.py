"""The ``graphrep`` command.

``graphrep`` with no arguments runs the main job: the GIN of Hu et al. 2020 trained on an RDKit-shipped labelled set
(CHEMBL2321810 pIC50, scaffold split) beside a Morgan-fingerprint random forest, offline, writing JSON, a markdown table
and a learning-curve plot. Subcommands: ``data list``, ``data info NAME``, ``train``, ``pretrain``, ``finetune``,
``tag zero-shot`` (GraphShaper trained on one text-attributed graph, classifying another from class names), ``bench``.
Bad input (:class:`graphrep.data.errors.GraphrepError` and its subclasses, or a missing file) prints one line,
``graphrep: error: ...``, exit status 2; any other exception is a bug: one line saying so, exit status 1; ``--debug``
shows the traceback. Ctrl-C at any point prints one line and exits 130. Only the standard library is imported before
a command runs, so ``graphrep --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import os
import re

# Before torch (and its OpenMP runtime) is imported: idle OpenMP threads sleep instead of spinning. With spinning, any
# other busy process on a 2-core machine made a 2-thread GIN epoch 20x slower (96 s vs 3.7 s, measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import sys
import time
from pathlib import Path

MAIN_JOB = {"dataset": "chembl2321810", "epochs": 30, "seeds": [0, 1, 2]}
# Literal copies, so that parsing imports no model code; tests/test_cli.py checks them against graphrep.models.
PRETRAINING_METHOD_NAMES = ("attrmask", "dsla", "graphcl")


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


def _names(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return names


def _add_lightning_arguments(p: argparse.ArgumentParser) -> None:
    """What passes through to Lightning's Trainer, shared by train, finetune and pretrain."""
    p.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu, gpu, cuda, mps, tpu, auto")
    p.add_argument("--devices", type=_devices, default=1, help="Lightning devices (count or 'auto')")
    p.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")
    p.add_argument("--num-nodes", type=int, default=1)
    p.add_argument("--precision", default="32-true", help="Lightning precision, e.g. bf16-mixed")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=MAIN_JOB["dataset"], help="registered dataset name, or your own molecule file "
                   "(PATH.csv, .sdf, .smi; optionally .gz) (default: %(default)s)")
    p.add_argument("--smiles-column", help="your file's SMILES column (default: smiles, any case)")
    p.add_argument("--label-columns", type=_names, help="your file's label columns, comma-separated (default: every "
                   "numeric column; SDF: numeric properties)")
    p.add_argument("--task", choices=["classification", "regression"],
                   help="your file's task (default: classification if every label is 0/1)")
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
    p.add_argument("--out", help="output directory (default: runs/<data>-<time>); must be new or empty")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out folder")
    p.add_argument("--no-baseline", action="store_true", help="skip the fingerprint random forest")
    p.add_argument("--rf-trees", type=int, default=500)
    p.add_argument("--from", dest="encoder_checkpoint", help="initialise the encoder from this checkpoint")
    p.add_argument("--resume", help="continue a run from its last.ckpt (one seed)")
    p.add_argument("--readout", default="graph", help="graph (linear head on the GIN embedding) or a hybrid readout "
                   "adding molecule features: ecfp, rdkit, ecfp+rdkit")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights used for evaluation (0: off)")
    p.add_argument("--schedule", default="constant", help="learning rate: constant, or cosine (to 0 over the run)")
    p.add_argument("--stack", action="store_true", help="regression: learn the residual of the fingerprint forest's "
                   "out-of-fold predictions, predict forest + GIN")
    p.add_argument("--ensemble", action="store_true", help="also score the average of the seeds' best models")
    _add_lightning_arguments(p)


def _add_pretrain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=PRETRAINING_METHOD_NAMES, default="dsla")
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
    p.add_argument("--out", help="output directory (default: runs/pretrain-<method>-<data>-<time>); must be new or "
                   "empty")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out folder")
    p.add_argument("--resume", help="continue a run from its last.ckpt")
    p.add_argument("--checkpoint-every", type=int, default=10, help="keep a checkpoint every N epochs (last.ckpt is "
                   "written after every epoch)")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--chunks", type=int, default=1, help="split each pass into N epochs, each ending in last.ckpt "
                   "(resume a long pass over a large corpus)")
    p.add_argument("--resident", action="store_true", help="keep a sharded corpus (moses) on the training device and "
                   "cut batches there, without a DataLoader (for a GPU; one device)")
    p.add_argument("--max-time", help="stop after this wall-clock time, DD:HH:MM:SS (with --chunks, within one chunk)")
    p.add_argument("--featurise-workers", type=int, default=1, help="processes featurising a streamed corpus's "
                   "shards the first time it is read (default: %(default)s)")
    _add_lightning_arguments(p)


#: subcommands that live in ``graphrep.commands.<module>`` (``add_parser(subparsers)`` and ``run(args)``); the
#: subcommand's name is the module's name with "-" for "_"
COMMAND_MODULES = ("main_job", "tag", "circuit", "modality", "mobility")


def _command_modules(named: bool = False):
    """The subcommand modules; imported here, not at start-up, though each imports only the stdlib at module level."""
    import importlib

    modules = [(name.replace("_", "-"), importlib.import_module(f".commands.{name}", __package__))
               for name in COMMAND_MODULES]
    return modules if named else [m for _, m in modules]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphrep", description="Transferable graph representations. With no command: the main job "
        "(GIN vs fingerprint random forest on CHEMBL2321810, offline).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and library logs")
    sub = parser.add_subparsers(dest="command")

    data = sub.add_parser("data", help="the dataset registry")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    listing = data_sub.add_parser("list", help="registered datasets")
    listing.add_argument("--kind", help="only this kind (molecules, ogb, tag, mobility, circuit)")
    info = data_sub.add_parser("info", help="a dataset's card, and whether its files are found")
    info.add_argument("name")
    info.add_argument("--root")

    train = sub.add_parser("train", help="train and evaluate a GIN beside the fingerprint random forest")
    _add_train_arguments(train)

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

    for command in _command_modules():
        command.add_parser(sub)

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
    name = Path(args.data).name.split(".")[0] or "data"
    return dict(
        dataset=args.data, root=args.root, features=args.features, split=args.split, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, layers=args.layers,
        hidden=args.hidden, dropout=args.dropout, seeds=args.seeds,
        out_dir=args.out or f"runs/{name}-{time.strftime('%Y%m%d-%H%M%S')}", baseline=not args.no_baseline,
        rf_trees=args.rf_trees, accelerator=args.accelerator, devices=args.devices, strategy=args.strategy,
        num_nodes=args.num_nodes, precision=args.precision, progress=not args.no_progress and sys.stderr.isatty(),
        resume=args.resume, encoder_checkpoint=args.encoder_checkpoint, smiles_column=args.smiles_column,
        label_columns=args.label_columns, task=args.task, overwrite=args.overwrite, readout=args.readout, ema=args.ema,
        schedule=args.schedule, ensemble=args.ensemble, stack=args.stack)


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


def cmd_pretrain(args) -> int:
    from .data.errors import UserInputError
    from .tasks.validation import check_out_dir
    from .tasks.pretraining import PretrainConfig, run_pretraining
    from .tasks.trainer import check_lightning_settings

    for name in ("epochs", "batch_size", "layers", "hidden", "checkpoint_every"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserInputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.num_workers < 0 or not args.lr > 0 or args.featurise_workers < 1:
        raise UserInputError("--num-workers must be >= 0, --featurise-workers >= 1 and --lr > 0")
    if args.max_time is not None and not re.fullmatch(r"\d+:\d{1,2}:\d{1,2}:\d{1,2}", args.max_time):
        raise UserInputError(f"--max-time {args.max_time!r}: give DD:HH:MM:SS, e.g. 00:02:30:00")
    out = args.out or f"runs/pretrain-{args.method}-{args.data}-{time.strftime('%Y%m%d-%H%M%S')}"
    config = PretrainConfig(
        method=args.method, corpus=args.data, root=args.root, limit=args.limit, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, layers=args.layers, hidden=args.hidden, seed=args.seed, out_dir=out,
        accelerator=args.accelerator, devices=args.devices, strategy=args.strategy, num_nodes=args.num_nodes,
        precision=args.precision, progress=not args.no_progress and sys.stderr.isatty(), resume=args.resume,
        num_workers=args.num_workers, checkpoint_every=args.checkpoint_every, chunks=args.chunks,
        resident=args.resident, max_time=args.max_time, featurise_workers=args.featurise_workers)
    check_lightning_settings(config)
    if args.resume:
        from .tasks.checkpoint import read_checkpoint

        read_checkpoint(args.resume)
    check_out_dir(out, args.overwrite or bool(args.resume))
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


def source_checkout() -> Path:
    """The folder above the ``graphrep`` package: a source checkout's root, or ``site-packages`` when installed."""
    return Path(__file__).resolve().parents[1]


def benchmark_dir() -> Path:
    return source_checkout() / "benchmarks"


def cmd_bench(args) -> int:
    import runpy

    from .data.errors import UserInputError

    root = source_checkout()
    directory = benchmark_dir()
    # Checking for pyproject.toml too: an installed graphrep sits in site-packages, where another distribution may
    # have put an unrelated top-level `benchmarks` folder.
    if not (directory.is_dir() and (root / "pyproject.toml").is_file()):
        raise UserInputError(f"`graphrep bench` runs the scripts in benchmarks/ of a source checkout (git clone the "
                             f"repository, then run it there); this graphrep is installed in {root}, without them")
    scripts = sorted(p.stem for p in directory.glob("*.py") if not p.name.startswith("_"))
    if not args.name:
        print("\n".join(scripts))
        return 0
    if args.name not in scripts:
        raise UserInputError(f"unknown benchmark {args.name!r} (available: {', '.join(scripts)})")
    sys.argv = [str(directory / f"{args.name}.py"), *args.args]
    runpy.run_path(sys.argv[0], run_name="__main__")
    return 0


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "(no message)"


def _report(exc: BaseException) -> int:
    """Print ``exc`` as one line; 2 for the user's input (GraphrepError, a missing file), 1 for a bug."""
    from .data.errors import GraphrepError

    if isinstance(exc, GraphrepError):
        message = str(exc)
    elif isinstance(exc, FileNotFoundError) and exc.filename:  # from the OS: names the path
        message = f"{exc.filename}: {exc.strerror or 'no such file or directory'}"
    elif isinstance(exc, FileNotFoundError) and len(exc.args) == 1:  # raised with a message that names the path
        message = str(exc)
    else:
        print(f"graphrep: internal error ({type(exc).__name__}: {_one_line(exc)[:300]}): this is a bug; rerun with "
              "--debug for the traceback", file=sys.stderr)
        return 1
    print(f"graphrep: error: {_one_line(message)}", file=sys.stderr)
    return 2


def _interrupted(exc: KeyboardInterrupt) -> int:
    hint = exc.hint() if hasattr(exc, "hint") else "interrupted"
    print(f"graphrep: {hint}", file=sys.stderr)
    return 130


def _no_model_loading_bars() -> None:
    """No "Loading weights" / download bars from transformers and huggingface_hub in logs and pipes."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when they are first imported
    if "transformers" in sys.modules:  # already imported (e.g. by a caller of main): switch its bars off directly
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt as exc:  # at any point, start-up and argument parsing included
        return _interrupted(exc)


def _main_job_shorthand(argv: list[str]) -> list[str]:
    """``graphrep --out X --epochs 3`` means ``graphrep main-job --out X --epochs 3``: the bare command is the main
    job, so its options work without the subcommand's name (``--debug`` stays global, ``-h`` stays the overview)."""
    rest = [a for a in argv if a != "--debug"]
    if rest and rest[0].startswith("-") and rest[0] not in ("-h", "--help"):
        return [*(["--debug"] if "--debug" in argv else []), "main-job", *rest]
    return argv


def _main(argv: list[str] | None) -> int:
    if not sys.stderr.isatty():
        _no_model_loading_bars()
    parser = build_parser()
    argv = _main_job_shorthand(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="graphrep: %(message)s")
    if not args.debug:
        _quiet_libraries()
    if args.command is None:  # the main job
        args = parser.parse_args([*(["--debug"] if args.debug else []), "main-job"])
    handlers = {"data": cmd_data, "train": cmd_train, "pretrain": cmd_pretrain, "finetune": cmd_finetune,
                "bench": cmd_bench}
    handlers.update({name: module.run for name, module in _command_modules(named=True)})
    try:
        return handlers[args.command](args)
    except BrokenPipeError:  # output piped into `head` and closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if args.debug:
            raise
        return _report(exc)


if __name__ == "__main__":
    sys.exit(main())
