"""The ``graphrep`` command.

Parses and dispatches only: every subcommand lives in ``graphrep/commands/<name>.py``. ``graphrep`` with no arguments
(or with main-job options only) runs the main job (:mod:`graphrep.commands.main_job`).
Bad input (:class:`graphrep.data.errors.GraphrepError` and its subclasses, or a missing file) prints one line,
``graphrep: error: ...``, exit status 2; any other exception is a bug: one line saying so, exit status 1; ``--debug``
shows the traceback. Ctrl-C at any point prints one line and exits 130. Only the standard library is imported before
a command runs, so ``graphrep --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import os

# Before torch (and its OpenMP runtime) is imported: idle OpenMP threads sleep instead of spinning. With spinning, any
# other busy process on a 2-core machine made a 2-thread GIN epoch 20x slower (96 s vs 3.7 s, measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import signal
import sys
import threading

#: subcommands, one module each in ``graphrep.commands`` (``add_parser(subparsers)`` and ``run(args)``; a module may
#: register several subcommands and set ``handler`` for those that ``run`` does not handle), in ``--help`` order
COMMAND_MODULES = ("data", "main_job", "train", "pretrain", "tag", "circuit", "modality", "mobility", "bench")


def _command_modules():
    """The subcommand modules; imported here, not at start-up, though each imports only the stdlib at module level."""
    import importlib

    return [importlib.import_module(f"graphrep.commands.{name}") for name in COMMAND_MODULES]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphrep", description="Transferable graph representations: molecules, text-attributed graphs, "
        "circuits, mobility, and images/text/trajectories as graphs. With no command: the main job (molecule "
        "recipes beside a fingerprint random forest on two labelled sets shipped in wheels, offline).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and library logs")
    sub = parser.add_subparsers(dest="command")
    for module in _command_modules():
        before = set(sub.choices)
        module.add_parser(sub)
        for name in set(sub.choices) - before:
            if sub.choices[name].get_default("handler") is None:
                sub.choices[name].set_defaults(handler=module.run)
    return parser


def _quiet_libraries() -> None:
    import warnings

    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", category=UserWarning, module="torch_geometric")


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "(no message)"


def _report(exc: BaseException) -> int:
    """Print ``exc`` as one line; 2 for the user's input (GraphrepError, a missing file), 1 for a bug."""
    from graphrep.data.errors import GraphrepError

    if isinstance(exc, GraphrepError):
        message = str(exc)
    elif isinstance(exc, FileNotFoundError) and exc.filename:  # from the OS: names the path
        message = f"{exc.filename}: {exc.strerror or 'no such file or directory'}"
    elif isinstance(exc, FileNotFoundError) and len(exc.args) == 1:  # raised with a message that names the path
        message = str(exc)
    else:
        print(f"graphrep: internal error ({type(exc).__name__}: {_one_line(exc)[:300]}): this is a bug; rerun with "
              "--debug for the traceback", file=sys.stderr)
        return 1
    print(f"graphrep: error: {_one_line(message)}", file=sys.stderr)
    return 2


def _interrupted(exc: KeyboardInterrupt, argv: list[str] | None) -> int:
    """One line (from rank 0 only in a DDP run); exit 130 for Ctrl-C, 143 for SIGTERM."""
    if getattr(exc, "rank_zero", True):
        hint = exc.hint(argv) if hasattr(exc, "hint") else "interrupted"
        print(f"graphrep: {hint}", file=sys.stderr)
    return getattr(exc, "exit_code", 130)


def _no_model_loading_bars() -> None:
    """No "Loading weights" / download bars from transformers and huggingface_hub in logs and pipes."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when they are first imported
    if "transformers" in sys.modules:  # already imported (e.g. by a caller of main): switch its bars off directly
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()


class Terminated(KeyboardInterrupt):
    """SIGTERM outside a training loop (which handles it itself): treated as Ctrl-C, exit 143."""

    exit_code = 128 + signal.SIGTERM

    def hint(self, argv=None) -> str:
        return "terminated (SIGTERM)"


def _terminate(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    import graphrep.train.interrupts as interrupts  # the process's Ctrl-C policy; standard library only

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    previous_int = interrupts.install() if in_main_thread else None
    try:
        code = _main(argv)
        if interrupts.pending() is not None:  # a KeyboardInterrupt some library swallowed: still Ctrl-C
            raise KeyboardInterrupt
        return code
    except KeyboardInterrupt as exc:  # at any point, start-up and argument parsing included
        interrupts.acknowledge()
        return _interrupted(exc, _main_job_shorthand(argv))
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
            interrupts.uninstall(previous_int)
        if "graphrep.train.outdir" in sys.modules:  # in-process callers (tests) run several commands
            sys.modules["graphrep.train.outdir"].release_out_dirs()


def _main_job_shorthand(argv: list[str]) -> list[str]:
    """``graphrep --out X --epochs 3`` means ``graphrep main-job --out X --epochs 3``: the bare command is the main
    job, so its options work without the subcommand's name (``--debug`` stays global, ``-h`` stays the overview)."""
    rest = [a for a in argv if a != "--debug"]
    if rest and rest[0].startswith("-") and rest[0] not in ("-h", "--help"):
        return [*(["--debug"] if "--debug" in argv else []), "main-job", *rest]
    return argv


def _main(argv: list[str]) -> int:
    if not sys.stderr.isatty():
        _no_model_loading_bars()
    parser = build_parser()
    argv = _main_job_shorthand(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="graphrep: %(message)s")
    if not args.debug:
        _quiet_libraries()
    if args.command is None:  # the main job
        args = parser.parse_args([*(["--debug"] if args.debug else []), "main-job"])
    try:
        return args.handler(args)
    except BrokenPipeError:  # output piped into `head` and closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if args.debug:
            raise
        return _report(exc)


if __name__ == "__main__":
    sys.exit(main())
