r"""Math of the Lorentz (hyperboloid) model :math:`\{x : \langle x, x\rangle_L = -k,\ x_0 > 0\}`, sectional
curvature :math:`-1/k` (geoopt's convention for ``k``).

Built on :mod:`geoopt.manifolds.lorentz.math` (Minkowski inner product). geoopt's versions overflow ``cosh`` in
float32, compute distances as :math:`\operatorname{arcosh}(-\langle x,y\rangle_L/k)` (cancellation: ``dist(x, x)``
is far from 0 away from the origin; the Minkowski norm of ``x - y`` cancels the same way and, in float32 a few
units from the origin, collapsed a whole embedding to one point), divide by ``dist ** 2`` in parallel transport
(NaN at ``x = y``) and negate the gradient in place in ``egrad2rgrad``. Here: distances through the isometry to the
Poincare ball, exp/log maps with :math:`\sinh\theta/\theta` written stably, the closed-form transport, and a cap
:math:`\theta_{\max}` on the distance from the origin (12 curvature radii in float32).

.. math::
    d(x, y) = 2\sqrt k\,\operatorname{arsinh}\frac{\|x_{1:}(\sqrt k + y_0) - y_{1:}(\sqrt k + x_0)\|}
    {2\sqrt k\sqrt{(\sqrt k + x_0)(\sqrt k + y_0)}},\qquad
    P_{x\to y}(v) = v + \frac{\langle y, v\rangle_L}{k - \langle x, y\rangle_L}(x + y).

**Points off the manifold.** One rule everywhere (:func:`read_point`): a point is read through its space coordinates
:math:`x_{1:}`, its time coordinate recomputed as :math:`\sqrt{k + \|x_{1:}\|^2}` (a learnable ``k`` moves stored
points off the hyperboloid), except that a point whose time coordinate is negative (the lower sheet, :math:`x_0 \le
-\sqrt k`) or NaN is not a point of the manifold: every function returns NaN for it, never a silent value such as the
origin's distance 0. Only the explicit projection :func:`project` (geoopt's ``projx``, used to turn arbitrary
coordinates into points) maps every finite input onto the upper sheet.

``k`` is a tensor broadcastable to ``(..., 1)`` in the points' dtype. Points and tangent vectors are ``(..., d+1)``.
"""

from __future__ import annotations

import torch
from geoopt.manifolds.lorentz import math as gmath

from .functional import dot, lorentz_max_theta, norm, safe_sqrt, sq_norm


