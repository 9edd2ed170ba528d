"""Layers: convolutions on the fused ops (``conv``), manifold layers (``manifold``), molecule encoders (``molecule``)."""

from . import manifold  # noqa: F401
from .conv import GATConv, GCNConv, GINConv, GINEConv, SAGEConv

__all__ = ["GATConv", "GCNConv", "GINConv", "GINEConv", "SAGEConv"]
