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
    """Integers; :func:`check_run_arguments` then asks for distinct non-negative ones, in one line."""
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


def add_run_arguments(p: argparse.ArgumentParser, seeds_default: list[int], out_required: bool = False,
                      root_help: str = "folder holding the data files (else GRAPHREP_DATA)",
                      resume_help: str = "continue an interrupted run (one seed) from its checkpoint") -> None:
    """The flags every training subcommand shares: ``--seeds --out --overwrite --resume --root`` and the engine's
    (:func:`add_engine_arguments`). Check them with :func:`check_run_arguments` before any work."""
    p.add_argument("--seeds", type=seeds, default=list(seeds_default), help="comma-separated, e.g. 0,1,2 "
                   f"(default: {','.join(map(str, seeds_default))})")
    p.add_argument("--out", required=out_required, help="output folder; must be new or empty (see --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out folder")
    p.add_argument("--resume", help=resume_help)
    p.add_argument("--root", help=root_help)
    add_engine_arguments(p)


def engine_settings(args: argparse.Namespace):
    """The engine's settings from the parsed flags (imports Lightning's settings module)."""
    import sys

    from graphrep.train.trainer import LightningSettings

    return LightningSettings(accelerator=args.accelerator, devices=args.devices, strategy=args.strategy,
                             num_nodes=args.num_nodes, precision=args.precision,
                             progress=not args.no_progress and sys.stderr.isatty())


def check_run_arguments(args: argparse.Namespace) -> None:
    """Raise ``UserInputError`` (one line naming the flag) for shared flags that cannot run, before any work; then
    take the ``--out`` folder (:func:`graphrep.train.outdir.check_out_dir`)."""
    from graphrep.data.errors import UserInputError
    from graphrep.train.outdir import check_out_dir
    from graphrep.train.trainer import check_lightning_settings

    check_lightning_settings(engine_settings(args))
    lr = getattr(args, "lr", None)
    if lr is not None and not 0 < lr < float("inf"):  # nan and inf parse as floats; inf turns every weight into NaN
        raise UserInputError(f"--lr must be a positive finite number, got {lr}")
    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        # a repeated seed would count one run twice in a mean ± std; numpy's seeding refuses negative ones mid-run
        raise UserInputError(f"--seeds must be distinct non-negative integers, got {','.join(map(str, args.seeds))}")
    if args.resume and len(args.seeds) != 1:
        raise UserInputError(f"--resume continues one seed's run: give one --seeds value, got "
                             f"{','.join(map(str, args.seeds))}")
    if args.resume:
        from graphrep.train.checkpoint import read_checkpoint

        read_checkpoint(args.resume)  # a missing or unreadable file: one line now, not after the data is loaded
    if args.out:
        check_out_dir(args.out, args.overwrite or bool(args.resume))
