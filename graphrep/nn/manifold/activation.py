r"""Manifold activation: :math:`\exp_0^{\text{out}}(\sigma(\log_0^{\text{in}}(x)))`."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from geometries import Manifold


class ManifoldActivation(nn.Module):
    r"""Apply a Euclidean activation in the tangent space at the origin (HGCN's HypAct); the output may live on a
    different manifold (e.g. another curvature), which is how stacked layers change curvature.

    Args:
        manifold: input manifold.
        act: elementwise function applied to intrinsic tangent coordinates (default ``torch.relu``).
        manifold_out: output manifold (default: ``manifold``), same intrinsic dimension.

    Shapes:
        input (*, manifold.point_dim(d)) -> output (*, manifold_out.point_dim(d))
    """

    def __init__(self, manifold: Manifold, act: Callable[[torch.Tensor], torch.Tensor] = torch.relu,
                 manifold_out: Manifold | None = None):
        super().__init__()
        self.manifold = manifold
        self.manifold_out = manifold if manifold_out is None else manifold_out
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.manifold_out.from_tangent0(self.act(self.manifold.to_tangent0(x)))
