"""Layers: convolutions on the fused ops, manifold layers, experts and gates, pooling."""

from . import manifold  # noqa: F401
