"""Segment-wise random sampling and bond bookkeeping on batched graphs, without a Python loop per graph.

A *segment* is a group of items (nodes, bonds, candidate pairs) that belong to one graph; ``segment[i]`` names the
graph of item ``i``. Everything here is plain tensor code (sort, cumsum, bincount), so a batch of 256 molecules costs a
handful of kernel calls instead of 256 Python iterations.
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphrep.data.errors import InvalidInputError


def exclusive_cumsum(counts: Tensor) -> Tensor:
    """``[0, c0, c0+c1, ...]`` with one more entry than ``counts`` (a CSR-style pointer).

    Shapes:
        counts: [S] -> [S + 1]
    """
    out = torch.zeros(counts.numel() + 1, dtype=torch.long, device=counts.device)
    torch.cumsum(counts, 0, out=out[1:])
    return out


def random_order_within_segments(
    segment: Tensor, num_segments: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """A uniformly random order of the items of each segment.

    Items are sorted by segment (stable sort of a random permutation), so inside each segment their order is a uniform
    random permutation.

    Shapes:
        segment: [M] (any order, values in ``0..num_segments-1``)
        returns ``idx`` [M] (items sorted by segment, random within) and ``rank`` [M] (``rank[j]`` is the position of
        item ``idx[j]`` inside its segment, 0-based).
    """
    m = segment.numel()
    gen_device = generator.device if generator is not None else torch.device("cpu")
    perm = torch.randperm(m, generator=generator, device=gen_device).to(segment.device)
    order = torch.sort(segment[perm], stable=True).indices
    idx = perm[order]
    seg_sorted = segment[idx]
    start = exclusive_cumsum(torch.bincount(segment, minlength=num_segments))
    rank = torch.arange(m, device=segment.device) - start[seg_sorted]
    return idx, rank


def sample_within_segments(
    segment: Tensor, counts: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Choose ``counts[s]`` items of each segment ``s`` uniformly without replacement.

    ``counts`` larger than a segment's size take the whole segment.

    Shapes:
        segment: [M], counts: [S] -> boolean mask [M]
    """
    idx, rank = random_order_within_segments(segment, counts.numel(), generator)
    chosen = torch.zeros(segment.numel(), dtype=torch.bool, device=segment.device)
    chosen[idx] = rank < counts[segment[idx]]
    return chosen


def uniform(n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """``n`` float64 draws in [0, 1) from ``generator`` (made on the generator's device, moved to ``device``)."""
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(n, generator=generator, device=gen_device, dtype=torch.float64).to(device)


def floor_ratio(ratio: float, counts: Tensor) -> Tensor:
    """``int(ratio * c)`` for each count, in float64 so that it matches Python's ``int(ratio * c)`` exactly."""
    return torch.floor(ratio * counts.to(torch.float64)).long()


def undirected_bonds(edge_index: Tensor, num_nodes: int, what: str = "edge_index") -> Tensor:
    """Indices of the directed edges ``u -> v`` with ``u < v``: one representative per undirected bond.

    Checks that the graph is undirected (every ``u -> v`` has its ``v -> u``) and has no self-loops or repeated edges,
    raising ``InvalidInputError`` (a ``ValueError``) that says which.

    Shapes:
        edge_index: [2, E] -> [E / 2]
    """
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise InvalidInputError(f"{what} must have shape [2, E], got {tuple(edge_index.shape)}")
    if edge_index.dtype != torch.long:
        raise InvalidInputError(f"{what} must be a LongTensor, got {edge_index.dtype}")
    src, dst = edge_index
    if edge_index.numel() and (edge_index.min() < 0 or edge_index.max() >= num_nodes):
        raise InvalidInputError(f"{what} refers to nodes outside 0..{num_nodes - 1}")
    if bool((src == dst).any()):
        raise InvalidInputError(f"{what} has self-loops; perturbation expects a simple undirected graph")
    fwd = src < dst
    key_f = src[fwd] * num_nodes + dst[fwd]
    key_b = dst[~fwd] * num_nodes + src[~fwd]
    if key_f.numel() != key_b.numel() or not torch.equal(torch.sort(key_f).values, torch.sort(key_b).values):
        raise InvalidInputError(f"{what} is not undirected: each bond must be stored in both directions")
    if torch.unique(key_f).numel() != key_f.numel():
        raise InvalidInputError(f"{what} stores some bond more than once")
    return fwd.nonzero().view(-1)


def bonds_to_directed(src: Tensor, dst: Tensor, attr: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Expand bonds to directed edges in consecutive pairs (edge ``2k`` is ``u -> v``, ``2k+1`` is ``v -> u``).

    Shapes:
        src, dst: [B], attr: [B, F] or None -> edge_index [2, 2B], edge_attr [2B, F] or None
    """
    edge_index = torch.stack([torch.stack([src, dst], 1).view(-1), torch.stack([dst, src], 1).view(-1)])
    edge_attr = attr.repeat_interleave(2, dim=0) if attr is not None else None
    return edge_index, edge_attr
