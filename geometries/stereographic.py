r"""Stereographic models of constant curvature: :class:`PoincareBall` (:math:`\kappa=-c<0`), :class:`Sphere`
(:math:`\kappa=k>0`, the sphere of radius :math:`1/\sqrt k` projected from its south pole onto :math:`\mathbb R^d`) and
the general :class:`Stereographic` (any :math:`\kappa`, one per row allowed, zero included).

They subclass geoopt's ``PoincareBall`` / ``SphereProjection`` / ``Stereographic``: every geoopt method and keyword
(``dim=``, ``project=``, ``keepdim=``) exists with geoopt's meaning, computed by :mod:`geometries.math.stereographic`
(float32-safe formulas; points off the manifold are read through ``proj``, see that module). The curvature is cast to
each input's dtype and device.
"""

from __future__ import annotations

from typing import List, Optional

import geoopt
import torch
from geoopt.utils import broadcast_shapes, size2shape

from .base import Manifold
from .curvature import Curvature
from .math import stereographic as smath


class Stereographic(Manifold, geoopt.Stereographic):
    r""":math:`\kappa`-stereographic model of sectional curvature ``k`` (any sign, zero allowed), as geoopt's.

    Args:
        k: sectional curvature, a number or a tensor broadcastable against the points (e.g. one per row, ``(B, 1)``).
        learnable: learn ``k`` (a plain parameter, as in geoopt: it may cross zero; use :class:`PoincareBall` or
            :class:`Sphere` for a learnable curvature kept in its sign range).

    Shapes: points and tangent vectors (..., d) (or along ``dim``).
    """

    gyrovector = True

    def __init__(self, k=0.0, learnable: bool = False):
        Manifold.__init__(self)
        k = torch.as_tensor(k)
        if not torch.is_floating_point(k):
            k = k.to(torch.get_default_dtype())
        if not bool(torch.isfinite(k).all()):
            raise ValueError(f"curvature k must be finite, got {k.tolist()}")
        self.k = torch.nn.Parameter(k, requires_grad=learnable)

    # --- curvature ---------------------------------------------------------------------------------------------------
    @property
    def curvature(self) -> torch.Tensor:
        r"""Signed sectional curvature :math:`\kappa`."""
        return self.k

    @property
    def radius(self) -> torch.Tensor:
        r""":math:`1/\sqrt{|\kappa|}` (inf where :math:`\kappa = 0`)."""
        return self.curvature.abs().sqrt().reciprocal()

    def _k(self, x: torch.Tensor) -> torch.Tensor:
        """Signed curvature in ``x``'s dtype and device."""
        return self.k.to(dtype=x.dtype, device=x.device)

    def _sign(self, k: torch.Tensor) -> Optional[int]:
        """-1 / +1 when every entry has that sign (static branch), else None (per-entry branches)."""
        if bool((k < 0).all()):
            return -1
        if bool((k > 0).all()):
            return 1
        return None

    def _default_dtype(self) -> torch.dtype:
        return self.k.dtype

    # --- the common pattern: move ``dim`` last, call the math, project, move back ------------------------------------
    def _run(self, fn, dim, *tensors, project=False, reduce=False, keepdim=False, **kwargs):
        ref = tensors[0]
        k = self._k(ref)
        sign = self._sign(k)
        if k.dim() > 0:
            moved = self._to_last(dim, *tensors, k)
            tensors, k = moved[:-1], moved[-1]
        else:
            tensors = self._to_last(dim, *tensors)
        if reduce:
            out = fn(*tensors, k, sign, keepdim=keepdim, **kwargs)
            return self._from_last(dim, ref, out) if keepdim else out
        out = fn(*tensors, k, sign, **kwargs)
        if project:
            out = smath.project(out, k, sign)
        return self._from_last(dim, ref, out)

    # --- geoopt's checks ---------------------------------------------------------------------------------------------
    def _check_point_on_manifold(self, x, *, atol=1e-5, rtol=1e-5, dim=-1):
        ok = bool(torch.allclose(self.projx(x, dim=dim), x, atol=atol, rtol=rtol))
        return ok, None if ok else f"'x' norm lies outside the largest safe radius of {self.name} (proj changes it)"

    def _check_vector_on_tangent(self, x, u, *, atol=1e-5, rtol=1e-5, dim=-1):
        return True, None

    # --- projections, metric -----------------------------------------------------------------------------------------
    def projx(self, x, *, dim=-1):
        return self._run(smath.project, dim, x)

    def proj(self, x, *, dim=-1):
        """Same as :meth:`projx` (graphrep's name)."""
        return self.projx(x, dim=dim)

    def proju(self, x, u, *, dim=-1):
        return u.expand(broadcast_shapes(x.shape, u.shape))

    def lambda_x(self, x, *, dim=-1, keepdim=False):
        r"""Conformal factor :math:`\lambda_x = 2/(1+\kappa\|x\|^2)`. Shapes: (..., d) -> (...) or (..., 1)"""
        out = self._run(smath.lambda_x, dim, x)
        return out if keepdim else out.squeeze(dim)

    def inner(self, x, u, v=None, *, keepdim=False, dim=-1):
        if x is None:
            x = torch.zeros_like(u)
        return self._run(smath.inner, dim, x, u, u if v is None else v, reduce=True, keepdim=keepdim)

    def norm(self, x, u, *, keepdim=False, dim=-1):
        return self._run(smath.norm_at, dim, x, u, reduce=True, keepdim=keepdim)

    def dist(self, x, y, *, keepdim=False, dim=-1):
        return self._run(smath.dist, dim, x, y, reduce=True, keepdim=keepdim)

    def dist2(self, x, y, *, keepdim=False, dim=-1):
        return self.dist(x, y, keepdim=keepdim, dim=dim).pow(2)

    def dist0(self, x, *, keepdim=False, dim=-1):
        return self._run(smath.dist0, dim, x, reduce=True, keepdim=keepdim)

    def egrad2rgrad(self, x, u, *, dim=-1):
        return self._run(smath.egrad2rgrad, dim, x, u)

    # --- maps --------------------------------------------------------------------------------------------------------
    def expmap(self, x, u, *, project=True, dim=-1):
        return self._run(smath.expmap, dim, x, u, project=project)

    def retr(self, x, u, *, dim=-1):
        """The exact exponential map (geoopt's ``*Exact`` classes' retraction; plain geoopt uses ``proj(x + u)``)."""
        return self.expmap(x, u, dim=dim)

    def logmap(self, x, y, *, dim=-1):
        return self._run(smath.logmap, dim, x, y)

    def expmap0(self, u, *, project=True, dim=-1):
        return self._run(smath.expmap0, dim, u, project=project)

    def logmap0(self, x, *, dim=-1):
        return self._run(smath.logmap0, dim, x)

    def transp(self, x, y, v, *, dim=-1):
        return self._run(smath.transp, dim, x, y, v)

    def transp0(self, y, u, *, dim=-1):
        return self._run(smath.transp0, dim, y, u)

    def transp0back(self, x, u, *, dim=-1):
        return self._run(smath.transp0back, dim, x, u)

    def geodesic(self, t, x, y, *, dim=-1):
        r"""Point at parameter ``t`` on the geodesic with :math:`\gamma(0) = x`, :math:`\gamma(1) = y`."""
        return self._run(lambda a, b, k, s: smath.geodesic(t, a, b, k, s), dim, x, y)

    def geodesic_unit(self, t, x, u, *, dim=-1, project=True):
        """Point at distance ``t`` from ``x`` along the direction ``u``."""
        return self._run(lambda a, b, k, s: smath.geodesic_unit(t, a, b, k, s), dim, x, u, project=project)

    # --- gyrovector algebra ------------------------------------------------------------------------------------------
    def mobius_add(self, x, y, *, dim=-1, project=True):
        r""":math:`x \oplus_\kappa y`, projected unless ``project=False``."""
        return self._run(smath.mobius_add, dim, x, y, project=project)

    def mobius_sub(self, x, y, *, dim=-1, project=True):
        return self._run(smath.mobius_sub, dim, x, y, project=project)

    def mobius_coadd(self, x, y, *, dim=-1, project=True):
        return self._run(smath.mobius_coadd, dim, x, y, project=project)

    def mobius_cosub(self, x, y, *, dim=-1, project=True):
        return self._run(smath.mobius_cosub, dim, x, y, project=project)

    def mobius_scalar_mul(self, r, x, *, dim=-1, project=True):
        return self._run(lambda a, k, s: smath.mobius_scalar_mul(r, a, k, s, projected=False), dim, x, project=project)

    def mobius_pointwise_mul(self, w, x, *, dim=-1, project=True):
        return self._run(lambda a, b, k, s: smath.mobius_pointwise_mul(b, a, k, s), dim, x, w, project=project)

    def mobius_matvec(self, m, x, *, dim=-1, project=True):
        """Shapes: m (d_out, d_in) or (..., d_out, d_in), x (..., d_in) -> (..., d_out)"""
        if m.dim() > 2 and dim not in (-1, x.dim() - 1):
            raise ValueError("a batched Mobius matvec works on the last dimension only (dim=-1)")
        return self._run(lambda a, k, s: smath.mobius_matvec(m, a, k, s), dim, x, project=project)

    def gyration(self, x, y, z, *, dim=-1):
        return self._run(smath.gyration, dim, x, y, z)

    def antipode(self, x, *, dim=-1):
        return self._run(smath.antipode, dim, x)

    def dist2plane(self, x, p, a, *, dim=-1, keepdim=False, signed=False, scaled=False):
        return self._run(smath.dist2plane, dim, x, p, a, reduce=True, keepdim=keepdim, signed=signed, scaled=scaled)

    def mobius_fn_apply(self, fn, x, *args, dim=-1, project=True, **kwargs):
        r""":math:`\exp_0(f(\log_0 x))`."""
        return self.expmap0(fn(self.logmap0(x, dim=dim), *args, **kwargs), dim=dim, project=project)

    def mobius_fn_apply_chain(self, x, *fns, project=True, dim=-1):
        r""":math:`\exp_0(f_n(\dots f_1(\log_0 x)))` (``x`` itself when no function is given)."""
        if not fns:
            return x
        v = self.logmap0(x, dim=dim)
        for fn in fns:
            v = fn(v)
        return self.expmap0(v, dim=dim, project=project)

    def weighted_midpoint(
        self,
        xs: torch.Tensor,
        weights: Optional[torch.Tensor] = None,
        *,
        reducedim: Optional[List[int]] = None,
        dim: int = -1,
        keepdim: bool = False,
        lincomb: bool = False,
        posweight: bool = False,
        project: bool = True,
    ) -> torch.Tensor:
        """geoopt's weighted midpoint (:func:`geometries.math.stereographic.weighted_midpoint`)."""
        n = xs.dim()
        d = dim % n
        if reducedim is None:
            reducedim = [i for i in range(n) if i != d]
        # axis numbers after moving the point dimension last
        red = [(r % n) - ((r % n) > d) for r in reducedim]
        x_last = self._to_last(dim, xs)[0]
        w = weights
        k = self._k(xs)
        if k.dim() > 0:
            k = self._to_last(dim, xs, k)[1]
        sign = self._sign(k)
        out = smath.weighted_midpoint(x_last, k, sign, w, red, keepdim=True, lincomb=lincomb, posweight=posweight)
        if project:
            out = smath.project(out, k, sign)
        if not keepdim:
            for r in sorted(red, reverse=True):
                out = out.squeeze(r)
            return out if d == n - 1 else out.movedim(-1, d - sum(1 for r in red if r < d))
        return self._from_last(dim, xs, out)

    def sproj(self, x, *, dim=-1):
        """Stereographic projection from the hyperboloid / sphere in R^(d+1). Shapes: (..., d+1) -> (..., d)"""
        return self._run(lambda a, k, s: smath.sproj(a, k), dim, x)

    def inv_sproj(self, x, *, dim=-1):
        """Inverse of :meth:`sproj`. Shapes: (..., d) -> (..., d+1)"""
        return self._run(lambda a, k, s: smath.inv_sproj(a, k), dim, x)

    # --- sampling ----------------------------------------------------------------------------------------------------
    def random_normal(self, *size, mean=0, std=1, dtype=None, device=None) -> geoopt.ManifoldTensor:
        r"""geoopt's sampler: :math:`\exp_0(v)`, :math:`v \sim \mathcal N(\text{mean}, \text{std}^2/d)`, as a
        ``ManifoldTensor``. (:meth:`random` is graphrep's sampler, without the :math:`1/\sqrt d`.)"""
        size = size2shape(*size)
        self._assert_check_shape(size, "x")
        dtype = dtype or self._default_dtype()
        v = torch.randn(size, dtype=dtype, device=device) * std / size[-1] ** 0.5 + mean
        return geoopt.ManifoldTensor(self.expmap0(v), manifold=self)

    def wrapped_normal(self, *size, mean: torch.Tensor, std=1, dtype=None, device=None) -> geoopt.ManifoldTensor:
        r"""geoopt's wrapped normal around ``mean``: :math:`\exp_{\text{mean}}(v/\lambda_{\text{mean}})`,
        :math:`v \sim \mathcal N(0, \text{std}^2)`."""
        size = size2shape(*size)
        self._assert_check_shape(size, "x")
        v = torch.randn(size, dtype=dtype or mean.dtype, device=device or mean.device) * std
        lam = self.lambda_x(mean).unsqueeze(-1)
        return geoopt.ManifoldTensor(self.expmap(mean, v / lam), manifold=self)

    # --- graphrep's extras -------------------------------------------------------------------------------------------
    def centroid_parts(self, x):
        k = self._k(x)
        return smath.midpoint_parts(x, k, self._sign(k))

    def centroid_finish(self, num, den):
        k = self._k(num)
        return smath.midpoint_finish(num, den, k, self._sign(k))

    def extra_repr(self) -> str:
        k = self.curvature.detach()
        return f"k={float(k):.4g}" if k.numel() == 1 else f"k=tensor of shape {tuple(k.shape)}"


