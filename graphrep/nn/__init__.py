"""Layers: convolutions on the fused ops (``graphrep.nn.conv``)."""

from .conv import GATConv, GCNConv, GINConv, SAGEConv
