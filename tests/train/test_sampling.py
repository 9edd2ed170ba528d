"""Training batches: reproducible per (seed, epoch), and never a batch of a single graph (issue 15, finding 1)."""

import pytest
import torch
from torch.utils.data import BatchSampler, DistributedSampler

from graphrep.train.sampling import EpochSeededSampler, NoSingletonBatchSampler


@pytest.mark.parametrize("batch_size", [1, 2, 3, 32])
@pytest.mark.parametrize("n", [1, 2, 3, 32, 33, 64, 65, 513])
def test_every_index_once_and_no_final_singleton(n, batch_size):
    sampler = NoSingletonBatchSampler(range(n), batch_size, drop_last=False)
    batches = list(sampler)
    plain = list(BatchSampler(range(n), batch_size, drop_last=False))
    assert sum(batches, []) == list(range(n)) and len(batches) == len(sampler)
    if n > 1:
        assert len(batches[-1]) > 1
    # only the last two plain batches may change, and only when the last one is a singleton
    if len(plain[-1]) == 1 and len(plain) > 1:
        assert batches == plain[:-2] + [plain[-2] + plain[-1]]
    else:
        assert batches == plain


def test_freesolv_shape_513_by_32_has_no_lone_molecule():
    sampler = NoSingletonBatchSampler(EpochSeededSampler(513, seed=282), 32, drop_last=False)
    sizes = [len(b) for b in sampler]
    assert sizes == [32] * 15 + [33] and len(sampler) == 16
    plain = [len(b) for b in BatchSampler(EpochSeededSampler(513, seed=282), 32, drop_last=False)]
    assert plain[-1] == 1  # what the plain sampler would have given


def test_rebuilt_around_a_distributed_sampler_as_lightning_does():
    """Lightning rebuilds a custom batch sampler as ``cls(sampler, batch_size=..., drop_last=...)`` under DDP."""
    original = NoSingletonBatchSampler(EpochSeededSampler(67, seed=1), 8, drop_last=False)
    ranks = []
    for rank in range(2):
        dist = DistributedSampler(range(67), num_replicas=2, rank=rank, shuffle=False)
        rebuilt = type(original)(dist, batch_size=original.batch_size, drop_last=original.drop_last)
        batches = list(rebuilt)
        assert all(len(b) > 1 for b in batches) and len(batches) == len(rebuilt)
        ranks.append(sum(batches, []))
    assert sorted(set(ranks[0]) | set(ranks[1])) == list(range(67))


def test_epoch_seeded_order_depends_only_on_seed_and_epoch():
    a, b = EpochSeededSampler(50, seed=3), EpochSeededSampler(50, seed=3)
    a.set_epoch(4)
    b.set_epoch(4)
    torch.manual_seed(123)  # the global RNG plays no part
    assert list(a) == list(b)
    b.set_epoch(5)
    assert list(a) != list(b)
