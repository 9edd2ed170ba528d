"""``graphrep tag zero-shot``: train GraphShaper on one or more text-attributed graphs, classify another zero-shot.

Leave-one-graph-out: ``--train cora,citeseer,dblp --eval webkb_texas`` trains on the first three (batches mixing
them) and classifies the fourth from its class names, adapted label-free to its texts and edges (``--adaptation``).
Every argument is checked before any work.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

VARIANTS = ("euclidean", "gated", "hyperbolic", "routed", "spherical", "uniform")  # graphrep.models.graphshaper.VARIANTS
ADAPTATIONS = ("route", "none", "propagate", "self-train", "propagate + self-train")  # alignment.TRANSFER_ADAPTATIONS


def add_parser(subparsers) -> None:
    from graphrep.commands._args import add_run_arguments, seeds

    tag = subparsers.add_parser("tag", help="text-attributed graphs")
    tag_sub = tag.add_subparsers(dest="tag_command", required=True)
    p = tag_sub.add_parser("zero-shot", help="train GraphShaper on TAGs, classify another zero-shot from class names "
                           "(leave-one-graph-out); writes metrics.json and predictions.csv")
    p.add_argument("--train", required=True, help="TAG(s) to train on, comma-separated (e.g. cora,citeseer,dblp)")
    p.add_argument("--eval", required=True, help="TAG to classify zero-shot (its labels are read only to score)")
    p.add_argument("--variant", choices=VARIANTS, default="euclidean",
                   help="experts and fusion (default euclidean: the gated 3-expert model measured no better, see "
                        "README)")
    p.add_argument("--gate-scope", choices=("node", "graph"), default="node",
                   help="routed variant: the gate chooses per node (structure + graph estimates) or once per graph "
                        "(the label-free structure estimate only)")
    p.add_argument("--adaptation", choices=ADAPTATIONS, default="route",
                   help="label-free adaptation on the evaluated graph (default: %(default)s, the two-way route: score "
                        "propagation over the graph mixed with the texts' kNN graph, or text/refined prototypes, its "
                        "alpha, kNN weight and threshold chosen on the --train graphs only; the others propagate and centre as that route decides)")
    p.add_argument("--target-epochs", type=int, default=0,
                   help="epochs of self-supervised alignment on the evaluated graph's texts and edges (no labels)")
    p.add_argument("--hard-negatives", action="store_true", help="MoCHi hard-negative mixing in the InfoNCE loss")
    p.add_argument("--neighbour-positives", action="store_true", help="neighbours' texts count as positives")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--hidden", type=int, default=64, help="expert width and shared tangent size")
    p.add_argument("--batch-size", type=int, default=1024, help="anchors per step, over all training graphs (0: all)")
    p.add_argument("--max-nodes", type=int, default=4096,
                   help="larger training graphs are encoded as a random induced subgraph of this many nodes per step")
    p.add_argument("--edge-drop", type=float, default=0.2)
    p.add_argument("--feature-mask", type=float, default=0.2)
    p.add_argument("--checkpoint-every", type=int, default=10, help="epochs between checkpoints of the source "
                   "training (OUT/checkpoint.pt; several seeds: OUT/seed<N>/checkpoint.pt)")
    add_run_arguments(p, seeds_default=[0], root_help="folder holding <name>/nodes.jsonl.gz etc. (default "
                      "$GRAPHREP_DATA/tag)", resume_help="continue an interrupted run (one seed) from its "
                      "OUT/checkpoint.pt (several seeds: OUT/seed<N>/checkpoint.pt)")
    p.add_argument("--seed", dest="seeds", type=seeds, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # the one-seed flag of before --seeds
    p.add_argument("--template", action="append", dest="templates",
                   help="prompt template with {} for the class name (repeatable; default: the evaluated TAG's card "
                        "prompt, e.g. 'This web page is about {}.')")
    p.add_argument("--class-descriptions", metavar="FILE",
                   help="JSON file: class name -> one description or a list of them; each is put into the templates "
                        "and the embeddings are averaged per class, in place of the bare class names")
    p.add_argument("--text-model", help="sentence-transformers model: a folder, an installed package holding one, or "
                   "a Hub name in the local cache (default: the offline all-MiniLM-L6-v2)")
    p.add_argument("--cache-dir", help="text-embedding cache (default $GRAPHREP_CACHE/text)")


def _check_args(args) -> list[str]:
    """Every argument checked before work; returns the training graph names."""
    from graphrep.data.errors import GraphrepError
    from graphrep.data.tag import resolve_tag_dir

    checks = [(args.epochs >= 0, f"--epochs must be >= 0, got {args.epochs}"),
              (args.target_epochs >= 0, f"--target-epochs must be >= 0, got {args.target_epochs}"),
              (args.batch_size == 0 or args.batch_size >= 2, f"--batch-size must be 0 (all) or >= 2, got "
                                                              f"{args.batch_size}"),
              (args.hidden >= 1, f"--hidden must be >= 1, got {args.hidden}"),
              (args.checkpoint_every >= 1, f"--checkpoint-every must be >= 1, got {args.checkpoint_every}"),
              (args.max_nodes >= 2, f"--max-nodes must be >= 2, got {args.max_nodes}"),
              (args.lr > 0, f"--lr must be > 0, got {args.lr}"),
              (0 <= args.edge_drop < 1, f"--edge-drop must be in [0, 1), got {args.edge_drop}"),
              (0 <= args.feature_mask < 1, f"--feature-mask must be in [0, 1), got {args.feature_mask}")]
    for ok, message in checks:
        if not ok:
            raise GraphrepError(message)
    if args.gate_scope == "graph" and args.variant != "routed":
        raise GraphrepError(f"--gate-scope graph needs --variant routed (the {args.variant} variant has no "
                            "graph-level gate inputs)")
    if args.templates:
        from graphrep.data.errors import InvalidInputError
        from graphrep.tasks.tag.zero_shot import check_template

        for t in args.templates:
            try:
                check_template(t)
            except InvalidInputError as exc:
                raise GraphrepError(f"--template {exc}") from None
    train = [s.strip() for s in args.train.split(",")]
    if any(not s for s in train):
        raise GraphrepError(f"--train must be comma-separated TAG names, got {args.train!r}")
    if len(set(s.lower() for s in train)) != len(train):
        raise GraphrepError(f"--train names a graph twice: {args.train!r}")
    if args.eval.lower() in {s.lower() for s in train}:
        raise GraphrepError(f"--eval {args.eval!r} is also in --train; zero-shot transfer leaves the evaluated graph "
                            f"out")
    for name in (*train, args.eval):
        resolve_tag_dir(name, args.root)
    if args.class_descriptions:
        from graphrep.data.tag import read_classes
        from graphrep.tasks.tag.zero_shot import read_class_descriptions

        classes = read_classes(resolve_tag_dir(args.eval, args.root) / "classes.json")
        read_class_descriptions(args.class_descriptions, classes)  # one line naming the file and class if wrong
    return train


def run(args) -> int:
    import json

    from graphrep.commands._args import check_run_arguments, engine_settings
    from graphrep.tasks.tag.alignment import DEFAULT_HARD_NEGATIVES, AlignmentConfig, run_transfer
    from graphrep.train.engine import Engine
    from graphrep.train.outdir import discard_if_unused

    train = _check_args(args)
    args.out = args.out or f"runs/tag-{'+'.join(train)}-{args.eval}-{time.strftime('%Y%m%d-%H%M%S')}"
    out = Path(args.out)
    created = not out.exists()
    check_run_arguments(args)  # engine flags, --resume, and the --out policy of every training subcommand
    engine = Engine(engine_settings(args))
    results = []
    try:
        for seed in args.seeds:
            seed_out = out / f"seed{seed}" if len(args.seeds) > 1 else out
            config = AlignmentConfig(
                epochs=args.epochs, lr=args.lr, batch_size=args.batch_size or None, edge_drop=args.edge_drop,
                feature_mask=args.feature_mask, neighbour_positives=args.neighbour_positives,
                max_nodes=args.max_nodes, seed=seed,
                hard_negatives=dict(DEFAULT_HARD_NEGATIVES) if args.hard_negatives else None)
            try:
                m = run_transfer(train, args.eval, seed_out, root=args.root, variant=args.variant, config=config,
                                 model_kwargs={"hidden_channels": args.hidden, "shared_channels": args.hidden,
                                               **({"gate_scope": "graph"} if args.gate_scope == "graph" else {})},
                                 templates=args.templates, text_model=args.text_model,
                                 text_cache_dir=args.cache_dir, adaptation=args.adaptation,
                                 target_epochs=args.target_epochs, class_descriptions=args.class_descriptions,
                                 engine=engine, checkpoint=str(seed_out / "checkpoint.pt"), resume=args.resume,
                                 checkpoint_every=args.checkpoint_every)
            except KeyboardInterrupt as exc:
                if hasattr(exc, "resume_flags"):
                    exc.resume_flags["--seeds"] = str(seed)
                raise
            results.append(m)
            _print_run(args, m, seed)
    except BaseException:
        if created:
            discard_if_unused(out)
        raise
    if len(args.seeds) > 1 and engine.is_global_zero:
        summary = {k: {"mean": sum(r[k] for r in results) / len(results), "values": [r[k] for r in results]}
                   for k in ("accuracy", "macro_f1")}
        (out / "metrics.json").write_text(json.dumps({"seeds": args.seeds, **summary,
                                                      "runs": [f"seed{s}/metrics.json" for s in args.seeds]},
                                                     indent=1))
        print(f"mean over seeds {','.join(map(str, args.seeds))}: accuracy {100 * summary['accuracy']['mean']:.1f}%, "
              f"macro-F1 {100 * summary['macro_f1']['mean']:.1f}%")
    print(f"results in {out.resolve()} (metrics.json, predictions.csv)")
    return 0


def _print_run(args, m: dict, seed: int) -> None:
    plain = m["without_adaptation"]
    print(f"GraphShaper ({args.variant}{', hard negatives' if args.hard_negatives else ''}) trained on "
          f"{', '.join(m['train'])}, zero-shot on {m['eval']} with adaptation '{args.adaptation}', seed {seed}: "
          f"accuracy {100 * m['accuracy']:.1f}%, macro-F1 {100 * m['macro_f1']:.1f}% ({m['train_seconds']:.0f} s "
          f"training)")
    print(f"  without adaptation{'':<21} accuracy {100 * plain['accuracy']:.1f}%, macro-F1 "
          f"{100 * plain['macro_f1']:.1f}%")
    for name, r in m["baselines"].items():
        print(f"  training-free {name:<25} accuracy {100 * r['accuracy']:.1f}%, macro-F1 {100 * r['macro_f1']:.1f}%")
