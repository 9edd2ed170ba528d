r"""The Lorentz (hyperboloid) model of hyperbolic space: geoopt's ``Lorentz`` with the float32-safe math of
:mod:`geometries.math.lorentz` and a curvature kept in its sign range."""

from __future__ import annotations

import geoopt
import torch
from geoopt.utils import size2shape

from .base import Manifold
from .curvature import Curvature
from .math import lorentz as lmath


class Lorentz(Manifold, geoopt.Lorentz):
    r"""Hyperboloid :math:`\{x\in\mathbb R^{d+1} : -x_0^2 + \|x_{1:}\|^2 = -k,\ x_0>0\}`, curvature :math:`-1/k`
    (geoopt's convention: ``k`` is the squared radius).

    Args:
        k: squared radius (> 0), a number or one per row (a tensor).
        learnable: learn ``k`` (kept > 0 by a softplus with floor 1e-8).

    Points whose time coordinate is negative (lower sheet) or NaN give NaN in every function (see
    :mod:`geometries.math.lorentz`). Shapes: points and tangent vectors (..., d + 1); ``to_tangent0``/``from_tangent0``
    use the d intrinsic coordinates.
    """

    name = "Lorentz"

    def __init__(self, k: float = 1.0, learnable: bool = False):
        Manifold.__init__(self)
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

    def _call(self, fn, dim, *tensors, reduce=False, keepdim=False, **kwargs):
        """Move ``dim`` last, call ``fn(*tensors, k, **kwargs)``, move back."""
        ref = tensors[0]
        k = self._k(ref)
        moved = self._to_last(dim, *tensors)
        if reduce:
            out = fn(*moved, k, keepdim=keepdim, **kwargs)
            return self._from_last(dim, ref, out) if keepdim else out
        return self._from_last(dim, ref, fn(*moved, k, **kwargs))

    def point_dim(self, tangent_dim: int) -> int:
        return tangent_dim + 1

    def tangent_dim(self, point_dim: int) -> int:
        if point_dim < 2:
            raise ValueError(f"Lorentz points need at least 2 coordinates (time + space), got {point_dim}")
        return point_dim - 1

    # --- geoopt's checks ---------------------------------------------------------------------------------------------
    def _check_point_on_manifold(self, x, *, atol=1e-5, rtol=1e-5, dim=-1):
        x = self._to_last(dim, x)[0]
        quad = lmath.inner(x, x, keepdim=True)
        ok = bool(torch.allclose(quad, -self._k(x).expand_as(quad), atol=atol, rtol=rtol)) and bool((x[..., :1] > 0).all())
        return ok, None if ok else f"'x' is not on the upper sheet <x, x>_L = -k = {-self.k.detach().tolist()}"

    def _check_vector_on_tangent(self, x, u, *, atol=1e-5, rtol=1e-5, dim=-1):
        x, u = self._to_last(dim, x, u)
        ip = lmath.inner(u, x, keepdim=True)
        ok = bool(torch.allclose(ip, torch.zeros_like(ip), atol=atol, rtol=rtol))
        return ok, None if ok else "Minkowski inner product of 'u' and 'x' is not zero"

    # --- projections, metric -----------------------------------------------------------------------------------------
    def projx(self, x, *, dim=-1):
        return self._call(lmath.project, dim, x)

    def proj(self, x, *, dim=-1):
        """Same as :meth:`projx` (graphrep's name)."""
        return self.projx(x, dim=dim)

    def proju(self, x, v, *, dim=-1):
        return self._call(lmath.proju, dim, x, v)

    def inner(self, x, u, v=None, *, keepdim=False, dim=-1):
        r"""Metric of tangent vectors at ``x`` (:func:`geometries.math.lorentz.tangent_inner`, reads their space
        coordinates; equal to geoopt's Minkowski product :math:`\langle u, v\rangle_L` for vectors tangent at ``x``,
        without its float32 cancellation). With ``x=None``, the Minkowski product itself, as geoopt."""
        v = u if v is None else v
        if x is None:
            u, v = self._to_last(dim, u, v)
            out = lmath.inner(u, v, keepdim=keepdim)
            return self._from_last(dim, u, out) if keepdim and dim != -1 else out
        return self._call(lambda a, b, c, k, keepdim: lmath.tangent_inner(a, b, c, k, keepdim=keepdim), dim, x, u, v,
                          reduce=True, keepdim=keepdim)

    def inner0(self, v=None, *, keepdim=False, dim=-1):
        r"""Minkowski product with the origin, :math:`-\sqrt k\,v_0`. Shapes: (..., d+1) -> (...) or (..., 1)"""
        v = self._to_last(dim, v)[0]
        out = -v[..., :1] * self._k(v).sqrt()
        return out if keepdim else out.squeeze(-1)

    def norm(self, u, *, keepdim=False, dim=-1):
        r"""geoopt's Minkowski norm :math:`\sqrt{\max(\langle u, u\rangle_L, 10^{-8})}` (no base point)."""
        u = self._to_last(dim, u)[0]
        return lmath.inner(u, u, keepdim=keepdim).clamp_min(1e-8).sqrt()

    def dist(self, x, y, *, keepdim=False, dim=-1):
        return self._call(lmath.dist, dim, x, y, reduce=True, keepdim=keepdim)

    def dist0(self, x, *, keepdim=False, dim=-1):
        return self._call(lmath.dist0, dim, x, reduce=True, keepdim=keepdim)

    def egrad2rgrad(self, x, u, *, dim=-1):
        return self._call(lmath.egrad2rgrad, dim, x, u)

    # --- maps --------------------------------------------------------------------------------------------------------
    def expmap(self, x, u, *, norm_tan=True, project=True, dim=-1):
        if norm_tan:
            u = self.proju(x, u, dim=dim)
        return self._call(lmath.expmap, dim, x, u, projected=project)

    def retr(self, x, u, *, dim=-1):
        return self.expmap(x, u, dim=dim)

    def expmap0(self, u, *, project=True, dim=-1):
        return self._call(lmath.expmap0, dim, u)

    def logmap(self, x, y, *, dim=-1):
        return self._call(lmath.logmap, dim, x, y)

    def logmap0(self, y, *, dim=-1):
        return self._call(lmath.logmap0, dim, y)

    def logmap0back(self, x, *, dim=-1):
        r""":math:`\log_x(0)`, the tangent vector at ``x`` pointing to the origin."""
        return self._call(lambda a, k: lmath.logmap(a, lmath.origin_like(a, k), k), dim, x)

    def transp(self, x, y, v, *, dim=-1):
        return self._call(lmath.transp, dim, x, y, v)

    def transp0(self, y, u, *, dim=-1):
        return self._call(lmath.transp0, dim, y, u)

    def transp0back(self, x, u, *, dim=-1):
        return self._call(lmath.transp0back, dim, x, u)

    def geodesic_unit(self, t, x, u, *, dim=-1, project=True):
        """Point at distance ``t`` from ``x`` along the unit tangent vector ``u``."""
        out = self._call(lambda a, b, k: lmath.geodesic_unit(t, a, b, k), dim, x, u)
        return self.projx(out, dim=dim) if project else out

    # --- sampling ----------------------------------------------------------------------------------------------------
    def random_normal(self, *size, mean=0, std=1, dtype=None, device=None) -> geoopt.ManifoldTensor:
        r"""geoopt's sampler: :math:`\exp_0` of a normal vector scaled to unit length, as a ``ManifoldTensor``.
        (:meth:`random` is graphrep's sampler: :math:`\exp_0` of :math:`\mathcal N(0, \text{std}^2)` coordinates.)"""
        size = size2shape(*size)
        self._assert_check_shape(size, "x")
        dtype = dtype or (self.curv.raw.dtype if self.curv.learnable else torch.get_default_dtype())
        v = torch.randn(size, dtype=dtype, device=device) * std + mean
        v = v / v.norm(dim=-1, keepdim=True)
        return geoopt.ManifoldTensor(self.expmap0(v), manifold=self)

    # --- graphrep's extras -------------------------------------------------------------------------------------------
    def to_tangent0(self, x):
        return self.logmap0(x)[..., 1:]

    def coords_to_tangent0(self, v):
        return torch.cat((torch.zeros_like(v[..., :1]), v), dim=-1)

    def from_tangent0(self, v):
        return self.expmap0(self.coords_to_tangent0(v))

    def poincare_ball(self):
        """The :class:`~geometries.PoincareBall` isometric to this model (same sectional curvature)."""
        from .stereographic import PoincareBall

        return PoincareBall(-self.curvature.detach())

    def to_poincare(self, x):
        """Isometric image in :meth:`poincare_ball` (curvature -1/k). Shapes: (..., d+1) -> (..., d)"""
        return lmath.to_poincare(x, self._k(x))

    def from_poincare(self, y):
        """Inverse of :meth:`to_poincare`: points of :meth:`poincare_ball` to the hyperboloid.
        Shapes: (..., d) -> (..., d+1)"""
        return lmath.from_poincare(y, self._k(y))

    def centroid_parts(self, x):
        return x, torch.ones_like(x[..., :1])

    def centroid_finish(self, num, den):
        return lmath.centroid_finish(num, self._k(num))

    def extra_repr(self) -> str:
        return ""
