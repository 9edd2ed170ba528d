r"""Math of the :math:`\kappa`-stereographic model (Poincare ball for :math:`\kappa<0`, sphere for :math:`\kappa>0`).

Functions that need valid points (exp/log maps, transport) project their point arguments first: with a learnable
curvature, points stored as parameters fall outside the ball as soon as :math:`c` grows, before the optimiser's
next projection. Every function takes the signed sectional curvature ``k`` (a tensor broadcastable against the points, already in the
points' dtype) and ``sign``, the Python int ``-1`` or ``+1`` fixed by the manifold, so that the branch is chosen
statically (no data-dependent ``torch.where`` over both branches, whose unused side can produce NaN gradients).
Points and tangent vectors are the last dimension; all ``(..., 1)`` factors broadcast.

Built on :mod:`geoopt.manifolds.stereographic.math` (Mobius addition); added here:
accurate ``artanh``/``arsinh`` near zero and dtype-aware boundary clamps (float32 safe), a projection for the sphere
(the antipode of the origin lies at infinity), a gyration without cancellation near the boundary, and distances
written without Mobius subtraction, so that
``dist(x, x)`` is exactly 0 and stays accurate near the boundary:

.. math::
    d_{-c}(x, y) = \frac{2}{\sqrt c}\operatorname{arsinh}\frac{\sqrt c\,\|x-y\|}{\sqrt{(1-c\|x\|^2)(1-c\|y\|^2)}},
    \qquad
    d_{k}(x, y) = \frac{2}{\sqrt k}\operatorname{atan2}\Big(\sqrt k\,\|x-y\|,\;
    \sqrt{(1+k\langle x,y\rangle)^2 + k^2(\|x\|^2\|y\|^2-\langle x,y\rangle^2)}\Big).
"""

from __future__ import annotations

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


