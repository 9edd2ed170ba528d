"""Hybrid readout: the pooled graph embedding beside fixed molecule features (fingerprints, descriptors).

    z = [h_G ; (f - mu) / sigma],   y = W_2 dropout(ReLU(W_1 z + b_1)) + b_2

``h_G`` is the encoder's graph embedding, ``f`` the molecule's feature vector (e.g. ECFP counts and RDKit descriptors,
:func:`graphrep.data.molecules.descriptors.molecule_features`), standardised with the training split's ``mu`` and
``sigma`` (stored as buffers, so a checkpoint carries them). This is Chemprop's "features generator" readout.
"""

from __future__ import annotations

import torch
from torch import nn


class HybridHead(nn.Module):
    """Two-layer MLP on the concatenation of a graph embedding and standardised molecule features.

    Shapes:
        h: [B, graph_dim]; features: [B, feature_dim]; output: [B, out_dim].
    """

    def __init__(self, graph_dim: int, feature_dim: int, out_dim: int, hidden: int = 300, dropout: float = 0.2,
                 mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean if mean is not None else [0.0] * feature_dim).float())
        self.register_buffer("std", torch.tensor(std if std is not None else [1.0] * feature_dim).float())
        if self.mean.numel() != feature_dim or self.std.numel() != feature_dim:
            raise ValueError(f"mean/std need {feature_dim} values, got {self.mean.numel()}/{self.std.numel()}")
        self.mlp = nn.Sequential(nn.Linear(graph_dim + feature_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, out_dim))

    def forward(self, h: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([h, (features - self.mean) / self.std], dim=-1))
