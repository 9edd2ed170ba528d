"""Structural gate: a distribution per node, uniform at initialisation, gradients to descriptors and parameters."""

import math

import pytest
import torch

from graphrep.nn.gate import StructuralGate, gate_entropy, standardize


def test_entropy_known_values():
    w = torch.tensor([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    assert gate_entropy(w).item() == pytest.approx(0.5 * math.log(3))
    with pytest.raises(ValueError, match=r"\[N, K\]"):
        gate_entropy(torch.ones(3))


def test_standardize_matches_zscore():
    s = torch.tensor([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    out = standardize(s)
    torch.testing.assert_close(out[:, 0], torch.tensor([-1.0, 0.0, 1.0]) * math.sqrt(1.5))
    assert (out[:, 1] == 0).all()  # constant column


@pytest.mark.parametrize("with_embedding", [False, True])
def test_weights_sum_to_one_and_gradients_flow(with_embedding):
    torch.manual_seed(0)
    gate = StructuralGate(6, 3, hidden_channels=8, embedding_channels=5 if with_embedding else None)
    s = torch.randn(10, 6, requires_grad=True)
    emb = torch.randn(10, 5, requires_grad=True) if with_embedding else None
    w0 = gate(s, emb)
    torch.testing.assert_close(w0, torch.full((10, 3), 1 / 3))  # zero-initialised last layer: uniform
    with torch.no_grad():
        gate.out.weight.normal_()
    w = gate(s, emb)
    assert w.shape == (10, 3) and (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(10))
    assert not torch.allclose(w, w0)
    (w[:, 0].sum() + gate_entropy(w)).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert all(p.grad is not None for p in gate.parameters())
    if with_embedding:
        assert emb.grad.abs().sum() > 0


def test_temperature_sharpens():
    torch.manual_seed(0)
    s = torch.randn(10, 6)
    hot, cold = StructuralGate(6, 3, temperature=1.0), StructuralGate(6, 3, temperature=0.1)
    cold.load_state_dict(hot.state_dict())
    for g in (hot, cold):
        with torch.no_grad():
            g.out.weight.copy_(torch.arange(96.0).reshape(3, 32) / 50)
    assert gate_entropy(cold(s)) < gate_entropy(hot(s))


def test_bad_inputs_are_named():
    gate = StructuralGate(6, 3, embedding_channels=4)
    with pytest.raises(ValueError, match=r"descriptors must be \[N, 6\]"):
        gate(torch.randn(5, 4))
    with pytest.raises(ValueError, match="node embedding"):
        gate(torch.randn(5, 6))
    with pytest.raises(ValueError, match="temperature"):
        StructuralGate(6, 3, temperature=0)


def test_a_gate_without_node_inputs_gives_every_node_of_a_graph_the_same_weights():
    gate = StructuralGate(4, 3, 8, graph_channels=2, node_inputs=False)
    torch.nn.init.normal_(gate.out.weight)
    desc = torch.randn(10, 4)
    w = gate(desc, graph_features=torch.tensor([0.7, 0.6]))
    assert torch.allclose(w, w[:1].expand_as(w))
    # another graph's features move the choice; the nodes' descriptors do not
    other = gate(torch.randn(5, 4) * 10, graph_features=torch.tensor([0.1, -0.4]))
    assert torch.allclose(other, other[:1].expand_as(other)) and not torch.allclose(other[0], w[0])
    with pytest.raises(ValueError, match="graph_channels"):
        StructuralGate(4, 3, 8, node_inputs=False)
