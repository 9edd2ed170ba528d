import pytest
import torch
from torch_geometric.data import Data

from graphrep.ops import CSR

from graphrep.ops.reference import random_graph


def test_csr_rows_hold_in_edges_in_edge_order():
    ei = random_graph(n=30, e=120, hub=40)
    csr = CSR.from_edge_index(ei, 30)
    assert csr.rowptr.dtype == csr.col.dtype == csr.perm.dtype == torch.int64
    for i in range(30):
        ids = torch.nonzero(ei[1] == i).flatten()  # edge ids into i, ascending
        a, b = int(csr.rowptr[i]), int(csr.rowptr[i + 1])
        assert torch.equal(csr.perm[a:b], ids)
        assert torch.equal(csr.col[a:b], ei[0, ids])
        assert torch.all(csr.row[a:b] == i)
    assert torch.equal(csr.inv_perm[csr.perm], torch.arange(120))
    assert torch.equal(csr.edge_index(), ei)


def _check_transposed_fields(csr, ei):
    """rowptr_t, col_t and perm_t of ``csr`` list the out-edges of each source of ``ei``."""
    for j in range(csr.num_src):
        a, b = int(csr.rowptr_t[j]), int(csr.rowptr_t[j + 1])
        pos = csr.perm_t[a:b]
        assert torch.all(csr.col[pos] == j)
        assert torch.equal(csr.col_t[a:b], csr.row[pos])
        assert torch.equal(torch.sort(csr.perm[pos]).values, torch.nonzero(ei[0] == j).flatten())


def test_transposed_csr_lists_out_edges():
    ei = random_graph(n=30, e=120, hub=40)
    csr = CSR.from_edge_index(ei, 30)
    _check_transposed_fields(csr, ei)
    t = csr.transpose()
    assert torch.equal(t.edge_index(), ei.flip(0))
    # the reversed graph's own transposed fields hold too (its perm_t was once the inverse permutation, which gave
    # wrong weighted and max/min gradients for flow="target_to_source")
    _check_transposed_fields(t, ei.flip(0))
    assert torch.equal(t.perm[t.perm_t], csr.perm)


def test_bipartite_and_empty():
    ei = torch.tensor([[0, 4, 4], [1, 0, 1]])
    csr = CSR.from_edge_index(ei, (5, 2))
    assert (csr.num_src, csr.num_dst) == (5, 2)
    assert csr.rowptr.tolist() == [0, 1, 3] and csr.rowptr_t.numel() == 6
    empty = CSR.from_edge_index(torch.empty(2, 0, dtype=torch.long), 4)
    assert empty.rowptr.tolist() == [0] * 5 and empty.num_edges == 0


@pytest.mark.parametrize(
    "bad, num_nodes, match",
    [
        (torch.zeros(3, 4, dtype=torch.long), None, r"shape \[2, E\]"),
        (torch.zeros(2, 4), None, "integers"),
        (torch.tensor([[0, 5], [1, 2]]), 4, "refers to node 5"),
        (torch.tensor([[0, -1], [1, 2]]), 4, "negative"),
        ([[0, 1], [1, 0]], None, "torch.Tensor"),
    ],
)
def test_from_edge_index_rejects_bad_input(bad, num_nodes, match):
    with pytest.raises(ValueError, match=match):
        CSR.from_edge_index(bad, num_nodes)


def test_of_caches_on_data_and_rebuilds_after_change():
    data = Data(edge_index=random_graph(n=20, e=50, hub=10), num_nodes=20)
    a = CSR.of(data)
    assert CSR.of(data) is a
    assert "_graphrep_csr_cache" not in data.keys()  # not a graph attribute: never collated or saved
    data.edge_index = data.edge_index.flip(0)
    b = CSR.of(data)
    assert b is not a and torch.equal(b.edge_index(), data.edge_index)
    data.edge_index[0, 0] = 19 - data.edge_index[0, 0]  # in-place edit
    assert torch.equal(CSR.of(data).edge_index(), data.edge_index)
    with pytest.raises(ValueError, match="no edge_index"):
        CSR.of(Data(x=torch.zeros(3, 1)))


def test_with_self_loops_matches_pyg_order():
    from torch_geometric.utils import add_self_loops, remove_self_loops

    ei = random_graph(n=25, e=80, hub=20)
    ref, _ = add_self_loops(remove_self_loops(ei)[0], num_nodes=25)
    sl = CSR.from_edge_index(ei, 25).with_self_loops()
    assert torch.equal(sl.edge_index(), ref)


def test_from_ptr_groups_consecutive_items():
    csr = CSR.from_ptr(torch.tensor([0, 2, 2, 5]))
    assert (csr.num_src, csr.num_dst) == (5, 3)
    assert csr.row.tolist() == [0, 0, 2, 2, 2] and csr.col.tolist() == [0, 1, 2, 3, 4]
    assert torch.equal(csr.edge_index(), torch.tensor([[0, 1, 2, 3, 4], [0, 0, 2, 2, 2]]))
    with pytest.raises(ValueError, match="1-D integer"):
        CSR.from_ptr(torch.tensor([[0, 1]]))


def test_edge_rows_of_equals_the_full_csrs_view_and_is_cached_per_tensor():
    ei = random_graph(n=30, e=120, hub=40)
    rows = CSR.edge_rows_of(ei, (30, 30))
    full = CSR.from_edge_index(ei, 30).edges_to_rows()
    for name in ("rowptr", "col", "row", "perm", "inv_perm", "rowptr_t", "col_t", "perm_t"):
        assert torch.equal(getattr(rows, name), getattr(full, name)), name
    assert (rows.num_src, rows.num_dst) == (120, 30) and rows.one_edge_per_source and full.one_edge_per_source
    assert CSR.edge_rows_of(ei, (30, 30)) is rows
    ei[1, 0] = 29  # an in-place change rebuilds
    assert int(CSR.edge_rows_of(ei, (30, 30)).col_t[0]) == 29
    with pytest.raises(ValueError, match="refers to node"):
        CSR.edge_rows_of(ei, (30, 20))


@pytest.mark.parametrize("weighted", [False, True])
def test_one_edge_per_source_backward_is_a_gather_with_the_reference_gradient(weighted):
    from graphrep.ops import aggregate
    from graphrep.ops.reference import aggregate_reference

    ei = random_graph(n=25, e=90, hub=30)
    rows = CSR.edge_rows_of(ei, (25, 25))
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(90, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(90, generator=gen, dtype=torch.float64) + 0.5).requires_grad_() if weighted else None
    out = aggregate(m, rows, "sum", w)
    # the same sums written as a graph whose sources are the edges: edge e goes e -> dst(e)
    edge_graph = torch.stack([torch.arange(90), ei[1]])
    ref = aggregate_reference(m, edge_graph, 25, "sum", w)
    torch.testing.assert_close(out, ref)
    g = torch.randn(25, 6, generator=gen, dtype=torch.float64)
    inputs = [m] + ([w] if weighted else [])
    for a, b in zip(torch.autograd.grad(out, inputs, g), torch.autograd.grad(ref, inputs, g)):
        torch.testing.assert_close(a, b)
