"""Graph convolutions: PyG's layers (subclassed, so every PyG call form works) whose hot path runs on graphrep's
fused aggregation ops; see :mod:`graphrep.nn.conv.fused` for which calls take the fused path."""

from .gat import GATConv
from .gcn import GCNConv, csr_gcn_norm
from .gin import GINConv, GINEConv
from .sage import SAGEConv

__all__ = ["GCNConv", "GINConv", "GINEConv", "SAGEConv", "GATConv", "csr_gcn_norm"]


def __getattr__(name):
    # PyG's name stays PyG's: ours had another contract (a CSR in, a CSR out) and was renamed
    if name == "gcn_norm":
        raise AttributeError("graphrep.nn.conv has no gcn_norm: the CSR normalisation is csr_gcn_norm(csr, ...); "
                             "for an edge_index or a sparse adjacency use torch_geometric.nn.conv.gcn_conv.gcn_norm")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
