"""Seeded graph augmentations for contrastive learning (GRACE / GraphCL style), as pure functions.

Randomness comes only from the ``generator`` argument (a :class:`torch.Generator` or an int seed; ``None`` uses the
global RNG), drawn on CPU so that a seed gives the same augmentation on every device.
"""

from __future__ import annotations

import torch

__all__ = ["drop_edges", "mask_features"]


def _generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    raise TypeError(f"generator must be a torch.Generator, an int seed or None, got {type(generator).__name__}")


def _check_p(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"drop probability must be in [0, 1], got {p}")
    return float(p)


def drop_edges(edge_index: torch.Tensor, p: float, force_undirected: bool = False,
               generator: torch.Generator | int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop each edge independently with probability ``p``.

    With ``force_undirected`` the decision is made once per unordered pair ``{i, j}``, so an undirected graph stays
    undirected (both directions, and any duplicates, are kept or dropped together).

    Shapes:
        - **edge_index:** ``[2, E]``
        - **output:** ``(edge_index [2, E'], keep [E] bool)``; index ``edge_attr[keep]`` to follow along.
    """
    p = _check_p(p)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
    g = _generator(generator)
    num_edges = edge_index.size(1)
    if force_undirected and num_edges:
        lo, hi = torch.minimum(edge_index[0], edge_index[1]), torch.maximum(edge_index[0], edge_index[1])
        pairs = torch.stack([lo, hi]).cpu()
        _, inverse = torch.unique(pairs, dim=1, return_inverse=True)
        draw = torch.rand(int(inverse.max()) + 1, generator=g)[inverse]
    else:
        draw = torch.rand(num_edges, generator=g)
    keep = (draw >= p).to(edge_index.device)
    return edge_index[:, keep], keep


def mask_features(x: torch.Tensor, p: float, mode: str = "column",
                  generator: torch.Generator | int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero features with probability ``p``.

    Modes: ``"column"`` masks whole feature dimensions, the same for every node (GRACE); ``"entry"`` masks each entry
    independently; ``"node"`` masks whole node rows (GraphCL's attribute masking with zeros).

    Shapes:
        - **x:** ``[N, F]``
        - **output:** ``(x * mask [N, F], mask)`` with ``mask`` bool of shape ``[1, F]``, ``[N, F]`` or ``[N, 1]``
    """
    p = _check_p(p)
    if x.dim() != 2:
        raise ValueError(f"x must have shape [N, F], got {tuple(x.shape)}")
    shapes = {"column": (1, x.size(1)), "entry": tuple(x.shape), "node": (x.size(0), 1)}
    if mode not in shapes:
        raise ValueError(f"mode must be one of {sorted(shapes)}, got {mode!r}")
    mask = (torch.rand(shapes[mode], generator=_generator(generator)) >= p).to(x.device)
    return x * mask.to(x.dtype), mask
