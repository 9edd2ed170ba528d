r"""The Lorentz (hyperboloid) model of hyperbolic space, thin wrapper around :mod:`geometries.math.lorentz`."""

from __future__ import annotations

import torch

from .base import Manifold
from .curvature import Curvature
from .math import lorentz as lmath


class Lorentz(Manifold):
    r"""Hyperboloid :math:`\{x\in\mathbb R^{d+1} : -x_0^2 + \|x_{1:}\|^2 = -k,\ x_0>0\}`, curvature :math:`-1/k`
    (geoopt's convention: ``k`` is the squared radius).

    Args:
        k: squared radius (> 0).
        learnable: learn ``k`` (kept > 0 by a softplus with floor 1e-8).

    Shapes: points and tangent vectors (..., d + 1); ``to_tangent0``/``from_tangent0`` use the d intrinsic coordinates.
    """

    name = "Lorentz"

    def __init__(self, k: float = 1.0, learnable: bool = False):
        super().__init__()
        self.curv = Curvature(k, learnable, name="k")

    @property
    def k(self) -> torch.Tensor:
        return self.curv()

    @property
    def curvature(self) -> torch.Tensor:
        """Signed sectional curvature :math:`-1/k`."""
        return -1.0 / self.curv()

    def _k(self, x: torch.Tensor) -> torch.Tensor:
        return self.curv(x.dtype).to(x.device)

    def point_dim(self, tangent_dim: int) -> int:
        return tangent_dim + 1

    def tangent_dim(self, point_dim: int) -> int:
        if point_dim < 2:
            raise ValueError(f"Lorentz points need at least 2 coordinates (time + space), got {point_dim}")
        return point_dim - 1

    def proj(self, x):
        return lmath.project(x, self._k(x))

    def proju(self, x, u):
        return lmath.proju(x, u, self._k(x))

    def expmap0(self, u):
        return lmath.expmap0(u, self._k(u))

    def logmap0(self, x):
        return lmath.logmap0(x, self._k(x))

    def expmap(self, x, u):
        return lmath.expmap(x, u, self._k(x))

    def logmap(self, x, y):
        return lmath.logmap(x, y, self._k(x))

    def dist(self, x, y, *, keepdim=False):
        return lmath.dist(x, y, self._k(x), keepdim=keepdim)

    def dist0(self, x, *, keepdim=False):
        return lmath.dist0(x, self._k(x), keepdim=keepdim)

    def inner(self, x, u, v=None, *, keepdim=False):
        """Metric of tangent vectors at ``x`` (:func:`geometries.math.lorentz.tangent_inner`)."""
        return lmath.tangent_inner(x, u, u if v is None else v, self._k(x), keepdim=keepdim)

    def transp(self, x, y, v):
        return lmath.transp(x, y, v, self._k(x))

    def transp0(self, y, v):
        return lmath.transp0(y, v, self._k(y))

    def transp0back(self, x, v):
        return lmath.transp0back(x, v, self._k(x))

    def egrad2rgrad(self, x, u):
        return lmath.egrad2rgrad(x, u, self._k(x))

    def to_tangent0(self, x):
        return self.logmap0(x)[..., 1:]

    def coords_to_tangent0(self, v):
        return torch.cat((torch.zeros_like(v[..., :1]), v), dim=-1)

    def from_tangent0(self, v):
        return self.expmap0(self.coords_to_tangent0(v))

    def to_poincare(self, x):
        """Isometric image in the Poincare ball of curvature -1/k. Shapes: (..., d+1) -> (..., d)"""
        return lmath.to_poincare(x, self._k(x))

    def centroid_parts(self, x):
        return x, torch.ones_like(x[..., :1])

    def centroid_finish(self, num, den):
        return lmath.centroid_finish(num, self._k(num))

