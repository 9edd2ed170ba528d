"""Layers: convolutions on the fused ops (``conv``), manifold layers (``manifold``), molecule encoders (``molecule``)."""

from . import manifold  # noqa: F401
from .conv import GATConv, GCNConv, GINConv, GINEConv, SAGEConv
from .dynamic_knn import DynamicKNNConv, knn_edges
from .location import LocationEncoder
from .moe import MoEFeedForward, load_balancing_loss

__all__ = ["GATConv", "GCNConv", "GINConv", "GINEConv", "SAGEConv", "LocationEncoder", "MoEFeedForward",
           "load_balancing_loss"]
__all__ += ["DynamicKNNConv", "knn_edges"]
