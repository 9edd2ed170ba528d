"""What every graphrep training loop hands to Lightning: the pass-through settings and one way to build the Trainer.

The Trainer built here turns Ctrl-C into :class:`TrainingInterrupted` (Lightning itself catches the interrupt, tears
down and calls ``sys.exit(1)``, which would hide both the interrupt and the checkpoint to resume from).
"""

from __future__ import annotations

import logging
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar

from graphrep.data.errors import UserInputError
from graphrep.train import interrupts

# Lightning 2.6's pytree helper calls a torch API that torch 2.13 deprecates, once per fit: noise in every run's output
# (the main job's rows run in spawned processes, so the CLI's own filters do not reach them).
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")

#: ``--precision`` values Lightning accepts (its own aliases included).
PRECISIONS = ("32-true", "32", "16-mixed", "16", "bf16-mixed", "bf16", "16-true", "bf16-true", "64-true", "64")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "tpu", "auto")


@dataclass
class LightningSettings:
    """Lightning's ``accelerator``/``devices``/``strategy``/``num_nodes``/``precision``, and whether to show progress."""

    accelerator: str = "cpu"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    progress: bool = True


def check_lightning_settings(settings: LightningSettings) -> None:
    """Raise :class:`UserInputError` naming the argument when the settings cannot run on this machine."""
    import torch

    if settings.accelerator not in ACCELERATORS:
        raise UserInputError(f"--accelerator {settings.accelerator!r}: use one of {', '.join(ACCELERATORS)}")
    if str(settings.precision) not in PRECISIONS:
        raise UserInputError(f"--precision {settings.precision!r}: use one of {', '.join(PRECISIONS)}")
    from lightning.pytorch.strategies import StrategyRegistry

    if isinstance(settings.strategy, str) and settings.strategy not in ("auto", *StrategyRegistry.available_strategies()):
        raise UserInputError(f"--strategy {settings.strategy!r}: use auto, ddp, ddp_spawn, fsdp, ... "
                             f"({len(StrategyRegistry.available_strategies())} registered in Lightning)")
    devices = settings.devices
    if isinstance(devices, str) and devices != "auto" and not all(d.strip().isdigit() for d in devices.split(",")):
        raise UserInputError(f"--devices {devices!r}: give a count, 'auto', or device indices like 0,1")
    if isinstance(devices, int) and devices < 1:
        raise UserInputError(f"--devices must be >= 1 or 'auto', got {devices}")
    if settings.num_nodes < 1:
        raise UserInputError(f"--num-nodes must be >= 1, got {settings.num_nodes}")
    if settings.accelerator in ("gpu", "cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserInputError(f"--accelerator {settings.accelerator}: no CUDA GPU is visible on this machine "
                                 "(torch.cuda.is_available() is False); use --accelerator cpu")
        if isinstance(settings.devices, int) and settings.devices > count:
            raise UserInputError(f"--devices {settings.devices}: only {count} CUDA GPU(s) visible")
    if settings.accelerator == "mps" and not torch.backends.mps.is_available():
        raise UserInputError("--accelerator mps: Apple's MPS backend is not available here; use --accelerator cpu")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, ``signum``) during training; ``checkpoint`` is the last checkpoint written (``None`` if none).

    ``resume_args`` holds the other arguments a resume needs (e.g. ``--seeds 1 --out runs/x``); loops add them.
    ``resume_flags`` (e.g. ``{"--seeds": "1"}``) are the flags whose values a resume must change; with the command
    line, :meth:`hint` then prints the whole command. ``rank_zero`` is False in the other processes of a DDP run
    (which stay silent). ``exit_code``: 130 for SIGINT, 143 for SIGTERM (128 + the signal's number).
    """

    def __init__(self, checkpoint: str | None, resume_args: str = "", signum: int = signal.SIGINT,
                 rank_zero: bool = True, resume_flags: dict | None = None):
        super().__init__(checkpoint)
        self.checkpoint, self.resume_args, self.signum = checkpoint, resume_args, int(signum)
        self.rank_zero, self.resume_flags = rank_zero, dict(resume_flags or {})

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def hint(self, argv: list[str] | None = None) -> str:
        """One line; with ``argv`` (the subcommand's arguments) a resume command that runs as printed."""
        what = "terminated (SIGTERM)" if self.signum == signal.SIGTERM else "interrupted"
        if self.checkpoint is None:
            return f"{what} before the first checkpoint was written; nothing to resume"
        if argv is not None:
            return f"{what}; resume with: {resume_command(argv, self.checkpoint, self.resume_flags)}"
        return f"{what}; resume with --resume {self.checkpoint}{' ' + self.resume_args if self.resume_args else ''}"


def resume_command(argv: list[str], checkpoint: str, flags: dict | None = None) -> str:
    """``graphrep ARGV`` without its ``--resume``/``--overwrite``, with ``flags`` replacing their values, then
    ``--resume CHECKPOINT --overwrite`` (the interrupted run's ``--out`` folder is not empty)."""
    import shlex

    flags = dict(flags or {})
    drop = {"--resume": 1, "--overwrite": 0, **{f: 1 for f in flags}}
    out, i = [], 0
    while i < len(argv):
        name = argv[i].split("=", 1)[0]
        if name in drop and argv[i].startswith("--"):
            i += 1 + (drop[name] if "=" not in argv[i] else 0)
            continue
        out.append(argv[i])
        i += 1
    for flag, value in flags.items():
        out += [flag, str(value)]
    return shlex.join(["graphrep", *out, "--resume", str(checkpoint), "--overwrite"])


class _InterruptRecorder(Callback):
    def on_exception(self, trainer, pl_module, exception):
        if isinstance(exception, KeyboardInterrupt):
            trainer.graphrep_interrupted = True
            # the CLI turns SIGTERM into a KeyboardInterrupt whose exit code is 143 (Lightning's own SIGTERM handler
            # only notes it, and calls the CLI's after it)
            trainer.graphrep_signum = getattr(exception, "exit_code", 130) - 128


class Trainer(L.Trainer):
    """Lightning's Trainer, except that Ctrl-C in ``fit``/``test`` raises :class:`TrainingInterrupted`."""

    graphrep_interrupted = False
    graphrep_signum = signal.SIGINT

    def _last_checkpoint(self) -> str | None:
        for callback in self.checkpoint_callbacks:
            path = Path(getattr(callback, "dirpath", None) or ".") / "last.ckpt"
            if path.is_file():
                return str(path)
        return None

    def _guarded(self, method, *args, **kwargs):
        if interrupts.pending() is not None:  # Ctrl-C before fit/test, and swallowed by a library
            raise TrainingInterrupted(self._last_checkpoint(), signum=signal.SIGINT)
        try:
            return method(*args, **kwargs)
        except SystemExit:
            if not self.graphrep_interrupted:
                raise
            signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning left Ctrl-C ignored
            raise TrainingInterrupted(self._last_checkpoint(), signum=self.graphrep_signum) from None

    def fit(self, *args, **kwargs):
        return self._guarded(super().fit, *args, **kwargs)

    def test(self, *args, **kwargs):
        return self._guarded(super().test, *args, **kwargs)


def quiet_lightning() -> None:
    """Keep Lightning's per-run banners (accelerator, checkpoint restore, tips) out of the output; warnings stay."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_trainer(settings: LightningSettings, epochs: int, root_dir: Path, callbacks: list[Callback],
                  **trainer_kwargs) -> Trainer:
    """A deterministic Trainer without logger or model summary; a progress bar when ``settings.progress``."""
    quiet_lightning()
    callbacks = list(callbacks) + [_InterruptRecorder()] + (
        [TQDMProgressBar(leave=False)] if settings.progress else [])
    return Trainer(
        max_epochs=epochs, accelerator=settings.accelerator, devices=settings.devices, strategy=settings.strategy,
        num_nodes=settings.num_nodes, precision=settings.precision, callbacks=callbacks, logger=False,
        default_root_dir=str(root_dir), enable_progress_bar=settings.progress, enable_model_summary=False,
        # On CUDA some scatter kernels (index_add_, scatter_reduce) have no deterministic implementation and would
        # raise under torch.use_deterministic_algorithms(True): "warn" keeps the deterministic ones and names the rest.
        deterministic=True if settings.accelerator == "cpu" else "warn", log_every_n_steps=1, **trainer_kwargs)
