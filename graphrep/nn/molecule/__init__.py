"""Molecule encoders (GIN of Hu et al. 2020) and atom/bond embeddings."""

from .embeddings import CategoricalEmbedding
from .gin import GINEdgeConv, GINEncoder
from .hybrid import HybridHead

__all__ = ["CategoricalEmbedding", "GINEdgeConv", "GINEncoder", "HybridHead"]
