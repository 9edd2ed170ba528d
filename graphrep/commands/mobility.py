"""``graphrep mobility``: train TrajMoE on a city's check-ins, transfer it to another city, evaluate it.

    graphrep mobility train --city nyc --out runs/nyc
    graphrep mobility transfer --from runs/nyc --to tky --fraction 0.05 --out runs/nyc-tky-5
    graphrep mobility evaluate --model runs/nyc --city tky

Each writes ``metrics.json`` (the model's test metrics beside the popularity, user-frequency and Markov baselines on the
same targets) in its output folder; train and transfer also write ``model.pt``, and with ``--backbone moe``
``utilisation.png`` (expert share per epoch and layer). ``train`` defaults to the dense backbone: the mixture of
experts beat it at the same active parameters in no regime of ``benchmarks/mobility_moe_regimes.py``. ``transfer`` scores the source model on the target before any gradient step, then fine-tunes
it on ``--fraction`` of the target city's users, keeping the source weights if no fine-tuned epoch beats them on
validation. Only ``--fraction 0`` is zero-shot (venue features, popularity and Markov counts from all of the target's
training check-ins); with ``--fraction f > 0`` they come from that fraction of users, and metrics.json's ``protocol``
says so. With ``--explore-path`` the gate's P(new venue) is calibrated after training on the trained city's
validation split (``--gate-calibration``; :mod:`graphrep.tasks.mobility.calibration`), and ``model.pt`` keeps it: a
zero-shot transfer ranks with the source city's calibration, a fine-tuned one refits it on the target's validation
split (``transfer --gate-calibration``: the rule, or ``none`` to keep the source's).
"""

from __future__ import annotations

import argparse

#: the default of --num-experts (a setting of --backbone moe only)
NUM_EXPERTS = 4
_MODEL_FLAGS = ("backbone", "dim", "layers", "heads", "num_experts", "top_k", "num_shared", "expert_hidden")
#: graphrep.tasks.mobility.calibration.RULES, and none (not imported: the CLI parses without torch)
GATE_RULES = ("platt", "acc5", "popularity", "acc1", "two-stage", "none")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fraction must be a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"--fraction must be in [0, 1], got {value}")
    return value


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


ROOT_HELP = "folder holding mobility/fsq_*_cat (default $GRAPHREP_DATA or ../shared/data)"


def _common(p: argparse.ArgumentParser, root: bool = True) -> None:
    if root:
        p.add_argument("--root", help=ROOT_HELP)
    p.add_argument("--max-gap-hours", type=float, default=72.0, help="cut trajectories at longer gaps")
    p.add_argument("--window", type=_positive, default=None,
                   help="check-ins per window (context; default: 64 for train, the model's own for evaluate/transfer)")


