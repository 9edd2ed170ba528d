r"""Cartesian product of manifolds, e.g. :math:`\mathbb H^5\times\mathbb S^5`: every operation acts per component on
consecutive slices of the last dimension; :math:`d(x,y)^2 = \sum_i d_i(x_i,y_i)^2`."""

from __future__ import annotations

import torch
from torch import nn

from .base import Manifold
from .math.functional import safe_sqrt


class Product(Manifold):
    r"""Product of manifolds.

    Args:
        *manifolds: ``(manifold, dim)`` pairs, ``dim`` being the intrinsic dimension of that factor (a Lorentz factor
            of intrinsic dimension ``dim`` occupies ``dim + 1`` coordinates).

    Example: ``Product((PoincareBall(), 5), (Sphere(), 5), (Euclidean(), 2))`` has points of size 12.
    Shapes: points and tangent vectors (..., sum of point dims); ``to_tangent0`` gives (..., sum of dims).
    """

    name = "Product"

    def __init__(self, *manifolds: tuple[Manifold, int]):
        super().__init__()
        if not manifolds:
            raise ValueError("Product needs at least one (manifold, dim) pair")
        mods, dims = [], []
        for i, item in enumerate(manifolds):
            if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], Manifold)):
                raise ValueError(f"Product argument {i} must be a (manifold, dim) pair of a geometries manifold, got {item!r}")
            m, d = item
            if isinstance(m, Product):
                raise ValueError(f"Product argument {i}: nest products by listing their factors instead")
            if not isinstance(d, int) or d < 1:
                raise ValueError(f"Product argument {i}: dim must be a positive int, got {d!r}")
            mods.append(m)
            dims.append(d)
        self.factors = nn.ModuleList(mods)
        self.dims = tuple(dims)
        self.point_dims = tuple(m.point_dim(d) for m, d in zip(mods, dims))
        self.gyrovector = all(m.gyrovector for m in mods)

    def point_dim(self, tangent_dim: int) -> int:
        if tangent_dim != sum(self.dims):
            raise ValueError(f"Product has intrinsic dimension {sum(self.dims)}, got {tangent_dim}")
        return sum(self.point_dims)

    def tangent_dim(self, point_dim: int) -> int:
        if point_dim != sum(self.point_dims):
            raise ValueError(f"Product points have {sum(self.point_dims)} coordinates, got {point_dim}")
        return sum(self.dims)

    def _split(self, x: torch.Tensor, sizes=None) -> tuple[torch.Tensor, ...]:
        sizes = self.point_dims if sizes is None else sizes
        if x.shape[-1] != sum(sizes):
            raise ValueError(f"Product expects last dimension {sum(sizes)} (factors {list(sizes)}), got {x.shape[-1]}")
        return torch.split(x, list(sizes), dim=-1)

    def _map(self, fn, *tensors, sizes=None) -> torch.Tensor:
        parts = zip(*(self._split(t, sizes) for t in tensors))
        return torch.cat([fn(m, *p) for m, p in zip(self.factors, parts)], dim=-1)

    def proj(self, x):
        return self._map(lambda m, a: m.proj(a), x)

    def proju(self, x, u):
        return self._map(lambda m, a, b: m.proju(a, b), x, u)

    def expmap0(self, u):
        return self._map(lambda m, a: m.expmap0(a), u)

    def logmap0(self, x):
        return self._map(lambda m, a: m.logmap0(a), x)

    def expmap(self, x, u):
        return self._map(lambda m, a, b: m.expmap(a, b), x, u)

    def logmap(self, x, y):
        return self._map(lambda m, a, b: m.logmap(a, b), x, y)

    def transp(self, x, y, v):
        return self._map(lambda m, a, b, c: m.transp(a, b, c), x, y, v)

    def transp0(self, y, v):
        return self._map(lambda m, a, b: m.transp0(a, b), y, v)

    def transp0back(self, x, v):
        return self._map(lambda m, a, b: m.transp0back(a, b), x, v)

    def egrad2rgrad(self, x, u):
        return self._map(lambda m, a, b: m.egrad2rgrad(a, b), x, u)

    def to_tangent0(self, x):
        return self._map(lambda m, a: m.to_tangent0(a), x)

    def from_tangent0(self, v):
        return self._map(lambda m, a: m.from_tangent0(a), v, sizes=self.dims)

    def coords_to_tangent0(self, v):
        return self._map(lambda m, a: m.coords_to_tangent0(a), v, sizes=self.dims)

    def component_dists(self, x, y) -> torch.Tensor:
        """Per-factor distances. Shapes: (..., D), (..., D) -> (..., number of factors)"""
        return torch.stack([m.dist(a, b) for m, a, b in zip(self.factors, self._split(x), self._split(y))], dim=-1)

    def dist(self, x, y, *, keepdim=False):
        out = safe_sqrt(self.component_dists(x, y).pow(2).sum(-1))
        return out.unsqueeze(-1) if keepdim else out

    def dist0(self, x, *, keepdim=False):
        d = torch.stack([m.dist0(a) for m, a in zip(self.factors, self._split(x))], dim=-1)
        out = safe_sqrt(d.pow(2).sum(-1))
        return out.unsqueeze(-1) if keepdim else out

    def inner(self, x, u, v=None, *, keepdim=False):
        v = u if v is None else v
        parts = zip(self.factors, self._split(x), self._split(u), self._split(v))
        out = sum(m.inner(a, b, c, keepdim=True) for m, a, b, c in parts)
        return out if keepdim else out.squeeze(-1)

    def component_inner(self, x, u, v=None):
        v = u if v is None else v
        parts = zip(self.factors, self._split(x), self._split(u), self._split(v), self.point_dims)
        return torch.cat([m.inner(a, b, c, keepdim=True).expand(*b.shape[:-1], d) for m, a, b, c, d in parts], -1)

    def mobius_add(self, x, y):
        """Componentwise Mobius addition (all factors must be gyrovector models)."""
        if not self.gyrovector:
            raise ValueError("Product.mobius_add needs every factor to be a gyrovector model (no Lorentz factor)")
        return self._map(lambda m, a, b: m.mobius_add(a, b), x, y)

    def centroid_parts(self, x):
        parts = [m.centroid_parts(a) for m, a in zip(self.factors, self._split(x))]
        return torch.cat([p[0] for p in parts], -1), torch.cat([p[1] for p in parts], -1)

    def centroid_finish(self, num, den):
        # den holds one column per factor (see centroid_parts)
        ones = (1,) * len(self.factors)
        return torch.cat(
            [m.centroid_finish(a, b) for m, a, b in zip(self.factors, self._split(num), self._split(den, ones))], -1
        )
