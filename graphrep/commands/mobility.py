"""``graphrep mobility``: train TrajMoE on a city's check-ins, transfer it to another city, evaluate it.

    graphrep mobility train --city nyc --out runs/nyc
    graphrep mobility transfer --from runs/nyc --to tky --fraction 0.05 --out runs/nyc-tky-5
    graphrep mobility evaluate --model runs/nyc --city tky

Each writes ``metrics.json`` (the model's test metrics beside the popularity, user-frequency and Markov baselines on the
same targets) in its output folder; train and transfer also write ``model.pt`` and ``utilisation.png`` (expert share
per epoch and layer). ``transfer`` scores the source model on the target before any gradient step, then fine-tunes
it on ``--fraction`` of the target city's users, keeping the source weights if no fine-tuned epoch beats them on
validation. Only ``--fraction 0`` is zero-shot (venue features, popularity and Markov counts from all of the target's
training check-ins); with ``--fraction f > 0`` they come from that fraction of users, and metrics.json's ``protocol``
says so.
"""

from __future__ import annotations

import argparse

_MODEL_FLAGS = ("backbone", "dim", "layers", "heads", "num_experts", "top_k", "num_shared", "expert_hidden")


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


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="folder holding mobility/fsq_*_cat (default $GRAPHREP_DATA or ../shared/data)")
    p.add_argument("--max-gap-hours", type=float, default=72.0, help="cut trajectories at longer gaps")
    p.add_argument("--window", type=_positive, default=64, help="check-ins per window (context)")


def _training(p: argparse.ArgumentParser, epochs: int, lr: float) -> None:
    p.add_argument("--epochs", type=_positive, default=epochs)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--batch-size", type=_positive, default=16, help="windows per step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")


def add_parser(subparsers) -> None:
    mob = subparsers.add_parser("mobility", help="next-location prediction with TrajMoE (train, transfer, evaluate)")
    sub = mob.add_subparsers(dest="mobility_command", required=True)
    train = sub.add_parser("train", help="train on one city's check-ins; writes model.pt, metrics.json, utilisation.png")
    train.add_argument("--city", required=True, help="nyc, tky, or a check-in folder / TSMC2014 file")
    train.add_argument("--out", required=True, help="output folder")
    train.add_argument("--fraction", type=_fraction, default=1.0, help="share of the city's users to train on")
    train.add_argument("--backbone", choices=["moe", "dense", "gru"], default="moe")
    train.add_argument("--dim", type=_positive, default=64)
    train.add_argument("--layers", type=_positive, default=2)
    train.add_argument("--heads", type=_positive, default=4)
    train.add_argument("--num-experts", type=_positive, default=4)
    train.add_argument("--top-k", type=_positive, default=1)
    train.add_argument("--num-shared", type=int, default=1, help="shared experts (0: none)")
    train.add_argument("--expert-hidden", type=_positive, default=128)
    train.add_argument("--no-priors", action="store_true", help="route on the hidden state only")
    train.add_argument("--no-history", action="store_true", help="drop the user-history component")
    train.add_argument("--transition-gnn", action="store_true", help="augment the location encoder with a GCN over "
                       "the city's venue transition graph (from its training check-ins)")
    _common(train)
    _training(train, epochs=4, lr=2e-3)
    transfer = sub.add_parser("transfer", help="evaluate a trained model on another city zero-shot, then fine-tune it "
                              "on a fraction of that city's users")
    transfer.add_argument("--from", dest="source", required=True, help="folder of `graphrep mobility train`")
    transfer.add_argument("--to", required=True, help="target city: nyc, tky, or a check-in folder / TSMC2014 file")
    transfer.add_argument("--fraction", type=_fraction, default=0.05, help="share of the target's users to fine-tune "
                          "on (0: zero-shot only)")
    transfer.add_argument("--out", required=True)
    _common(transfer)
    _training(transfer, epochs=6, lr=1e-3)
    ev = sub.add_parser("evaluate", help="score a trained model on a city's test (or valid) check-ins")
    ev.add_argument("--model", required=True, help="folder (or model.pt) of `graphrep mobility train/transfer`")
    ev.add_argument("--city", required=True)
    ev.add_argument("--part", choices=["valid", "test"], default="test")
    ev.add_argument("--out", help="write metrics.json here")
    _common(ev)


