"""What the self-supervised pre-training models share: the encoder, per-step random generators, logging, optimiser.

A subclass implements :meth:`PretrainingModel.objective` (a batch and a ``torch.Generator`` -> a dict of scalars with
``"loss"``). The encoder is a :class:`~graphrep.nn.molecule.GINEncoder` stored as ``self.encoder``, so checkpoints hold
``encoder.*`` keys that :func:`graphrep.tasks.molecules.experiment.load_encoder_weights` copies into a ``GraphPredictor``.

Reproducibility: every training step draws its perturbations/augmentations from a fresh generator seeded by
:func:`step_seed` ``(seed, epoch, batch_idx, rank)``, and the global RNG (dropout) is reseeded at each epoch start, so the
randomness of a step never depends on history: a run resumed from an epoch-end checkpoint continues exactly as an
uninterrupted one, and a rerun with the same seed reproduces it.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor
from torch_geometric.data import Batch

from ..nn.molecule import GINEncoder

#: The encoder D-SLA, AttrMasking and GraphCL pre-train (Hu et al. 2020: GIN 5 x 300, last-layer JK, mean pooling,
#: no dropout while pre-training).
DEFAULT_ENCODER = {"features": "pretrain", "num_layers": 5, "hidden": 300, "dropout": 0.0, "jk": "last",
                   "pooling": "mean"}

_MASK63 = (1 << 63) - 1


def step_seed(seed: int, epoch: int, batch_idx: int, rank: int = 0) -> int:
    """A 63-bit seed that is a fixed function of ``(seed, epoch, batch_idx, rank)`` (SplitMix64-style mixing)."""
    x = 0
    for part in (seed, epoch, batch_idx, rank):
        x = (x ^ (int(part) & 0xFFFFFFFFFFFFFFFF)) * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return x & _MASK63


def usable_graphs(batch: Batch | None) -> Batch | None:
    """``batch`` without its empty graphs (0 atoms), or ``None`` when nothing is left to learn from: no graph, or fewer
    than 2 atoms in all (the GIN's BatchNorm needs two values per channel in training mode)."""
    if batch is None or batch.num_graphs == 0 or batch.x is None or batch.x.size(0) < 2:
        return None
    sizes = torch.bincount(batch.batch, minlength=batch.num_graphs)
    if bool((sizes > 0).all()):
        return batch
    return Batch.from_data_list([g for g in batch.to_data_list() if g.num_nodes > 0])


class PretrainingModel(L.LightningModule):
    """Base of the pre-training modules (Adam, ``lr`` 1e-3 by default); see the module docstring."""

    #: the method's name in ``graphrep pretrain --method``
    method = ""

    def __init__(self, encoder: dict | None = None, lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0):
        super().__init__()
        self.encoder_config = {**DEFAULT_ENCODER, **(encoder or {})}
        if self.encoder_config["features"] != "pretrain":
            raise ValueError("pre-training uses the pretrain-gnns atom features (features='pretrain'), got "
                             f"{self.encoder_config['features']!r}")
        self.encoder = GINEncoder(**self.encoder_config)
        self.lr, self.weight_decay, self.seed = lr, weight_decay, seed
        self.skipped_batches = 0

    @property
    def dim(self) -> int:
        return self.encoder.out_dim

    def objective(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor] | None:
        """The method's loss on ``batch`` (``{"loss": ..., other logged scalars}``), or ``None`` to skip the batch."""
        raise NotImplementedError

    def step_generator(self, batch_idx: int) -> torch.Generator:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(step_seed(self.seed, self.current_epoch, batch_idx, self.global_rank))
        return generator

    def on_train_epoch_start(self) -> None:
        torch.manual_seed(step_seed(self.seed, self.current_epoch, -1, self.global_rank))

    def training_step(self, batch: Batch, batch_idx: int):
        batch = usable_graphs(batch)
        out = self.objective(batch, self.step_generator(batch_idx)) if batch is not None else None
        if out is None:  # nothing to learn from (empty batch, a single graph where negatives are needed)
            self.skipped_batches += 1
            if self._trainer is not None and self._trainer.world_size > 1:
                # Under DDP every rank must run backward (its gradient all-reduce waits for the others): a zero loss
                # that touches every parameter, so this rank contributes zero gradients instead of hanging the rest.
                return sum(p.sum() for p in self.parameters()) * 0.0
            return None
        for name, value in out.items():
            self.log(f"train/{name}", value.detach().float(), on_step=False, on_epoch=True,
                     batch_size=batch.num_graphs, sync_dist=True, prog_bar=name == "loss")
        return out["loss"]

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # What fine-tuning needs to rebuild the encoder, in plain types (readable with weights_only loading).
        checkpoint["pretraining"] = {"method": self.method, "encoder": dict(self.encoder_config)}

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
