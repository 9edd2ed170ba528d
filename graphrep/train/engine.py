"""The engine the plain training loops run on: Lightning Fabric, plus checkpoints with run signatures and interrupts.

The circuit, mobility (and later modality and TAG) loops stay plain PyTorch loops, clearer than the Trainer for
hundreds of short full-batch fits, and take from :class:`Engine`:

- **devices and processes**: ``accelerator``/``devices``/``strategy``/``num_nodes``/``precision`` go to
  :class:`lightning.fabric.Fabric`; ``--strategy ddp`` launches the other processes (gloo on CPU, NCCL on CUDA) and
  averages gradients. No distributed code is written here: :meth:`shard` only picks this process's share of a batch.
- **checkpoints** (:class:`LoopCheckpoint`): one file per run, written atomically by rank 0, holding the run signature
  (:mod:`graphrep.train.checkpoint`), the weights, the optimiser state, the loop's counters and the RNG state; a
  checkpoint of another run is refused in one line.
- **interrupts**: inside :meth:`Engine.interruptible`, Ctrl-C (SIGINT) and SIGTERM set a flag that the loop reads at
  its next step boundary (:meth:`Engine.check_interrupt`): it writes a checkpoint when it can, then raises
  :class:`~graphrep.train.trainer.TrainingInterrupted` (exit 130 for SIGINT, 143 for SIGTERM, with a resume command).
  A second signal interrupts at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor

from graphrep.train import interrupts
from graphrep.train.checkpoint import SIGNATURE_KEY, check_signature, read_checkpoint
from graphrep.train.trainer import LightningSettings, TrainingInterrupted, quiet_lightning


class Engine:
    """One :class:`~lightning.fabric.Fabric`, launched once per process, for every phase and seed of a command.

    ``Engine()`` is one CPU process in fp32: the setting the library functions use when no engine is given.
    """

    def __init__(self, settings: LightningSettings | None = None):
        from lightning.fabric import Fabric

        settings = settings or LightningSettings(progress=False)
        quiet_lightning()
        strategy = settings.strategy
        if strategy == "ddp":
            from lightning.fabric.strategies import DDPStrategy

            # a mixture-of-experts layer whose router sends no token of a batch to an expert leaves that expert
            # without a gradient: DDP must not wait for it
            strategy = DDPStrategy(find_unused_parameters=True)
        self.settings = settings
        kwargs = dict(accelerator=settings.accelerator, devices=settings.devices, strategy=strategy,
                      num_nodes=settings.num_nodes)
        self.fabric = Fabric(**kwargs, precision=settings.precision)
        mixed = _autocast_only(self.fabric.strategy.precision)
        if mixed is not None:  # the same settings, with a precision plugin that leaves the loop's inputs alone
            self.fabric = Fabric(**kwargs, plugins=[mixed])
        self.fabric.launch()
        self._signal: int | None = None
        if not self.fabric.is_global_zero:  # the other ranks train in step; only rank 0 speaks
            sys.stdout = open(os.devnull, "w")

    # ------------------------------------------------------------------ where and how many
    @property
    def world_size(self) -> int:
        return self.fabric.world_size

    @property
    def rank(self) -> int:
        return self.fabric.global_rank

    @property
    def is_global_zero(self) -> bool:
        return self.fabric.is_global_zero

    @property
    def device(self) -> torch.device:
        return self.fabric.device

    def setup(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer):
        """(module, optimizer) moved to the device and wrapped for the strategy and precision."""
        return self.fabric.setup(module, optimizer)

    def to_device(self, obj):
        return self.fabric.to_device(obj)

    def backward(self, loss: Tensor) -> None:
        """Backpropagate ``loss``; a NaN or infinite loss stops the run with :class:`TrainingDivergedError` instead
        of training on (every later step would be NaN, and NaN scores can look perfect to a ranking metric). The
        check reads one scalar per step: the mini-batch loops read it for their loss logging anyway, and the
        full-batch circuit loop takes one step per epoch."""
        if not torch.isfinite(loss.detach()).all():
            from graphrep.data.errors import TrainingDivergedError

            raise TrainingDivergedError(f"the training loss became {loss.detach().float().flatten()[0].item()}: lower "
                                        "--lr, or check the inputs for NaN or infinite values")
        self.fabric.backward(loss)

    def clip_gradients(self, module, optimizer, max_norm: float) -> None:
        self.fabric.clip_gradients(module, optimizer, max_norm=max_norm, error_if_nonfinite=False)

    def autocast(self):
        """The precision's autocast context, for evaluating the unwrapped module."""
        return self.fabric.autocast()

    def shard(self, index: Tensor) -> Tensor:
        """This process's share of one global batch ``index`` [B] (contiguous, sizes differing by at most one).

        With DDP's gradient averaging the step then follows the mean of the per-process mean losses, which is the
        single-process step when the shares weigh the same; a batch smaller than the number of processes is
        processed whole by every process (each must run a forward and backward for the gradients to be averaged).
        """
        if self.world_size == 1 or index.numel() < self.world_size:
            return index
        return index.tensor_split(self.world_size)[self.rank]

    def sum_over_processes(self, value: float) -> float:
        if self.world_size == 1:
            return value
        return float(self.fabric.all_reduce(torch.tensor(float(value), device=self.device), reduce_op="sum"))

    # ------------------------------------------------------------------ interrupts
    @contextmanager
    def interruptible(self):
        """Within: SIGINT and SIGTERM ask the loop to stop at its next step boundary (a second one stops at once)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        if interrupts.pending() is not None:  # Ctrl-C before the loop started (and swallowed by a library)
            self._signal = signal.SIGINT

        def ask_to_stop(signum, frame):
            if self._signal is not None:  # asked twice: stop now
                raise TrainingInterrupted(None, signum=signum)
            self._signal = signum

        for s in previous:
            signal.signal(s, ask_to_stop)
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def stop_requested(self) -> bool:
        """Whether any process received SIGINT/SIGTERM (all processes agree, so that they stop at the same step)."""
        asked = self._signal is not None
        if self.world_size > 1:
            asked = self.sum_over_processes(1.0 if asked else 0.0) > 0
        return asked

    def check_interrupt(self, checkpoint: "LoopCheckpoint | None" = None, state=None) -> None:
        """At a step boundary: when a stop was asked, write ``state()`` (if given) to ``checkpoint`` and raise
        :class:`TrainingInterrupted` naming the newest checkpoint."""
        if not self.stop_requested():
            return
        if checkpoint is not None and checkpoint.path is not None and state is not None:
            checkpoint.save(state())
        path = checkpoint.last if checkpoint is not None else None
        raise TrainingInterrupted(str(path) if path is not None else None, signum=self._signal or signal.SIGINT,
                                  rank_zero=self.is_global_zero)


def _autocast_only(precision):
    """For ``16-mixed``/``bf16-mixed``: the same mixed precision (autocast, and the gradient scaler of fp16) but with
    the inputs of ``forward`` passed as given; ``None`` for every other precision.

    Fabric's mixed precision also casts every floating tensor in the arguments of the wrapped module's forward to
    bf16/fp16, walking into dataclasses by deep-copying them. The plain loops pass whole graphs: a circuit's
    regression targets would be rounded to bf16 (3 significant digits), and each step would deep-copy its
    :class:`~graphrep.ops.CSR` with the torch CSR matrices cached on it, converted to bf16 under the key of the fp32
    matrix (the CPU aggregation then failed on the dtype mix). Autocast alone, as ``torch.autocast`` defines mixed
    precision, already runs the matrix products in half precision.
    """
    from lightning.fabric.plugins.precision.amp import MixedPrecision

    if type(precision) is not MixedPrecision:
        return None

    class AutocastOnly(MixedPrecision):
        def convert_input(self, data):
            return data

    return AutocastOnly(precision=precision.precision, device=precision.device, scaler=precision.scaler)


def rng_state() -> dict:
    """The torch RNG states (CPU, and CUDA when in use) a loop needs for an exact resume."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class LoopCheckpoint:
    """The checkpoint file of one plain-loop run: ``path`` (``None``: no checkpoints), the run ``signature``, and
    ``every`` (steps between periodic checkpoints; the loop decides what a step is).

    The file holds ``{SIGNATURE_KEY: signature, "loop": state}``; ``state`` is plain data and tensors (weights,
    optimiser state, counters, RNG), loaded back with ``weights_only=True``.
    """

    def __init__(self, engine: Engine, path: str | Path | None, signature: dict, every: int = 1,
                 resume: str | Path | None = None):
        self.engine, self.signature, self.every = engine, signature, max(1, int(every))
        self.path = Path(path) if path is not None else None
        self.resume = Path(resume) if resume is not None else None
        self.last: Path | None = None
        if self.resume is not None:
            check_signature(self.resume, signature)
            self.last = self.resume

    def resumed_state(self) -> dict | None:
        """The loop state saved in the ``resume`` checkpoint (``None`` when not resuming)."""
        if self.resume is None:
            return None
        return read_checkpoint(self.resume).get("loop")

    def due(self, step: int) -> bool:
        """Whether a periodic checkpoint is due after ``step`` (0-based) steps completed ``step + 1``."""
        return self.path is not None and (step + 1) % self.every == 0

    def save(self, state: dict) -> None:
        """Write ``state`` (on rank 0, atomically: a reader never sees half a file); every process waits for it."""
        if self.path is None:
            return
        if self.engine.is_global_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + ".partial")
            torch.save({SIGNATURE_KEY: self.signature, "loop": state}, partial)
            os.replace(partial, self.path)
        self.engine.fabric.barrier()
        self.last = self.path
