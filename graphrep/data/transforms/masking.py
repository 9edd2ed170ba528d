"""Node-attribute masking on batched graphs (used by D-SLA, AttrMasking and GraphCL), vectorised over the batch.

Molecules (pretrain-gnns two-feature convention): a masked atom becomes :data:`graphrep.data.vocab.MOLECULE_MASK_ROW`
= ``(119, 0)``, the reserved MASK atom type with chirality "unspecified", as in Hu et al. (2020). Generic graphs: integer node features take a
given token; float features are zeroed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Batch

from graphrep.data.errors import InvalidInputError
from graphrep.data.transforms.segments import sample_within_segments
from graphrep.data.vocab import MOLECULE_MASK_ROW


def mask_value_for(x: Tensor, mask_token: int | Sequence[int] | None) -> Tensor | None:
    """The value written over a masked row of ``x``: the given token(s) for integer features, 0 for float features.

    ``mask_token=None`` picks the molecule default ``(119, 0)`` for ``[N, 2]`` integer features and fails for other
    integer features (there is no safe guess for a generic vocabulary).
    """
    if x.is_floating_point():
        return None
    if mask_token is None:
        if x.dim() == 2 and x.size(1) == 2:
            mask_token = MOLECULE_MASK_ROW
        else:
            raise InvalidInputError(
                f"integer node features of shape {tuple(x.shape)} need an explicit mask_token "
                "(the molecule default (119, 0) only fits [N, 2] atom features)"
            )
    value = torch.as_tensor(mask_token, dtype=x.dtype, device=x.device)
    row_shape = x.shape[1:]
    if value.numel() == 1:
        return value.reshape(()).expand(row_shape) if row_shape else value.reshape(())
    if tuple(value.shape) != tuple(row_shape):
        raise InvalidInputError(f"mask_token {tuple(mask_token)} does not match node feature rows of shape {tuple(row_shape)}")
    return value


def apply_node_mask(x: Tensor, masked: Tensor, mask_token: int | Sequence[int] | None = None) -> Tensor:
    """A copy of ``x`` with the rows where ``masked`` is true replaced by the mask value (see :func:`mask_value_for`).

    Shapes:
        x: [N] or [N, F], masked: [N] bool -> same as x
    """
    out = x.clone()
    value = mask_value_for(x, mask_token)
    if value is None:
        out[masked] = 0
    else:
        out[masked] = value
    return out


def mask_nodes_per_graph(
    node_graph: Tensor, pool: Tensor, counts: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Choose ``counts[g]`` nodes uniformly among the nodes of graph ``g`` where ``pool`` is true.

    Shapes:
        node_graph: [N], pool: [N] bool, counts: [G] -> boolean mask [N] (always inside ``pool``)
    """
    chosen = torch.zeros_like(pool)
    idx = pool.nonzero().view(-1)
    chosen[idx] = sample_within_segments(node_graph[idx], counts, generator)
    return chosen


def mask_atoms(
    batch: Batch,
    mask_rate: float = 0.15,
    *,
    mask_token: int | Sequence[int] | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Batch, Tensor, Tensor]:
    """AttrMasking input (Hu et al. 2020): mask ``int(n * mask_rate + 1)`` atoms of each graph (capped at ``n``).

    The count formula is the one of pretrain-gnns' ``MaskAtom`` (at least one atom per non-empty graph).

    Shapes:
        batch: ``x`` [N, F] -> (masked copy of the batch, ``masked_idx`` [M] node indices in the batch,
        ``target`` [M] original atom-type index of each masked node, i.e. ``x[masked_idx, 0]``)
    """
    if batch.num_graphs == 0 or batch.x is None or batch.x.size(0) == 0:
        raise InvalidInputError("mask_atoms got an empty batch (no graphs or no nodes)")
    if not 0.0 <= mask_rate <= 1.0:
        raise InvalidInputError(f"mask_rate must be in [0, 1], got {mask_rate}")
    n = torch.bincount(batch.batch, minlength=batch.num_graphs)
    counts = torch.where(n > 0, torch.floor(n.double() * mask_rate + 1).long(), torch.zeros_like(n))
    counts = torch.minimum(counts, n)
    masked = mask_nodes_per_graph(batch.batch, torch.ones_like(batch.batch, dtype=torch.bool), counts, generator)
    masked_idx = masked.nonzero().view(-1)
    x = batch.x
    target = x[masked_idx, 0] if x.dim() == 2 else x[masked_idx]
    out = batch.clone()
    out.x = apply_node_mask(x, masked, mask_token)
    return out, masked_idx, target.long()
