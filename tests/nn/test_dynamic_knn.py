"""Dynamic k-NN edges: equal to a brute-force per-graph reference, and usable with graphrep's convolutions."""

import pytest
import torch

from graphrep.nn import GINConv
from graphrep.nn.dynamic_knn import DynamicKNNConv, knn_edges


def _brute_force(x, batch, k):
    edges = set()
    for g in batch.unique().tolist():
        nodes = (batch == g).nonzero().view(-1).tolist()
        for i in nodes:
            others = sorted((float(torch.dist(x[i], x[j])), j) for j in nodes if j != i)
            edges |= {(j, i) for _, j in others[:k]}
    return edges


@pytest.mark.parametrize("sizes,k", [([5, 5, 5], 3), ([2, 7, 4, 1], 3), ([9], 8), ([6, 3], 10)])
def test_knn_equals_brute_force(sizes, k):
    torch.manual_seed(sum(sizes) + k)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    x = torch.randn(len(batch), 5)
    e = knn_edges(x, batch, k)
    got = set(map(tuple, e.t().tolist()))
    assert len(got) == e.size(1)  # no duplicate edges
    assert got == _brute_force(x, batch, k)
    assert e.size(1) == sum(n * min(k, n - 1) for n in sizes)


def test_dynamic_conv_uses_feature_space_neighbours():
    torch.manual_seed(0)
    x = torch.randn(12, 4, requires_grad=True)
    batch = torch.repeat_interleave(torch.arange(3), 4)
    conv = DynamicKNNConv(GINConv(torch.nn.Identity()), k=2)
    out = conv(x, batch)
    # GIN with identity nn: x_i + sum of its 2 nearest neighbours' features
    src, dst = knn_edges(x, batch, 2)
    ref = x + torch.zeros_like(x).index_add(0, dst, x[src])
    assert torch.allclose(out, ref, atol=1e-6)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_bad_k():
    with pytest.raises(ValueError, match="k must be"):
        knn_edges(torch.randn(3, 2), None, 0)
