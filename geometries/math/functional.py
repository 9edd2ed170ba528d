r"""Numerically safe scalar functions shared by the manifold math.

geoopt's versions compute ``artanh`` as :math:`\tfrac12(\log(1+x)-\log(1-x))` and ``arsinh`` as
:math:`\log(x+\sqrt{1+x^2})`, which lose all relative precision for small ``x`` in float32 (curvature 1e-6 makes every
argument small), and clamp at a fixed ``1 - 1e-7`` whatever the dtype. Here the library functions ``torch.atanh`` /
``torch.asinh`` are used (accurate near zero) with dtype-aware clamps, and norms are clamped away from zero so that
``u / ||u||`` stays finite with a zero gradient at ``u = 0``.
"""

from __future__ import annotations

import math

import torch

# Closest a Poincare-ball point may come to the boundary, as a fraction of the radius 1/sqrt(c).
# float32 keeps 1 - 1e-5 exactly enough (spacing 6e-8) for atanh to stay accurate and its gradient below 1e5.
BALL_EPS = {torch.float16: 1e-3, torch.bfloat16: 1e-2, torch.float32: 1e-5, torch.float64: 1e-10}
# Largest hyperbolic distance from the origin (in units of the curvature radius) that a Lorentz point may have:
# cosh/sinh of it must not overflow and x0 ** 2 - |x_rest| ** 2 must keep a few significant digits.
LORENTZ_MAX_THETA = {torch.float16: 5.0, torch.bfloat16: 5.0, torch.float32: 12.0, torch.float64: 30.0}
# Largest stereographic radius (times sqrt(k)) on the sphere: the antipode of the origin sits at infinity.
SPHERE_MAX_RADIUS = {torch.float16: 1e2, torch.bfloat16: 1e2, torch.float32: 1e3, torch.float64: 1e6}
MIN_NORM = 1e-15


def ball_eps(dtype: torch.dtype) -> float:
    return BALL_EPS.get(dtype, 1e-5)


def lorentz_max_theta(dtype: torch.dtype) -> float:
    return LORENTZ_MAX_THETA.get(dtype, 12.0)


def sphere_max_radius(dtype: torch.dtype) -> float:
    return SPHERE_MAX_RADIUS.get(dtype, 1e3)


def norm(x: torch.Tensor, dim: int = -1, keepdim: bool = True) -> torch.Tensor:
    r"""Euclidean norm clamped below at ``MIN_NORM``: safe as a divisor, zero gradient at ``x = 0``."""
    return torch.linalg.vector_norm(x, dim=dim, keepdim=keepdim).clamp_min(MIN_NORM)


def sq_norm(x: torch.Tensor, dim: int = -1, keepdim: bool = True) -> torch.Tensor:
    return x.pow(2).sum(dim=dim, keepdim=keepdim)


def dot(x: torch.Tensor, y: torch.Tensor, dim: int = -1, keepdim: bool = True) -> torch.Tensor:
    return (x * y).sum(dim=dim, keepdim=keepdim)


def safe_sqrt(x: torch.Tensor, eps: float = 1e-30) -> torch.Tensor:
    r""":math:`\sqrt{x}` for :math:`x > \epsilon`, else 0 with a zero gradient (instead of an infinite one)."""
    return torch.where(x > eps, x.clamp_min(eps).sqrt(), torch.zeros_like(x))


def artanh(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\operatorname{artanh}(x)` with ``|x|`` clamped to the largest value below 1 that keeps the gradient finite."""
    bound = 1.0 - torch.finfo(x.dtype).eps
    return torch.atanh(x.clamp(-bound, bound))


def tanh(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\tanh(x)` with its argument clamped to ``[-20, 20]``, where it is exactly 1 in float32 and float64.

    geoopt clamps at 15, where float64 still has :math:`1 - \tanh = 2\cdot10^{-13}`: an exp map's step was then cut
    to 30 curvature radii, so from a point 1e-10 inside the boundary (23.7 radii out) a long inward step ended 6
    radii past the origin instead of at the opposite boundary."""
    return x.clamp(-20.0, 20.0).tanh()


def arsinh(x: torch.Tensor) -> torch.Tensor:
    return torch.asinh(x)


def tan_angle(theta: torch.Tensor, max_value: float) -> torch.Tensor:
    r""":math:`\tan\theta` with :math:`\theta` wrapped into :math:`(-\pi/2, \pi/2]` and clamped so that
    :math:`|\tan\theta| \le` ``max_value`` (the antipode of the origin lies at infinity in stereographic coordinates)."""
    # wrap only where needed: (theta + pi/2) - pi/2 would cost small angles their relative precision
    wrapped = torch.where(
        theta.abs() > math.pi / 2, torch.remainder(theta + math.pi / 2, math.pi) - math.pi / 2, theta
    )
    limit = math.atan(max_value)
    return wrapped.clamp(-limit, limit).tan()
