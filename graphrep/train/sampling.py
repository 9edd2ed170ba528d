"""Training batches: an order that depends only on (seed, epoch), and no batch of a single graph.

A batch of one graph can hold a single node (FreeSolv has one-atom molecules), and BatchNorm cannot normalise one value
per channel in training mode; since the order is fixed by (seed, epoch), the same epoch would fail again on resume.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import BatchSampler, Sampler


class EpochSeededSampler(Sampler[int]):
    """Random permutation of ``range(n)`` drawn from ``seed`` and the epoch set by Lightning via ``set_epoch``."""

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())

    def __len__(self) -> int:
        return self.n


class NoSingletonBatchSampler(BatchSampler):
    """``BatchSampler`` whose last batch, if it would hold one index, joins the batch before it (size ``batch_size + 1``).

    Same constructor as ``BatchSampler``, so Lightning can rebuild it around a ``DistributedSampler`` (each rank then
    merges its own last singleton). Only a sampler of exactly one index yields a batch of one.
    """

    def __iter__(self) -> Iterator[list[int]]:
        held: list[list[int]] = []  # the last two batches, so that a final singleton can join the one before
        for batch in super().__iter__():
            held.append(batch)
            if len(held) == 3:
                yield held.pop(0)
        if len(held) == 2 and len(held[1]) == 1:
            held = [held[0] + held[1]]
        yield from held

    def __len__(self) -> int:
        batches = super().__len__()
        last = len(self.sampler) - (batches - 1) * self.batch_size
        return batches - 1 if not self.drop_last and batches > 1 and last == 1 else batches