def _training(p: argparse.ArgumentParser, epochs: int, lr: float) -> None:
    from graphrep.commands._args import add_run_arguments, seeds

    p.add_argument("--epochs", type=_positive, default=epochs)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--batch-size", type=_positive, default=16, help="windows per step (over all processes)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    add_run_arguments(p, seeds_default=[0], out_required=True, root_help=ROOT_HELP,
                      resume_help="continue an interrupted run (one seed) from its OUT/checkpoint.pt (several "
                      "seeds: OUT/seed<N>/checkpoint.pt)")
    p.add_argument("--seed", dest="seeds", type=seeds, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # the one-seed flag of before --seeds


def add_parser(subparsers) -> None:
    mob = subparsers.add_parser("mobility", help="next-location prediction with TrajMoE (train, transfer, evaluate)")
    sub = mob.add_subparsers(dest="mobility_command", required=True)
    train = sub.add_parser("train", help="train on one city's check-ins; writes model.pt, metrics.json, utilisation.png")
    train.add_argument("--city", required=True, help="nyc, tky, or a check-in folder / TSMC2014 file")
    train.add_argument("--fraction", type=_fraction, default=1.0, help="share of the city's users to train on")
    train.add_argument("--backbone", choices=["moe", "dense", "gru"], default="dense",
                       help="sequence backbone: a dense feed-forward transformer (default: in no regime of "
                            "benchmarks/mobility_moe_regimes.py did the mixture of experts beat it at the same active "
                            "parameters), the mixture of experts (moe: --num-experts, --top-k, --num-shared; writes "
                            "utilisation.png) or a GRU")
    train.add_argument("--dim", type=_positive, default=64)
    train.add_argument("--layers", type=_positive, default=2)
    train.add_argument("--heads", type=_positive, default=4)
    train.add_argument("--num-experts", type=_positive, default=NUM_EXPERTS, help="routed experts (--backbone moe)")
    train.add_argument("--top-k", type=_positive, default=1)
    train.add_argument("--num-shared", type=int, default=1, help="shared experts (0: none)")
    train.add_argument("--expert-hidden", type=_positive, default=128)
    train.add_argument("--no-priors", action="store_true", help="route on the hidden state only")
    train.add_argument("--no-history", action="store_true", help="drop the user-history component")
    train.add_argument("--transition-gnn", action="store_true", help="augment the location encoder with a GCN over "
                       "the city's venue transition graph (from its training check-ins)")
    train.add_argument("--explore-path", action="store_true", help="returners and explorers: a learned gate mixes a "
                       "softmax over the venues the user has visited with an exploration path's softmax over the "
                       "others (city-wide transitions, popularity, distance; it starts as popularity, or with "
                       "--covisit as a rule that adds co-visits), so that the ranking lists new venues when an "
                       "exploration is likely")
    train.add_argument("--gate-calibration", choices=GATE_RULES, default="platt",
                       help="with --explore-path, after training: fit the gate's P(new venue) on the validation split "
                       "(platt: so that it matches the validation share of new targets; acc5: then the shift with the "
                       "best validation Acc@5; popularity: the smallest shift whose validation new-venue Acc@5 beats "
                       "popularity's; acc1: the shift, or never new, with the best validation Acc@1; two-stage: "
                       "position 1 ranked with the acc1 map, positions 2+ with the smallest shift whose validation "
                       "new-venue Acc@5 beats popularity's with 95%% confidence); stored in model.pt, so transfer "
                       "--fraction 0 uses the source city's")
    train.add_argument("--target-time", action="store_true", help="ask for the next venue at the target check-in's "
                       "known time (its hour of week and the gap to it; as LLM-Mob's prompt and the benchmark do)")
    train.add_argument("--global-scores", action="store_true", help="add city-wide evidence (all users' transitions "
                       "from the current venue, popularity, distance) as context-weighted scores over every venue")
    train.add_argument("--covisit", action="store_true", help="with --explore-path or --global-scores: add the "
                       "co-visitation evidence, how many other users visited both a venue and one the user has "
                       "visited (the benchmark's exploration row)")
    _common(train, root=False)
    _training(train, epochs=4, lr=2e-3)
    transfer = sub.add_parser("transfer", help="evaluate a trained model on another city zero-shot, then fine-tune it "
                              "on a fraction of that city's users")
    transfer.add_argument("--from", dest="source", required=True, help="folder of `graphrep mobility train`")
    transfer.add_argument("--to", required=True, help="target city: nyc, tky, or a check-in folder / TSMC2014 file")
    transfer.add_argument("--fraction", type=_fraction, default=0.05, help="share of the target's users to fine-tune "
                          "on (0: zero-shot only)")
    transfer.add_argument("--gate-calibration", choices=GATE_RULES, default=None,
                          help="for a source trained with --explore-path and --fraction > 0: refit the gate's P(new "
                          "venue) on the target's validation split after fine-tuning (default platt; rules as in "
                          "`mobility train`; none keeps the source city's calibration); a zero-shot transfer always "
                          "ranks with the source's")
    _common(transfer, root=False)
    _training(transfer, epochs=6, lr=1e-3)
    ev = sub.add_parser("evaluate", help="score a trained model on a city's test (or valid) check-ins")
    ev.add_argument("--model", required=True, help="folder (or model.pt) of `graphrep mobility train/transfer`")
    ev.add_argument("--city", required=True)
    ev.add_argument("--part", choices=["valid", "test"], default="test")
    ev.add_argument("--out", help="write metrics.json here")
    ev.add_argument("--explore-slots", type=int, choices=range(0, 5), default=0, metavar="K",
                    help="also score the list that keeps the last K (0-4) of the top 5 for the best-scored venues the "
                         "user has not visited: Acc@1 unchanged, new venues found more often, returns less")
    _common(ev)


def _print_metrics(label: str, m: dict) -> None:
    print(f"  {label:<22} acc@1 {m['acc@1']:.4f}  acc@5 {m['acc@5']:.4f}  acc@10 {m['acc@10']:.4f}  "
          f"mrr {m['mrr']:.4f}  ndcg@5 {m['ndcg@5']:.4f}")


def check_model_flags(args) -> None:
    """The architecture flags of ``mobility train`` that cannot build a model: one line naming them, before any work."""
    from graphrep.data.errors import UserInputError

    if args.dim % args.heads:
        raise UserInputError(f"--dim {args.dim} is not divisible by --heads {args.heads}: each attention head takes "
                             "dim/heads channels")
    if args.backbone != "moe" and args.num_experts != NUM_EXPERTS:
        raise UserInputError(f"--num-experts is a setting of --backbone moe, not of --backbone {args.backbone} (the "
                             "default; add --backbone moe for the mixture of experts)")
    if args.backbone == "moe" and args.top_k > args.num_experts:
        raise UserInputError(f"--top-k {args.top_k} exceeds --num-experts {args.num_experts}: each position is routed "
                             "to top-k of the routed experts")
    if args.explore_path and args.no_history:
        raise UserInputError("--explore-path with --no-history: the exploration path scores the venues outside the "
                             "user's history, which --no-history drops")
    if getattr(args, "covisit", False) and not (args.explore_path or args.global_scores):
        raise UserInputError("--covisit adds a column to the city-wide scores: give --explore-path or --global-scores")
    if args.num_shared < 0:
        raise UserInputError(f"--num-shared must be >= 0, got {args.num_shared}")
    if args.fraction == 0:
        raise UserInputError("--fraction 0 trains on no user; give a share in (0, 1] (0 is for `mobility transfer`: "
                             "zero-shot only)")


def run(args) -> int:
    import json
    from pathlib import Path

    from graphrep.data.errors import UserInputError

    cmd = args.mobility_command
    engine = None
    if cmd != "evaluate":
        from graphrep.commands._args import check_run_arguments, engine_settings
        from graphrep.train.engine import Engine

        if cmd == "train":
            check_model_flags(args)
        if cmd == "transfer" and args.fraction == 0 and args.resume:
            raise UserInputError("--resume with --fraction 0: a zero-shot transfer trains nothing to resume")
        if cmd == "transfer" and args.fraction == 0 and args.gate_calibration is not None:
            raise UserInputError("--gate-calibration with --fraction 0: a zero-shot transfer reads no target label "
                                 "and ranks with the source city's calibration; give --fraction > 0 to refit it on "
                                 "the target's validation split")
        check_run_arguments(args)
        engine = Engine(engine_settings(args))
    seeds = getattr(args, "seeds", [0])
    out = Path(args.out) if args.out else None
    results = []
    for seed in seeds:
        seed_out = out / f"seed{seed}" if out is not None and len(seeds) > 1 else out
        try:
            results.append(_run_seed(args, seed, seed_out, engine))
        except KeyboardInterrupt as exc:
            if hasattr(exc, "resume_flags"):
                exc.resume_flags["--seeds"] = str(seed)
            raise
    if len(seeds) > 1 and engine.is_global_zero and "model" in results[0]:
        summary = {m: {"mean": sum(r["model"][m] for r in results) / len(results),
                       "values": [r["model"][m] for r in results]} for m in results[0]["model"]}
        (out / "metrics.json").write_text(json.dumps({"command": cmd, "seeds": seeds, "model": summary,
                                                      "runs": [f"seed{s}/metrics.json" for s in seeds]}, indent=1))
        print(f"mean over seeds {','.join(map(str, seeds))}: "
              + "  ".join(f"{m} {v['mean']:.4f}" for m, v in summary.items()))
    return 0


def _run_seed(args, seed: int, out, engine) -> dict:
    import json

    import torch

    from graphrep.data.errors import UserInputError
    from graphrep.models.trajmoe import TrajMoE, TrajMoEConfig
    from graphrep.tasks.mobility.training import (BASELINES, TrainSettings, baseline_metrics, evaluate_model,
                                                  load_model, plot_utilisation, prepare_city, run_signature,
                                                  save_model, train_model)
    from graphrep.train.engine import LoopCheckpoint

    cmd = args.mobility_command
    city = args.city if cmd != "transfer" else args.to
    fraction = args.fraction if cmd != "evaluate" else 1.0
    writes = engine is None or engine.is_global_zero
    loaded = None
    if cmd != "train":  # the model first: a bad --model/--from fails before the data, and it sets --window's default
        loaded = load_model(args.model if cmd == "evaluate" else args.source)
        if getattr(args, "gate_calibration", None) is not None and not loaded[0].config.explore_gate:
            raise UserInputError(f"--gate-calibration: the model in {args.source} has no exploration gate to "
                                 "calibrate (train it with --explore-path)")
        limit = loaded[0].config.max_len
        if args.window is None:
            args.window = limit
        elif limit < args.window:
            raise UserInputError(f"--window {args.window} exceeds the {'source ' if cmd == 'transfer' else ''}"
                                 f"model's max_len {limit}")
    elif args.window is None:
        args.window = 64
    data = prepare_city(city, root=args.root, fraction=max(fraction, 1e-9), seed=seed,
                        length=args.window, max_gap_hours=args.max_gap_hours,
                        feature_users="all" if cmd != "train" and fraction == 0 else "train")
    part = getattr(args, "part", "test")
    rows = ("all of its users'" if cmd == "evaluate" or fraction in (0, 1) else f"{fraction:.0%} of its users'")
    protocol = f"venue features, popularity and Markov counts of {data.name} from {rows} training check-ins"
    if cmd == "transfer":
        gate = loaded[0].config.explore_gate
        protocol = ("zero-shot (no gradient step on the target"
                    + ("; the exploration gate's calibration is the source's, from its validation split" if gate
                       else "") + "); " if fraction == 0 else
                    f"source weights scored before fine-tuning, then fine-tuned on {fraction:.0%} of the target's "
                    "users (not zero-shot: the target's venue statistics come from those users); ") + protocol
    result = {"command": cmd, "seed": seed, "data": data.describe(), "protocol": protocol,
              "baselines": {b: baseline_metrics(data, b, part) for b in BASELINES}}
    print(f"{data.name}: {len(data.checkins)} check-ins, {data.checkins.num_users} users, "
          f"{data.checkins.num_venues} venues; {data.checkins.skipped.summary()}")
    for b, m in result["baselines"].items():
        _print_metrics(b, m)
    if out and writes:
        out.mkdir(parents=True, exist_ok=True)
    if cmd == "evaluate":
        model, extra = loaded
        result["model"] = evaluate_model(model, data, part)
        _print_metrics(f"TrajMoE ({part})", result["model"])
        if args.explore_slots:
            result["model_explore_slots"] = {"slots": args.explore_slots,
                                             **evaluate_model(model, data, part, explore_slots=args.explore_slots)}
            _print_metrics(f"+ {args.explore_slots} explore slot(s)", result["model_explore_slots"])
    else:
        torch.manual_seed(seed)
        if cmd == "train":
            config = TrajMoEConfig(max_len=args.window, use_priors=not args.no_priors,
                                   use_history=not args.no_history, transition_gnn=args.transition_gnn,
                                   explore_gate=args.explore_path, new_scores=args.explore_path,
                                   gate_evidence=args.explore_path,
                                   target_time=args.target_time, global_scores=args.global_scores,
                                   covisit=args.covisit,
                                   **{k: getattr(args, k) for k in _MODEL_FLAGS})
            model = TrajMoE(config)
        else:
            model, extra = loaded
            result["zero_shot"] = evaluate_model(model, data)
            print(f"protocol: {protocol}")
            _print_metrics("zero-shot" if fraction == 0 else "source, not fine-tuned", result["zero_shot"])
        if cmd == "train" or fraction > 0:
            settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=seed,
                                     log=not args.quiet, keep_initial=cmd == "transfer")
            checkpoint = LoopCheckpoint(engine, out / "checkpoint.pt", run_signature(model, data, settings),
                                        resume=args.resume)
            info = train_model(model, data, settings, engine, checkpoint)
            result["training"] = info
            rule = args.gate_calibration or "platt"  # transfer: refit on the target's validation split
            if model.config.explore_gate and rule != "none":
                from graphrep.tasks.mobility.calibration import calibrate_gate

                fit = calibrate_gate(model, data, "valid", rule=rule)
                result["gate_calibration"] = fit
                print(f"  gate calibrated on {data.name}'s validation split ({rule}): P(new) = sigmoid("
                      f"{fit['scale']:.3f} g {fit['shift']:+.3f}); mean P(new) {fit['mean_p_new_raw']:.3f} -> "
                      f"{fit['mean_p_new']:.3f}, new share {fit['new_share']:.3f}")
                if rule == "two-stage":
                    first = ("never a new venue" if fit["first_never_new"] else
                             f"sigmoid({fit['scale']:.3f} g {fit['first_shift']:+.3f})")
                    print(f"  position 1 ranked with P(new) = {first}; new-venue Acc@5 - popularity's on validation "
                          f"{100 * fit['paired']['gain']:+.2f} points, one-sided 95% lower end "
                          f"{100 * fit['paired']['lower']:+.2f}" + ("" if fit["confident"] else " (not above 0)"))
            result["model"] = evaluate_model(model, data)
            _print_metrics("TrajMoE", result["model"])
            print(f"  {info['train_seconds']:.0f} s training, {info['tokens_per_s']:.0f} tokens/s, "
                  f"best epoch {info['best_epoch']}")
            if writes and plot_utilisation(info["history"], out / "utilisation.png"):
                print(f"expert utilisation plot: {out / 'utilisation.png'}")
        if writes:
            save_model(model, out, {"city": data.name, "fraction": fraction})
    if out and writes:
        if engine is not None:
            s = engine.settings
            result["engine"] = {"accelerator": s.accelerator, "devices": s.devices, "strategy": s.strategy,
                                "num_nodes": s.num_nodes, "precision": s.precision, "world_size": engine.world_size}
        (out / "metrics.json").write_text(json.dumps(result, indent=1))
        print(f"metrics: {out / 'metrics.json'}")
    return result
