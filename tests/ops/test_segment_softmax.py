import pytest
import torch

from graphrep.ops import CSR, edge_softmax, segment
from graphrep.ops.reference import edge_softmax_reference, random_graph, segment_reference


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_segment_matches_reference_with_empty_segments(device, reduce):
    ptr = torch.tensor([0, 3, 3, 10, 10, 42], device=device)
    x = torch.randn(42, 5, dtype=torch.float64, device=device, requires_grad=True)
    out = segment(x, ptr, reduce)
    ref = segment_reference(x.cpu(), ptr.cpu(), reduce).to(device)
    torch.testing.assert_close(out, ref)
    assert torch.autograd.gradcheck(lambda x: segment(x, ptr, reduce), (x,))


def test_segment_pools_a_pyg_batch_like_global_pools(device):
    from torch_geometric.data import Batch, Data
    from torch_geometric.nn import global_max_pool, global_mean_pool

    graphs = [Data(x=torch.randn(k, 6), num_nodes=k) for k in (4, 1, 7)]
    b = Batch.from_data_list(graphs).to(device)
    torch.testing.assert_close(segment(b.x, b.ptr, "mean"), global_mean_pool(b.x, b.batch))
    torch.testing.assert_close(segment(b.x, b.ptr, "max"), global_max_pool(b.x, b.batch))


def test_segment_rejects_bad_ptr():
    x = torch.randn(5, 2)
    with pytest.raises(ValueError, match="end at x.size"):
        segment(x, torch.tensor([0, 2, 4]))
    with pytest.raises(ValueError, match="1-D integer"):
        segment(x, torch.tensor([0.0, 5.0]))


@pytest.mark.parametrize("heads", [None, 3])
def test_edge_softmax_matches_reference_and_gradcheck(device, heads):
    ei = random_graph(n=20, e=90, hub=30, empty=3, device=device)
    csr = CSR.from_edge_index(ei, 20)
    shape = (90,) if heads is None else (90, heads)
    s = (3 * torch.randn(shape, dtype=torch.float64, device=device)).requires_grad_()
    a = edge_softmax(s, csr)
    torch.testing.assert_close(a, edge_softmax_reference(s, ei, 20))
    ones = torch.zeros(20, *shape[1:], dtype=torch.float64, device=device).index_add_(0, ei[1], a.detach())
    has_in = torch.bincount(ei[1], minlength=20) > 0
    torch.testing.assert_close(ones[has_in], torch.ones_like(ones[has_in]))
    assert torch.autograd.gradcheck(lambda s: edge_softmax(s, csr), (s,))


def test_edge_softmax_is_stable_for_large_scores(device):
    ei = torch.tensor([[0, 1, 2], [2, 2, 2]], device=device)
    s = torch.tensor([1000.0, 999.0, -1000.0], device=device)
    a = edge_softmax(s, CSR.from_edge_index(ei, 3))
    assert torch.isfinite(a).all()
    torch.testing.assert_close(a, torch.softmax(s, 0))
