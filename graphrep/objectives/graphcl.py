"""GraphCL contrastive objective (You et al., NeurIPS 2020): NT-Xent between two augmented views of each graph.

With ``z1[n], z2[n]`` the projected embeddings of the two views of graph ``n`` and
``sim(a, b) = a.b / (||a|| ||b||)``, the paper's loss (its eq. 3) is

    l_n = -log( exp(sim(z1[n], z2[n]) / tau) / sum_{n' != n} exp(sim(z1[n], z2[n']) / tau) ),   L = mean_n l_n,

with negatives taken from the other view only and the positive *left out* of the denominator, as in the paper and its
molecule code (this differs from SimCLR's NT-Xent, which keeps the positive and adds same-view negatives). The loss can
be negative. Temperature ``tau = 0.1`` as in GraphCL's transfer-learning experiments.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.1) -> Tensor:
    """GraphCL's NT-Xent (see module docstring).

    Shapes:
        z1, z2: [B, D] (row n of each is a view of graph n), B >= 2 -> scalar
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(
            f"nt_xent needs two [B, D] tensors of the same shape, got {tuple(z1.shape)}, {tuple(z2.shape)}"
        )
    if z1.size(0) < 2:
        raise ValueError("nt_xent needs at least 2 graphs in the batch (the others are the negatives)")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).t() / temperature  # [B, B]
    pos = logits.diagonal()
    diag = torch.eye(logits.size(0), dtype=torch.bool, device=logits.device)
    neg = torch.logsumexp(logits.masked_fill(diag, float("-inf")), dim=1)
    return (neg - pos).mean()


class ProjectionHead(nn.Module):
    """GraphCL's projection ``g(h) = W2 relu(W1 h)`` applied to pooled graph embeddings before :func:`nt_xent`.

    Shapes:
        h: [B, D] -> [B, out_dim]
    """

    def __init__(self, dim: int = 300, out_dim: int | None = None) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, out_dim or dim))

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)
