r"""Distance-based decoders: Fermi-Dirac link probabilities and nearest-prototype classification."""

from __future__ import annotations

import geoopt
import torch
from torch import nn

from geometries import Manifold


class FermiDiracDecoder(nn.Module):
    r"""Link probability from the geodesic distance of the endpoints (Krioukov et al. 2010; HGCN):

    .. math:: p(i \sim j) = \Big(\exp\big((d(x_i, x_j)^2 - r)/t\big) + 1\Big)^{-1} = \sigma\big((r - d^2)/t\big).

    ``forward`` returns the logits :math:`(r - d^2)/t` (use ``torch.sigmoid`` for probabilities,
    ``binary_cross_entropy_with_logits`` for training).

    Args:
        manifold: manifold of the node embeddings.
        r, t: radius and temperature (fixed, as in HGCN).

    Shapes: x (N, D), edge_index (2, E) -> (E,)
    """

    def __init__(self, manifold: Manifold, r: float = 2.0, t: float = 1.0):
        super().__init__()
        if t <= 0:
            raise ValueError(f"FermiDiracDecoder temperature t must be > 0, got {t}")
        self.manifold, self.r, self.t = manifold, r, t

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        d = self.manifold.dist(x.index_select(0, edge_index[0]), x.index_select(0, edge_index[1]))
        return (self.r - d.pow(2)) / self.t


class DistanceClassifier(nn.Module):
    r"""Logits :math:`-d(x, p_c)^2 / t` to one learnable prototype per class; the prototypes are
    :class:`geoopt.ManifoldParameter` on the manifold (train them with :class:`geoopt.optim.RiemannianAdam`).

    Shapes: x (N, manifold.point_dim(channels)) -> (N, num_classes)
    """

    def __init__(self, manifold: Manifold, channels: int, num_classes: int, t: float = 1.0, init_std: float = 0.1):
        super().__init__()
        self.manifold, self.t = manifold, t
        self.prototypes = geoopt.ManifoldParameter(
            manifold.random(num_classes, manifold.point_dim(channels), std=init_std).detach(), manifold=manifold
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.manifold.dist(x.unsqueeze(-2), self.prototypes.to(x.dtype))
        return -d.pow(2) / self.t
