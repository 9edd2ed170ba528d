"""propagate (CSR products written in place, issue 26) against a float64 dense reference S^k x."""

import numpy as np
import pytest
import torch

from graphrep.tasks.tag.zero_shot import normalized_adjacency, propagate


def _dense_s(edge_index: torch.Tensor, n: int) -> torch.Tensor:
    """S = D^-1/2 (A + I) D^-1/2 in float64 from the definition: A the 0/1 undirected adjacency without self-loops."""
    a = torch.zeros(n, n, dtype=torch.float64)
    for i, j in edge_index.t().tolist():
        if i != j:
            a[i, j] = a[j, i] = 1.0
    a += torch.eye(n, dtype=torch.float64)
    dinv = a.sum(1).rsqrt()
    return dinv[:, None] * a * dinv[None, :]


def _reference(x: torch.Tensor, edge_index: torch.Tensor, k: int) -> torch.Tensor:
    return torch.linalg.matrix_power(_dense_s(edge_index, x.size(0)), k) @ x.double()


def _graph(n: int, m: int, seed: int) -> torch.Tensor:
    """Random edges over the first half of the nodes only (the rest isolated), with duplicates and self-loops."""
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, max(n // 2, 1), (2, m), generator=g)
    return torch.cat([ei, ei[:, :5], torch.tensor([[0, 1], [0, 1]])], 1)  # duplicate edges, two self-loops


@pytest.mark.parametrize("d", [1, 7, 37, 384])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_matches_dense_float64_reference(d, k):
    ei = _graph(60, 150, seed=d + k)
    x = torch.randn(60, d, generator=torch.Generator().manual_seed(k))
    out = propagate(x, ei, k)
    assert out.shape == x.shape and out.dtype == torch.float32
    torch.testing.assert_close(out.double(), _reference(x, ei, k), rtol=1e-5, atol=1e-6)
    isolated = torch.arange(30, 60)  # no neighbours: S has only the self-loop 1/1 there, so S^k x = x
    torch.testing.assert_close(out[isolated], x[isolated])


def test_float64_input_stays_float64_and_exact_to_rounding():
    ei = _graph(40, 100, seed=3)
    x = torch.randn(40, 11, dtype=torch.float64)
    out = propagate(x, ei, 3)
    assert out.dtype == torch.float64
    # S's values are float32 (normalized_adjacency), so compare against the float32 S in float64 arithmetic
    s = normalized_adjacency(ei, 40).to_dense().double()
    torch.testing.assert_close(out, torch.linalg.matrix_power(s, 3) @ x, rtol=1e-12, atol=1e-12)


def test_adj_given_as_coo_or_csr_and_without_edge_index():
    ei = _graph(50, 120, seed=5)
    x = torch.randn(50, 19)
    ref = _reference(x, ei, 2)
    coo = normalized_adjacency(ei, 50)
    for adj in (coo, coo.to_sparse_csr(), coo.to_sparse_csr().to(torch.float64)):
        torch.testing.assert_close(propagate(x, None, 2, adj).double(), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="edge_index or adj"):
        propagate(x, None, 2)
    with pytest.raises(ValueError, match="does not fit 49 nodes"):
        propagate(x[:49], None, 1, coo)


def test_single_node_empty_graph_and_k0():
    x = torch.randn(1, 5)
    empty = torch.zeros(2, 0, dtype=torch.long)
    torch.testing.assert_close(propagate(x, empty, 2), x)  # S = [[1]]
    torch.testing.assert_close(propagate(x, torch.tensor([[0], [0]]), 3), x)  # a self-loop only
    x6 = torch.randn(6, 4)
    torch.testing.assert_close(propagate(x6, empty, 2), x6)  # no edges: S = I
    assert propagate(x6, empty, 0) is x6
    with pytest.raises(ValueError, match=">= 0"):
        propagate(x6, empty, -1)


def test_input_untouched_output_fresh_and_strided_inputs():
    ei = _graph(30, 80, seed=7)
    base = torch.randn(30, 20)
    keep = base.clone()
    out = propagate(base, ei, 2)
    torch.testing.assert_close(base, keep, rtol=0, atol=0)  # x is read, never written
    assert out.data_ptr() != base.data_ptr()
    for x in (base[:, 3:11], base.t().contiguous().t(), base[:, ::2]):  # column slice, column-major, step 2
        torch.testing.assert_close(propagate(x, ei, 2).double(), _reference(x, ei, 2), rtol=1e-5, atol=1e-6)


def test_no_nan_from_uninitialised_buffers():
    """The hops write with beta=0 into uninitialised memory: NaN there must not leak (addmm_ ignores dst)."""
    ei = _graph(64, 200, seed=9)
    x = torch.randn(64, 33)
    for _ in range(3):  # freed NaN-filled blocks are likely to be handed out again
        torch.full((64, 33), float("nan")).sum()
        out = propagate(x, ei, 3)
        assert torch.isfinite(out).all()


def test_autograd_and_half_precision_fall_back_to_the_sparse_product():
    ei = _graph(20, 50, seed=11)
    x = torch.randn(20, 6, requires_grad=True)
    out = propagate(x, ei, 2)
    out.sum().backward()  # d/dx sum(S^2 x) = (S^2)^T 1 = S^2 1 (S symmetric)
    s2 = torch.linalg.matrix_power(_dense_s(ei, 20), 2)
    torch.testing.assert_close(x.grad.double(), (s2 @ torch.ones(20, 6, dtype=torch.float64)), rtol=1e-5,
                               atol=1e-6)
    xb = torch.randn(20, 6).bfloat16()
    assert propagate(xb, ei, 1).dtype == torch.bfloat16


def test_large_random_graph_against_scipy():
    """A power-law-ish graph with hubs, against scipy's float64 CSR product (sum orders differ: tolerance)."""
    rng = np.random.default_rng(0)
    n = 3000
    w = (np.arange(n) + 1.0) ** -0.7
    src, dst = rng.choice(n, 30000, p=w / w.sum()), rng.integers(0, n, 30000)
    ei = torch.from_numpy(np.stack([src, dst]))
    x = torch.randn(n, 50, generator=torch.Generator().manual_seed(0))
    s = normalized_adjacency(ei, n)
    import scipy.sparse as sp

    ind = s.indices().numpy()
    a = sp.csr_matrix((s.values().double().numpy(), (ind[0], ind[1])), shape=(n, n))
    ref = a @ (a @ x.double().numpy())
    np.testing.assert_allclose(propagate(x, ei, 2).double().numpy(), ref, rtol=1e-4, atol=1e-5)
