"""Graph convolutions: PyG's layers (subclassed, so every PyG call form works) whose hot path runs on graphrep's
fused aggregation ops; see :mod:`graphrep.nn.conv.fused` for which calls take the fused path."""

from .gat import GATConv
from .gcn import GCNConv, gcn_norm
from .gin import GINConv, GINEConv
from .sage import SAGEConv

__all__ = ["GCNConv", "GINConv", "GINEConv", "SAGEConv", "GATConv", "gcn_norm"]
