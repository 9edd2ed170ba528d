r"""Cartesian products of manifolds, e.g. :math:`\mathbb H^5\times\mathbb S^5`: every operation acts per factor on
consecutive slices of the last dimension; :math:`d(x,y)^2 = \sum_i d_i(x_i,y_i)^2`.

:class:`Product` subclasses ``geoopt.ProductManifold`` (``shapes``, ``slices``, ``n_elements``, ``manifolds``,
``take_submanifold_value``, ``pack_point``/``unpack_tensor``, ``from_point``, ``random_combined``, ...).
:class:`ProductManifold` and :class:`StereographicProductManifold` are the drop-ins for geoopt's classes of those
names (an int factor size is the point size, as in geoopt; in :class:`Product` it is the intrinsic dimension).
"""

from __future__ import annotations

import functools
import operator

import geoopt
import torch
from geoopt.utils import size2shape
from torch import nn

from .base import Manifold
from .math.functional import safe_sqrt


def _numel(shape) -> int:
    return functools.reduce(operator.mul, shape, 1)


class Product(Manifold, geoopt.ProductManifold):
    r"""Product of manifolds.

    Args:
        *manifolds: ``(manifold, size)`` pairs. ``size`` is the intrinsic dimension of the factor when an int (a
            Lorentz factor of intrinsic dimension ``size`` occupies ``size + 1`` coordinates), or the shape of the
            factor's points when a tuple (geoopt's meaning, e.g. ``(3, 2)``). Factors may be any geoopt manifold;
            the maps to tangent coordinates at the origin and the centroid need geometries manifolds.

    Example: ``Product((PoincareBall(), 5), (Sphere(), 5), (Euclidean(), 2))`` has points of size 12.
    Shapes: points and tangent vectors (..., sum of point sizes); ``to_tangent0`` gives (..., sum of dims).
    """

    name = "Product"
    _int_is_intrinsic = True

    def __init__(self, *manifolds):
        Manifold.__init__(self)
        if not manifolds:
            raise ValueError("Product needs at least one (manifold, size) pair")
        mods, shapes = [], []
        for i, item in enumerate(manifolds):
            if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], geoopt.Manifold)):
                raise ValueError(f"Product argument {i} must be a (manifold, size) pair of a geoopt/geometries "
                                 f"manifold, got {item!r}")
            m, size = item
            if isinstance(m, geoopt.ProductManifold):
                raise ValueError(f"Product argument {i}: nest products by listing their factors instead")
            if isinstance(size, bool) or not isinstance(size, (int, tuple, list, torch.Size)):
                raise ValueError(f"Product argument {i}: size must be an int or a shape tuple, got {size!r}")
            if isinstance(size, int):
                if size < 1 and not (size == 0 and not self._int_is_intrinsic):
                    raise ValueError(f"Product argument {i}: size must be a positive int, got {size!r}")
                if self._int_is_intrinsic and isinstance(m, Manifold):
                    shape = (m.point_dim(size),)
                else:
                    shape = (size,)
            else:
                shape = size2shape(size)
            ok, reason = m._check_shape(shape, f"Product argument {i}")
            if not ok:
                raise ValueError(reason)
            mods.append(m)
            shapes.append(tuple(shape))
        self.factors = nn.ModuleList(mods)
        self.shapes = shapes
        self.slices, pos = [], 0
        for shape in shapes:
            self.slices.append(slice(pos, pos + _numel(shape)))
            pos += _numel(shape)
        self.n_elements = pos
        self.n_manifolds = len(mods)
        self.point_dims = tuple(_numel(s) for s in shapes)
        self.dims = tuple(
            m.tangent_dim(s[-1]) if isinstance(m, Manifold) and len(s) == 1 and m.ndim == 1 else _numel(s)
            for m, s in zip(mods, shapes)
        )
        self.gyrovector = all(getattr(m, "gyrovector", False) for m in mods)

    @property
    def manifolds(self) -> nn.ModuleList:
        """The factors (geoopt's name)."""
        return self.factors

    @property
    def curvature(self) -> torch.Tensor:
        """Signed sectional curvature of each factor. Shapes: (number of factors,)"""
        return torch.stack([torch.as_tensor(m.curvature, dtype=torch.float64).reshape(()) for m in self.factors])

    @property
    def reversible(self) -> bool:
        return all(m.reversible for m in self.factors)

    def point_dim(self, tangent_dim: int) -> int:
        if tangent_dim != sum(self.dims):
            raise ValueError(f"Product has intrinsic dimension {sum(self.dims)}, got {tangent_dim}")
        return self.n_elements

    def tangent_dim(self, point_dim: int) -> int:
        if point_dim != self.n_elements:
            raise ValueError(f"Product points have {self.n_elements} coordinates, got {point_dim}")
        return sum(self.dims)

    # --- splitting ---------------------------------------------------------------------------------------------------
    def _split(self, x: torch.Tensor, sizes=None, reshape=True) -> tuple[torch.Tensor, ...]:
        sizes = self.point_dims if sizes is None else sizes
        if x.shape[-1] != sum(sizes):
            raise ValueError(f"Product expects last dimension {sum(sizes)} (factors {list(sizes)}), got {x.shape[-1]}")
        parts = torch.split(x, list(sizes), dim=-1)
        if not reshape or sizes is not self.point_dims:
            return parts
        return tuple(p.reshape((*p.shape[:-1], *s)) for p, s in zip(parts, self.shapes))

    def _map(self, fn, *tensors, sizes=None) -> torch.Tensor:
        batch = torch.broadcast_shapes(*(t.shape[:-1] for t in tensors))
        parts = zip(*(self._split(t, sizes) for t in tensors))
        outs = [fn(m, *p) for m, p in zip(self.factors, parts)]
        return torch.cat([o.reshape((*batch, -1)) if o.dim() > len(batch) else o.reshape((*batch, 1)) for o in outs], -1)

    def _reduce(self, fn, *tensors) -> torch.Tensor:
        """Sum over factors of a per-factor scalar ``fn(m, *parts)`` computed with ``keepdim=True``."""
        batch = torch.broadcast_shapes(*(t.shape[:-1] for t in tensors))
        parts = zip(*(self._split(t) for t in tensors))
        return sum(fn(m, *p).reshape((*batch, -1)).sum(-1) for m, p in zip(self.factors, parts))

    # --- geoopt's checks ---------------------------------------------------------------------------------------------
    _check_shape = geoopt.ProductManifold._check_shape
    _check_point_on_manifold = geoopt.ProductManifold._check_point_on_manifold
    _check_vector_on_tangent = geoopt.ProductManifold._check_vector_on_tangent

    # --- maps --------------------------------------------------------------------------------------------------------
    def projx(self, x):
        return self._map(lambda m, a: m.projx(a), x)

    def proj(self, x):
        return self.projx(x)

    def proju(self, x, u):
        return self._map(lambda m, a, b: m.proju(a, b), x, u)

    def retr(self, x, u):
        return self._map(lambda m, a, b: m.retr(a, b), x, u)

    def expmap0(self, u, *, project=True):
        return self._map(lambda m, a: m.expmap0(a), u)

    def logmap0(self, x, *, project=True):
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

    # --- metric ------------------------------------------------------------------------------------------------------
    def component_dists(self, x, y) -> torch.Tensor:
        """Per-factor distances. Shapes: (..., D), (..., D) -> (..., number of factors)"""
        batch = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1])
        parts = zip(self.factors, self._split(x), self._split(y))
        return torch.stack([m.dist(a, b).reshape(batch) for m, a, b in parts], dim=-1)

    def dist(self, x, y, *, keepdim=False):
        out = safe_sqrt(self.component_dists(x, y).pow(2).sum(-1))
        return out.unsqueeze(-1) if keepdim else out

    def dist2(self, x, y, *, keepdim=False):
        out = self.component_dists(x, y).pow(2).sum(-1)
        return out.unsqueeze(-1) if keepdim else out

    def dist0(self, x, *, keepdim=False):
        d = torch.stack([m.dist0(a).reshape(x.shape[:-1]) for m, a in zip(self.factors, self._split(x))], dim=-1)
        out = safe_sqrt(d.pow(2).sum(-1))
        return out.unsqueeze(-1) if keepdim else out

    def inner(self, x, u, v=None, *, keepdim=False):
        if v is None:
            out = self._reduce(lambda m, a, b: m.inner(a, b, keepdim=True), x, u)
        else:
            out = self._reduce(lambda m, a, b, c: m.inner(a, b, c, keepdim=True), x, u, v)
        return out.unsqueeze(-1) if keepdim else out

    def component_inner(self, x, u, v=None):
        v = u if v is None else v
        parts = zip(self.factors, self._split(x), self._split(u), self._split(v), self.shapes)
        out = []
        for m, a, b, c, shape in parts:
            ip = m.inner(a, b, c, keepdim=True)
            out.append(ip.expand((*b.shape[: b.dim() - len(shape)], *shape)).reshape((*b.shape[: b.dim() - len(shape)], -1)))
        return torch.cat(out, -1)

    def mobius_add(self, x, y, *, project=True):
        """Componentwise Mobius addition (all factors must be gyrovector models)."""
        if not self.gyrovector:
            raise ValueError("Product.mobius_add needs every factor to be a gyrovector model (no Lorentz factor)")
        return self._map(lambda m, a, b: m.mobius_add(a, b), x, y)

    # --- sampling ----------------------------------------------------------------------------------------------------
    def random_combined(self, *size, dtype=None, device=None) -> geoopt.ManifoldTensor:
        """geoopt's sampler: each factor's ``random``, packed, as a ``ManifoldTensor``."""
        shape = size2shape(*size)
        self._assert_check_shape(shape, "x")
        batch = shape[:-1]
        points = [m.random(batch + s, dtype=dtype, device=device) for m, s in zip(self.factors, self.shapes)]
        return geoopt.ManifoldTensor(self.pack_point(*points), manifold=self)

    origin = geoopt.ProductManifold.origin

    # --- centroid ----------------------------------------------------------------------------------------------------
    def centroid_parts(self, x):
        parts = [m.centroid_parts(a) for m, a in zip(self.factors, self._split(x))]
        return torch.cat([p[0] for p in parts], -1), torch.cat([p[1] for p in parts], -1)

    def centroid_finish(self, num, den):
        # den holds one column per factor (see centroid_parts)
        ones = (1,) * len(self.factors)
        return torch.cat(
            [m.centroid_finish(a, b) for m, a, b in zip(self.factors, self._split(num), self._split(den, ones))], -1
        )

    def extra_repr(self) -> str:
        return f"shapes={self.shapes}"


