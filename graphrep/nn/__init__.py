"""Layers: convolutions on the fused ops (``conv``), manifold layers (``manifold``), molecule encoders (``molecule``)."""

from . import manifold  # noqa: F401
from .conv import GATConv, GCNConv, GINConv, SAGEConv
from .dynamic_knn import DynamicKNNConv, knn_edges

__all__ = ["GATConv", "GCNConv", "GINConv", "SAGEConv"]
__all__ += ["DynamicKNNConv", "knn_edges"]
