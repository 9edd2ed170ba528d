r"""Common base of the graphrep manifolds: a :class:`geoopt.Manifold` (so :class:`geoopt.ManifoldParameter` and
:class:`geoopt.optim.RiemannianAdam` accept it) with the extra names the layers use.

Every manifold has ``expmap0, logmap0, expmap, logmap, dist, dist0, proj, proju, transp, transp0, transp0back,
egrad2rgrad, inner``, the signed sectional ``curvature``, and the maps to and from intrinsic tangent coordinates at the
origin, ``to_tangent0`` and ``from_tangent0``, which let experts living on different manifolds be fused in one shared
vector space. The concrete classes also subclass the matching geoopt class (``geoopt.PoincareBall``,
``geoopt.SphereProjection``, ``geoopt.Stereographic``, ``geoopt.Lorentz``, ``geoopt.Euclidean``,
``geoopt.ProductManifold``), so geoopt's methods and keywords exist with geoopt's meaning.
"""

from __future__ import annotations

import abc

import geoopt
import torch
from geoopt.utils import size2shape


class Manifold(geoopt.Manifold, abc.ABC):
    """Base class; subclasses implement the math by calling :mod:`geometries.math`."""

    ndim = 1
    reversible = False
    #: Whether the model is a gyrovector space (has ``mobius_add`` / ``mobius_matvec``).
    gyrovector = False

    # --- geoopt's ``dim=`` keyword: the math is written for the last dimension --------------------------------------
    @staticmethod
    def _to_last(dim: int, *tensors):
        """Move dimension ``dim`` (of the first tensor's layout) of every tensor that has it to the end."""
        if dim == -1:
            return tensors
        ref = tensors[0].dim()
        d = dim - ref if dim >= 0 else dim
        if d == -1:
            return tensors
        return tuple(t.movedim(d, -1) if isinstance(t, torch.Tensor) and t.dim() >= -d else t for t in tensors)

    @staticmethod
    def _from_last(dim: int, ref: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`_to_last` on a result that still has the point dimension last."""
        if dim == -1:
            return out
        d = dim - ref.dim() if dim >= 0 else dim
        return out if d == -1 else out.movedim(-1, d)

    # --- sizes -------------------------------------------------------------------------------------------------------
    def point_dim(self, tangent_dim: int) -> int:
        """Size of the last dimension of a point whose intrinsic dimension is ``tangent_dim``."""
        return tangent_dim

    def tangent_dim(self, point_dim: int) -> int:
        """Intrinsic dimension of points with last dimension ``point_dim``."""
        return point_dim

    # --- geoopt's abstract interface ---------------------------------------------------------------------------------
    def projx(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)

    def retr(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self.expmap(x, u)

    def _check_point_on_manifold(self, x, *, atol=1e-5, rtol=1e-5):
        ok = bool(torch.allclose(self.proj(x), x, atol=atol, rtol=rtol))
        return ok, None if ok else f"point is not on {self.name} (proj changes it)"

    def _check_vector_on_tangent(self, x, u, *, atol=1e-5, rtol=1e-5):
        ok = bool(torch.allclose(self.proju(x, u), u, atol=atol, rtol=rtol))
        return ok, None if ok else f"vector is not tangent to {self.name} at the point"

    # --- shared helpers ----------------------------------------------------------------------------------------------
    def proju(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return u

    def to_tangent0(self, x: torch.Tensor) -> torch.Tensor:
        r"""Intrinsic coordinates of :math:`\log_0(x)`. Shapes: (..., point_dim) -> (..., tangent_dim)"""
        return self.logmap0(x)

    def from_tangent0(self, v: torch.Tensor) -> torch.Tensor:
        r""":math:`\exp_0` of intrinsic tangent coordinates. Shapes: (..., tangent_dim) -> (..., point_dim)"""
        return self.expmap0(v)

    def coords_to_tangent0(self, v: torch.Tensor) -> torch.Tensor:
        """Intrinsic coordinates -> the tangent vector at the origin in point coordinates (Lorentz: prepends 0).
        Shapes: (..., tangent_dim) -> (..., point_dim)"""
        return v

    def origin(self, *size, dtype=None, device=None, seed=None) -> geoopt.ManifoldTensor:
        """The origin, shape ``size`` (last entry = point dimension), as a ``ManifoldTensor`` (as in geoopt)."""
        shape = size2shape(*size)
        self._assert_check_shape(shape, "x")
        return geoopt.ManifoldTensor(self.expmap0(torch.zeros(shape, dtype=dtype, device=device)), manifold=self)

    def random(self, *size, std: float = 1.0, dtype=None, device=None, generator=None) -> torch.Tensor:
        r"""Points :math:`\exp_0(v)`, :math:`v \sim \mathcal N(0, \text{std}^2)` in intrinsic tangent coordinates."""
        if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)):
            size = tuple(size[0])
        *lead, d = size
        v = torch.randn(*lead, self.tangent_dim(d), dtype=dtype, device=device, generator=generator) * std
        return self.from_tangent0(v)

    def centroid(self, x: torch.Tensor, weight: torch.Tensor | None = None, dim: int = -2) -> torch.Tensor:
        r"""Weighted centroid over ``dim`` (weighted mean, gyro-midpoint or Lorentzian centroid, see
        ``centroid_finish``), from sums of ``centroid_parts`` (sparse versions sum them over neighbourhoods).

        Shapes: x (..., n, d), weight (..., n) or None -> (..., d) with ``dim=-2``.
        """
        if dim >= 0 or dim == -1:
            raise ValueError(f"centroid reduces a dimension before the point dimension, e.g. dim=-2; got dim={dim}")
        num, den = self.centroid_parts(x)
        if weight is not None:
            w = weight.unsqueeze(-1).to(x.dtype)
            num, den = num * w, den * w
        return self.centroid_finish(num.sum(dim), den.sum(dim))

    @abc.abstractmethod
    def proj(self, x: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def expmap0(self, u: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def logmap0(self, x: torch.Tensor) -> torch.Tensor: ...
