r"""Manifold centroid: weighted Einstein midpoint / gyro-midpoint / Lorentzian centroid over groups or neighbourhoods."""

from __future__ import annotations

import torch
from torch import nn

from geometries import Manifold

from ._aggregate import aggregate_sum, scatter_sum


class ManifoldCentroid(nn.Module):
    r"""Weighted centroid of points on a manifold, computed from sums of per-point parts, so it reduces with the
    fused aggregation:

    - Poincare ball / sphere: gyro-midpoint (Einstein midpoint mapped to the ball)
      :math:`\tfrac12\otimes\frac{\sum_i w_i\lambda_{x_i}x_i}{\sum_i w_i(\lambda_{x_i}-1)}`;
    - Lorentz: :math:`\sqrt k\,s/\sqrt{|\langle s,s\rangle_L|}`, :math:`s = \sum_i w_i x_i` (Law et al., 2019);
    - Euclidean: the weighted mean; products: per factor.

    ``forward(x, index=...)`` pools groups (e.g. the ``batch`` vector of a PyG ``Batch``);
    ``forward(x, edge_index=...)`` gives each node the centroid of its in-neighbours (with ``edge_weight``).
    Nodes/groups with no member get the origin-direction limit of an empty sum (the origin for the ball).

    Shapes:
        x (N, D); index (N,) -> (num_groups, D); or edge_index (2, E), edge_weight (E,) -> (N, D)
    """

    def __init__(self, manifold: Manifold):
        super().__init__()
        self.manifold = manifold

    def forward(
        self,
        x: torch.Tensor,
        index: torch.Tensor | None = None,
        *,
        edge_index: torch.Tensor | None = None,
        edge_weight: torch.Tensor | None = None,
        weight: torch.Tensor | None = None,
        dim_size: int | None = None,
    ) -> torch.Tensor:
        if (index is None) == (edge_index is None):
            raise ValueError("ManifoldCentroid needs exactly one of index (pooling) or edge_index (neighbourhoods)")
        m = self.manifold
        num, den = m.centroid_parts(x)
        parts = torch.cat((num, den), dim=-1)
        if weight is not None:
            parts = parts * weight.unsqueeze(-1).to(parts.dtype)
        if index is not None:
            if index.shape != x.shape[:1]:
                raise ValueError(f"index must have shape ({x.shape[0]},), got {tuple(index.shape)}")
            size = int(index.max()) + 1 if dim_size is None else dim_size
            sums = scatter_sum(parts, index, size)
        else:
            sums = aggregate_sum(parts, edge_index, x.size(0), edge_weight)
        return m.centroid_finish(sums[..., : num.shape[-1]], sums[..., num.shape[-1]:])
