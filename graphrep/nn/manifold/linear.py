r"""Manifold linear layer: Mobius matrix-vector product followed by a Mobius bias."""

from __future__ import annotations

import math

import torch
from torch import nn

from geometries import Manifold, Product


class ManifoldLinear(nn.Module):
    r"""Linear map between points of one manifold (HNN, Ganea et al. 2018; HGCN, Chami et al. 2019):

    .. math::
        h = W \otimes_\kappa x = \exp_0(W\log_0 x), \qquad
        y = h \oplus_\kappa \exp_0(b) = \exp_h\big(P_{0\to h}(b)\big).

    The two forms agree on gyrovector models (Poincare ball, sphere, Euclidean), where the Mobius operations are
    used; the second form is used for the Lorentz model and products (whose ``W`` mixes the factors' tangent
    coordinates). ``W`` acts on the intrinsic tangent coordinates
    and ``b`` is a tangent vector at the origin (a Euclidean parameter, so any optimiser works).

    Args:
        manifold: a :class:`geometries.Manifold` (registered as a submodule, so a learnable curvature trains).
        in_channels, out_channels: intrinsic dimensions (a Lorentz point has one more coordinate).
        bias: add a Mobius bias.

    Shapes:
        input (*, manifold.point_dim(in_channels)) -> output (*, manifold.point_dim(out_channels))
    """

    def __init__(self, manifold: Manifold, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        if not isinstance(manifold, Manifold):
            raise ValueError(f"ManifoldLinear needs a geometries manifold, got {type(manifold).__name__}")
        self.manifold = manifold
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.weight, gain=math.sqrt(2))
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.manifold
        expected = m.point_dim(self.in_channels)
        if x.shape[-1] != expected:
            raise ValueError(f"ManifoldLinear expects points with {expected} coordinates, got {x.shape[-1]}")
        w = self.weight.to(x.dtype)
        mobius = m.gyrovector and not isinstance(m, Product)
        if mobius:
            h = m.mobius_matvec(w, x)
        else:
            h = m.from_tangent0(m.to_tangent0(x) @ w.t())
        if self.bias is None:
            return h
        b = m.coords_to_tangent0(self.bias.to(x.dtype))
        if mobius:
            return m.mobius_add(h, m.expmap0(b).expand_as(h))
        return m.expmap(h, m.transp0(h, b.expand_as(h)))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}"
