r"""Maps between a manifold and a shared Euclidean tangent space, to fuse experts that live in different geometries."""

from __future__ import annotations

import torch
from torch import nn

from geometries import Manifold


class ToSharedTangent(nn.Module):
    r""":math:`z = A\,\log_0(x)` (intrinsic coordinates; :math:`A` optional): points of one manifold to a shared
    vector space where outputs of experts on different manifolds can be added, weighted by a gate, or compared.

    Args:
        manifold: manifold of the input points.
        channels: intrinsic dimension of the input.
        shared_channels: dimension of the shared space (``None``: ``channels``, no linear map).

    Shapes: (*, manifold.point_dim(channels)) -> (*, shared_channels)
    """

    def __init__(self, manifold: Manifold, channels: int, shared_channels: int | None = None):
        super().__init__()
        self.manifold, self.channels = manifold, channels
        self.lin = None if shared_channels is None else nn.Linear(channels, shared_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.manifold.to_tangent0(x)
        return v if self.lin is None else self.lin(v)


class FromSharedTangent(nn.Module):
    r""":math:`x = \exp_0(B z)`: vectors of the shared space to points of a manifold.

    Shapes: (*, shared_channels) -> (*, manifold.point_dim(channels))
    """

    def __init__(self, manifold: Manifold, shared_channels: int, channels: int | None = None):
        super().__init__()
        self.manifold = manifold
        self.lin = None if channels is None else nn.Linear(shared_channels, channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.manifold.from_tangent0(z if self.lin is None else self.lin(z))


def fuse_in_tangent(
    points: list[torch.Tensor], maps: list[ToSharedTangent], weights: torch.Tensor | None = None
) -> torch.Tensor:
    r""":math:`\sum_e g_e\,\text{map}_e(x_e)`: fuse expert outputs in the shared tangent space.

    Shapes: points[e] (N, D_e), weights (N, num_experts) or None (plain mean) -> (N, shared_channels)
    """
    if len(points) != len(maps):
        raise ValueError(f"fuse_in_tangent got {len(points)} point tensors but {len(maps)} maps")
    z = torch.stack([f(p) for f, p in zip(maps, points)], dim=-1)
    if weights is None:
        return z.mean(-1)
    if weights.shape != (z.shape[0], len(points)):
        raise ValueError(f"weights must have shape ({z.shape[0]}, {len(points)}), got {tuple(weights.shape)}")
    return (z * weights.unsqueeze(-2).to(z.dtype)).sum(-1)
