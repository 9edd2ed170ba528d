"""``graphrep main-job`` (and ``graphrep`` with no arguments): RF, GIN from scratch, GIN from the shipped pre-trained
encoder, the hybrid readout and the seed ensemble side by side (:mod:`graphrep.tasks.main_job`)."""

from __future__ import annotations

import argparse
import sys
import time


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be comma-separated integers, got {text!r}") from None
    if len(seeds) < 2:
        raise argparse.ArgumentTypeError("the main job needs at least two seeds (std and ensemble)")
    return seeds


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("main-job", help="the main job (also `graphrep` alone): RF, GIN from scratch, GIN from "
                              "the shipped pre-trained encoder, hybrid readout, seed ensemble; offline")
    p.add_argument("--data", default="chembl2321810", help="labelled molecule dataset (default: %(default)s)")
    p.add_argument("--root", help="folder holding the dataset files (else GRAPHREP_DATA, the cache, packages)")
    p.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs per GIN row (default: %(default)s)")
    p.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="comma-separated, at least two (default: 0,1,2)")
    p.add_argument("--encoder", default="pretrained:attrmask-moses", help="pre-trained encoder: pretrained:NAME "
                   "or a `graphrep pretrain` checkpoint (default: %(default)s)")
    p.add_argument("--readout", default="ecfp+rdkit", help="the hybrid row's readout: ecfp, rdkit, ecfp+rdkit")
    p.add_argument("--ema", type=float, default=None, help="EMA decay of the weights (default: the small-data recipe)")
    p.add_argument("--rf-trees", type=int, default=500)
    p.add_argument("--jobs", type=int, default=2, help="rows trained at a time, one process each (default: %(default)s)")
    p.add_argument("--out", help="output directory (default: runs/main-<time>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args) -> int:
    from pathlib import Path

    from ..data.errors import InvalidInputError
    from ..tasks.main_job import MainJobConfig, main_job_table, run_main_job, write_main_job_report
    from ..tasks.recipes import readout_kinds

    if min(args.epochs, args.rf_trees, args.jobs) < 1:
        raise InvalidInputError(f"--epochs, --rf-trees and --jobs must be >= 1, got {args.epochs}, {args.rf_trees} "
                                f"and {args.jobs}")
    if not readout_kinds(args.readout):
        raise InvalidInputError(f"--readout {args.readout!r}: the hybrid row needs molecule features "
                                "(ecfp, rdkit or ecfp+rdkit)")
    config = MainJobConfig(dataset=args.data, root=args.root, epochs=args.epochs, seeds=args.seeds,
                           encoder=args.encoder, readout=args.readout, rf_trees=args.rf_trees, jobs=args.jobs,
                           out_dir=args.out or f"runs/main-{time.strftime('%Y%m%d-%H%M%S')}",
                           progress=not args.no_progress and sys.stderr.isatty())
    if args.ema is not None:
        config.recipe["ema"] = args.ema
    results = run_main_job(config)
    paths = write_main_job_report(results, config.out_dir)
    print(main_job_table(results))
    print(f"\nresults in {Path(config.out_dir).resolve()} ({', '.join(p.name for p in paths.values())})")
    return 0
