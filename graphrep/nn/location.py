r"""City-agnostic location encoder: venue features -> embedding, with no per-venue parameters.

.. math::
    m_v = \mathrm{MLP}\big([\,P c_v;\ \sin(2\pi B u_v);\ \cos(2\pi B u_v);\ a_v\,]\big), \qquad e_v = \mathrm{LN}(m_v)

with :math:`c_v` the category text embedding (projected by :math:`P`), :math:`u_v` the per-city normalised coordinates
encoded by fixed random Fourier features :math:`B \sim \mathcal N(0, \sigma^2)` (a buffer, not learned), and
:math:`a_v` the remaining features (coordinate-exactness flag, popularity, hour-of-week histogram). Every parameter acts
on features, so the venues of a city never seen in training have embeddings.

With ``graph_layers = K > 0`` the embeddings are augmented by a residual GCN over a venue graph (the city's transition
graph, passed in with each call, so it stays city-agnostic too):

.. math::
    z^{(0)} = m, \qquad z^{(k)} = z^{(k-1)} + \hat D^{-1/2} A \hat D^{-1/2} z^{(k-1)} W_k,
    \qquad e = \mathrm{LN}(z^{(K)}),

:math:`A` the weighted adjacency without self-loops and :math:`\hat D` its degrees (isolated venues get 0), with no
bias: with no edges, or with :math:`W_k = 0`, :math:`e` is the plain encoder's.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .conv import GCNConv

__all__ = ["LocationEncoder"]


class LocationEncoder(nn.Module):
    """Venue feature matrix -> embeddings (formula in the module docstring).

    Args:
        category_dim: ``C``, width of the category embedding at the start of each feature row.
        other_dim: width of the features after the 2 coordinates (flag, popularity, histogram).
        out_dim: embedding size. fourier: number of random frequencies; sigma: their scale. dropout: in the MLP.
        graph_layers: residual GCN layers over the venue graph (0: none, and ``forward`` takes no graph).

    Shapes:
        - **input:** ``[V, C + 2 + other_dim]`` (category, coords, other); with ``graph_layers``, ``edge_index``
          ``[2, E]`` over the ``V`` venues and ``edge_weight`` ``[E]`` (optional)
        - **output:** ``[V, out_dim]``
    """

    def __init__(self, category_dim: int, other_dim: int, out_dim: int = 64, hidden: int = 128, fourier: int = 16,
                 sigma: float = 2.0, dropout: float = 0.0, seed: int = 0, graph_layers: int = 0):
        super().__init__()
        self.category_dim, self.other_dim = category_dim, other_dim
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("freq", torch.randn(2, fourier, generator=gen) * sigma)
        self.cat_proj = nn.Linear(category_dim, hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden + 2 * fourier + 2 + other_dim, hidden), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, out_dim))
        self.graph = nn.ModuleList(GCNConv(out_dim, out_dim, add_self_loops=False, bias=False)
                                   for _ in range(graph_layers))
        self.norm = nn.LayerNorm(out_dim)

    def _distinct(self, cat: Tensor) -> tuple[Tensor, Tensor]:
        """Distinct category rows and each venue's index among them, cached for the last feature matrix: a city has
        far fewer categories than venues, so each is projected once per step."""
        key = (cat.data_ptr(), tuple(cat.shape), cat._version, cat.device)
        if getattr(self, "_distinct_key", None) != key:
            unique, inverse = torch.unique(cat.detach(), dim=0, return_inverse=True)
            self._distinct_key, self._distinct_value = key, (unique, inverse)
        return self._distinct_value

    def forward(self, features: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None) -> Tensor:
        expected = self.category_dim + 2 + self.other_dim
        if features.dim() != 2 or features.size(1) != expected:
            raise ValueError(f"venue features must be [V, {expected}], got {tuple(features.shape)}")
        cat = features[:, :self.category_dim]
        coords = features[:, self.category_dim:self.category_dim + 2]
        other = features[:, self.category_dim + 2:]
        angle = 2 * torch.pi * coords @ self.freq
        unique, inverse = self._distinct(cat)
        h = torch.cat([self.cat_proj(unique)[inverse], torch.sin(angle), torch.cos(angle), coords, other], dim=1)
        z = self.mlp(h)
        if self.graph and edge_index is None:
            raise ValueError("this location encoder has graph layers: pass the venue graph's edge_index")
        for conv in self.graph:
            z = z + conv(z, edge_index, edge_weight)
        return self.norm(z)
