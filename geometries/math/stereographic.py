r"""Math of the :math:`\kappa`-stereographic model (Poincare ball for :math:`\kappa<0`, sphere for :math:`\kappa>0`,
flat for :math:`\kappa=0`).

Every function takes the signed sectional curvature ``k`` (a tensor broadcastable against the points, already in the
points' dtype: a scalar, or one value per row as geoopt allows) and ``sign``, the Python int ``-1`` or ``+1`` when the
sign of every entry of ``k`` is known (:class:`~geometries.PoincareBall`, :class:`~geometries.Sphere`), so that the
branch is chosen statically (no data-dependent ``torch.where`` over both branches, whose unused side can produce NaN
gradients), or ``None`` for curvatures of mixed sign or zero (:class:`~geometries.Stereographic`), where geoopt's
per-entry branches with Taylor expansions at :math:`\kappa = 0` are used. Points and tangent vectors are the last
dimension; all ``(..., 1)`` factors broadcast.

**Points off the manifold.** One rule everywhere: functions of the metric (distances, log maps, exp maps' base point,
transport, the metric, :math:`\lambda_x`, gradient conversion) read each point argument through :func:`project`,
which rescales points beyond the largest safe radius onto it (:math:`(1-\epsilon)/\sqrt c` in the ball, with
:math:`\epsilon` = 1e-5 in float32 and 1e-10 in float64; :math:`10^3/\sqrt k` on the sphere in float32). So
``dist(x, 0) == dist0(x)`` for every ``x``, inside the ball or not. The gyrovector algebra (``mobius_*``,
``gyration``, ``geodesic``) takes its arguments as given; the classes project its results. NaN in gives NaN out.

Formulas differ from geoopt's (built on :mod:`geoopt.manifolds.stereographic.math`) where those cancel in floating
point. With :math:`s = x + y` and :math:`l_x = 1 + \kappa\|x\|^2` (both positive terms in the ball):

.. math::
    x \oplus_\kappa y = \frac{l_x\, s - \kappa\|s\|^2 x}{l_x l_y - \kappa\|s\|^2},\qquad
    d_{-c}(x, y) = \frac{2}{\sqrt c}\operatorname{arsinh}\frac{\sqrt c\,\|x-y\|}{\sqrt{(1-c\|x\|^2)(1-c\|y\|^2)}},
    \qquad
    d_{k}(x, y) = \frac{2}{\sqrt k}\operatorname{atan2}\Big(\sqrt k\,\|x-y\|,\;
    \sqrt{(1+k\langle x,y\rangle)^2 + k^2(\|x\|^2\|y\|^2-\langle x,y\rangle^2)}\Big).

geoopt's expanded Mobius sum :math:`(1-2\kappa\langle x,y\rangle-\kappa\|y\|^2)x + (1+\kappa\|x\|^2)y` cancels to
noise when :math:`x` is near the boundary and :math:`y` points back across the ball (an exp map with a long inward
step then stays near :math:`x` instead of crossing); the form above has no such cancellation, and ``dist(x, x)`` is
exactly 0. The gyration (and so parallel transport) is written in :math:`s = u + v` likewise (see :func:`gyration`).
"""

from __future__ import annotations

from typing import List, Optional

import torch
from geoopt.manifolds.stereographic import math as gmath

from .functional import (
    artanh,
    ball_eps,
    dot,
    norm,
    safe_sqrt,
    sphere_max_radius,
    sq_norm,
    tan_angle,
    tanh,
)


def _sk(k: torch.Tensor) -> torch.Tensor:
    r""":math:`\sqrt{|\kappa|}` with a zero gradient (not an infinite one) at :math:`\kappa = 0`."""
    return k.abs().clamp_min(1e-30).sqrt()


