"""Pure manifold math (functions of tensors and a curvature tensor), wrapped by the manifold classes."""

from . import functional, lorentz, stereographic

__all__ = ["functional", "lorentz", "stereographic"]
