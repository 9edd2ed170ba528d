r"""Flat space :math:`\mathbb R^d` (curvature 0): geoopt's ``Euclidean`` with the curved manifolds' interface."""

from __future__ import annotations

import geoopt
import torch

from .base import Manifold


class Euclidean(Manifold, geoopt.Euclidean):
    r"""Euclidean space. Gyrovector operations reduce to :math:`x + y` and :math:`Mx`.

    Args:
        ndim: number of trailing dimensions that form one point (geoopt's meaning). The default is 1 (points are
            vectors, like every other geometries manifold); geoopt's default is 0 (every entry its own point).

    Shapes: points and tangent vectors (..., d) (with ``ndim=1``).
    """

    name = "Euclidean"
    reversible = True

    def __init__(self, ndim: int = 1):
        Manifold.__init__(self)
        if not isinstance(ndim, int) or ndim < 0:
            raise ValueError(f"Euclidean ndim must be an int >= 0, got {ndim!r}")
        self.ndim = ndim

    @property
    def curvature(self) -> torch.Tensor:
        """Sectional curvature (0)."""
        return torch.zeros((), dtype=torch.get_default_dtype())

    def _dims(self):
        return tuple(range(-self.ndim, 0))

    def _check_point_on_manifold(self, x, *, atol=1e-5, rtol=1e-5):
        return True, None

    def _check_vector_on_tangent(self, x, u, *, atol=1e-5, rtol=1e-5):
        return True, None

    proju = geoopt.Euclidean.proju  # broadcasts u against x, as geoopt

    def proj(self, x):
        return x

    def projx(self, x):
        return x

    def retr(self, x, u):
        return x + u

    def expmap0(self, u):
        return u

    def logmap0(self, x):
        return x

    def expmap(self, x, u):
        return x + u

    def logmap(self, x, y):
        return y - x

    def dist(self, x, y, *, keepdim=False):
        if self.ndim == 0:
            return (x - y).abs()
        return torch.linalg.vector_norm(x - y, dim=self._dims(), keepdim=keepdim)

    def dist0(self, x, *, keepdim=False):
        if self.ndim == 0:
            return x.abs()
        return torch.linalg.vector_norm(x, dim=self._dims(), keepdim=keepdim)

    def transp0(self, y, v):
        return v

    def transp0back(self, x, v):
        return v

    def mobius_add(self, x, y):
        return x + y

    def mobius_matvec(self, m, x):
        """Shapes: m (d_out, d_in), x (..., d_in) -> (..., d_out)"""
        return x @ m.transpose(-1, -2)

    def mobius_scalar_mul(self, r, x):
        return r * x

    def random(self, *size, std: float = 1.0, dtype=None, device=None, generator=None) -> torch.Tensor:
        r"""Points with :math:`\mathcal N(0, \text{std}^2)` coordinates (a plain tensor; geoopt's
        :meth:`random_normal` returns a ``ManifoldTensor``)."""
        return Manifold.random(self, *size, std=std, dtype=dtype, device=device, generator=generator)

    def centroid_parts(self, x):
        return x, torch.ones_like(x[..., :1])

    def centroid_finish(self, num, den):
        return num / den.clamp_min(1e-15)

    def extra_repr(self):
        return f"ndim={self.ndim}"
