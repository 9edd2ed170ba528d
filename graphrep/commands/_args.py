"""Argument types and flag groups shared by the subcommands (standard library only, so ``--help`` stays instant)."""

from __future__ import annotations

import argparse


def comma_list(text: str, what: str = "name", cast=str, minimum: int = 1, distinct: bool = False) -> list:
    """``"a, b,c"`` -> ``[cast("a"), cast("b"), cast("c")]``; an argparse type error names ``what`` when the items do
    not convert, are fewer than ``minimum``, or repeat (``distinct``)."""
    try:
        items = [cast(s.strip()) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}s must be comma-separated {'integer' if cast is int else cast.__name__}s, got {text!r}") from None
    if len(items) < minimum:
        count = {1: "one", 2: "two"}.get(minimum, str(minimum))
        raise argparse.ArgumentTypeError(f"give at least {count} {what}{'' if minimum == 1 else 's'}, got {text!r}")
    if distinct and len(set(items)) != len(items):
        raise argparse.ArgumentTypeError(f"give distinct {what}s, got {text!r}")
    return items


def seeds(text: str) -> list[int]:
    return comma_list(text, "seed", int)


def names(text: str) -> list[str]:
    return comma_list(text)


def devices(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """What passes through to Lightning's Trainer, shared by train, finetune and pretrain."""
    p.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu, gpu, cuda, mps, tpu, auto")
    p.add_argument("--devices", type=devices, default=1, help="Lightning devices (count or 'auto')")
    p.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")
    p.add_argument("--num-nodes", type=int, default=1)
    p.add_argument("--precision", default="32-true", help="Lightning precision, e.g. bf16-mixed")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
