"""GraphCL augmentations and AttrMasking's atom masking on batches: counts per graph, views are real sub-structures of
their graphs, reproducibility, bad inputs."""

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data

from graphrep.data.molecules.featurize import MASK_ATOM
from graphrep.data.transforms import (
    augment,
    drop_nodes,
    mask_atoms,
    mask_nodes,
    perturb_edges,
    subgraph,
)


def tagged(molecules):
    """Molecules with a float feature column holding each node's batch-global id, to recover node identity."""
    batch = Batch.from_data_list(molecules)
    tagged = batch.clone()
    tagged.x = torch.arange(batch.num_nodes, dtype=torch.float).unsqueeze(1)
    return batch, tagged


def bond_set(edge_index, ids=None):
    pairs = edge_index.t().tolist()
    if ids is not None:
        pairs = [(ids[u], ids[v]) for u, v in pairs]
    return {(min(u, v), max(u, v)) for u, v in pairs}


def check_view_is_induced(batch, view):
    """Each view graph is the subgraph of its original induced by the kept nodes."""
    ids = view.x[:, 0].long().tolist()
    assert view.num_graphs == batch.num_graphs
    assert torch.equal(batch.batch[torch.tensor(ids, dtype=torch.long)], view.batch), "node moved to another graph"
    kept = set(ids)
    expected = {(u, v) for u, v in bond_set(batch.edge_index) if u in kept and v in kept}
    assert bond_set(view.edge_index, ids) == expected
    assert view.edge_index.size(1) == 2 * len(expected)


def test_drop_nodes_counts_and_structure(molecules):
    batch, tb = tagged(molecules)
    view = drop_nodes(tb, 0.2, generator=torch.Generator().manual_seed(0))
    n = torch.bincount(batch.batch)
    assert torch.equal(torch.bincount(view.batch, minlength=batch.num_graphs), n - (0.2 * n.double()).floor().long())
    check_view_is_induced(tb, view)
    assert view.get_example(3).num_nodes == 3  # cyclopropane: int(0.6) = 0 dropped


def test_subgraph_is_connected_and_has_target_size(molecules):
    batch, tb = tagged(molecules)
    view = subgraph(tb, 0.2, generator=torch.Generator().manual_seed(1))
    check_view_is_induced(tb, view)
    n = torch.bincount(batch.batch)
    sizes = torch.bincount(view.batch, minlength=batch.num_graphs)
    assert torch.equal(sizes, (0.8 * n.double()).floor().long().clamp(min=1))  # all test molecules are connected
    for g in range(view.num_graphs):
        d = view.get_example(g)
        G = nx.Graph()
        G.add_nodes_from(range(d.num_nodes))
        G.add_edges_from(d.edge_index.t().tolist())
        assert nx.is_connected(G)


def test_subgraph_stops_at_the_component():
    # bond 0-1 plus two isolated atoms: the target is int(0.8 * 4) = 3 nodes, but growth cannot leave the start's
    # component, so the view has 2 nodes (start 0 or 1) or 1 node (start 2 or 3)
    d = Data(x=torch.arange(4.0).unsqueeze(1), edge_index=torch.tensor([[0, 1], [1, 0]]))
    for seed in range(8):
        view = subgraph(Batch.from_data_list([d]), 0.2, generator=torch.Generator().manual_seed(seed))
        kept = set(view.x[:, 0].long().tolist())
        assert kept in ({0, 1}, {2}, {3})


def test_perturb_edges_removes_whole_bonds(molecules):
    batch, _ = tagged(molecules)
    view = perturb_edges(batch, 0.2, generator=torch.Generator().manual_seed(2))
    orig = bond_set(batch.edge_index)
    new = bond_set(view.edge_index)
    assert new <= orig
    assert view.edge_index.size(1) == 2 * len(new), "a bond lost only one of its directions"
    bonds_per_graph = torch.bincount(batch.batch[batch.edge_index[0]], minlength=batch.num_graphs) // 2
    new_per_graph = torch.bincount(view.batch[view.edge_index[0]], minlength=batch.num_graphs) // 2
    assert torch.equal(bonds_per_graph - new_per_graph, (0.2 * bonds_per_graph.double()).floor().long())
    # attributes travel with their edges
    lookup = {tuple(e): tuple(a) for e, a in zip(batch.edge_index.t().tolist(), batch.edge_attr.tolist())}
    assert all(lookup[tuple(e)] == tuple(a) for e, a in zip(view.edge_index.t().tolist(), view.edge_attr.tolist()))


def test_mask_nodes_and_mask_atoms(molecules):
    batch = Batch.from_data_list(molecules)
    n = torch.bincount(batch.batch)
    view = mask_nodes(batch, 0.2, generator=torch.Generator().manual_seed(3))
    masked = view.x[:, 0] == MASK_ATOM
    assert torch.equal(torch.bincount(batch.batch[masked], minlength=len(n)), (0.2 * n.double()).floor().long())
    assert torch.equal(view.x[~masked], batch.x[~masked]) and bool((view.x[masked, 1] == 0).all())
    assert torch.equal(view.edge_index, batch.edge_index)

    out, idx, target = mask_atoms(batch, 0.15, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.bincount(batch.batch[idx], minlength=len(n)), (0.15 * n.double() + 1).floor().long().clamp(max=n))
    assert torch.equal(target, batch.x[idx, 0])
    assert bool((out.x[idx, 0] == MASK_ATOM).all())
    rest = torch.ones(batch.num_nodes, dtype=torch.bool)
    rest[idx] = False
    assert torch.equal(out.x[rest], batch.x[rest])
    assert torch.equal(batch.x, Batch.from_data_list(molecules).x), "input batch must not be modified"


def test_augmentations_are_seeded(molecules):
    batch = Batch.from_data_list(molecules)
    for name in ("dropN", "permE", "maskN", "subgraph"):
        a = augment(batch, name, generator=torch.Generator().manual_seed(4))
        b = augment(batch, name, generator=torch.Generator().manual_seed(4))
        assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index), name
        assert a.to_data_list()[0].num_nodes > 0


def test_bad_inputs(molecules):
    batch = Batch.from_data_list(molecules)
    with pytest.raises(ValueError, match="unknown GraphCL augmentation"):
        augment(batch, "rotate")
    with pytest.raises(ValueError, match="ratio"):
        drop_nodes(batch, 1.0)
    empty = Batch.from_data_list([Data(x=torch.zeros(0, 2, dtype=torch.long), edge_index=torch.zeros(2, 0, dtype=torch.long))])
    for fn in (drop_nodes, perturb_edges, mask_nodes, subgraph):
        with pytest.raises(ValueError, match="empty batch"):
            fn(empty)
    with pytest.raises(ValueError, match="empty batch"):
        mask_atoms(empty)
