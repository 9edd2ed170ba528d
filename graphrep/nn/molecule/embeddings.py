"""Atom and bond embeddings for the two molecule feature sets of :mod:`graphrep.data.molecules.featurize`.

Each categorical column gets its own ``nn.Embedding``; a row's embedding is the sum over columns
(``h = sum_c E_c[x[:, c]]``), as in OGB's ``AtomEncoder``/``BondEncoder`` and pretrain-gnns.
"""

from __future__ import annotations

import torch
from ogb.utils.features import get_atom_feature_dims, get_bond_feature_dims
from torch import nn

from ...data.molecules.featurize import (NUM_ATOM_TYPES, NUM_BOND_DIRECTIONS, NUM_BOND_TYPES, NUM_CHIRALITY_TAGS,
                                          SELF_LOOP_BOND)

ATOM_VOCAB = {"ogb": get_atom_feature_dims(), "pretrain": [NUM_ATOM_TYPES, NUM_CHIRALITY_TAGS]}
BOND_VOCAB = {"ogb": get_bond_feature_dims(), "pretrain": [NUM_BOND_TYPES, NUM_BOND_DIRECTIONS]}


class CategoricalEmbedding(nn.Module):
    """Sum of per-column embeddings.

    Shapes:
        input: [M, C] int64 with ``0 <= x[:, c] < sizes[c]``; output: [M, dim].
    """

    def __init__(self, sizes: list[int], dim: int):
        super().__init__()
        self.sizes = list(sizes)
        self.tables = nn.ModuleList(nn.Embedding(n, dim) for n in sizes)
        for table in self.tables:
            nn.init.xavier_uniform_(table.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.size(1) != len(self.tables):
            raise ValueError(f"expected categorical features of shape [M, {len(self.tables)}], got {tuple(x.shape)}")
        out = self.tables[0](x[:, 0])
        for c in range(1, len(self.tables)):
            out = out + self.tables[c](x[:, c])
        return out


def self_loop_attr(features: str, num_nodes: int, device: torch.device) -> torch.Tensor | None:
    """Bond attributes of the self-loops that pretrain-gnns adds (type ``SELF_LOOP_BOND``, no direction); ``None`` for OGB
    features, whose vocabulary has no self-loop type (the GIN layer then learns a self-loop embedding)."""
    if features != "pretrain":
        return None
    attr = torch.zeros(num_nodes, 2, dtype=torch.long, device=device)
    attr[:, 0] = SELF_LOOP_BOND
    return attr
