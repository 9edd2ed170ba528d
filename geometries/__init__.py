"""geometries: float32-safe Riemannian manifolds with learnable curvature, built on geoopt.

Each class subclasses the matching geoopt manifold (so geoopt's methods, keywords, ``ManifoldParameter`` and
Riemannian optimisers work with it) and adds graphrep's interface (``curvature``, ``to_tangent0``/``from_tangent0``,
centroids). geoopt's names are exported too (``SphereProjection``, ``ProductManifold``,
``StereographicProductManifold``) so that ``import geometries as geoopt``-style swaps work.

>>> import torch, geometries
>>> ball = geometries.PoincareBall(c=1.0, learnable=True)
>>> x = ball.expmap0(torch.randn(4, 2))
>>> ball.dist(x, x).abs().max().item()
0.0
"""

from .base import Manifold
from .curvature import Curvature
from .euclidean import Euclidean
from .lorentz import Lorentz
from .product import Product, ProductManifold, StereographicProductManifold
from .stereographic import PoincareBall, Sphere, SphereProjection, Stereographic

__all__ = [
    "Manifold",
    "Curvature",
    "Euclidean",
    "PoincareBall",
    "Lorentz",
    "Sphere",
    "SphereProjection",
    "Stereographic",
    "Product",
    "ProductManifold",
    "StereographicProductManifold",
]