class _SignedStereographic(Stereographic):
    """A stereographic model whose curvature has a fixed sign, kept there under learning (:class:`Curvature`)."""

    sign = 0
    _param = "k"

    def __init__(self, value, learnable: bool):
        Manifold.__init__(self)
        self.curv = Curvature(value, learnable, name=self._param)

    @property
    def k(self) -> torch.Tensor:
        """Signed sectional curvature (geoopt's ``k``)."""
        return self.sign * self.curv()

    @property
    def curvature(self) -> torch.Tensor:
        r"""Signed sectional curvature :math:`\kappa`."""
        return self.sign * self.curv()

    def _k(self, x: torch.Tensor) -> torch.Tensor:
        return (self.sign * self.curv(x.dtype)).to(x.device)

    def _sign(self, k: torch.Tensor) -> int:
        return self.sign

    def _default_dtype(self) -> torch.dtype:
        return self.curv.raw.dtype if self.curv.learnable else torch.get_default_dtype()

    def extra_repr(self) -> str:
        return ""


class PoincareBall(_SignedStereographic, geoopt.PoincareBall):
    r"""Poincare ball :math:`\{x : c\|x\|^2 < 1\}` of curvature :math:`-c`.

    Args:
        c: curvature magnitude (> 0), a number or one per row (a tensor).
        learnable: learn ``c`` (kept > 0 by a softplus with floor 1e-8).

    Points are kept at least a fraction 1e-5 (float32) / 1e-10 (float64) of the radius inside the boundary.
    Shapes: points and tangent vectors (..., d).
    """

    sign = -1
    _param = "c"

    def __init__(self, c: float = 1.0, learnable: bool = False):
        super().__init__(c, learnable)

    @property
    def c(self) -> torch.Tensor:
        return self.curv()


class Sphere(_SignedStereographic, geoopt.SphereProjection):
    r"""Sphere of curvature :math:`k > 0` in stereographic coordinates (geoopt's ``SphereProjection``; the origin is
    the north pole, the antipode lies at infinity; points are kept within radius :math:`10^3/\sqrt k` in float32).

    Args:
        k: curvature (> 0), a number or one per row (a tensor).
        learnable: learn ``k`` (kept > 0 by a softplus with floor 1e-8).

    Shapes: points and tangent vectors (..., d).
    """

    sign = 1
    _param = "k"

    def __init__(self, k: float = 1.0, learnable: bool = False):
        super().__init__(k, learnable)



#: geoopt's name for :class:`Sphere`.
SphereProjection = Sphere
