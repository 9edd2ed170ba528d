"""GraphCL pre-training (You et al., "Graph Contrastive Learning with Augmentations", NeurIPS 2020).

Per step: two augmented views of every molecule (default: node dropping and subgraph, ratio 0.2, the paper's best pair
for molecules), the GIN and a projection head ``g`` on each, and NT-Xent between them with temperature 0.1:
``L = nt_xent(g(f(v1)), g(f(v2)), 0.1)`` (:func:`~graphrep.objectives.nt_xent`; the other graphs of the batch are the
negatives, so a batch of one graph is skipped).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Batch

from ..data.transforms import AUGMENTATIONS, augment
from ..objectives import ProjectionHead, nt_xent
from .base import PretrainingModel


class GraphCLModel(PretrainingModel):
    """The GIN ``encoder`` + ``projection`` head; ``augmentations`` names two of :data:`AUGMENTATIONS`."""

    method = "graphcl"

    def __init__(self, encoder: dict | None = None, lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0,
                 augmentations: tuple[str, str] = ("dropN", "subgraph"), ratio: float = 0.2,
                 temperature: float = 0.1):
        super().__init__(encoder, lr, weight_decay, seed)
        if len(augmentations) != 2 or any(a not in AUGMENTATIONS for a in augmentations):
            raise ValueError(f"augmentations must be two of {sorted(AUGMENTATIONS)}, got {augmentations!r}")
        self.save_hyperparameters()
        self.projection = ProjectionHead(self.dim)

    @classmethod
    def from_corpus(cls, dataset, **kwargs) -> "GraphCLModel":
        return cls(**kwargs)

    def objective(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor] | None:
        if batch.num_graphs < 2:
            return None
        first, second = self.hparams.augmentations
        v1 = augment(batch, first, self.hparams.ratio, generator=generator)
        v2 = augment(batch, second, self.hparams.ratio, generator=generator)
        loss = nt_xent(self.projection(self.encoder(v1)), self.projection(self.encoder(v2)), self.hparams.temperature)
        return {"loss": loss}
