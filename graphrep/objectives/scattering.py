r"""Representation scattering and the online-target alignment of SGRL / CircuitGCL (He et al., NeurIPS 2024).

- :func:`scattering_loss`: push the normalised target embeddings :math:`\tilde z_i = z_i / \|z_i\|` away from their
  centre :math:`c = \frac1N \sum_i \tilde z_i`: :math:`\mathcal L_\mathrm{scatter} = -\frac1N \sum_i \|\tilde z_i -
  c\|^2` (minimising it spreads the embeddings over the sphere without negative pairs; it equals
  :math:`\|c\|^2 - 1`).
- :func:`alignment_loss`: the online prediction :math:`p_i` matches the (detached) target embedding :math:`t_i`:
  :math:`\mathcal L_\mathrm{align} = \frac1N \sum_i (2 - 2\cos(p_i, t_i))`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def scattering_loss(z: Tensor) -> Tensor:
    """:math:`-\\mathrm{mean}_i \\|\\tilde z_i - c\\|^2` on L2-normalised rows. Shapes: z [N, D] -> scalar."""
    zn = F.normalize(z, dim=-1)
    centre = zn.mean(0, keepdim=True)
    return -(zn - centre).pow(2).sum(-1).mean()


def alignment_loss(pred: Tensor, target: Tensor) -> Tensor:
    """:math:`\\mathrm{mean}_i (2 - 2 \\cos(p_i, t_i))` with the target detached. Shapes: [N, D], [N, D] -> scalar."""
    return (2 - 2 * F.cosine_similarity(pred, target.detach(), dim=-1)).mean()


__all__ = ["alignment_loss", "scattering_loss"]