def tan_k(x: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r""":math:`\tan_\kappa(x)`: :math:`\tanh(\sqrt{|\kappa|}x)/\sqrt{|\kappa|}` for :math:`\kappa<0`,
    :math:`\tan(\sqrt\kappa x)/\sqrt\kappa` for :math:`\kappa>0` (wrapped and clamped, see ``tan_angle``)."""
    sk = k.abs().sqrt()
    if sign < 0:
        return tanh(sk * x) / sk
    return tan_angle(sk * x, sphere_max_radius(x.dtype)) / sk


def artan_k(y: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r""":math:`\tan_\kappa^{-1}(y)`: :math:`\operatorname{artanh}(\sqrt{|\kappa|}y)/\sqrt{|\kappa|}` or
    :math:`\arctan(\sqrt\kappa y)/\sqrt\kappa`."""
    sk = k.abs().sqrt()
    if sign < 0:
        return artanh(sk * y) / sk
    return torch.atan(sk * y) / sk


def project(x: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r"""Rescale points whose norm exceeds the largest safe radius: :math:`(1-\epsilon)/\sqrt c` inside the ball,
    ``R_max / sqrt(k)`` on the sphere (``R_max`` = 1e3 in float32).

    Shapes: x (..., d) -> (..., d)
    """
    sk = k.abs().sqrt()
    if sign < 0:
        max_norm = (1.0 - ball_eps(x.dtype)) / sk
    else:
        max_norm = sphere_max_radius(x.dtype) / sk
    n = norm(x)
    return torch.where(n > max_norm, x / n * max_norm, x)


def lambda_x(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Conformal factor :math:`\lambda_x = 2 / (1 + \kappa\|x\|^2)`, at most :math:`2/\epsilon` (points outside the
    ball count as on its projection boundary). Shapes: (..., d) -> (..., 1)"""
    return 2.0 / (1.0 + k * sq_norm(x)).clamp_min(ball_eps(x.dtype))


def inner(x: torch.Tensor, u: torch.Tensor, v: torch.Tensor, k: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
    r""":math:`\langle u, v\rangle_x = \lambda_x^2 \langle u, v\rangle`."""
    out = lambda_x(x, k).pow(2) * dot(u, v)
    return out if keepdim else out.squeeze(-1)


def mobius_add(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Mobius addition :math:`x \oplus_\kappa y` (geoopt's formula, denominator clamped)."""
    return gmath.mobius_add(x, y, k=k, dim=-1)


def expmap0(u: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r""":math:`\exp_0^\kappa(u) = \tan_\kappa(\|u\|)\,u/\|u\|`, projected. Shapes: (..., d) -> (..., d)"""
    n = norm(u)
    return project(tan_k(n, k, sign) * (u / n), k, sign)


def logmap0(y: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r""":math:`\log_0^\kappa(y) = \tan_\kappa^{-1}(\|y\|)\,y/\|y\|`. Shapes: (..., d) -> (..., d)"""
    n = norm(y)
    return artan_k(n, k, sign) * (y / n)


def expmap(x: torch.Tensor, u: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r""":math:`\exp_x^\kappa(u) = x \oplus_\kappa \tan_\kappa(\lambda_x\|u\|/2)\,u/\|u\|`, projected."""
    x = project(x, k, sign)
    n = norm(u)
    second = tan_k(lambda_x(x, k) * n / 2.0, k, sign) * (u / n)
    return project(mobius_add(x, second, k), k, sign)


def logmap(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r""":math:`\log_x^\kappa(y) = \frac{2}{\lambda_x}\tan_\kappa^{-1}(\|w\|)\,w/\|w\|`, :math:`w = (-x)\oplus_\kappa y`."""
    x, y = project(x, k, sign), project(y, k, sign)
    w = mobius_add(-x, y, k)
    n = norm(w)
    return 2.0 / lambda_x(x, k) * artan_k(n, k, sign) * (w / n)


def dist(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor, sign: int, keepdim: bool = False) -> torch.Tensor:
    r"""Geodesic distance (formulas in the module docstring). Shapes: (..., d), (..., d) -> (...) or (..., 1)"""
    sk = k.abs().sqrt()
    diff = torch.linalg.vector_norm(x - y, dim=-1, keepdim=True)
    x2, y2 = sq_norm(x), sq_norm(y)
    if sign < 0:
        c = k.abs()
        # points outside the ball (possible right after a learnable c grew) count as on the projection boundary;
        # a fixed tiny clamp would underflow to 0 in float32 once squared
        eps = ball_eps(x.dtype)
        den = ((1.0 - c * x2).clamp_min(eps) * (1.0 - c * y2).clamp_min(eps)).sqrt()
        out = 2.0 / sk * torch.asinh(sk * diff / den)
    else:
        xy = dot(x, y)
        cos_half = safe_sqrt((1.0 + k * xy).pow(2) + k.pow(2) * (x2 * y2 - xy.pow(2)).clamp_min(0.0))
        out = 2.0 / sk * torch.atan2(sk * diff, cos_half)
    return out if keepdim else out.squeeze(-1)


def dist0(x: torch.Tensor, k: torch.Tensor, sign: int, keepdim: bool = False) -> torch.Tensor:
    r""":math:`d(0, x) = 2\tan_\kappa^{-1}(\|x\|)`."""
    out = 2.0 * artan_k(torch.linalg.vector_norm(x, dim=-1, keepdim=True), k, sign)
    return out if keepdim else out.squeeze(-1)


def gyration(u: torch.Tensor, v: torch.Tensor, w: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Gyration :math:`\operatorname{gyr}[u, v]\,w = w + 2(a u + b v)/d` (Ungar), with the denominator written as
    :math:`d = (1-\kappa\langle u,v\rangle)^2 + \kappa^2(\|u\|^2\|v\|^2 - \langle u,v\rangle^2)` and
    :math:`2(1-\kappa\langle u,v\rangle) = (1+\kappa\|u\|^2) + (1+\kappa\|v\|^2) - \kappa\|u+v\|^2`.

    geoopt expands :math:`d = 1 - 2\kappa\langle u,v\rangle + \kappa^2\|u\|^2\|v\|^2`, which for
    :math:`u \approx -v` near the ball's boundary (parallel transport between two close points there, as every
    Riemannian Adam step does) cancels to rounding noise in float32 and can blow the transported momentum up to inf.
    """
    u2, v2, uv = sq_norm(u), sq_norm(v), dot(u, v)
    uw, vw = dot(u, w), dot(v, w)
    k2 = k.pow(2)
    a = -k2 * uw * v2 - k * vw + 2 * k2 * uv * vw
    b = -k2 * vw * u2 + k * uw
    floor = ball_eps(u.dtype)
    half = 0.5 * ((1 + k * u2).clamp_min(floor) + (1 + k * v2).clamp_min(floor) - k * sq_norm(u + v))
    d = half.pow(2) + k2 * (u2 * v2 - uv.pow(2)).clamp_min(0)
    return w + 2 * (a * u + b * v) / d.clamp_min(1e-30 if u.dtype == torch.float64 else 1e-20)


def transp(x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r"""Parallel transport :math:`P_{x\to y}(v) = \operatorname{gyr}[y, -x]\,v\,\lambda_x/\lambda_y`."""
    x, y = project(x, k, sign), project(y, k, sign)
    if x.dtype == torch.float64:
        return gyration(y, -x, v, k) * lambda_x(x, k) / lambda_x(y, k)
    # For close points near the boundary the gyration's numerator terms cancel as well: even the stable denominator
    # leaves float32 results wrong by orders of magnitude there (geoopt's too). Transport is applied to parameters
    # and optimiser states only, so it is computed in float64 from the (projected) float32 inputs.
    x64, y64, v64, k64 = x.double(), y.double(), v.double(), k.double()
    out = gyration(y64, -x64, v64, k64) * lambda_x(x64, k64) / lambda_x(y64, k64)
    return out.to(v.dtype)


def transp0(y: torch.Tensor, v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r""":math:`P_{0\to y}(v) = v\,\lambda_0/\lambda_y = v(1+\kappa\|y\|^2)`."""
    return v * (1.0 + k * sq_norm(y)).clamp_min(1e-15)


def transp0back(x: torch.Tensor, v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r""":math:`P_{x\to 0}(v) = v / (1+\kappa\|x\|^2)`."""
    return v / (1.0 + k * sq_norm(x)).clamp_min(1e-15)


def egrad2rgrad(x: torch.Tensor, grad: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Riemannian gradient :math:`\nabla_E / \lambda_x^2`."""
    return grad / lambda_x(x, k).pow(2)


def mobius_scalar_mul(r: torch.Tensor, x: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r""":math:`r \otimes_\kappa x = \tan_\kappa(r\tan_\kappa^{-1}\|x\|)\,x/\|x\|`, projected."""
    n = norm(x)
    return project(tan_k(r * artan_k(n, k, sign), k, sign) * (x / n), k, sign)


def mobius_matvec(m: torch.Tensor, x: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r"""Mobius matrix-vector product :math:`M\otimes_\kappa x = \tan_\kappa\!\big(\tfrac{\|Mx\|}{\|x\|}
    \tan_\kappa^{-1}\|x\|\big)\tfrac{Mx}{\|Mx\|}` (equal to :math:`\exp_0(M\log_0 x)`), 0 where :math:`Mx = 0`.

    Shapes: m (d_out, d_in), x (..., d_in) -> (..., d_out)
    """
    x_norm = norm(x)
    mx = x @ m.transpose(-1, -2)
    mx_norm = norm(mx)
    res = tan_k(mx_norm / x_norm * artan_k(x_norm, k, sign), k, sign) * (mx / mx_norm)
    zero = (mx == 0).all(dim=-1, keepdim=True)
    return project(torch.where(zero, torch.zeros_like(res), res), k, sign)


def midpoint_parts(x: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Summands of the gyro-midpoint (Einstein midpoint in the ball): :math:`(\lambda_x x,\ \lambda_x - 1)`.

    Sum them with weights (densely or over graph neighbourhoods), then call :func:`midpoint_finish`.
    Shapes: (..., d) -> (..., d), (..., 1)
    """
    lam = lambda_x(x, k)
    return lam * x, lam - 1.0


def midpoint_finish(num: torch.Tensor, den: torch.Tensor, k: torch.Tensor, sign: int) -> torch.Tensor:
    r""":math:`m = \tfrac12 \otimes_\kappa \dfrac{\sum_i w_i\lambda_i x_i}{\sum_i w_i(\lambda_i-1)}` (Ungar's
    gyro-midpoint; on the sphere it is the midpoint when the points lie in one hemisphere around it).

    Shapes: num (..., d), den (..., 1) -> (..., d)
    """
    den = torch.where(den.abs() < 1e-10, torch.full_like(den, 1e-10) * torch.where(den < 0, -1.0, 1.0), den)
    two_mean = num / den
    # the half-scalar product needs the unprojected two_mean (it may lie outside the ball when weights cancel)
    return mobius_scalar_mul(torch.tensor(0.5, dtype=num.dtype, device=num.device), two_mean, k, sign)
