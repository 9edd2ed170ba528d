"""The engine's pieces that the application tests do not isolate: batch shares, the resume command, interrupts."""

import shlex
import signal

import pytest
import torch

from graphrep.train.engine import Engine, LoopCheckpoint
from graphrep.train.trainer import TrainingInterrupted, resume_command


class _Two(Engine):
    """An engine that believes it is rank ``r`` of 2 (no processes are started)."""

    def __init__(self, rank):
        super().__init__()
        self._rank = rank

    world_size = property(lambda self: 2)
    rank = property(lambda self: self._rank)


def test_shards_partition_each_batch_and_small_batches_stay_whole():
    index = torch.arange(7)
    parts = [_Two(r).shard(index) for r in (0, 1)]
    assert torch.cat(parts).tolist() == list(range(7)) and [len(p) for p in parts] == [4, 3]
    assert _Two(1).shard(torch.tensor([5])).tolist() == [5]  # every process must run a step
    assert Engine().shard(index) is index


def test_resume_command_replaces_flags_and_drops_the_old_resume():
    argv = ["circuit", "train", "--train", "a b", "--seeds=0,1", "--resume", "old.pt", "--overwrite", "--lr", "0.1"]
    command = resume_command(argv, "out/ckpt.pt", {"--seeds": "1"})
    assert shlex.split(command) == ["graphrep", "circuit", "train", "--train", "a b", "--lr", "0.1", "--seeds", "1",
                                    "--resume", "out/ckpt.pt", "--overwrite"]


def test_sigterm_inside_interruptible_stops_at_the_next_boundary_with_exit_143(tmp_path):
    engine = Engine()
    checkpoint = LoopCheckpoint(engine, tmp_path / "c.pt", {"run": 1})
    before = signal.getsignal(signal.SIGTERM)
    with engine.interruptible():
        engine.check_interrupt(checkpoint, lambda: {"step": 0})  # nothing asked: no-op
        signal.raise_signal(signal.SIGTERM)
        with pytest.raises(TrainingInterrupted) as info:
            engine.check_interrupt(checkpoint, lambda: {"step": 3})
    assert info.value.exit_code == 143 and info.value.checkpoint == str(tmp_path / "c.pt")
    assert LoopCheckpoint(engine, None, {"run": 1}, resume=tmp_path / "c.pt").resumed_state() == {"step": 3}
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers are restored on leaving


class _Sees(torch.nn.Module):
    """Records the dtypes its forward receives and what a Linear layer returns under the engine's precision."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, batch):
        self.seen = {k: v.dtype for k, v in batch.items()}
        out = self.lin(batch["x"])
        self.computed_in = out.dtype
        return out


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_autocasts_but_passes_inputs_as_given(precision):
    """Fabric's mixed precision would round every floating input (regression targets, cached CSR matrices) to half
    precision; the engine's keeps autocast only (16-mixed falls back to bf16 on the CPU, as Lightning does)."""
    from graphrep.train.trainer import LightningSettings

    engine = Engine(LightningSettings(progress=False, precision=precision))
    module = _Sees()
    wrapped, _ = engine.setup(module, torch.optim.SGD(module.parameters(), lr=0.1))
    y = torch.tensor([1.0001, 2.0001])
    wrapped({"x": torch.randn(3, 4), "y": y})
    assert module.seen == {"x": torch.float32, "y": torch.float32}
    assert module.computed_in == torch.bfloat16  # the Linear ran under autocast


def test_full_precision_engine_keeps_lightnings_plugin():
    from lightning.fabric.plugins.precision.amp import MixedPrecision

    assert not isinstance(Engine().fabric.strategy.precision, MixedPrecision)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_loss_stops_the_run_as_a_user_error(bad):
    """A NaN loss used to train on silently (and NaN scores then ranked every target first)."""
    from graphrep.data.errors import TrainingDivergedError, UserInputError
    from graphrep.train.trainer import LightningSettings

    engine = Engine(LightningSettings(progress=False))
    lin = torch.nn.Linear(2, 1)
    wrapped, _ = engine.setup(lin, torch.optim.SGD(lin.parameters(), lr=0.1))
    with pytest.raises(TrainingDivergedError, match="lower --lr") as info:
        engine.backward(wrapped(torch.ones(1, 2)).sum() * bad)
    assert isinstance(info.value, UserInputError) and lin.weight.grad is None
    engine.backward(wrapped(torch.ones(1, 2)).sum())  # a finite loss still backpropagates
    assert lin.weight.grad is not None
