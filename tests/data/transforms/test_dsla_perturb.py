"""D-SLA perturbation: exact edit distances, valid indices, the issue's counts, agreement with the per-molecule
reference, reproducibility and edge cases."""

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

from graphrep.data.molecules.featurize import MASK_ATOM
from graphrep.data.transforms import (
    BondDistribution,
    DSLAPerturbation,
    PerturbationConfig,
    bond_distribution,
    dsla_perturb,
    dsla_perturb_reference_batch,
)


def bond_map(data: Data) -> dict[tuple[int, int], tuple]:
    """{(u, v) with u < v: attribute row} of one generated graph, checking the consecutive-pairs storage on the way."""
    ei = data.edge_index
    assert ei.size(1) % 2 == 0
    assert torch.equal(ei[:, 0::2], ei[:, 1::2].flip(0)), "edges must come in consecutive reversed pairs"
    out = {}
    for k in range(0, ei.size(1), 2):
        u, v = ei[:, k].tolist()
        attr = tuple(data.edge_attr[k].tolist()) if data.edge_attr is not None else ()
        if data.edge_attr is not None:
            assert attr == tuple(data.edge_attr[k + 1].tolist())
        key = (min(u, v), max(u, v))
        assert key not in out, "duplicate bond"
        out[key] = attr
    return out


def original_bonds(data: Data) -> dict[tuple[int, int], tuple]:
    """{(u, v) with u < v: attribute row} of an input graph (any edge order)."""
    out = {}
    for k, (u, v) in enumerate(data.edge_index.t().tolist()):
        if u < v:
            out[(u, v)] = tuple(data.edge_attr[k].tolist()) if data.edge_attr is not None else ()
    return out


def hop_subgraph(data: Data, center: int, hops: int) -> set[int]:
    g = nx.Graph()
    g.add_nodes_from(range(data.num_nodes))
    g.add_edges_from(data.edge_index.t().tolist())
    return set(nx.single_source_shortest_path_length(g, center, cutoff=hops))


def check_candidates(originals, out, cfg, centers=None, bond_dist=None):
    """Every property the generator promises, checked graph by graph against the originals."""
    C = cfg.total_candidates
    assert out.num_graphs == len(originals) * C
    assert out.edge_index.numel() == 0 or (out.edge_index.min() >= 0 and out.edge_index.max() < out.num_nodes)
    for g, orig in enumerate(originals):
        ob = original_bonds(orig)
        n_bonds = len(ob)
        for c in range(C):
            cand = out.get_example(g * C + c)
            assert int(cand.graph_id) == g and int(cand.candidate_id) == c
            assert cand.num_nodes == orig.num_nodes
            ei = cand.edge_index
            assert ei.numel() == 0 or (ei.min() >= 0 and ei.max() < orig.num_nodes), "index outside its graph"
            assert not bool((ei[0] == ei[1]).any()), "self-loop"
            cb = bond_map(cand)
            deleted = set(ob) - set(cb)
            added = set(cb) - set(ob)
            assert len(deleted) + len(added) == int(cand.edit_distance), "reported edit distance is not the true one"
            assert len(deleted) == int(cand.num_deleted) and len(added) == int(cand.num_added)
            for key in set(ob) & set(cb):
                assert ob[key] == cb[key], "a kept bond changed type"
            if bond_dist is not None:
                support = {tuple(r) for r in bond_dist.attrs.tolist()}
                assert all(cb[key] in support for key in added)
            strong = cfg.strong and c == C - 1
            # masked rows: molecule atoms become (119, 0), float rows become 0; neither equals an input row here
            is_mask = (cand.x != orig.x).any(-1) if orig.x.dim() == 2 else cand.x != orig.x
            if orig.x.is_floating_point():
                assert bool((cand.x[is_mask] == 0).all())
            else:
                assert bool((cand.x[is_mask, 0] == MASK_ATOM).all()) and bool((cand.x[is_mask, 1] == 0).all())
            if centers is not None and not strong:
                sub = hop_subgraph(orig, centers[g], cfg.num_hops)
                e_sub = sum(1 for u, v in ob if u in sub and v in sub)
                want = 0 if c == 0 else max(1, int(cfg.edge_ratio * c * e_sub))
                free = sum(1 for u in sub for v in sub if u < v and (u, v) not in ob)
                assert int(cand.num_deleted) == min(want, e_sub)
                assert int(cand.num_added) == min(int(cand.num_deleted), free)
                assert all(u in sub and v in sub for u, v in deleted | added), "edit outside the 3-hop subgraph"
                assert int(is_mask.sum()) == int(cfg.mask_ratio * len(sub))
                assert set(is_mask.nonzero().view(-1).tolist()) <= sub
            if strong:
                want = max(1, int(cfg.strong_edge_ratio * n_bonds)) if n_bonds else 0
                assert int(cand.num_deleted) == min(want, n_bonds)
                assert int(is_mask.sum()) == int(cfg.strong_mask_ratio * orig.num_nodes)


