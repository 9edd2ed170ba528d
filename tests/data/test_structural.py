"""Structural descriptors against networkx and brute force on small random graphs (with isolated nodes)."""

import itertools

import networkx as nx
import numpy as np
import pytest
import torch

from graphrep.data.transforms.structural import (STRUCTURAL_NAMES, StructuralDescriptors, structural_descriptors,
                                                 symmetric_adjacency)
from torch_geometric.data import Data


def _graphs():
    out = []
    for seed, (n, p) in enumerate([(12, 0.3), (15, 0.2), (10, 0.6), (14, 0.1), (9, 1.0)]):
        g = nx.gnp_random_graph(n, p, seed=seed)
        g.add_nodes_from(range(n, n + 2))  # trailing isolated nodes
        out.append(g)
    tree = nx.random_labeled_tree(12, seed=3) if hasattr(nx, "random_labeled_tree") else nx.random_tree(12, seed=3)
    out.append(tree)
    out.append(nx.disjoint_union(nx.complete_graph(5), nx.path_graph(6)))  # a chain hanging off nothing, and a clique
    g = nx.complete_graph(4)
    nx.add_path(g, [3, 4, 5, 6, 7])  # chain attached to a dense core: several peeling rounds
    out.append(g)
    return out


def _edge_index(g, directed_noise=True):
    e = np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2).T
    if directed_noise and e.size:  # one direction only, plus duplicates and a self-loop: must be ignored
        e = np.concatenate([e, e[:, :2], np.array([[0], [0]])], axis=1)
    return torch.from_numpy(e)


def _brute_four_cycles(g):
    count = {v: 0 for v in g}
    seen = set()
    for a, b, c, d in itertools.permutations(g.nodes, 4):
        if g.has_edge(a, b) and g.has_edge(b, c) and g.has_edge(c, d) and g.has_edge(d, a):
            key = frozenset(frozenset(e) for e in ((a, b), (b, c), (c, d), (d, a)))
            if key not in seen:
                seen.add(key)
                for v in (a, b, c, d):
                    count[v] += 1
    return count


def _forman_reference(g):
    out = {}
    for v in g:
        vals = [4 - g.degree(v) - g.degree(u) + 3 * len(set(nx.common_neighbors(g, v, u))) for u in g[v]]
        out[v] = float(np.mean(vals)) if vals else 0.0
    return out


@pytest.mark.parametrize("gi", range(8))
def test_descriptors_match_networkx(gi):
    g = _graphs()[gi]
    n = g.number_of_nodes()
    x, names = structural_descriptors(_edge_index(g), num_nodes=n)
    assert names == list(STRUCTURAL_NAMES) and x.shape == (n, 6)
    col = {k: x[:, i].double().numpy() for i, k in enumerate(names)}
    nodes = range(n)
    np.testing.assert_allclose(col["degree"], [g.degree(v) for v in nodes])
    np.testing.assert_allclose(col["clustering"], [nx.clustering(g)[v] for v in nodes], atol=1e-6)
    np.testing.assert_allclose(col["core_number"], [nx.core_number(g)[v] for v in nodes])
    np.testing.assert_allclose(col["triangles"], [nx.triangles(g)[v] for v in nodes])
    four = _brute_four_cycles(g)
    np.testing.assert_allclose(col["four_cycles"], [four[v] for v in nodes])
    forman = _forman_reference(g)
    np.testing.assert_allclose(col["forman_curvature"], [forman[v] for v in nodes], atol=1e-5)


def test_known_values_and_log_counts():
    # K4: degree 3, clustering 1, core 3, triangles 3, 4-cycles: K4 has 3 C4s, all through every node.
    # Forman on each edge: 4 - 3 - 3 + 3 * 2 = 4.
    g = nx.complete_graph(4)
    x, _ = structural_descriptors(_edge_index(g, directed_noise=False), num_nodes=5)
    torch.testing.assert_close(x[0], torch.tensor([3.0, 1.0, 3.0, 3.0, 3.0, 4.0]))
    torch.testing.assert_close(x[4], torch.zeros(6))  # isolated
    xl, _ = structural_descriptors(_edge_index(g, directed_noise=False), num_nodes=5, log_counts=True)
    l3 = float(np.log1p(3.0))
    torch.testing.assert_close(xl[0], torch.tensor([l3, 1.0, l3, l3, l3, 4.0]))


def test_transform_and_errors():
    data = Data(edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=4)
    out = StructuralDescriptors()(data)
    assert out.struct.shape == (4, 6) and out.struct_names == list(STRUCTURAL_NAMES)
    with pytest.raises(ValueError, match="outside"):
        structural_descriptors(torch.tensor([[0, 5], [1, 2]]), num_nodes=3)
    with pytest.raises(ValueError, match=r"\[2, E\]"):
        structural_descriptors(torch.tensor([0, 1, 2]))
    x, _ = structural_descriptors(torch.zeros(2, 0, dtype=torch.long), num_nodes=3)
    assert x.shape == (3, 6) and (x == 0).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, e", [(1, 0), (6, 0), (30, 200), (300, 4000)])
def test_symmetric_adjacency_against_a_dense_loop(n, e, dtype):
    """Both directions set once, duplicates and self-loops dropped, sorted 32-bit column indices, values of dtype."""
    ei = torch.randint(0, n, (2, e), generator=torch.Generator().manual_seed(n + e))
    if e:
        ei[:, :5] = ei[:, 5:10]  # duplicated edges
        ei[1, 10:15] = ei[0, 10:15]  # self-loops
    ref = np.zeros((n, n))
    for s, t in ei.T.tolist():
        if s != t:
            ref[s, t] = ref[t, s] = 1
    a = symmetric_adjacency(ei, n, dtype=dtype)
    assert a.dtype == dtype and a.indices.dtype == np.int32 and a.has_sorted_indices
    np.testing.assert_array_equal(a.toarray(), ref)
    assert a.nnz == int(ref.sum())
    assert symmetric_adjacency(ei[:, :0], n).nnz == 0


@pytest.mark.shared_data
def test_cora_matches_networkx(shared_data):
    from graphrep.data.tag import load_tag

    data = load_tag("cora", root=shared_data / "tag")
    g = nx.Graph()
    g.add_nodes_from(range(data.num_nodes))
    g.add_edges_from(data.edge_index.t().tolist())
    x, names = structural_descriptors(data.edge_index, data.num_nodes)
    col = {k: x[:, i].double().numpy() for i, k in enumerate(names)}
    nodes = range(data.num_nodes)
    clust, core, tri = nx.clustering(g), nx.core_number(g), nx.triangles(g)
    np.testing.assert_allclose(col["clustering"], [clust[v] for v in nodes], atol=1e-6)
    np.testing.assert_allclose(col["core_number"], [core[v] for v in nodes])
    np.testing.assert_allclose(col["triangles"], [tri[v] for v in nodes])
    # 4-cycles in a 2-hop ego network (of the node with most 4-cycles among the first 200) vs networkx's enumeration
    ego = nx.ego_graph(g, int(np.argmax(col["four_cycles"][:200])), radius=2)
    sub = structural_descriptors(torch.tensor(list(nx.convert_node_labels_to_integers(ego).edges())).t(),
                                 ego.number_of_nodes())[0][:, names.index("four_cycles")]
    n_c4 = sum(1 for c in nx.simple_cycles(ego, length_bound=4) if len(c) == 4)
    assert float(sub.sum()) == pytest.approx(4 * n_c4) and n_c4 > 0
