"""Supervised losses with missing labels masked out.

A label is missing where ``target`` is NaN. With mask ``m`` (1 = labelled):

- ``masked_bce(logits, target) = sum(m * BCEWithLogits(logits, target)) / sum(m)``
- ``masked_mse(pred, target) = sum(m * (pred - target)^2) / sum(m)``

A batch without any label gives a zero loss that still carries the graph (so DDP's gradient sync sees every parameter).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _masked_mean(per_element: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    count = mask.sum()
    total = torch.where(mask, per_element, torch.zeros_like(per_element)).sum()
    return total / count.clamp(min=1)


def masked_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over labelled entries. Shapes: logits, target: [B, T]; NaN target = missing."""
    mask = ~torch.isnan(target)
    loss = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(target, nan=0.0), reduction="none")
    return _masked_mean(loss, mask)


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over labelled entries. Shapes: pred, target: [B, T]; NaN target = missing."""
    mask = ~torch.isnan(target)
    return _masked_mean((pred - torch.nan_to_num(target, nan=0.0)) ** 2, mask)