def tan_k(x: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`\tan_\kappa(x)`: :math:`\tanh(\sqrt{|\kappa|}x)/\sqrt{|\kappa|}` for :math:`\kappa<0`,
    :math:`\tan(\sqrt\kappa x)/\sqrt\kappa` for :math:`\kappa>0` (wrapped and clamped, see ``tan_angle``), :math:`x`
    at :math:`\kappa=0`."""
    if sign is None:
        return gmath.tan_k(x, k)
    sk = k.abs().sqrt()
    if sign < 0:
        return tanh(sk * x) / sk
    return tan_angle(sk * x, sphere_max_radius(x.dtype)) / sk


def artan_k(y: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`\tan_\kappa^{-1}(y)`: :math:`\operatorname{artanh}(\sqrt{|\kappa|}y)/\sqrt{|\kappa|}` or
    :math:`\arctan(\sqrt\kappa y)/\sqrt\kappa`."""
    if sign is None:
        return gmath.artan_k(y, k)
    sk = k.abs().sqrt()
    if sign < 0:
        return artanh(sk * y) / sk
    return torch.atan(sk * y) / sk


def arsin_k(y: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`\sin_\kappa^{-1}(y)`: :math:`\operatorname{arsinh}(\sqrt{|\kappa|}y)/\sqrt{|\kappa|}` or
    :math:`\arcsin(\sqrt\kappa y)/\sqrt\kappa` (argument clamped to [-1, 1])."""
    if sign is None:
        return gmath.arsin_k(y, k)
    sk = k.abs().sqrt()
    if sign < 0:
        return torch.asinh(sk * y) / sk
    bound = 1.0 - torch.finfo(y.dtype).eps
    return torch.asin((sk * y).clamp(-bound, bound)) / sk


def max_norm(x: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r"""Largest norm a point may have: :math:`(1-\epsilon)/\sqrt c` in the ball, :math:`R_{\max}/\sqrt k` on the
    sphere, 1e15 where :math:`\kappa = 0`. Shapes: broadcast of ``k`` against (..., 1)"""
    sk = _sk(k)
    ball = (1.0 - ball_eps(x.dtype)) / sk
    sphere = sphere_max_radius(x.dtype) / sk
    if sign is not None:
        return ball if sign < 0 else sphere
    # flat entries get a huge finite limit (as geoopt): an infinite one gives NaN gradients through torch.where
    return torch.where(k < 0, ball, torch.where(k > 0, sphere, torch.full_like(sk, 1e15)))


# Norms within this many units in the last place above the limit count as on it (see project).
_PROJECT_SLACK_ULPS = 8


def project(x: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r"""Rescale points whose norm exceeds :func:`max_norm` onto it (the rule every metric function applies to its
    point arguments). Shapes: x (..., d) -> (..., d)

    Idempotent: ``project(project(x)) == project(x)`` bit for bit. The norm of a rescaled point is only ``limit``
    up to rounding, and that rounding depends on the CPU's reduction order (its SIMD width), so a strict
    ``n > limit`` rescaled some projected points a second time on some CPUs, and a function read ``x`` and
    ``proj(x)`` as points one rounding apart. At the float32 ball boundary that is not harmless: the condition
    number of :math:`\operatorname{artanh}(u)` at :math:`u = 1-\epsilon` is :math:`1/(2\epsilon) = 5\cdot10^4`,
    so one unit in the last place of the norm moved ``dist0`` by 5e-4 relative. A norm up to 8 units in the last
    place above the limit (far below :math:`\epsilon`) is therefore left as it is."""
    limit = max_norm(x, k, sign)
    n = norm(x)
    slack = 1.0 + _PROJECT_SLACK_ULPS * torch.finfo(x.dtype).eps
    return torch.where(n > limit * slack, x / n * limit, x)


def _l(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r""":math:`1 + \kappa\|x\|^2 = 2/\lambda_x`. Shapes: (..., d) -> (..., 1)"""
    return 1.0 + k * sq_norm(x)


def lambda_x(x: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r"""Conformal factor :math:`\lambda_x = 2 / (1 + \kappa\|x\|^2)` of the projected point (at most about
    :math:`1/\epsilon` in the ball). Shapes: (..., d) -> (..., 1)"""
    return 2.0 / _l(project(x, k, sign), k).clamp_min(1e-30)


def inner(x, u, v, k, sign: Optional[int] = None, keepdim: bool = False) -> torch.Tensor:
    r""":math:`\langle u, v\rangle_x = \lambda_x^2 \langle u, v\rangle`. Shapes: (..., d) x3 -> (...) or (..., 1)"""
    out = lambda_x(x, k, sign).pow(2) * dot(u, v)
    return out if keepdim else out.squeeze(-1)


def norm_at(x, u, k, sign: Optional[int] = None, keepdim: bool = False) -> torch.Tensor:
    r"""Riemannian norm :math:`\lambda_x\|u\|`. Shapes: (..., d), (..., d) -> (...) or (..., 1)"""
    out = lambda_x(x, k, sign) * torch.linalg.vector_norm(u, dim=-1, keepdim=True)
    return out if keepdim else out.squeeze(-1)


def mobius_add(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r"""Mobius addition :math:`x \oplus_\kappa y = (l_x s - \kappa\|s\|^2 x) / (l_x l_y - \kappa\|s\|^2)`,
    :math:`s = x + y` (module docstring). Shapes: (..., d), (..., d) -> (..., d)"""
    s = x + y
    s2 = sq_norm(s)
    lx, ly = _l(x, k), _l(y, k)
    p = lx * ly
    if sign is not None and sign > 0:
        xy = dot(x, y)
        den = (1.0 - k * xy).pow(2) + k.pow(2) * (sq_norm(x) * sq_norm(y) - xy.pow(2)).clamp_min(0.0)
    else:
        den = p - k * s2
    # x + (l_x s - l_x l_y x) / D equals (l_x s - k |s|^2 x) / D and gives exactly x when y = 0
    return x + (lx * s - p * x) / den.clamp_min(1e-30)


def mobius_sub(x, y, k, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`x \ominus_\kappa y = x \oplus_\kappa (-y)`."""
    return mobius_add(x, -y, k, sign)


def gyration(u: torch.Tensor, v: torch.Tensor, w: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None):
    r"""Gyration :math:`\operatorname{gyr}[u, v]\,w = w + 2(A u + B v)/D` (Ungar), rewritten in :math:`s = u + v`:

    .. math::
        w + \frac{2\big((A-B)\,u + B\,s\big)}{D},\quad
        A - B = -\kappa\langle s,w\rangle l_u + \kappa^2(2\langle u,s\rangle\langle s,w\rangle - \langle u,w\rangle\|s\|^2),
        \quad B = \kappa\langle u,w\rangle l_u - \kappa^2\|u\|^2\langle s,w\rangle,\quad D = l_u l_v - \kappa\|s\|^2.

    For :math:`u \approx -v` near the boundary (parallel transport between two close points there, as every Riemannian
    Adam step does) geoopt's expanded terms are each of order 1 and cancel to a result of order :math:`\|s\|/D`: in
    float32 this blew momenta up to inf, in float64 it flipped the sign within 1e-7 of the boundary. Here each term is
    already of its final order. Shapes: (..., d) x3 -> (..., d)
    """
    s = u + v
    u2, s2 = sq_norm(u), sq_norm(s)
    us, uw, sw = dot(u, s), dot(u, w), dot(s, w)
    lu = _l(u, k)
    k2 = k.pow(2)
    a_minus_b = -k * sw * lu + k2 * (2.0 * us * sw - uw * s2)
    b = k * uw * lu - k2 * u2 * sw
    if sign is not None and sign > 0:
        uv = dot(u, v)
        d = (1.0 - k * uv).pow(2) + k2 * (u2 * sq_norm(v) - uv.pow(2)).clamp_min(0.0)
    else:
        d = lu * _l(v, k) - k * s2
    return w + 2.0 * (a_minus_b * u + b * s) / d.clamp_min(1e-300 if u.dtype == torch.float64 else 1e-30)


def mobius_coadd(x, y, k, sign: Optional[int] = None) -> torch.Tensor:
    r"""Mobius coaddition :math:`x \boxplus_\kappa y = x \oplus_\kappa \operatorname{gyr}[x, \ominus y]\,y`."""
    return mobius_add(x, gyration(x, -y, y, k, sign), k, sign)


def mobius_cosub(x, y, k, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`x \boxminus_\kappa y = x \boxplus_\kappa (-y)`."""
    return mobius_coadd(x, -y, k, sign)


def expmap0(u: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`\exp_0^\kappa(u) = \tan_\kappa(\|u\|)\,u/\|u\|`, projected. Shapes: (..., d) -> (..., d)"""
    n = norm(u)
    return project(tan_k(n, k, sign) * (u / n), k, sign)


def logmap0(y: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`\log_0^\kappa(y) = \tan_\kappa^{-1}(\|y\|)\,y/\|y\|`. Shapes: (..., d) -> (..., d)"""
    y = project(y, k, sign)
    n = norm(y)
    return artan_k(n, k, sign) * (y / n)


def expmap(x: torch.Tensor, u: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`\exp_x^\kappa(u) = x \oplus_\kappa \tan_\kappa(\lambda_x\|u\|/2)\,u/\|u\|` (not projected: the classes
    project unless ``project=False``). Shapes: (..., d), (..., d) -> (..., d)"""
    x = project(x, k, sign)
    n = norm(u)
    # the second term is not projected: a long step saturates it onto the boundary, and only there does the sum
    # carry the point across the ball
    second = tan_k(2.0 / _l(x, k).clamp_min(1e-30) * n / 2.0, k, sign) * (u / n)
    return mobius_add(x, second, k, sign)


def geodesic_unit(t, x, u, k, sign: Optional[int] = None) -> torch.Tensor:
    r"""Unit-speed geodesic from ``x`` in direction ``u``: :math:`x \oplus_\kappa \tan_\kappa(t/2)\,u/\|u\|`.
    Shapes: t broadcastable, (..., d), (..., d) -> (..., d)"""
    second = tan_k(t / 2.0, k, sign) * (u / norm(u))
    return mobius_add(x, second, k, sign)


def logmap(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`\log_x^\kappa(y) = \frac{2}{\lambda_x}\tan_\kappa^{-1}(\|w\|)\,w/\|w\|`, :math:`w = (-x)\oplus_\kappa y`."""
    x, y = project(x, k, sign), project(y, k, sign)
    w = mobius_add(-x, y, k, sign)
    n = norm(w)
    return _l(x, k) * artan_k(n, k, sign) * (w / n)


def dist(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None, keepdim: bool = False):
    r"""Geodesic distance (formulas in the module docstring) of the projected points.
    Shapes: (..., d), (..., d) -> (...) or (..., 1)"""
    x, y = project(x, k, sign), project(y, k, sign)
    if sign is None:
        out = 2.0 * artan_k(torch.linalg.vector_norm(mobius_add(-x, y, k), dim=-1, keepdim=True), k)
        return out if keepdim else out.squeeze(-1)
    sk = k.abs().sqrt()
    diff = torch.linalg.vector_norm(x - y, dim=-1, keepdim=True)
    x2, y2 = sq_norm(x), sq_norm(y)
    if sign < 0:
        c = k.abs()
        den = ((1.0 - c * x2) * (1.0 - c * y2)).clamp_min(0.0).sqrt()
        out = 2.0 / sk * torch.asinh(sk * diff / den.clamp_min(1e-30))
    else:
        xy = dot(x, y)
        cos_half = safe_sqrt((1.0 + k * xy).pow(2) + k.pow(2) * (x2 * y2 - xy.pow(2)).clamp_min(0.0))
        out = 2.0 / sk * torch.atan2(sk * diff, cos_half)
    return out if keepdim else out.squeeze(-1)


def dist0(x: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None, keepdim: bool = False) -> torch.Tensor:
    r""":math:`d(0, x) = 2\tan_\kappa^{-1}(\|x\|)` of the projected point."""
    out = 2.0 * artan_k(torch.linalg.vector_norm(project(x, k, sign), dim=-1, keepdim=True), k, sign)
    return out if keepdim else out.squeeze(-1)


def geodesic(t, x, y, k, sign: Optional[int] = None) -> torch.Tensor:
    r"""Geodesic through ``x`` (t = 0) and ``y`` (t = 1): :math:`x \oplus_\kappa (t \otimes_\kappa ((-x)\oplus_\kappa y))`."""
    v = mobius_add(-x, y, k, sign)
    return mobius_add(x, mobius_scalar_mul(t, v, k, sign, projected=False), k, sign)


def transp(x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None):
    r"""Parallel transport :math:`P_{x\to y}(v) = \operatorname{gyr}[y, -x]\,v\,\lambda_x/\lambda_y` of the projected
    points. Float32 inputs are computed in float64: for close points near the boundary even the cancellation-free
    gyration leaves float32 results wrong by orders of magnitude (the terms are rounded to float32 first); transport
    is applied to parameters and optimiser states only."""
    x, y = project(x, k, sign), project(y, k, sign)
    if x.dtype != torch.float64:
        x64, y64, v64, k64 = x.double(), y.double(), v.double(), k.double()
        return (gyration(y64, -x64, v64, k64, sign) * _l(y64, k64) / _l(x64, k64)).to(v.dtype)
    return gyration(y, -x, v, k, sign) * _l(y, k) / _l(x, k)


def transp0(y: torch.Tensor, v: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`P_{0\to y}(v) = v\,\lambda_0/\lambda_y = v(1+\kappa\|y\|^2)`."""
    return v * _l(project(y, k, sign), k).clamp_min(1e-30)


def transp0back(x: torch.Tensor, v: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`P_{x\to 0}(v) = v / (1+\kappa\|x\|^2)`."""
    return v / _l(project(x, k, sign), k).clamp_min(1e-30)


def egrad2rgrad(x: torch.Tensor, grad: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r"""Riemannian gradient :math:`\nabla_E / \lambda_x^2`."""
    return grad / lambda_x(x, k, sign).pow(2)


def mobius_scalar_mul(r, x, k, sign: Optional[int] = None, projected: bool = True) -> torch.Tensor:
    r""":math:`r \otimes_\kappa x = \tan_\kappa(r\tan_\kappa^{-1}\|x\|)\,x/\|x\|` (projected unless ``projected=False``)."""
    n = norm(x)
    out = tan_k(r * artan_k(n, k, sign), k, sign) * (x / n)
    return project(out, k, sign) if projected else out


def mobius_matvec(m: torch.Tensor, x: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r"""Mobius matrix-vector product :math:`M\otimes_\kappa x = \tan_\kappa\!\big(\tfrac{\|Mx\|}{\|x\|}
    \tan_\kappa^{-1}\|x\|\big)\tfrac{Mx}{\|Mx\|}` (equal to :math:`\exp_0(M\log_0 x)`), 0 where :math:`Mx = 0`;
    not projected (the classes project unless ``project=False``).

    Shapes: m (d_out, d_in) or batched (..., d_out, d_in), x (..., d_in) -> (..., d_out)
    """
    x_norm = norm(x)
    mx = x @ m.transpose(-1, -2) if m.dim() == 2 else torch.matmul(m, x.unsqueeze(-1)).squeeze(-1)
    mx_norm = norm(mx)
    res = tan_k(mx_norm / x_norm * artan_k(x_norm, k, sign), k, sign) * (mx / mx_norm)
    zero = (mx == 0).all(dim=-1, keepdim=True)
    return torch.where(zero, torch.zeros_like(res), res)


def mobius_pointwise_mul(w: torch.Tensor, x: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None):
    r"""Mobius pointwise product :math:`\tan_\kappa\!\big(\tfrac{\|w\odot x\|}{\|x\|}\tan_\kappa^{-1}\|x\|\big)
    \tfrac{w\odot x}{\|w\odot x\|}`, 0 where :math:`w\odot x = 0`. Shapes: (..., d), (..., d) -> (..., d)"""
    x_norm = norm(x)
    wx = w * x
    wx_norm = norm(wx)
    res = tan_k(wx_norm / x_norm * artan_k(x_norm, k, sign), k, sign) * (wx / wx_norm)
    zero = (wx == 0).all(dim=-1, keepdim=True)
    return torch.where(zero, torch.zeros_like(res), res)


def dist2plane(x, p, a, k, sign: Optional[int] = None, keepdim=False, signed=False, scaled=False) -> torch.Tensor:
    r"""Distance from ``x`` to the gyroplane through ``p`` with normal ``a`` (Ganea et al. 2018):
    :math:`\sin_\kappa^{-1}\!\big(2|\langle w, a\rangle| / ((1+\kappa\|w\|^2)\|a\|)\big)`, :math:`w = (-p)\oplus_\kappa x`
    (signed: without the absolute value; scaled: times :math:`\|a\|`). Shapes: (..., d) x3 -> (...) or (..., 1)"""
    w = mobius_add(-p, x, k, sign)
    w2 = sq_norm(w).clamp_min(1e-15)
    wa = dot(w, a)
    if not signed:
        wa = wa.abs()
    a_norm = torch.linalg.vector_norm(a, dim=-1, keepdim=True)
    den = (1.0 + k * w2) * a_norm
    den = torch.where(den >= 0, den.clamp_min(1e-15), den.clamp_max(-1e-15))
    out = arsin_k(2.0 * wa / den, k, sign)
    if scaled:
        out = out * a_norm
    return out if keepdim else out.squeeze(-1)


def sproj(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Stereographic projection of a point :math:`(\dots, d+1)` of the hyperboloid / sphere of curvature
    :math:`\kappa` (last coordinate the pole axis) into the model: :math:`x_{:d}/(1 + \sqrt{|\kappa|}x_d)`."""
    return x[..., :-1] / (1.0 + _sk(k) * x[..., -1:])


def inv_sproj(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Inverse of :func:`sproj`: :math:`(\lambda_x x,\ (\lambda_x - 1)/\sqrt{|\kappa|})`. Shapes: (..., d) -> (..., d+1)"""
    lam = 2.0 / _l(x, k).clamp_min(1e-30)
    return torch.cat((lam * x, (lam - 1.0) / _sk(k)), dim=-1)


def antipode(x: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r"""Antipode: :math:`-x` for :math:`\kappa \le 0`; on the sphere the point at distance :math:`\pi/\sqrt\kappa`,
    :math:`-x / (\kappa\|x\|^2)`."""
    if sign is not None and sign < 0:
        return -x
    # not projected, as in geoopt: the antipode of a point near the origin lies far out
    anti = -x / (k * sq_norm(x)).clamp_min(1e-30)
    if sign is not None:
        return anti
    return torch.where(k > 0, anti, -x)


def weighted_midpoint(
    xs: torch.Tensor,
    k: torch.Tensor,
    sign: Optional[int] = None,
    weights: Optional[torch.Tensor] = None,
    reducedim: Optional[List[int]] = None,
    keepdim: bool = False,
    lincomb: bool = False,
    posweight: bool = False,
) -> torch.Tensor:
    r"""geoopt's weighted gyro-midpoint: :math:`\tfrac12\otimes_\kappa \frac{\sum_i w_i\lambda_i x_i}{\sum_i
    w_i(\lambda_i-1)}` over the dimensions ``reducedim`` (default: all but the last); on the sphere the antipode is
    taken when it is closer to the points; ``lincomb`` scales the result by the weights' sum (:math:`\alpha
    \otimes_\kappa m`); ``posweight`` replaces negative weights by positive ones on antipodal points.

    Shapes: xs (..., d), weights (...) or None -> xs without ``reducedim`` (kept as size 1 with ``keepdim``)
    """
    if reducedim is None:
        reducedim = list(range(xs.dim() - 1))
    reducedim = sorted(d % xs.dim() for d in reducedim)
    gamma = lambda_x(xs, k, sign)
    w = torch.ones((), dtype=xs.dtype, device=xs.device) if weights is None else weights.unsqueeze(-1)
    if posweight and bool((w < 0).any()):
        xs = torch.where(w < 0, antipode(xs, k, sign), xs)
        w = w.abs()
    den = ((gamma - 1.0) * w).sum(reducedim, keepdim=True)
    num = (gamma * w * xs).sum(reducedim, keepdim=True)
    den = torch.where(den.abs() < 1e-10, torch.where(den < 0, -1e-10, 1e-10).to(den.dtype), den)
    mid = mobius_scalar_mul(torch.tensor(0.5, dtype=xs.dtype, device=xs.device), num / den, k, sign, projected=False)
    if sign is None or sign > 0:
        anti = antipode(mid, k, sign)
        a = dist(mid, xs, k, sign, keepdim=True).sum(reducedim, keepdim=True)
        b = dist(anti, xs, k, sign, keepdim=True).sum(reducedim, keepdim=True)
        mid = torch.where((k > 0) & (b < a), anti, mid)
    if lincomb:
        if w.numel() == 1:
            alpha = w.clone()
            for d in reducedim:
                alpha = alpha * xs.size(d)
        else:
            alpha = torch.broadcast_tensors(w, gamma)[0].sum(reducedim, keepdim=True)
        mid = mobius_scalar_mul(alpha, mid, k, sign, projected=False)
    if not keepdim:
        for d in reversed(reducedim):
            mid = mid.squeeze(d)
    return mid


def midpoint_parts(x: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Summands of the gyro-midpoint (Einstein midpoint in the ball): :math:`(\lambda_x x,\ \lambda_x - 1)`.

    Sum them with weights (densely or over graph neighbourhoods), then call :func:`midpoint_finish`.
    Shapes: (..., d) -> (..., d), (..., 1)
    """
    lam = lambda_x(x, k, sign)
    return lam * x, lam - 1.0


def midpoint_finish(num: torch.Tensor, den: torch.Tensor, k: torch.Tensor, sign: Optional[int] = None) -> torch.Tensor:
    r""":math:`m = \tfrac12 \otimes_\kappa \dfrac{\sum_i w_i\lambda_i x_i}{\sum_i w_i(\lambda_i-1)}` (Ungar's
    gyro-midpoint; on the sphere it is the midpoint when the points lie in one hemisphere around it).

    Shapes: num (..., d), den (..., 1) -> (..., d)
    """
    den = torch.where(den.abs() < 1e-10, torch.full_like(den, 1e-10) * torch.where(den < 0, -1.0, 1.0), den)
    two_mean = num / den
    # the half-scalar product needs the unprojected two_mean (it may lie outside the ball when weights cancel)
    return mobius_scalar_mul(torch.tensor(0.5, dtype=num.dtype, device=num.device), two_mean, k, sign)
