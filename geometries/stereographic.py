r"""Stereographic models of constant curvature: :class:`PoincareBall` (:math:`\kappa=-c<0`) and :class:`Sphere`
(:math:`\kappa=k>0`, the sphere of radius :math:`1/\sqrt k` projected from its south pole onto :math:`\mathbb R^d`).

Thin wrappers around :mod:`geometries.math.stereographic`; the curvature is cast to each input's dtype and device.
"""

from __future__ import annotations

import torch

from .base import Manifold
from .curvature import Curvature
from .math import stereographic as smath


class _Stereographic(Manifold):
    sign = 0
    gyrovector = True
    _param = "k"

    def __init__(self, value: float, learnable: bool):
        super().__init__()
        self.curv = Curvature(value, learnable, name=self._param)

    @property
    def curvature(self) -> torch.Tensor:
        """Signed sectional curvature :math:`\\kappa`."""
        return self.sign * self.curv()

    def _k(self, x: torch.Tensor) -> torch.Tensor:
        return (self.sign * self.curv(x.dtype)).to(x.device)

    def proj(self, x):
        return smath.project(x, self._k(x), self.sign)

    def expmap0(self, u):
        return smath.expmap0(u, self._k(u), self.sign)

    def logmap0(self, x):
        return smath.logmap0(x, self._k(x), self.sign)

    def expmap(self, x, u):
        return smath.expmap(x, u, self._k(x), self.sign)

    def logmap(self, x, y):
        return smath.logmap(x, y, self._k(x), self.sign)

    def dist(self, x, y, *, keepdim=False):
        return smath.dist(x, y, self._k(x), self.sign, keepdim=keepdim)

    def dist0(self, x, *, keepdim=False):
        return smath.dist0(x, self._k(x), self.sign, keepdim=keepdim)

    def inner(self, x, u, v=None, *, keepdim=False):
        return smath.inner(x, u, u if v is None else v, self._k(x), keepdim=keepdim)

    def transp(self, x, y, v):
        return smath.transp(x, y, v, self._k(x), self.sign)

    def transp0(self, y, v):
        return smath.transp0(y, v, self._k(y))

    def transp0back(self, x, v):
        return smath.transp0back(x, v, self._k(x))

    def egrad2rgrad(self, x, u):
        return smath.egrad2rgrad(x, u, self._k(x))

    def mobius_add(self, x, y):
        r""":math:`x \oplus_\kappa y`, projected."""
        return smath.project(smath.mobius_add(x, y, self._k(x)), self._k(x), self.sign)

    def mobius_matvec(self, m, x):
        """Shapes: m (d_out, d_in), x (..., d_in) -> (..., d_out)"""
        return smath.mobius_matvec(m, x, self._k(x), self.sign)

    def mobius_scalar_mul(self, r, x):
        return smath.mobius_scalar_mul(r, x, self._k(x), self.sign)

    def centroid_parts(self, x):
        return smath.midpoint_parts(x, self._k(x))

    def centroid_finish(self, num, den):
        return smath.midpoint_finish(num, den, self._k(num), self.sign)


class PoincareBall(_Stereographic):
    r"""Poincare ball :math:`\{x : c\|x\|^2 < 1\}` of curvature :math:`-c`.

    Args:
        c: curvature magnitude (> 0).
        learnable: learn ``c`` (kept > 0 by a softplus with floor 1e-8).

    Points are kept at least a fraction 1e-5 (float32) / 1e-10 (float64) of the radius inside the boundary.
    Shapes: points and tangent vectors (..., d).
    """

    name = "PoincareBall"
    sign = -1
    _param = "c"

    def __init__(self, c: float = 1.0, learnable: bool = False):
        super().__init__(c, learnable)

    @property
    def c(self) -> torch.Tensor:
        return self.curv()


class Sphere(_Stereographic):
    r"""Sphere of curvature :math:`k > 0` in stereographic coordinates (the origin is the north pole, the antipode
    lies at infinity; points are kept within radius :math:`10^3/\sqrt k` in float32).

    Args:
        k: curvature (> 0).
        learnable: learn ``k`` (kept > 0 by a softplus with floor 1e-8).

    Shapes: points and tangent vectors (..., d).
    """

    name = "Sphere"
    sign = 1
    _param = "k"

    def __init__(self, k: float = 1.0, learnable: bool = False):
        super().__init__(k, learnable)

    @property
    def k(self) -> torch.Tensor:
        return self.curv()
