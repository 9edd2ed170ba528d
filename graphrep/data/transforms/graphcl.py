"""GraphCL augmentations (You et al., "Graph Contrastive Learning with Augmentations", NeurIPS 2020), vectorised
over a batch.

Each function maps a ``Batch`` of ``B`` graphs to a ``Batch`` of ``B`` augmented views (same graph order), with the
counts of the GraphCL molecule code (``aug_ratio = 0.2``):

* ``drop_nodes``: remove ``int(n * ratio)`` uniformly chosen nodes of each graph and their edges;
* ``perturb_edges``: remove ``int(E * ratio)`` uniformly chosen bonds (``E`` counts bonds; both directions of a bond
  go together, so the view stays undirected - the public code drops directed edges one by one);
* ``mask_nodes``: overwrite the features of ``int(n * ratio)`` nodes with the mask token (molecules: ``(119, 0)``);
* ``subgraph``: keep ``max(1, int(n * (1 - ratio)))`` nodes grown from a random start node by repeatedly adding a
  uniformly chosen node of the current frontier (stopping early when the component is exhausted), and the edges among
  them. The growth runs one step per added node for all graphs at once (``max_n`` steps, not a loop over graphs).

Graph-level attributes other than the structure are not carried over; views are encoder inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Batch

from graphrep.data.errors import InvalidInputError
from graphrep.data.transforms.batch_build import build_batch
from graphrep.data.transforms.masking import apply_node_mask, mask_nodes_per_graph, mask_value_for
from graphrep.data.transforms.segments import (
    exclusive_cumsum,
    floor_ratio,
    sample_within_segments,
    undirected_bonds,
    uniform,
)


def _check(batch: Batch, ratio: float, name: str) -> None:
    if not isinstance(batch, Batch):
        raise TypeError(f"{name} expects a torch_geometric Batch, got {type(batch).__name__}")
    if batch.num_graphs == 0 or batch.x is None or batch.x.size(0) == 0:
        raise InvalidInputError(f"{name} got an empty batch (no graphs or no nodes)")
    if not 0.0 <= ratio < 1.0:
        raise InvalidInputError(f"{name}: ratio must be in [0, 1), got {ratio}")


def induced_subgraph(batch: Batch, keep: Tensor) -> Batch:
    """The graphs of ``batch`` restricted to the nodes where ``keep`` is true (edges between kept nodes).

    Shapes:
        keep: [N] bool -> Batch with ``keep.sum()`` nodes and the same number of graphs
    """
    new_index = torch.cumsum(keep.long(), 0) - 1
    src, dst = batch.edge_index
    edge_keep = keep[src] & keep[dst]
    edge_index = new_index[batch.edge_index[:, edge_keep]]
    edge_attr = batch.edge_attr[edge_keep] if batch.edge_attr is not None else None
    return build_batch(
        x=batch.x[keep],
        edge_index=edge_index,
        edge_attr=edge_attr,
        node_graph=batch.batch[keep],
        edge_graph=batch.batch[src[edge_keep]],
        num_graphs=batch.num_graphs,
    )


def _nodes_per_graph(batch: Batch) -> Tensor:
    return torch.bincount(batch.batch, minlength=batch.num_graphs)


def drop_nodes(batch: Batch, ratio: float = 0.2, *, generator: torch.Generator | None = None) -> Batch:
    """Remove ``int(n * ratio)`` nodes per graph, uniformly, with their edges."""
    _check(batch, ratio, "drop_nodes")
    n = _nodes_per_graph(batch)
    dropped = sample_within_segments(batch.batch, floor_ratio(ratio, n), generator)
    return induced_subgraph(batch, ~dropped)


def perturb_edges(batch: Batch, ratio: float = 0.2, *, generator: torch.Generator | None = None) -> Batch:
    """Remove ``int(E * ratio)`` bonds per graph, uniformly (``E`` = bonds, each stored in both directions)."""
    _check(batch, ratio, "perturb_edges")
    bonds = undirected_bonds(batch.edge_index, batch.x.size(0))
    src, dst = batch.edge_index
    bond_graph = batch.batch[src[bonds]]
    n_bonds = torch.bincount(bond_graph, minlength=batch.num_graphs)
    removed_bond = sample_within_segments(bond_graph, floor_ratio(ratio, n_bonds), generator)
    # each directed edge belongs to the bond with the same unordered endpoints
    N = batch.x.size(0)
    bond_key = src[bonds] * N + dst[bonds]
    edge_key = torch.minimum(src, dst) * N + torch.maximum(src, dst)
    removed_keys = bond_key[removed_bond]
    edge_keep = ~torch.isin(edge_key, removed_keys)
    return build_batch(
        x=batch.x,
        edge_index=batch.edge_index[:, edge_keep],
        edge_attr=batch.edge_attr[edge_keep] if batch.edge_attr is not None else None,
        node_graph=batch.batch,
        edge_graph=batch.batch[src[edge_keep]],
        num_graphs=batch.num_graphs,
    )


def mask_nodes(
    batch: Batch,
    ratio: float = 0.2,
    *,
    mask_token: int | Sequence[int] | None = None,
    generator: torch.Generator | None = None,
) -> Batch:
    """Overwrite ``int(n * ratio)`` nodes per graph with the mask value (see ``masking.mask_value_for``)."""
    _check(batch, ratio, "mask_nodes")
    mask_value_for(batch.x, mask_token)
    n = _nodes_per_graph(batch)
    pool = torch.ones_like(batch.batch, dtype=torch.bool)
    masked = mask_nodes_per_graph(batch.batch, pool, floor_ratio(ratio, n), generator)
    return build_batch(
        x=apply_node_mask(batch.x, masked, mask_token),
        edge_index=batch.edge_index,
        edge_attr=batch.edge_attr,
        node_graph=batch.batch,
        edge_graph=batch.batch[batch.edge_index[0]],
        num_graphs=batch.num_graphs,
    )


def subgraph(batch: Batch, ratio: float = 0.2, *, generator: torch.Generator | None = None) -> Batch:
    """Keep ``max(1, int(n * (1 - ratio)))`` nodes grown by random frontier expansion from a random node."""
    _check(batch, ratio, "subgraph")
    device = batch.x.device
    n = _nodes_per_graph(batch)
    ptr = exclusive_cumsum(n)
    target = torch.floor((1.0 - ratio) * n.double()).long().clamp(min=1)
    target = torch.minimum(target, n)
    has_nodes = n > 0
    start = (ptr[:-1] + torch.floor(uniform(batch.num_graphs, generator, device) * n).long())[has_nodes]
    keep = torch.zeros(batch.x.size(0), dtype=torch.bool, device=device)
    keep[start] = True
    size = has_nodes.long()
    src, dst = batch.edge_index
    for _ in range(int(target.max()) - 1):
        growing = size < target
        if not bool(growing.any()):
            break
        reach = torch.zeros_like(keep)
        reach[dst[keep[src]]] = True
        frontier = (reach & ~keep & growing[batch.batch]).nonzero().view(-1)
        if frontier.numel() == 0:
            break
        chosen = sample_within_segments(batch.batch[frontier], torch.ones_like(n), generator)
        keep[frontier[chosen]] = True
        size = size + torch.bincount(batch.batch[frontier[chosen]], minlength=batch.num_graphs)
    return induced_subgraph(batch, keep)


def identity(batch: Batch, ratio: float = 0.2, *, generator: torch.Generator | None = None) -> Batch:
    """No augmentation (GraphCL's "none")."""
    return batch


#: GraphCL's augmentation names -> functions.
AUGMENTATIONS: dict[str, Callable[..., Batch]] = {
    "none": identity,
    "dropN": drop_nodes,
    "permE": perturb_edges,
    "maskN": mask_nodes,
    "subgraph": subgraph,
}


def augment(batch: Batch, name: str, ratio: float = 0.2, *, generator: torch.Generator | None = None) -> Batch:
    """Apply the GraphCL augmentation called ``name`` (one of :data:`AUGMENTATIONS`)."""
    if name not in AUGMENTATIONS:
        raise InvalidInputError(f"unknown GraphCL augmentation {name!r}; choose from {sorted(AUGMENTATIONS)}")
    return AUGMENTATIONS[name](batch, ratio, generator=generator)
