"""``graphrep pretrain``: self-supervised pre-training of the molecule GIN (D-SLA, AttrMasking, GraphCL) on a corpus."""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from graphrep.commands._args import add_engine_arguments

# Literal copy, so that parsing imports no model code; tests/test_cli.py checks it against graphrep.models.
PRETRAINING_METHOD_NAMES = ("attrmask", "dsla", "graphcl")


def add_pretrain_arguments(p: argparse.ArgumentParser) -> None:
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
    add_engine_arguments(p)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("pretrain", help="self-supervised pre-training of the molecule GIN (D-SLA, AttrMasking, "
                              "GraphCL)")
    add_pretrain_arguments(p)


def run(args) -> int:
    from graphrep.data.errors import UserInputError
    from graphrep.train.outdir import check_out_dir
    from graphrep.tasks.molecules.pretraining import PretrainConfig, run_pretraining
    from graphrep.train.trainer import check_lightning_settings

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
        from graphrep.train.checkpoint import read_checkpoint

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
