"""AttrMasking pre-training (Hu et al., "Strategies for Pre-training Graph Neural Networks", ICLR 2020).

Per step: mask ``int(0.15 * n + 1)`` atoms of each molecule (:func:`~graphrep.data.transforms.mask_atoms`: atom type
-> the MASK token), encode the masked batch, and predict the masked atoms' types from their node embeddings with a
linear head: ``L = mean_m CE(W h_m + b, type_m)`` (:func:`~graphrep.objectives.attr_mask_loss`).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Batch

from ..data.transforms import mask_atoms
from ..objectives import AttrMaskHead, attr_mask_loss
from .base import PretrainingModel


class AttrMaskModel(PretrainingModel):
    """The GIN ``encoder`` + a linear atom-type ``head`` on masked atoms."""

    method = "attrmask"

    def __init__(self, encoder: dict | None = None, lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0,
                 mask_rate: float = 0.15):
        super().__init__(encoder, lr, weight_decay, seed)
        self.save_hyperparameters()
        self.head = AttrMaskHead(self.dim)

    @classmethod
    def from_corpus(cls, dataset, **kwargs) -> "AttrMaskModel":
        return cls(**kwargs)

    def objective(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor] | None:
        if batch.x.size(0) < 2:  # one atom in all: BatchNorm cannot normalise it in training mode
            return None
        masked, idx, target = mask_atoms(batch, self.hparams.mask_rate, generator=generator)
        out = attr_mask_loss(self.head(self.encoder.node_embeddings(masked), idx), target)
        return {"loss": out.loss, "accuracy": out.accuracy}
