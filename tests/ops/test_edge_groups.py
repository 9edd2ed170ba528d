"""edge_groups lists each node's edges (stable order, right offsets) for an edge tensor and for a CSR, rebuilds after
an in-place edit, validates; edge_lists (the same cache, no sorts) likewise; bag_sum equals a float64 index_add
reference, empty groups and empty graphs included."""

import pytest
import torch

from graphrep.ops import CSR
from graphrep.ops.edge_groups import bag_sum, edge_groups, edge_lists
from graphrep.ops.reference import random_graph


def _check_groups(ids, ptr, key, n):
    """Group i holds exactly the edges whose key is i; returns the groups as lists of edge ids."""
    assert ptr.shape == (n + 1,) and ptr[0] == 0 and ptr[-1] == key.numel()
    out = []
    for i in range(n):
        grp = ids[ptr[i]:ptr[i + 1]].tolist()
        assert sorted(grp) == torch.nonzero(key == i).flatten().tolist()
        out.append(grp)
    return out


def test_groups_of_an_edge_tensor_are_stable_and_complete():
    ei = random_graph(n=40, e=300, hub=90, seed=1)  # a hub, isolated nodes, multi-edges
    g = edge_groups(ei, 40, 40)
    assert torch.equal(g.src, ei[0]) and torch.equal(g.dst, ei[1])
    for grp in _check_groups(g.by_dst, g.dst_ptr, ei[1], 40) + _check_groups(g.by_src, g.src_ptr, ei[0], 40):
        assert grp == sorted(grp)  # stable: edge order within a group
    assert torch.equal(g.src_by_dst, ei[0][g.by_dst]) and torch.equal(g.dst_by_src, ei[1][g.by_src])


def test_groups_of_a_csr_and_of_a_bipartite_graph():
    gen = torch.Generator().manual_seed(2)
    ei = torch.stack([torch.randint(0, 30, (200,), generator=gen), torch.randint(0, 12, (200,), generator=gen)])
    csr = CSR.from_edge_index(ei, (30, 12))
    for g in (edge_groups(ei, 30, 12), edge_groups(csr, 30, 12)):
        assert torch.equal(g.src, ei[0]) and torch.equal(g.dst, ei[1])
        _check_groups(g.by_dst, g.dst_ptr, ei[1], 12)
        _check_groups(g.by_src, g.src_ptr, ei[0], 30)
        assert torch.equal(g.src_by_dst, ei[0][g.by_dst]) and torch.equal(g.dst_by_src, ei[1][g.by_src])
    assert edge_groups(csr, 30, 12) is edge_groups(csr, 30, 12)  # cached on the CSR
    with pytest.raises(ValueError, match="CSR is for 30 -> 12"):
        edge_groups(csr, 30, 13)


def test_cached_per_tensor_and_never_stale():
    ei = random_graph(n=20, e=60, seed=3)
    first = edge_groups(ei, 20, 20)
    assert edge_groups(ei, 20, 20) is first
    assert edge_groups(ei.clone(), 20, 20) is not first  # another tensor: its own groups
    ei[1, 0] = (ei[1, 0] + 1) % 20  # in place: the cached groups no longer describe the tensor
    again = edge_groups(ei, 20, 20)
    assert again is not first and torch.equal(again.dst, ei[1])
    assert not torch.equal(first.dst, ei[1])  # the old groups own their copy
    assert edge_groups(ei, 20, 25) is not again  # other node counts: other offsets


def test_validation():
    ei = torch.tensor([[0, 1, 2], [1, 2, 3]])
    with pytest.raises(ValueError, match="refers to node"):
        edge_groups(ei, 4, 3)
    with pytest.raises(ValueError, match="negative"):
        edge_groups(ei - 1, 4, 4)
    with pytest.raises(ValueError, match="shape \\[2, E\\]"):
        edge_groups(ei[:1], 4, 4)


def test_edge_lists_are_the_edges_cached_never_stale_and_validated():
    ei = torch.randint(0, 20, (2, 60), generator=torch.Generator().manual_seed(4)).int()  # int32 in, int64 out
    src, dst = first = edge_lists(ei, 20, 20)
    assert src.dtype == dst.dtype == torch.int64 and torch.equal(src, ei[0].long()) and torch.equal(dst, ei[1].long())
    assert edge_lists(ei, 20, 20) is first
    ei.numpy()[1, 0] = (ei[1, 0] + 1) % 20  # a write torch's version counter does not see: the value check does
    again = edge_lists(ei, 20, 20)
    assert again is not first and torch.equal(again[1], ei[1].long()) and not torch.equal(first[1], ei[1].long())
    csr = CSR.from_edge_index(ei, (20, 20))
    for got, want in zip(edge_lists(csr, 20, 20), csr.edge_index()):
        assert torch.equal(got, want)
    with pytest.raises(ValueError, match="refers to node"):
        edge_lists(ei, 20, 5)
    with pytest.raises(ValueError, match="negative"):
        edge_lists(ei - 30, 20, 20)
    with pytest.raises(ValueError, match="the CSR is for"):
        edge_lists(csr, 20, 21)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(50, 400, 7), (30, 0, 4), (25, 3, 16)])
def test_bag_sum_equals_index_add(dtype, shape):
    n, e, f = shape  # (30, 0, 4): no edges; (25, 3, 16): most groups empty
    gen = torch.Generator().manual_seed(e)
    ei = torch.stack([torch.randint(0, n, (e,), generator=gen), torch.randint(0, n, (e,), generator=gen)])
    rows = torch.randn(e, f, generator=gen, dtype=torch.float64)
    g = edge_groups(ei, n, n)
    out = bag_sum(rows.to(dtype), g.by_dst, g.dst_ptr)
    ref = torch.zeros(n, f, dtype=torch.float64).index_add_(0, ei[1], rows)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    assert out.dtype == dtype and out.shape == (n, f)
    torch.testing.assert_close(out.double(), ref, **tol)
    x = torch.randn(n, f, generator=gen, dtype=torch.float64)
    ref_src = torch.zeros(n, f, dtype=torch.float64).index_add_(0, ei[0], x[ei[1]])
    torch.testing.assert_close(bag_sum(x.to(dtype), g.dst_by_src, g.src_ptr).double(), ref_src, **tol)