def _print_metrics(label: str, m: dict) -> None:
    print(f"  {label:<22} acc@1 {m['acc@1']:.4f}  acc@5 {m['acc@5']:.4f}  acc@10 {m['acc@10']:.4f}  "
          f"mrr {m['mrr']:.4f}  ndcg@5 {m['ndcg@5']:.4f}")


def run(args) -> int:
    import json
    from pathlib import Path

    import torch

    from graphrep.data.errors import UserInputError
    from graphrep.models.trajmoe import TrajMoE, TrajMoEConfig
    from graphrep.tasks.mobility.training import (BASELINES, TrainSettings, baseline_metrics, evaluate_model, load_model,
                                         plot_utilisation, prepare_city, save_model, train_model)

    cmd = args.mobility_command
    city = args.city if cmd != "transfer" else args.to
    fraction = args.fraction if cmd != "evaluate" else 1.0
    data = prepare_city(city, root=args.root, fraction=max(fraction, 1e-9), seed=getattr(args, "seed", 0),
                        length=args.window, max_gap_hours=args.max_gap_hours,
                        feature_users="all" if cmd != "train" and fraction == 0 else "train")
    part = getattr(args, "part", "test")
    rows = ("all of its users'" if cmd == "evaluate" or fraction in (0, 1) else f"{fraction:.0%} of its users'")
    protocol = f"venue features, popularity and Markov counts of {data.name} from {rows} training check-ins"
    if cmd == "transfer":
        protocol = ("zero-shot (no gradient step on the target); " if fraction == 0 else
                    f"source weights scored before fine-tuning, then fine-tuned on {fraction:.0%} of the target's "
                    "users (not zero-shot: the target's venue statistics come from those users); ") + protocol
    result = {"command": cmd, "data": data.describe(), "protocol": protocol,
              "baselines": {b: baseline_metrics(data, b, part) for b in BASELINES}}
    print(f"{data.name}: {len(data.checkins)} check-ins, {data.checkins.num_users} users, "
          f"{data.checkins.num_venues} venues; {data.checkins.skipped.summary()}")
    for b, m in result["baselines"].items():
        _print_metrics(b, m)
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    if cmd == "evaluate":
        model, extra = load_model(args.model)
        if model.config.max_len < args.window:
            raise UserInputError(f"--window {args.window} exceeds the model's max_len {model.config.max_len}")
        result["model"] = evaluate_model(model, data, part)
        _print_metrics(f"TrajMoE ({part})", result["model"])
    else:
        torch.manual_seed(args.seed)
        if cmd == "train":
            config = TrajMoEConfig(max_len=args.window, use_priors=not args.no_priors,
                                   use_history=not args.no_history, transition_gnn=args.transition_gnn,
                                   **{k: getattr(args, k) for k in _MODEL_FLAGS})
            model = TrajMoE(config)
        else:
            model, extra = load_model(args.source)
            if model.config.max_len < args.window:
                raise UserInputError(
                    f"--window {args.window} exceeds the source model's max_len {model.config.max_len}")
            result["zero_shot"] = evaluate_model(model, data)
            print(f"protocol: {protocol}")
            _print_metrics("zero-shot" if fraction == 0 else "source, not fine-tuned", result["zero_shot"])
        if cmd == "train" or fraction > 0:
            info = train_model(model, data, TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                                          seed=args.seed, log=not args.quiet,
                                                          keep_initial=cmd == "transfer"))
            result["training"] = info
            result["model"] = evaluate_model(model, data)
            _print_metrics("TrajMoE", result["model"])
            print(f"  {info['train_seconds']:.0f} s training, {info['tokens_per_s']:.0f} tokens/s, "
                  f"best epoch {info['best_epoch']}")
            if plot_utilisation(info["history"], out / "utilisation.png"):
                print(f"expert utilisation plot: {out / 'utilisation.png'}")
        save_model(model, out, {"city": data.name, "fraction": fraction})
    if out:
        (out / "metrics.json").write_text(json.dumps(result, indent=1))
        print(f"metrics: {out / 'metrics.json'}")
    return 0
