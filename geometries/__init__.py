"""geometries: float32-safe Riemannian manifolds with learnable curvature, built on geoopt.

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
from .product import Product
from .stereographic import PoincareBall, Sphere

__all__ = ["Manifold", "Curvature", "Euclidean", "PoincareBall", "Lorentz", "Sphere", "Product"]