@pytest.fixture(scope="module")
def bond_dist(molecules):
    return bond_distribution(molecules)


@pytest.mark.parametrize("strong", [False, True])
def test_candidates_have_the_edit_distance_they_report(molecules, bond_dist, strong):
    cfg = PerturbationConfig(strong=strong)
    batch = Batch.from_data_list(molecules)
    gen = torch.Generator().manual_seed(1)
    centers_local = [int(torch.randint(d.num_nodes, (1,), generator=gen)) for d in molecules]
    centers = batch.ptr[:-1] + torch.tensor(centers_local)
    out = dsla_perturb(batch, cfg, bond_dist=bond_dist, generator=gen, centers=centers)
    check_candidates(molecules, out, cfg, centers_local, bond_dist)


def test_random_centres_also_satisfy_invariants(molecules, bond_dist):
    cfg = PerturbationConfig(strong=True)
    out = dsla_perturb(Batch.from_data_list(molecules), cfg, bond_dist=bond_dist, generator=torch.Generator().manual_seed(5))
    check_candidates(molecules, out, cfg, bond_dist=bond_dist)
    # perturbation grows with the candidate index (for molecules with enough subgraph bonds)
    e = out.edit_distance.view(len(molecules), -1)
    assert bool((e[:, 0] == 0).all())
    assert bool((e[:, 1:4].diff(dim=1) >= 0).all())


def test_matches_per_molecule_reference_for_same_centres(molecules, bond_dist):
    """Vectorised and per-molecule implementations agree on every deterministic quantity."""
    cfg = PerturbationConfig(strong=True)
    gen = torch.Generator().manual_seed(3)
    centers_local = [int(torch.randint(d.num_nodes, (1,), generator=gen)) for d in molecules]
    batch = Batch.from_data_list(molecules)
    vec = dsla_perturb(batch, cfg, bond_dist=bond_dist, generator=gen, centers=batch.ptr[:-1] + torch.tensor(centers_local))
    ref = dsla_perturb_reference_batch(molecules, cfg, bond_dist=bond_dist, generator=gen, centers=centers_local)
    check_candidates(molecules, ref, cfg, centers_local, bond_dist)
    for name in ("graph_id", "candidate_id", "edit_distance", "num_deleted", "num_added"):
        assert torch.equal(vec[name], ref[name]), name
    masked_vec = torch.bincount(vec.batch[vec.x[:, 0] == MASK_ATOM], minlength=vec.num_graphs)
    masked_ref = torch.bincount(ref.batch[ref.x[:, 0] == MASK_ATOM], minlength=ref.num_graphs)
    assert torch.equal(masked_vec, masked_ref)
    assert torch.equal(vec.ptr, ref.ptr)
    assert vec.edge_index.size(1) == ref.edge_index.size(1)


