"""GraphCL pre-training (You et al., "Graph Contrastive Learning with Augmentations", NeurIPS 2020).

Per step: two augmented views of every molecule (default: node dropping and subgraph, ratio 0.2, the paper's best pair
for molecules), the GIN and a projection head ``g`` on each, and NT-Xent between them with temperature 0.1:
``L = nt_xent(g(f(v1)), g(f(v2)), 0.1)`` (:func:`~graphrep.objectives.nt_xent`; the other graphs of the batch are the
negatives, so a batch of one graph is skipped).

:func:`graphcl_loss` is that step for any encoder (a pooled ``Batch -> [B, D]`` module) and projection head: the
molecule pre-training module :class:`GraphCLModel` and the modality pre-training
(:func:`graphrep.tasks.modalities.training.graphcl_pretrain`) both call it.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Batch

from ..data.transforms import AUGMENTATIONS, augment
from ..objectives import ProjectionHead, nt_xent
from .base import PretrainingModel


def _views(batch: Batch, augmentations, ratio: float, generator) -> tuple[Batch, Batch]:
    """Two augmented views of ``batch``; a per-edge ``edge_weight`` (token and transition graphs) is carried through
    the augmentations, which keep ``edge_attr`` aligned with the kept edges."""
    weight = getattr(batch, "edge_weight", None)
    carry = weight is not None and getattr(batch, "edge_attr", None) is None
    if carry:
        batch = batch.clone()
        batch.edge_attr = weight.view(-1, 1)
    views = []
    for name in augmentations:
        view = augment(batch, name, ratio, generator=generator)
        if carry:
            view.edge_weight, view.edge_attr = view.edge_attr.view(-1), None
        views.append(view)
    return views[0], views[1]


def graphcl_loss(encoder: torch.nn.Module, projection: torch.nn.Module, batch: Batch,
                 augmentations: tuple[str, str] = ("dropN", "subgraph"), ratio: float = 0.2,
                 temperature: float = 0.1, generator: torch.Generator | None = None) -> Tensor:
    """``nt_xent(g(f(v1)), g(f(v2)), temperature)`` for two augmented views ``v1, v2`` of ``batch`` (B >= 2 graphs).

    Shapes: ``batch`` of B graphs; ``encoder(view)`` [B, D]; ``projection`` [B, D] -> [B, D'] -> scalar.
    """
    v1, v2 = _views(batch, augmentations, ratio, generator)
    return nt_xent(projection(encoder(v1)), projection(encoder(v2)), temperature)


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
        return {"loss": graphcl_loss(self.encoder, self.projection, batch, tuple(self.hparams.augmentations),
                                     self.hparams.ratio, self.hparams.temperature, generator)}
