"""Manifold GCN convolution against dense references, and a hyperbolic GCN trained in float32 on a tree."""

import geoopt
import pytest
import torch
from torch_geometric.nn import GCNConv
from torch_geometric.utils import to_dense_adj, to_undirected

import geometries as G
from graphrep.nn.manifold import FermiDiracDecoder, ManifoldGCNConv
from graphrep.nn.manifold._aggregate import aggregate_sum

DT = torch.float64


def _graph():
    g = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 12, (2, 30), generator=g)
    return to_undirected(ei[:, ei[0] != ei[1]], num_nodes=12)


def _norm_adj(ei, n):
    a = to_dense_adj(ei, max_num_nodes=n)[0].to(DT) + torch.eye(n, dtype=DT)  # a[i, j] = 1 for edge i -> j
    deg = a.sum(0)
    return (a / deg.sqrt()[:, None] / deg.sqrt()[None, :]).t()  # row i: weights of the edges into i


def test_aggregate_fallback_matches_dense():
    ei = _graph()
    x, w = torch.randn(12, 3, dtype=DT), torch.rand(ei.size(1), dtype=DT)
    dense = torch.zeros(12, 12, dtype=DT).index_put_((ei[1], ei[0]), w, accumulate=True)
    torch.testing.assert_close(aggregate_sum(x, ei, 12, w), dense @ x)


def test_euclidean_conv_is_gcn():
    torch.manual_seed(0)
    ei = _graph()
    conv = ManifoldGCNConv(G.Euclidean(), 5, 4, bias=False).double()
    ref = GCNConv(5, 4, bias=False).double()
    with torch.no_grad():
        ref.lin.weight.copy_(conv.lin.weight)
    x = torch.randn(12, 5, dtype=DT)
    torch.testing.assert_close(conv(x, ei), ref(x, ei))


@pytest.mark.parametrize("make", [lambda: G.PoincareBall(0.6), lambda: G.Lorentz(2.0), lambda: G.Sphere(0.5)])
def test_origin_aggregation_matches_dense(make):
    torch.manual_seed(0)
    m = make()
    m_out = G.PoincareBall(2.0)
    ei = _graph()
    conv = ManifoldGCNConv(m, 3, 4, act=torch.tanh, manifold_out=m_out).double()
    x = m.random(12, m.point_dim(3), std=0.5, dtype=DT)
    h = conv.lin(x)
    expected = m_out.expmap0(torch.tanh(_norm_adj(ei, 12) @ m.to_tangent0(h)))
    torch.testing.assert_close(conv(x, ei), expected)


@pytest.mark.parametrize("make", [lambda: G.PoincareBall(0.6), lambda: G.Lorentz(2.0)])
def test_local_aggregation_matches_per_node_loop(make):
    torch.manual_seed(0)
    m = make()
    ei = _graph()
    conv = ManifoldGCNConv(m, 3, 3, local=True).double()
    x = m.random(12, m.point_dim(3), std=0.5, dtype=DT)
    h = conv.lin(x)
    a = _norm_adj(ei, 12)
    rows = []
    for i in range(12):
        v = sum(a[i, j] * m.logmap(h[i], h[j]) for j in range(12) if a[i, j] != 0)
        rows.append(m.expmap(h[i], v))
    torch.testing.assert_close(conv(x, ei), torch.stack(rows))


def test_conv_rejects_bad_edges():
    conv = ManifoldGCNConv(G.PoincareBall(), 2, 2)
    x = G.PoincareBall().random(3, 2)
    with pytest.raises(ValueError, match="shape \\(2, E\\)"):
        conv(x, torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="node 5"):
        conv(x, torch.tensor([[0, 5], [1, 2]]))


def _binary_tree(depth):
    n = 2 ** (depth + 1) - 1
    child = torch.arange(1, n)
    return to_undirected(torch.stack([(child - 1) // 2, child]), num_nodes=n), n


@pytest.mark.slow
@pytest.mark.parametrize("local", [False, True])
def test_two_layer_hyperbolic_gcn_trains_on_depth_10_tree_in_float32(local):
    torch.manual_seed(0)
    ei, n = _binary_tree(10)  # 2047 nodes
    ball1, ball2 = G.PoincareBall(1.0, learnable=True), G.PoincareBall(1.0, learnable=True)
    x = ball1.expmap0(0.1 * torch.randn(n, 8)).detach()
    conv1 = ManifoldGCNConv(ball1, 8, 8, act=torch.relu, manifold_out=ball2, local=local)
    conv2 = ManifoldGCNConv(ball2, 8, 4, local=local)
    dec = FermiDiracDecoder(ball2)
    params = list(torch.nn.ModuleList([conv1, conv2]).parameters())  # ball2 is shared: count it once
    opt = geoopt.optim.RiemannianAdam(params, lr=0.02)
    pos = ei
    losses = []
    for epoch in range(300):
        opt.zero_grad()
        z = conv2(conv1(x, ei), ei)
        neg = torch.randint(0, n, pos.shape)
        logits = torch.cat([dec(z, pos), dec(z, neg)])
        target = torch.cat([torch.ones(pos.size(1)), torch.zeros(pos.size(1))])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        assert torch.isfinite(z).all() and torch.isfinite(loss), f"non-finite at epoch {epoch}"
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in params if p.grad is not None), f"NaN grad at epoch {epoch}"
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(p).all() for p in params)
    assert ball1.c.item() > 0 and ball2.c.item() > 0
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10


@pytest.mark.parametrize("local", [False, True])
def test_conv_takes_a_csr_and_normalises_like_graphrep_gcn(local):
    from graphrep.nn.conv import csr_gcn_norm
    from graphrep.ops import CSR

    torch.manual_seed(0)
    m = G.PoincareBall(0.7)
    ei = _graph()
    w = torch.rand(ei.size(1), dtype=DT) + 0.5
    conv = ManifoldGCNConv(m, 3, 4, local=local).double()
    x = m.random(12, m.point_dim(3), std=0.5, dtype=DT)
    csr = CSR.from_edge_index(ei, 12)
    torch.testing.assert_close(conv(x, csr, w), conv(x, ei, w))
    assert CSR.of(ei, 12) is CSR.of(ei, 12)  # an edge tensor is sorted once, not on every forward
    # normalisation: graphrep's csr_gcn_norm (one self-loop per node, symmetric), checked against the dense formula
    graph, nw = csr_gcn_norm(csr, w, dtype=DT)
    a = torch.zeros(12, 12, dtype=DT).index_put_((ei[1], ei[0]), w, accumulate=True) + torch.eye(12, dtype=DT)
    d = a.sum(1).rsqrt()
    dense = d[:, None] * a * d[None, :]
    got = torch.zeros(12, 12, dtype=DT).index_put_(tuple(graph.edge_index().flip(0)), nw, accumulate=True)
    torch.testing.assert_close(got, dense)
    with pytest.raises(ValueError, match="CSR is for 12 -> 12 nodes but x has 5 rows"):
        conv(x[:5], csr)