def test_seeded_and_reproducible(molecules, bond_dist):
    batch = Batch.from_data_list(molecules)
    a = dsla_perturb(batch, bond_dist=bond_dist, generator=torch.Generator().manual_seed(7))
    b = dsla_perturb(batch, bond_dist=bond_dist, generator=torch.Generator().manual_seed(7))
    c = dsla_perturb(batch, bond_dist=bond_dist, generator=torch.Generator().manual_seed(8))
    for key in ("x", "edge_index", "edge_attr", "edit_distance"):
        assert torch.equal(a[key], b[key])
    assert not (torch.equal(a.x, c.x) and torch.equal(a.edge_index, c.edge_index))
    transform = DSLAPerturbation(bond_dist, seed=7)
    d = transform(batch)
    assert torch.equal(d.edge_index, a.edge_index) and torch.equal(d.x, a.x)


def test_added_bond_types_follow_the_empirical_distribution():
    dist = BondDistribution(attrs=torch.tensor([[0, 0], [1, 0], [3, 0]]), probs=torch.tensor([0.6, 0.1, 0.3]))
    # a long chain: whole-graph perturbation adds many bonds
    n = 60
    chain = torch.stack([torch.arange(n - 1), torch.arange(1, n)])
    ei = torch.stack([torch.stack([chain[0], chain[1]], 1).view(-1), torch.stack([chain[1], chain[0]], 1).view(-1)])
    data = Data(x=torch.zeros(n, 2, dtype=torch.long), edge_index=ei, edge_attr=torch.zeros(ei.size(1), 2, dtype=torch.long))
    batch = Batch.from_data_list([data] * 40)
    out = dsla_perturb(batch, PerturbationConfig(whole_graph=True), bond_dist=dist, generator=torch.Generator().manual_seed(0))
    assert int(out.num_added.sum()) == int(out.num_deleted.sum())
    # original bonds are all type (0, 0); count the non-(0,0) added ones per type
    attrs = out.edge_attr[0::2]
    counts = torch.stack([(attrs == torch.tensor(r)).all(-1).sum() for r in ([1, 0], [3, 0])]).double()
    total_added = out.num_added.sum().double()
    assert abs(counts[0] / total_added - 0.1) < 0.03 and abs(counts[1] / total_added - 0.3) < 0.04


def test_no_bond_single_atom_and_full_subgraph(bond_dist, featurise):
    mols = [featurise(s) for s in ["[Na+].[Cl-]", "C", "C1CC1"]]
    cfg = PerturbationConfig(strong=True)
    batch = Batch.from_data_list(mols)
    out = dsla_perturb(batch, cfg, bond_dist=bond_dist, generator=torch.Generator().manual_seed(0))
    check_candidates(mols, out, cfg, bond_dist=bond_dist)
    e = out.edit_distance.view(3, -1)
    assert e[0].tolist() == [0] * 5 and e[1].tolist() == [0] * 5
    # cyclopropane: every pair is bonded, so a candidate deletes 1 bond and can add none back
    assert e[2].tolist() == [0, 1, 1, 1, 2]
    assert out.num_added.view(3, -1)[2].tolist() == [0, 0, 0, 0, 0]


def test_complete_graph_adds_fewer_and_reports_it():
    n = 4
    full = torch.tensor([(u, v) for u in range(n) for v in range(n) if u != v]).t()
    data = Data(x=torch.randn(n, 3), edge_index=full)
    cfg = PerturbationConfig()
    out = dsla_perturb(Batch.from_data_list([data]), cfg, generator=torch.Generator().manual_seed(0))
    check_candidates([data], out, cfg)
    assert out.num_deleted.tolist() == [0, 1, 2, 3]
    assert out.num_added.tolist() == [0, 0, 0, 0]


