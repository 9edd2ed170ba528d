"""Experts that differ (issue 24): the text expert is the identity, the signed expert can subtract its neighbours,
and the gate can put all weight on any one expert, per graph."""

import pytest
import torch
from torch_geometric.utils import to_dense_adj, to_undirected

from graphrep.nn.experts import PropagationGraph, SignedExpert, TextExpert, make_expert
from graphrep.nn.gate import StructuralGate


def _graph(backend="graphrep", n=6):
    ei = to_undirected(torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 5, 3]]))
    return ei, PropagationGraph.build(ei, n, backend)


@pytest.mark.parametrize("backend", ["graphrep", "pyg"])
def test_text_expert_returns_its_input_exactly(backend):
    _, g = _graph(backend)
    x = torch.randn(6, 5)
    expert = make_expert("text", 5, 8, backend=backend)
    assert isinstance(expert, TextExpert)
    out = expert(x, g)
    assert out is x and torch.equal(expert.skip(x, g), x)
    assert expert.to_shared(out).shape == (6, 5)


def test_signed_expert_can_subtract_neighbours():
    ei, g = _graph()
    n, f = 6, 4
    a = to_dense_adj(ei, max_num_nodes=n)[0] + torch.eye(n)
    dinv = a.sum(1).rsqrt()
    a_hat = dinv[:, None] * a * dinv[None, :]  # dense D^-1/2 (A + I) D^-1/2, the reference
    expert = SignedExpert(f, f, num_layers=1)
    with torch.no_grad():
        expert.self_lins[0].weight.copy_(torch.eye(f))
        expert.self_lins[0].bias.zero_()
        expert.nbr_lins[0].weight.copy_(-torch.eye(f))
    x = torch.randn(n, f)
    torch.testing.assert_close(expert(x, g), x - a_hat @ x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(expert.skip(x, g), x - 0.5 * a_hat @ x, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_gate_reaches_a_one_hot_on_each_expert(k):
    torch.manual_seed(k)
    gate = StructuralGate(6, 3, hidden_channels=8)
    desc = torch.randn(50, 6)
    opt = torch.optim.Adam(gate.parameters(), lr=0.1)
    for _ in range(200):
        loss = -gate(desc)[:, k].clamp_min(1e-30).log().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    w = gate(desc).detach()
    assert w[:, k].min() > 0.999
    assert w.sum(-1).sub(1).abs().max() < 1e-5


def test_graph_features_let_the_gate_route_whole_graphs():
    """Two graphs with the same descriptor distribution: per-graph standardisation hides which is which, so only the
    graph-level input can send one to expert 0 and the other to expert 2."""
    torch.manual_seed(0)
    gate = StructuralGate(6, 3, hidden_channels=8, graph_channels=1)
    desc = torch.randn(40, 6)
    graphs = [(torch.tensor([1.0]), 0), (torch.tensor([-1.0]), 2)]
    opt = torch.optim.Adam(gate.parameters(), lr=0.1)
    for _ in range(200):
        loss = sum(-gate(desc * 3 + 1, None, u)[:, k].log().mean() for u, k in graphs)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for u, k in graphs:
        assert gate(desc, None, u)[:, k].min() > 0.99
    with pytest.raises(ValueError, match="graph-level"):
        gate(desc)
