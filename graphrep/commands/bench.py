"""``graphrep bench [NAME [ARGS...]]``: list or run a benchmark script of a source checkout's ``benchmarks/`` (the
checkout holding the package, or, for a ``pip install .``, the one the command is run in)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="run a benchmark script from benchmarks/ (source checkout)")
    bench.add_argument("name", nargs="?", help="benchmark name; omit to list them")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")


def _is_checkout(folder: Path) -> bool:
    """A graphrep source checkout: ``pyproject.toml`` naming the project ``graphrep``, beside ``benchmarks/``."""
    import tomllib

    pyproject = folder / "pyproject.toml"
    if not (pyproject.is_file() and (folder / "benchmarks").is_dir()):
        return False
    try:
        return tomllib.loads(pyproject.read_text()).get("project", {}).get("name") == "graphrep"
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def source_checkout() -> Path:
    """The source checkout whose benchmarks to run: the folder above the ``graphrep`` package when it is one (an
    editable install or PYTHONPATH), else the working directory or the nearest folder above it that is one (``pip
    install .`` puts the package in site-packages, but the user runs the command inside the clone). Falls back to the
    folder above the package (site-packages), which the caller reports as not a checkout."""
    package_root = Path(__file__).resolve().parents[2]
    if _is_checkout(package_root):
        return package_root
    cwd = Path.cwd().resolve()
    return next((folder for folder in (cwd, *cwd.parents) if _is_checkout(folder)), package_root)


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
                             f"repository, then run it inside the clone); this graphrep is installed in {root}, and "
                             f"neither {Path.cwd()} nor a folder above it is a graphrep checkout")
    scripts = sorted(p.stem for p in directory.glob("*.py") if not p.name.startswith("_"))
    if not args.name:
        print("\n".join(scripts))
        return 0
    if args.name not in scripts:
        raise UserInputError(f"unknown benchmark {args.name!r} (available: {', '.join(scripts)})")
    sys.argv = [str(directory / f"{args.name}.py"), *args.args]
    runpy.run_path(sys.argv[0], run_name="__main__")
    return 0
