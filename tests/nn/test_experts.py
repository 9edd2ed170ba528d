"""Geometry experts: outputs on their manifolds, equal to ManifoldGCNConv / GCN references, same on both backends."""

import pytest
import torch
from torch_geometric.nn import GCNConv as PyGGCNConv
from torch_geometric.utils import to_dense_adj, to_undirected

import geometries as G
from graphrep.nn.experts import EXPERT_KINDS, EuclideanExpert, ManifoldExpert, PropagationGraph, make_expert
from graphrep.nn.manifold import ManifoldGCNConv

DT = torch.float64


def _graph(n=20, e=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    return to_undirected(ei[:, ei[0] != ei[1]], num_nodes=n)


def _dense_norm_adj(ei, n):
    a = to_dense_adj(ei, max_num_nodes=n)[0].to(DT) + torch.eye(n, dtype=DT)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


@pytest.mark.parametrize("backend", ["graphrep", "pyg"])
def test_propagation_graph_is_normalised_adjacency(backend):
    ei = _graph()
    x = torch.randn(20, 4, dtype=DT)
    g = PropagationGraph.build(ei, 20, backend, dtype=DT)
    torch.testing.assert_close(g.propagate(x), _dense_norm_adj(ei, 20) @ x)
    with pytest.raises(ValueError, match="outside"):
        PropagationGraph.build(ei, 5, backend)
    with pytest.raises(ValueError, match="backend"):
        PropagationGraph.build(ei, 20, "dgl")


def _on_manifold(m, x):
    """Point-set checks independent of ``proj``: ball c|x|^2 < 1, hyperboloid <x,x>_L = -k, stereographic sphere
    maps to the sphere of radius 1/sqrt(k) in R^{d+1}."""
    if isinstance(m, G.PoincareBall):
        return bool((m.c * x.pow(2).sum(-1) < 1).all())
    if isinstance(m, G.Lorentz):
        inner = -x[..., 0] ** 2 + x[..., 1:].pow(2).sum(-1)
        return torch.allclose(inner, -m.k.to(x.dtype).expand_as(inner), rtol=1e-6, atol=1e-6) and bool(
            (x[..., 0] > 0).all())
    if isinstance(m, G.Sphere):
        k = m.k.to(x.dtype)
        sq = k * x.pow(2).sum(-1, keepdim=True)  # inverse stereographic projection from the south pole
        emb = torch.cat([x * 2 / (1 + sq), (1 - sq) / (1 + sq) / k.sqrt()], -1)
        return torch.allclose(emb.norm(dim=-1), k.rsqrt().expand(x.shape[:-1]), rtol=1e-6, atol=1e-8) and bool(
            torch.isfinite(x).all())
    return bool(torch.isfinite(x).all())


@pytest.mark.parametrize("kind", [k for k in EXPERT_KINDS if k != "text"])  # text: identity, tests/nn/test_experts_differ
@pytest.mark.parametrize("backend", ["graphrep", "pyg"])
def test_outputs_lie_on_their_manifold(kind, backend):
    torch.manual_seed(0)
    ei = _graph()
    expert = make_expert(kind, 8, 5, num_layers=2, shared_channels=3, backend=backend, curvature=0.7).double()
    x = torch.nn.functional.normalize(torch.randn(20, 8, dtype=DT), dim=-1) * 3  # large inputs: near the boundary
    out = expert(x, PropagationGraph.build(ei, 20, backend, dtype=DT))
    m = expert.manifold
    assert out.shape == (20, m.point_dim(5))
    assert _on_manifold(m, out), kind
    z = expert.to_shared(out)
    assert z.shape == (20, 3) and torch.isfinite(z).all()
    (z.sum()).backward()
    grads = [p.grad for p in expert.parameters()]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)


def test_manifold_checks_reject_points_off_the_manifold():
    assert not _on_manifold(G.PoincareBall(1.0), torch.tensor([[1.5, 0.0]], dtype=DT))
    assert not _on_manifold(G.Lorentz(1.0), torch.tensor([[1.0, 1.0]], dtype=DT))


@pytest.mark.parametrize("make", [lambda: G.PoincareBall(0.6), lambda: G.Lorentz(2.0), lambda: G.Sphere(0.5)])
def test_manifold_expert_equals_stacked_manifold_gcn(make):
    """One expert = exp0 of the input, then ManifoldGCNConv (origin aggregation) layers with ReLU in between."""
    torch.manual_seed(0)
    ei = _graph()
    m = make()
    expert = ManifoldExpert(m, 6, 4, num_layers=2).double()
    convs = [ManifoldGCNConv(m, 6, 4, act=torch.relu).double(), ManifoldGCNConv(m, 4, 4).double()]
    with torch.no_grad():
        for conv, lin in zip(convs, expert.lins):
            conv.lin.weight.copy_(lin.weight)
            conv.lin.bias.copy_(torch.randn_like(lin.bias) * 0.1)
            lin.bias.copy_(conv.lin.bias)
    x = torch.randn(20, 6, dtype=DT) * 0.5
    ref = convs[1](convs[0](m.from_tangent0(x), ei), ei)
    for backend in ("graphrep", "pyg"):
        expert.backend = backend
        torch.testing.assert_close(expert(x, PropagationGraph.build(ei, 20, backend, dtype=DT)), ref)


def test_euclidean_expert_is_pyg_gcn_on_both_backends():
    torch.manual_seed(0)
    ei = _graph()
    ours = EuclideanExpert(6, 4, num_layers=2, backend="graphrep").double()
    stock = EuclideanExpert(6, 4, num_layers=2, backend="pyg").double()
    stock.load_state_dict(ours.state_dict())
    refs = [PyGGCNConv(6, 4).double(), PyGGCNConv(4, 4).double()]
    for r, c in zip(refs, ours.convs):
        r.load_state_dict(c.state_dict())
    x = torch.randn(20, 6, dtype=DT)
    expected = refs[1](torch.relu(refs[0](x, ei)), ei)
    torch.testing.assert_close(ours(x, PropagationGraph.build(ei, 20, "graphrep", dtype=DT)), expected)
    torch.testing.assert_close(stock(x, PropagationGraph.build(ei, 20, "pyg", dtype=DT)), expected)
    with pytest.raises(ValueError, match="backend"):
        ours(x, PropagationGraph.build(ei, 20, "pyg", dtype=DT))


def test_unknown_expert_kind():
    with pytest.raises(ValueError, match="unknown expert"):
        make_expert("toroidal", 4, 4)
