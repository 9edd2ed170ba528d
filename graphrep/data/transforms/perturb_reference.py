"""Per-molecule Python implementation of the D-SLA perturbation: the slow, obvious version of
:func:`graphrep.data.transforms.perturb.dsla_perturb`.

It follows the same rules (see that module's docstring) one graph at a time with Python sets and lists, the way the
public D-SLA code builds candidates inside DataLoader workers. It exists to check the vectorised generator (same
subgraphs, counts and edit distances for the same centre atoms) and as the baseline of
``benchmarks/perturbation_throughput.py``. Random draws come from the same kind of generator but in a different order,
so the two produce different (equally distributed) candidates for the same seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch_geometric.data import Batch, Data

from graphrep.data.errors import InvalidInputError
from graphrep.data.transforms.masking import apply_node_mask
from graphrep.data.transforms.perturb import BondDistribution, PerturbationConfig


def _pick(items: list, k: int, generator: torch.Generator | None) -> list:
    """``k`` items chosen uniformly without replacement."""
    if k <= 0:
        return []
    perm = torch.randperm(len(items), generator=generator)[:k].tolist()
    return [items[i] for i in perm]


def dsla_perturb_reference(
    data: Data,
    config: PerturbationConfig = PerturbationConfig(),
    *,
    bond_dist: BondDistribution | None = None,
    mask_token: int | Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    center: int | None = None,
) -> list[Data]:
    """The candidates of one graph, as ``Data`` objects with ``candidate_id``, ``edit_distance``, ``num_deleted``,
    ``num_added`` (one-element tensors).

    ``center``: local index of the centre atom (default: uniform random).
    """
    cfg = config
    n = int(data.num_nodes)
    if n == 0:
        raise InvalidInputError("dsla_perturb_reference got a graph with no nodes")
    typed = data.edge_attr is not None
    if typed and bond_dist is None:
        raise InvalidInputError("graphs with edge_attr need bond_dist to type the added bonds")
    whole = (not typed) if cfg.whole_graph is None else cfg.whole_graph

    src, dst = data.edge_index.tolist()
    bonds: list[tuple[int, int]] = []
    bond_attr: list = []
    adj: list[list[int]] = [[] for _ in range(n)]
    for e, (u, v) in enumerate(zip(src, dst)):
        adj[u].append(v)
        if u < v:
            bonds.append((u, v))
            bond_attr.append(data.edge_attr[e] if typed else None)
    bond_set = set(bonds)

    if whole:
        sub = set(range(n))
    else:
        if center is None:
            center = int(torch.rand(1, generator=generator, dtype=torch.float64).item() * n)
        sub = {center}
        frontier = {center}
        for _ in range(cfg.num_hops):
            frontier = {w for u in frontier for w in adj[u]} - sub
            sub |= frontier
    sub_nodes = sorted(sub)
    sub_bonds = [i for i, (u, v) in enumerate(bonds) if u in sub and v in sub]
    free_sub = [(u, v) for i, u in enumerate(sub_nodes) for v in sub_nodes[i + 1 :] if (u, v) not in bond_set]
    free_all = [(u, v) for u in range(n) for v in range(u + 1, n) if (u, v) not in bond_set] if cfg.strong else []

    out = []
    for c in range(cfg.total_candidates):
        strong = cfg.strong and c == cfg.total_candidates - 1
        if strong:
            pool_nodes, pool_bonds, free = list(range(n)), list(range(len(bonds))), free_all
            want = int(cfg.strong_edge_ratio * len(pool_bonds))
            n_mask = int(cfg.strong_mask_ratio * n)
        else:
            pool_nodes, pool_bonds, free = sub_nodes, sub_bonds, free_sub
            want = int(cfg.edge_ratio * c * len(pool_bonds)) if c > 0 else 0
            n_mask = int(cfg.mask_ratio * len(pool_nodes))
        if c > 0:
            want = max(1, want)
        n_delete = min(want, len(pool_bonds))
        deleted = set(_pick(pool_bonds, n_delete, generator))
        added = _pick(free, min(n_delete, len(free)), generator)

        kept = [i for i in range(len(bonds)) if i not in deleted]
        new_bonds = [bonds[i] for i in kept] + added
        if new_bonds:
            s = torch.tensor([u for u, _ in new_bonds])
            d = torch.tensor([v for _, v in new_bonds])
            edge_index = torch.stack([torch.stack([s, d], 1).view(-1), torch.stack([d, s], 1).view(-1)])
        else:
            edge_index = torch.zeros(2, 0, dtype=torch.long)
        cand = Data(edge_index=edge_index, num_nodes=n)
        if typed:
            rows = [bond_attr[i] for i in kept]
            new_attr = bond_dist.sample(len(added), generator).to(data.edge_attr.dtype)
            attr = torch.cat([torch.stack(rows) if rows else data.edge_attr[:0], new_attr])
            cand.edge_attr = attr.repeat_interleave(2, dim=0)

        masked = torch.zeros(n, dtype=torch.bool)
        masked[_pick(pool_nodes, n_mask, generator)] = True
        cand.x = apply_node_mask(data.x, masked, mask_token)
        cand.candidate_id = torch.tensor([c])
        cand.num_deleted = torch.tensor([n_delete])
        cand.num_added = torch.tensor([len(added)])
        cand.edit_distance = torch.tensor([n_delete + len(added)])
        out.append(cand)
    return out


def dsla_perturb_reference_batch(
    data_list: Sequence[Data],
    config: PerturbationConfig = PerturbationConfig(),
    *,
    bond_dist: BondDistribution | None = None,
    mask_token: int | Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    centers: Sequence[int] | None = None,
) -> Batch:
    """Loop :func:`dsla_perturb_reference` over molecules and collate, in the same graph-major layout as
    :func:`~graphrep.data.transforms.perturb.dsla_perturb` (``graph_id`` added). ``centers``: local indices."""
    if len(data_list) == 0:
        raise InvalidInputError("dsla_perturb_reference_batch got an empty list of graphs")
    candidates = []
    for g, data in enumerate(data_list):
        center = None if centers is None else int(centers[g])
        for cand in dsla_perturb_reference(
            data, config, bond_dist=bond_dist, mask_token=mask_token, generator=generator, center=center
        ):
            cand.graph_id = torch.tensor([g])
            candidates.append(cand)
    return Batch.from_data_list(candidates)