def inner(u: torch.Tensor, v: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
    r"""Minkowski product :math:`-u_0v_0 + \sum_{i\ge1}u_iv_i`. Shapes: (..., d+1), (..., d+1) -> (...) or (..., 1)"""
    return gmath.inner(u, v, keepdim=keepdim, dim=-1)


def tangent_inner(x: torch.Tensor, u: torch.Tensor, v: torch.Tensor, k: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
    r"""Metric on the tangent space at ``x`` from the space coordinates only (the time coordinates of tangent vectors
    are implied, :math:`u_0 = \langle x_{1:}, u_{1:}\rangle / x_0`), written without cancellation:

    .. math:: \langle u, v\rangle_x = \langle P^\perp u_{1:}, P^\perp v_{1:}\rangle
        + \langle \hat x, u_{1:}\rangle\langle \hat x, v_{1:}\rangle\,k / x_0^2,

    with :math:`\hat x = x_{1:}/\|x_{1:}\|` and :math:`P^\perp` the projection orthogonal to it. The Minkowski form
    :math:`-u_0v_0 + \langle u_{1:}, v_{1:}\rangle` cancels to noise (even negative squared norms, hence NaN in
    Riemannian Adam's second moment) at points a few units from the origin in float32.
    """
    xr, ur, vr = x[..., 1:], u[..., 1:], v[..., 1:]
    xhat = xr / norm(xr)
    cu, cv = dot(xhat, ur), dot(xhat, vr)
    x0_sq = k + sq_norm(xr)
    out = nan_where_invalid(x, dot(ur - cu * xhat, vr - cv * xhat) + cu * cv * k / x0_sq)
    return out if keepdim else out.squeeze(-1)


def _sinhc(theta: torch.Tensor) -> torch.Tensor:
    r""":math:`\sinh(\theta)/\theta`, equal to 1 at 0."""
    t = theta.clamp_min(1e-15)
    return torch.sinh(t) / t


def invalid(x: torch.Tensor) -> torch.Tensor:
    r"""Points that are not on the upper sheet: time coordinate negative or NaN. Shapes: (..., d+1) -> (..., 1)"""
    return ~(x[..., :1] >= 0)


def nan_where_invalid(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out`` with NaN where the point ``x`` is :func:`invalid` (``out`` is (..., 1) or (..., m))."""
    bad = invalid(x)
    if out.dim() < bad.dim():  # reduced without keepdim
        bad = bad.squeeze(-1)
    return torch.where(bad, torch.full_like(out, float("nan")), out)


def project(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""The explicit projection (geoopt's ``projx``): keep the space part, cap its norm at
    :math:`\sqrt k\sinh\theta_{\max}` and set :math:`x_0 = \sqrt{k + \|x_{1:}\|^2}` -- also for arbitrary coordinates
    such as ``randn`` samples or lower-sheet points; NaN in any coordinate gives NaN. Shapes: (..., d+1) -> (..., d+1)"""
    out = _project(x, k)
    return torch.where(torch.isnan(x[..., :1]), torch.full_like(out, float("nan")), out)


def read_point(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """How every function other than :func:`project` reads a point: projected, NaN if it is :func:`invalid`."""
    return nan_where_invalid(x, _project(x, k))


def _project(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    rest = x[..., 1:]
    max_norm = k.sqrt() * torch.sinh(torch.as_tensor(lorentz_max_theta(x.dtype), dtype=x.dtype, device=x.device))
    n = norm(rest)
    rest = torch.where(n > max_norm, rest / n * max_norm, rest)
    return torch.cat((safe_sqrt(k + sq_norm(rest)), rest), dim=-1)


def proju(x: torch.Tensor, v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Tangent projection :math:`v + \langle x, v\rangle_L\,x / k`."""
    return v + inner(x, v, keepdim=True) * x / k


def origin_like(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    o = torch.zeros_like(x)
    return torch.cat((k.sqrt().expand_as(o[..., :1]), o[..., 1:]), dim=-1)


def expmap0(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r""":math:`\exp_0(u) = (\sqrt k\cosh\theta,\ \sqrt k\sinh\theta\,u_{1:}/\|u_{1:}\|)`, :math:`\theta=\|u_{1:}\|/\sqrt k`
    (the time component of ``u`` is ignored: tangent vectors at the origin have :math:`u_0 = 0`)."""
    rest = u[..., 1:]
    sk = k.sqrt()
    # clamped norm: sinh(theta) sqrt(k) / n -> 1 at u = 0, so the Jacobian there is the identity
    n = norm(rest)
    theta = (n / sk).clamp_max(lorentz_max_theta(u.dtype))
    rest = torch.sinh(theta) * sk / n * rest
    return torch.cat((safe_sqrt(k + sq_norm(rest)), rest), dim=-1)


def logmap0(y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r""":math:`\log_0(y) = (0,\ \sqrt k\operatorname{arsinh}(\|y_{1:}\|/\sqrt k)\,y_{1:}/\|y_{1:}\|)` (exact on the
    hyperboloid, no arcosh near 1)."""
    rest = y[..., 1:]
    sk = k.sqrt()
    n = norm(rest)
    rest = sk * torch.asinh(n / sk) * rest / n
    return nan_where_invalid(y, torch.cat((torch.zeros_like(y[..., :1]), rest), dim=-1))


def dist(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
    r"""Geodesic distance through the isometry to the Poincare ball (see module docstring); depends on the space
    coordinates only (:math:`x_0` is recomputed), so stale points under a learnable ``k`` are handled.
    Shapes: (..., d+1), (..., d+1) -> (...) or (..., 1)"""
    sk = k.sqrt()
    xr, yr = x[..., 1:], y[..., 1:]
    ax = sk + safe_sqrt(k + sq_norm(xr))  # sqrt(k) + x0
    ay = sk + safe_sqrt(k + sq_norm(yr))
    num = torch.linalg.vector_norm(xr * ay - yr * ax, dim=-1, keepdim=True)
    out = 2.0 * sk * torch.asinh(num / (2.0 * sk * (ax * ay).sqrt()))
    out = nan_where_invalid(x, nan_where_invalid(y, out))
    return out if keepdim else out.squeeze(-1)


def dist0(x: torch.Tensor, k: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
    r""":math:`d(o, x) = \sqrt k\operatorname{arsinh}(\|x_{1:}\|/\sqrt k)`."""
    sk = k.sqrt()
    out = sk * torch.asinh(torch.linalg.vector_norm(x[..., 1:], dim=-1, keepdim=True) / sk)
    out = nan_where_invalid(x, out)
    return out if keepdim else out.squeeze(-1)


def expmap(x: torch.Tensor, u: torch.Tensor, k: torch.Tensor, projected: bool = True) -> torch.Tensor:
    r""":math:`\exp_x(u) = \cosh\theta\,x + \frac{\sinh\theta}{\theta}u`, :math:`\theta = \|u\|_L/\sqrt k`
    (projected unless ``projected=False``)."""
    x = read_point(x, k)
    theta = safe_sqrt(tangent_inner(x, u, u, k, keepdim=True)) / k.sqrt()
    theta_c = theta.clamp_max(lorentz_max_theta(u.dtype))
    out = torch.cosh(theta_c) * x + _sinhc(theta_c) * (theta_c / theta.clamp_min(1e-15)) * u
    return project(out, k) if projected else out


def geodesic_unit(t: torch.Tensor, x: torch.Tensor, u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Unit-speed geodesic :math:`\cosh(t/\sqrt k)\,x + \sqrt k\sinh(t/\sqrt k)\,u` (``u`` a unit tangent vector at
    ``x``), not projected. Shapes: t broadcastable, (..., d+1), (..., d+1) -> (..., d+1)"""
    sk = k.sqrt()
    return torch.cosh(t / sk) * x + sk * torch.sinh(t / sk) * u


def logmap(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r""":math:`\log_x(y) = \frac{\theta}{\sinh\theta}\big(y + \langle x, y\rangle_L\,x/k\big)`, :math:`\theta = d(x,y)/\sqrt k`."""
    x, y = read_point(x, k), read_point(y, k)
    theta = dist(x, y, k, keepdim=True) / k.sqrt()
    return (y + inner(x, y, keepdim=True) * x / k) / _sinhc(theta)


def transp(x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Parallel transport along the geodesic, :math:`v + \frac{\langle y - x, v\rangle_L}{k - \langle x,y\rangle_L}(x+y)`,
    with :math:`k - \langle x, y\rangle_L = 2k(1 + \sinh^2(d/2\sqrt k))` and :math:`y_0 - x_0 = \langle y_{1:}-x_{1:},
    y_{1:}+x_{1:}\rangle/(x_0+y_0)` (no products of huge coordinates cancelling); ``v`` is read through its space
    coordinates and the result's time coordinate is set so that it is tangent at ``y``.

    Float32 inputs are transported in float64: tangent vectors at points far from the origin have coordinates
    ~x0 times their length, and the remaining cancellation, repeated every step on Riemannian Adam's momentum,
    grew it to 1e33 within a hundred steps in float32."""
    if v.dtype != torch.float64:
        return _transp(x.double(), y.double(), v.double(), k.double()).to(v.dtype)
    return _transp(x, y, v, k)


def _transp(x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    x, y = read_point(x, k), read_point(y, k)
    sk = k.sqrt()
    xr, yr, vr = x[..., 1:], y[..., 1:], v[..., 1:]
    x0, y0 = x[..., :1], y[..., :1]
    delta = yr - xr
    dy0 = dot(delta, yr + xr) / (x0 + y0)
    yv = dot(delta, vr) - dy0 * dot(xr, vr) / x0  # <y - x, v>_L, v tangent at x
    ax, ay = sk + x0, sk + y0
    s_sq = sq_norm(xr * ay - yr * ax) / (4.0 * k * ax * ay)  # sinh^2(d / 2 sqrt(k))
    out_r = vr + yv / (2.0 * k * (1.0 + s_sq)) * (xr + yr)
    return torch.cat((dot(yr, out_r) / y0, out_r), dim=-1)


def transp0(y: torch.Tensor, v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return transp(origin_like(y, k), y, v, k)


def transp0back(x: torch.Tensor, v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return transp(x, origin_like(x, k), v, k)


def egrad2rgrad(x: torch.Tensor, grad: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Riemannian gradient: flip the time component (inverse metric), then project to the tangent space.
    Does not modify ``grad`` in place."""
    g = torch.cat((-grad[..., :1], grad[..., 1:]), dim=-1)
    return proju(x, g, k)


def centroid_finish(s: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Lorentzian centroid (Law et al., 2019) of weighted sums :math:`s = \sum_i w_i x_i`:
    :math:`\sqrt k\, s / \sqrt{|\langle s, s\rangle_L|}`, projected."""
    # an empty sum (s = 0) gives 0 here, which the projection turns into the origin; a sum is never a lower-sheet
    # point, so the time coordinate is simply recomputed
    return _project(k.sqrt() * s / inner(s, s, keepdim=True).abs().clamp_min(1e-15).sqrt(), k)


def to_poincare(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Isometry to the Poincare ball of curvature :math:`-1/k` (radius :math:`\sqrt k`):
    :math:`\sqrt k\,x_{1:}/(x_0+\sqrt k)` of the projected point. Shapes: (..., d+1) -> (..., d)"""
    x = read_point(x, k)
    sk = k.sqrt()
    return sk * x[..., 1:] / (x[..., :1] + sk)


def from_poincare(y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Inverse of :func:`to_poincare`: :math:`x_{1:} = 2k\,y/(k - \|y\|^2)`, :math:`x_0` recomputed.
    Shapes: (..., d) -> (..., d+1)"""
    rest = 2.0 * k * y / (k - sq_norm(y)).clamp_min(1e-30)
    return _project(torch.cat((torch.zeros_like(y[..., :1]), rest), dim=-1), k)
