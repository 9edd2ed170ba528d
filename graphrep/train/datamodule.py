"""LightningDataModule over an in-memory graph dataset and a split dict of index tensors."""

from __future__ import annotations

import lightning as L
import torch
from torch_geometric.loader import DataLoader

from graphrep.data.errors import UserInputError
from graphrep.train.sampling import EpochSeededSampler, NoSingletonBatchSampler


class GraphDataModule(L.LightningDataModule):
    """Train / valid / test loaders of ``dataset[split[k]]``; the train order is reproducible per (seed, epoch).

    No training batch holds a single graph (a final singleton joins the batch before it; see :mod:`.sampling`).
    """

    def __init__(self, dataset, split: dict[str, torch.Tensor], batch_size: int = 32, seed: int = 0,
                 num_workers: int = 0):
        super().__init__()
        empty = [k for k in ("train", "valid", "test") if len(split.get(k, ())) == 0]
        if empty:
            raise UserInputError(f"split has empty part(s): {', '.join(empty)} ({len(dataset)} graphs); the dataset is "
                                 "too small for this split")
        self.dataset, self.split = dataset, split
        self.batch_size, self.seed, self.num_workers = batch_size, seed, num_workers

    def _loader(self, part: str, shuffle: bool) -> DataLoader:
        subset = self.dataset[self.split[part]]
        # An explicit generator keeps DataLoader from drawing its base seed from the global RNG.
        generator = torch.Generator().manual_seed(self.seed)
        if shuffle:
            batches = NoSingletonBatchSampler(EpochSeededSampler(len(subset), self.seed), self.batch_size, False)
            return DataLoader(subset, batch_sampler=batches, num_workers=self.num_workers, generator=generator)
        return DataLoader(subset, batch_size=self.batch_size, num_workers=self.num_workers, generator=generator)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
