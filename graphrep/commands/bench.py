"""``graphrep bench [NAME [ARGS...]]``: list or run a benchmark script of a source checkout's ``benchmarks/``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="run a benchmark script from benchmarks/ (source checkout)")
    bench.add_argument("name", nargs="?", help="benchmark name; omit to list them")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")


def source_checkout() -> Path:
    """The folder above the ``graphrep`` package: a source checkout's root, or ``site-packages`` when installed."""
    return Path(__file__).resolve().parents[2]


def benchmark_dir() -> Path:
    return source_checkout() / "benchmarks"


def run(args) -> int:
    import runpy

    from graphrep.data.errors import UserInputError

    root = source_checkout()
    directory = benchmark_dir()
    # Checking for pyproject.toml too: an installed graphrep sits in site-packages, where another distribution may
    # have put an unrelated top-level `benchmarks` folder.
    if not (directory.is_dir() and (root / "pyproject.toml").is_file()):
        raise UserInputError(f"`graphrep bench` runs the scripts in benchmarks/ of a source checkout (git clone the "
                             f"repository, then run it there); this graphrep is installed in {root}, without them")
    scripts = sorted(p.stem for p in directory.glob("*.py") if not p.name.startswith("_"))
    if not args.name:
        print("\n".join(scripts))
        return 0
    if args.name not in scripts:
        raise UserInputError(f"unknown benchmark {args.name!r} (available: {', '.join(scripts)})")
    sys.argv = [str(directory / f"{args.name}.py"), *args.args]
    runpy.run_path(sys.argv[0], run_name="__main__")
    return 0
