"""``graphrep train`` (a GIN beside the fingerprint random forest, over seeds) and ``graphrep finetune`` (the same from a
pre-trained encoder: a checkpoint of ``graphrep pretrain`` or a shipped ``pretrained:NAME``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from graphrep.commands._args import add_run_arguments, names

DEFAULTS = {"dataset": "chembl2321810", "epochs": 30, "seeds": [0, 1, 2]}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=DEFAULTS["dataset"], help="registered dataset name, or your own molecule file "
                   "(PATH.csv, .sdf, .smi; optionally .gz) (default: %(default)s)")
    p.add_argument("--smiles-column", help="your file's SMILES column (default: smiles, any case)")
    p.add_argument("--label-columns", type=names, help="your file's label columns, comma-separated (default: every "
                   "numeric column; SDF: numeric properties)")
    p.add_argument("--task", choices=["classification", "regression"],
                   help="your file's task (default: classification if every label is 0/1)")
    p.add_argument("--features", choices=["ogb", "pretrain"], default="ogb", help="molecule featurisation")
    p.add_argument("--split", choices=["scaffold", "random"], default="scaffold")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--hidden", type=int, default=300)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--no-baseline", action="store_true", help="skip the fingerprint random forest")
    p.add_argument("--rf-trees", type=int, default=500)
    p.add_argument("--from", dest="encoder_checkpoint", help="initialise the encoder from this checkpoint")
    p.add_argument("--readout", default="graph", help="graph (linear head on the GIN embedding) or a hybrid readout "
                   "adding molecule features: ecfp, rdkit, ecfp+rdkit")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights used for evaluation (0: off)")
    p.add_argument("--schedule", default="constant", help="learning rate: constant, or cosine (to 0 over the run)")
    p.add_argument("--stack", action="store_true", help="regression: learn the residual of the fingerprint forest's "
                   "out-of-fold predictions, predict forest + GIN")
    p.add_argument("--ensemble", action="store_true", help="also score the average of the seeds' best models")
    add_run_arguments(p, DEFAULTS["seeds"], root_help="folder holding the dataset files (else GRAPHREP_DATA, the "
                      "cache, packages)", resume_help="continue a run (one seed) from its seed<N>/checkpoints/last.ckpt")


def add_parser(subparsers) -> None:
    train = subparsers.add_parser("train", help="train and evaluate a GIN beside the fingerprint random forest")
    add_train_arguments(train)
    train.set_defaults(handler=run)
    finetune = subparsers.add_parser("finetune", help="fine-tune a pre-trained encoder (a `graphrep pretrain` "
                                     "checkpoint or pretrained:NAME) beside the fingerprint random forest")
    add_train_arguments(finetune)
    # The encoder's shape comes from the checkpoint; dropout 0.5, batch 32, lr 1e-3 are the fine-tuning defaults.
    finetune.set_defaults(features=None, layers=None, hidden=None, handler=run_finetune)
    for action in finetune._actions:
        if action.dest == "encoder_checkpoint":
            action.required = True
            action.help = ("pre-training checkpoint (e.g. runs/pretrain/checkpoints/last.ckpt) or a shipped encoder, "
                           "pretrained:NAME (e.g. pretrained:attrmask-moses)")


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


def run(args) -> int:
    from graphrep.tasks.molecules.experiment import TrainConfig

    return _run_training(TrainConfig(**_train_settings(args)))


def run_finetune(args) -> int:
    from graphrep.tasks.molecules.pretraining import finetune_config

    settings = _train_settings(args)
    return _run_training(finetune_config(settings.pop("encoder_checkpoint"), **settings))


def _run_training(config) -> int:
    from graphrep.tasks.molecules.experiment import run_experiment
    from graphrep.train.report import report_paths, results_table

    out = config.out_dir
    results = run_experiment(config)  # writes the report too: the library and the CLI leave the same files
    if not results["gin"][-1]["is_global_zero"]:
        return 0
    paths = report_paths(Path(out))
    print(results_table(results))
    print(f"\nwall time {results['wall_seconds']:.0f} s; results in {Path(out).resolve()} "
          f"({paths['json'].name}, {paths['md'].name}, {paths['png'].name})")
    return 0