def test_bad_inputs_give_clear_errors(molecules, bond_dist):
    with pytest.raises(ValueError, match="empty batch"):
        dsla_perturb(Batch.from_data_list([Data(x=torch.zeros(0, 2, dtype=torch.long), edge_index=torch.zeros(2, 0, dtype=torch.long))]), bond_dist=bond_dist)
    with pytest.raises(ValueError, match="bond_dist"):
        dsla_perturb(Batch.from_data_list(molecules[:2]))
    asym = Data(x=torch.zeros(3, 2, dtype=torch.long), edge_index=torch.tensor([[0, 1], [1, 2]]))
    with pytest.raises(ValueError, match="not undirected"):
        dsla_perturb(Batch.from_data_list([asym]))
    with pytest.raises(ValueError, match="no nodes"):
        empty = Data(x=torch.zeros(0, 2, dtype=torch.long), edge_index=torch.zeros(2, 0, dtype=torch.long),
                     edge_attr=torch.zeros(0, 2, dtype=torch.long))
        dsla_perturb(Batch.from_data_list([molecules[0], empty]), bond_dist=bond_dist)
    with pytest.raises(ValueError, match="mask_token"):
        dsla_perturb(Batch.from_data_list([Data(x=torch.zeros(3, dtype=torch.long), edge_index=torch.zeros(2, 0, dtype=torch.long))]))
    with pytest.raises(ValueError, match="edge_ratio"):
        PerturbationConfig(edge_ratio=1.5)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 12), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1)),
        min_size=1,
        max_size=5,
    ),
    st.integers(0, 2**31 - 1),
    st.booleans(),
)
def test_generic_random_graphs_property(specs, seed, whole):
    """Random undirected graphs, whole-graph or subgraph mode: invariants hold for any graph shape."""
    graphs = []
    for n, p, gseed in specs:
        g = torch.Generator().manual_seed(gseed)
        pairs = [(u, v) for u in range(n) for v in range(u + 1, n) if torch.rand(1, generator=g).item() < p]
        ei = torch.tensor([e for u, v in pairs for e in ((u, v), (v, u))], dtype=torch.long).t().reshape(2, -1)
        graphs.append(Data(x=torch.randn(n, 2), edge_index=ei))
    cfg = PerturbationConfig(whole_graph=whole, strong=True)
    gen = torch.Generator().manual_seed(seed)
    centers_local = [int(torch.randint(d.num_nodes, (1,), generator=gen)) for d in graphs]
    batch = Batch.from_data_list(graphs)
    out = dsla_perturb(batch, cfg, generator=gen, centers=batch.ptr[:-1] + torch.tensor(centers_local))
    check_candidates(graphs, out, cfg, None if whole else centers_local)
    ref = dsla_perturb_reference_batch(graphs, cfg, generator=gen, centers=centers_local)
    check_candidates(graphs, ref, cfg, None if whole else centers_local)
    for name in ("edit_distance", "num_deleted", "num_added"):
        assert torch.equal(out[name], ref[name]), name
    if whole:
        for g, d in enumerate(graphs):
            e_all = d.edge_index.size(1) // 2
            free = d.num_nodes * (d.num_nodes - 1) // 2 - e_all
            for c in range(1, 4):
                want = min(e_all, max(1, int(0.2 * c * e_all))) if e_all else 0
                assert int(out.num_deleted[g * 5 + c]) == want
                assert int(out.num_added[g * 5 + c]) == min(want, free)


@pytest.mark.shared_data
def test_real_zinc_molecules(shared_data, featurise):
    import gzip

    path = shared_data / "molecules" / "pretrain" / "zinc1k.csv.gz"
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()
    col = lines[0].split(",").index("smiles") if "smiles" in lines[0].split(",") else 0
    mols = [featurise(line.split(",")[col]) for line in lines[1:121]]
    cfg = PerturbationConfig(strong=True)
    dist = bond_distribution(mols)
    out = dsla_perturb(Batch.from_data_list(mols), cfg, bond_dist=dist, generator=torch.Generator().manual_seed(0))
    check_candidates(mols, out, cfg, bond_dist=dist)
    e = out.edit_distance.view(len(mols), -1)
    assert bool((e[:, 1:] > 0).all()), "every ZINC molecule has bonds, so every perturbed candidate differs"


def test_upper_pair_decodes_the_upper_triangle():
    from graphrep.data.transforms.perturb import upper_pair

    for n in [2, 3, 7, 40, 123]:
        k = torch.arange(n * (n - 1) // 2)
        a, b = upper_pair(k, torch.full_like(k, n))
        ref = torch.triu_indices(n, n, offset=1)
        assert torch.equal(a, ref[0]) and torch.equal(b, ref[1])
