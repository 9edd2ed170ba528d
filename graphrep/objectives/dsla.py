"""D-SLA objective (Kim et al., "Graph Self-supervised Learning with Accurate Discrepancy Learning", NeurIPS 2022).

For a batch of ``B`` graphs with ``C`` candidates each (candidate 0 the original, 1..K weakly perturbed, optionally a
last strongly perturbed one), graph embeddings ``h[b, c]`` and discriminator scores ``s[b, c]``:

* graph discrimination: ``L_GD = mean_b CE(s[b, :], target 0)`` - tell the original from its perturbations;
* edit-distance term: ``r[b, i] = ||h[b, i] - h[b, 0]|| / e[b, i]`` for perturbed candidates ``i >= 1``;
  ``L_edit = mean_{b, 1 <= i < j < C} (r[b, i] - r[b, j])^2`` - embedding distance proportional to edit distance
  (the strong candidate, when present, takes part, as in the public code);
* margin term:
  ``L_margin = mean_{b, i in weak, b' != b} max(0, margin + ||h[b, 0] - h[b, i]|| - ||h[b, 0] - h[b', 0]||)``
  - a perturbed graph stays closer to its original than other graphs' originals (the strong candidate is left out);
* ``L = L_GD + edit_weight * L_edit + margin_weight * L_margin`` (paper: 0.7, 0.5, margin 5).

Candidates whose edit distance is 0 (molecules without bonds, where nothing could be perturbed) have no defined ``r``
and are left out of the pairs of ``L_edit``; the mean runs over the remaining pairs (0 when none remain).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class DSLALoss(NamedTuple):
    """Total loss and its parts (all scalars); ``accuracy`` is the fraction of graphs whose original scores highest."""

    loss: Tensor
    discrimination: Tensor
    edit: Tensor
    margin: Tensor
    accuracy: Tensor


def _check(scores: Tensor, h: Tensor, edit_distance: Tensor) -> None:
    if scores.dim() != 2:
        raise ValueError(f"scores must be [B, C], got {tuple(scores.shape)}")
    if h.dim() != 3 or h.shape[:2] != scores.shape:
        raise ValueError(f"embeddings must be [B, C, D] matching scores {tuple(scores.shape)}, got {tuple(h.shape)}")
    if edit_distance.shape != scores.shape:
        raise ValueError(f"edit_distance must be [B, C] like scores, got {tuple(edit_distance.shape)}")
    if scores.size(1) < 2:
        raise ValueError("D-SLA needs at least 2 candidates per graph (the original and one perturbation)")


def discrimination_loss(scores: Tensor) -> Tensor:
    """``mean_b CE(scores[b], 0)``. Shapes: scores [B, C] -> scalar."""
    target = torch.zeros(scores.size(0), dtype=torch.long, device=scores.device)
    return F.cross_entropy(scores, target)


def edit_distance_loss(h: Tensor, edit_distance: Tensor) -> Tensor:
    """``mean over b and pairs 1 <= i < j < C with e > 0 of (r[b, i] - r[b, j])^2``, ``r = ||h_i - h_0|| / e_i``.

    Shapes:
        h: [B, C, D], edit_distance: [B, C] -> scalar
    """
    dist = (h[:, 1:] - h[:, :1]).norm(dim=-1)  # [B, C-1]
    e = edit_distance[:, 1:].to(dist.dtype)
    valid = e > 0
    r = dist / torch.where(valid, e, torch.ones_like(e))
    i, j = torch.triu_indices(r.size(1), r.size(1), offset=1, device=r.device)
    pair_valid = valid[:, i] & valid[:, j]
    sq = (r[:, i] - r[:, j]).pow(2)
    n = pair_valid.sum()
    if int(n) == 0:
        return h.sum() * 0.0
    return torch.where(pair_valid, sq, torch.zeros_like(sq)).sum() / n


def margin_loss(h: Tensor, margin: float = 5.0, strong: bool = False) -> Tensor:
    """``mean_{b, i, b' != b} relu(margin + ||h[b,0] - h[b,i]|| - ||h[b,0] - h[b',0]||)`` over weak candidates ``i``.

    ``strong=True`` drops the last candidate (the strongly perturbed one). A batch of one graph has no other
    originals: the term is 0.

    Shapes:
        h: [B, C, D] -> scalar
    """
    if strong:
        h = h[:, :-1]
    B = h.size(0)
    if B < 2 or h.size(1) < 2:
        return h.sum() * 0.0
    pos = (h[:, 1:] - h[:, :1]).norm(dim=-1)  # [B, K]
    neg = torch.cdist(h[:, 0], h[:, 0])  # [B, B]
    off = ~torch.eye(B, dtype=torch.bool, device=h.device)
    neg = neg[off].view(B, B - 1)
    return F.relu(margin + pos[:, None, :] - neg[:, :, None]).mean()


def dsla_loss(
    scores: Tensor,
    h: Tensor,
    edit_distance: Tensor,
    *,
    edit_weight: float = 0.7,
    margin_weight: float = 0.5,
    margin: float = 5.0,
    strong: bool = False,
) -> DSLALoss:
    """The full D-SLA objective (see the module docstring).

    Args:
        scores: [B, C] discriminator score of each candidate (candidate 0 = original).
        h: [B, C, D] graph embeddings of the candidates.
        edit_distance: [B, C] edit distance of each candidate from its original (0 for the original).
        strong: whether the last candidate is the strongly perturbed one (left out of the margin term).

    Returns:
        :class:`DSLALoss` with the weighted total and the unweighted parts.
    """
    _check(scores, h, edit_distance)
    l_gd = discrimination_loss(scores)
    l_edit = edit_distance_loss(h, edit_distance) if edit_weight else scores.sum() * 0.0
    l_margin = margin_loss(h, margin, strong) if margin_weight else scores.sum() * 0.0
    total = l_gd + edit_weight * l_edit + margin_weight * l_margin
    accuracy = (scores.argmax(dim=1) == 0).float().mean()
    return DSLALoss(total, l_gd, l_edit, l_margin, accuracy.detach())
