r"""Flat space :math:`\mathbb R^d` (curvature 0) with the same interface as the curved manifolds."""

from __future__ import annotations

import torch

from .base import Manifold


class Euclidean(Manifold):
    r"""Euclidean space. Gyrovector operations reduce to :math:`x + y` and :math:`Mx`.

    Shapes: points and tangent vectors (..., d).
    """

    name = "Euclidean"
    gyrovector = True

    def __init__(self):
        super().__init__()

    @property
    def curvature(self) -> torch.Tensor:
        """Sectional curvature (0)."""
        return torch.zeros((), dtype=torch.get_default_dtype())

    def proj(self, x):
        return x

    def expmap0(self, u):
        return u

    def logmap0(self, x):
        return x

    def expmap(self, x, u):
        return x + u

    def logmap(self, x, y):
        return y - x

    def dist(self, x, y, *, keepdim=False):
        return torch.linalg.vector_norm(x - y, dim=-1, keepdim=keepdim)

    def dist0(self, x, *, keepdim=False):
        return torch.linalg.vector_norm(x, dim=-1, keepdim=keepdim)

    def inner(self, x, u, v=None, *, keepdim=False):
        v = u if v is None else v
        return (u * v).sum(-1, keepdim=keepdim)

    def transp(self, x, y, v):
        return v

    def transp0(self, y, v):
        return v

    def transp0back(self, x, v):
        return v

    def egrad2rgrad(self, x, u):
        return u

    def mobius_add(self, x, y):
        return x + y

    def mobius_matvec(self, m, x):
        """Shapes: m (d_out, d_in), x (..., d_in) -> (..., d_out)"""
        return x @ m.transpose(-1, -2)

    def mobius_scalar_mul(self, r, x):
        return r * x

    def centroid_parts(self, x):
        return x, torch.ones_like(x[..., :1])

    def centroid_finish(self, num, den):
        return num / den.clamp_min(1e-15)

