"""GIN for molecules as in Hu et al. 2020 ("Strategies for pre-training graph neural networks").

Layer (with self-loops, ``e_ii`` the self-loop bond embedding)::

    h_i' = MLP( sum_{j in N(i) + {i}} (h_j + e_ji) ),   MLP = Linear(d, 2d) -> ReLU -> Linear(2d, d)

Encoder: atom embedding -> L x (GIN layer -> BatchNorm -> ReLU (not after the last) -> dropout) -> JK -> pooling.
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

from ...ops import CSR, aggregate, segment
from .embeddings import ATOM_VOCAB, BOND_VOCAB, CategoricalEmbedding, self_loop_attr

POOLINGS = {"mean": global_mean_pool, "sum": global_add_pool, "max": global_max_pool}
JUMPING_KNOWLEDGE = ("last", "concat", "max", "sum")


class GINEdgeConv(nn.Module):
    """One GIN layer whose messages add a bond embedding.

    The neighbour sum runs on graphrep's fused ops: ``aggregate(x, csr, "sum")`` (no [E, d] gather of ``x``) plus
    the bond embeddings summed per destination with ``segment`` over the CSR row pointer.

    Shapes:
        x: [N, d]; edge_index: [2, E]; edge_attr: [E, C] int64; output: [N, d].
    """

    def __init__(self, dim: int, features: str = "ogb"):
        super().__init__()
        self.features = features
        self.bond_embedding = CategoricalEmbedding(BOND_VOCAB[features], dim)
        # OGB's bond vocabulary has no self-loop type, so the self-loop gets its own learned embedding.
        self.self_loop = nn.Parameter(torch.zeros(dim)) if features != "pretrain" else None
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor,
                csr: CSR | None = None) -> torch.Tensor:
        csr = csr if csr is not None else CSR.from_edge_index(edge_index, x.size(0))
        bonds = self.bond_embedding(edge_attr).index_select(0, csr.perm)  # CSR (destination-major) order
        loops = self_loop_attr(self.features, x.size(0), x.device)
        self_message = x + (self.bond_embedding(loops) if loops is not None else self.self_loop)
        aggregated = aggregate(x, csr, "sum") + segment(bonds, csr.rowptr, "sum") + self_message
        return self.mlp(aggregated)


class GINEncoder(nn.Module):
    """Molecule encoder of Hu et al. 2020 (defaults: 5 layers, 300-d, BatchNorm, last-layer JK, mean pooling).

    ``forward(batch)`` returns graph embeddings [B, d] (``d * (L + 1)`` for ``jk="concat"``);
    ``node_embeddings(batch)`` returns [N, d] before pooling.
    """

    def __init__(self, features: str = "ogb", num_layers: int = 5, hidden: int = 300, dropout: float = 0.5,
                 jk: str = "last", pooling: str = "mean"):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if jk not in JUMPING_KNOWLEDGE:
            raise ValueError(f"jk must be one of {JUMPING_KNOWLEDGE}, got {jk!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {tuple(POOLINGS)}, got {pooling!r}")
        self.features, self.num_layers, self.hidden, self.jk, self.pooling = features, num_layers, hidden, jk, pooling
        self.atom_embedding = CategoricalEmbedding(ATOM_VOCAB[features], hidden)
        self.convs = nn.ModuleList(GINEdgeConv(hidden, features) for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def from_pretrained(cls, name: str, dropout: float = 0.5, directory: str | None = None) -> "GINEncoder":
        """A shipped pre-trained encoder by name (``"attrmask-moses"``), its sha256 checked, with ``dropout`` for
        fine-tuning; see :mod:`graphrep.nn.molecule.pretrained`."""
        from .pretrained import pretrained_state

        config, state = pretrained_state(name, directory)
        encoder = cls(**{**config, "dropout": dropout})
        encoder.load_state_dict(state)
        return encoder

    @property
    def out_dim(self) -> int:
        return self.hidden * (self.num_layers + 1) if self.jk == "concat" else self.hidden

    def node_embeddings(self, data: Data | Batch) -> torch.Tensor:
        h = self.atom_embedding(data.x)
        csr = CSR.from_edge_index(data.edge_index, data.num_nodes)  # built once, shared by every layer
        layers = [h]
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = norm(conv(h, data.edge_index, data.edge_attr, csr))
            if i < self.num_layers - 1:
                h = torch.relu(h)
            h = self.dropout(h)
            layers.append(h)
        if self.jk == "last":
            return layers[-1]
        if self.jk == "concat":
            return torch.cat(layers, dim=-1)
        stacked = torch.stack(layers[1:], dim=0)
        return stacked.max(dim=0).values if self.jk == "max" else stacked.sum(dim=0)

    def forward(self, data: Data | Batch) -> torch.Tensor:
        batch = data.batch if getattr(data, "batch", None) is not None else torch.zeros(
            data.num_nodes, dtype=torch.long, device=data.x.device)
        return POOLINGS[self.pooling](self.node_embeddings(data), batch, size=getattr(data, "num_graphs", None))
