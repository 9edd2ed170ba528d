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
