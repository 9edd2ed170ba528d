"""Graph convolutions on graphrep's fused aggregation ops (equal to PyG's layers with the same weights)."""

from .gat import GATConv
from .gcn import GCNConv, gcn_norm
from .gin import GINConv
from .sage import SAGEConv

__all__ = ["GCNConv", "GINConv", "SAGEConv", "GATConv", "gcn_norm"]