class ProductManifold(Product):
    """Drop-in for ``geoopt.ProductManifold``: an int factor size is the size of the factor's points (geoopt's
    meaning), ``random`` is ``random_combined``, the name is ``"(A)x(B)"``."""

    _int_is_intrinsic = False

    def __init__(self, *manifolds_with_shape):
        super().__init__(*manifolds_with_shape)
        self.name = "x".join(f"({m.name})" for m in self.factors)

    def random(self, *size, dtype=None, device=None) -> geoopt.ManifoldTensor:
        return self.random_combined(*size, dtype=dtype, device=device)


_SPM = geoopt.StereographicProductManifold


class StereographicProductManifold(ProductManifold, geoopt.StereographicProductManifold):
    """Drop-in for ``geoopt.StereographicProductManifold``: a product of stereographic factors with the
    gyrovector operations applied per factor (``mobius_*``, ``gyration``, ``antipode``, ``geodesic(_unit)``,
    ``dist2plane``, ``mobius_fn_apply(_chain)``, ``wrapped_normal``, ...)."""

    def __init__(self, *manifolds_with_shape):
        super().__init__(*manifolds_with_shape)
        for i, m in enumerate(self.factors):
            if not isinstance(m, geoopt.Stereographic):
                raise TypeError(f"factor {i} ({m.name}) is not a stereographic manifold")

    take_submanifold_matrix = _SPM.take_submanifold_matrix
    _mobius_2_manifold_args = _SPM._mobius_2_manifold_args
    mobius_add = _SPM.mobius_add
    mobius_sub = _SPM.mobius_sub
    mobius_coadd = _SPM.mobius_coadd
    mobius_cosub = _SPM.mobius_cosub
    mobius_scalar_mul = _SPM.mobius_scalar_mul
    mobius_pointwise_mul = _SPM.mobius_pointwise_mul
    mobius_matvec = _SPM.mobius_matvec
    mobius_fn_apply = _SPM.mobius_fn_apply
    mobius_fn_apply_chain = _SPM.mobius_fn_apply_chain
    dist2plane = _SPM.dist2plane
    wrapped_normal = _SPM.wrapped_normal
    geodesic = _SPM.geodesic
    geodesic_unit = _SPM.geodesic_unit
    gyration = _SPM.gyration
    antipode = _SPM.antipode
    expmap0 = _SPM.expmap0
    logmap0 = _SPM.logmap0
    transp0 = _SPM.transp0
    transp0back = _SPM.transp0back
