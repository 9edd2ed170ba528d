"""TrajMoE's transition-graph GNN option: it changes venue embeddings only through the graph, shapes and gradients, and
the graph comes from training check-ins only."""

import numpy as np
import pytest
import torch

from graphrep.data.mobility import chronological_split, load_checkins, trajectory_ids
from graphrep.data.mobility.transitions import gnn_edges, training_transition_graph
from graphrep.models.trajmoe import TrajMoE
from graphrep.nn.location import LocationEncoder
from graphrep.tasks.mobility.training import prepare_city

from test_mobility_training import fake_embed, write_city  # tests/tasks/mobility is on sys.path (rootdir import)


def city(tmp_path, **kw):
    c = load_checkins(write_city(tmp_path / "city", users=4, per_user=30), city="c")
    return c, prepare_city("c", checkins=c, embed_categories=fake_embed, length=8, **kw)


def pair(seed=0):
    """The same TrajMoE weights with and without the transition GNN."""
    torch.manual_seed(seed)
    gnn = TrajMoE(category_dim=8, dim=16, heads=2, expert_hidden=8, max_len=8, transition_gnn=True).eval()
    plain = TrajMoE(category_dim=8, dim=16, heads=2, expert_hidden=8, max_len=8).eval()
    plain.load_state_dict({k: v for k, v in gnn.state_dict().items() if not k.startswith("location.graph")})
    return gnn, plain


def test_equals_the_plain_model_without_edges_or_with_zero_weights(tmp_path):
    _, data = city(tmp_path)
    gnn, plain = pair()
    x, b = data.features, data.windows["test"].batch(torch.arange(4))
    ring = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    ring = (torch.cat([ring, ring.flip(0)], 1), torch.rand(8) + 0.5)
    empty = (torch.zeros(2, 0, dtype=torch.long), torch.zeros(0))
    ref = plain(x, b)[0]
    assert torch.allclose(gnn(x, b, empty)[0], ref, atol=1e-6)
    with_graph = gnn(x, b, ring)[0]
    assert not torch.allclose(with_graph, ref, atol=1e-3)
    # only the venues on the graph move
    e_gnn, e_plain = gnn.encode_venues(x, ring), plain.encode_venues(x)
    assert torch.allclose(e_gnn[4:], e_plain[4:], atol=1e-6) and not torch.allclose(e_gnn[:4], e_plain[:4], atol=1e-3)
    with torch.no_grad():
        gnn.location.graph[0].lin.weight.zero_()
    assert torch.allclose(gnn(x, b, ring)[0], ref, atol=1e-6)
    with pytest.raises(ValueError, match="needs graph"):
        gnn(x, b)


def test_gcn_update_matches_a_dense_reference():
    torch.manual_seed(0)
    enc = LocationEncoder(8, 171, out_dim=6, hidden=12, graph_layers=1)
    x = torch.randn(5, 8 + 2 + 171)
    ei, w = torch.tensor([[0, 1, 1, 3], [1, 0, 3, 1]]), torch.tensor([2.0, 2.0, 1.0, 1.0])
    got = enc(x, ei, w)
    enc_plain = LocationEncoder(8, 171, out_dim=6, hidden=12)
    enc_plain.load_state_dict({k: v for k, v in enc.state_dict().items() if not k.startswith("graph")})
    m = enc.mlp(torch.cat([enc.cat_proj(x[:, :8]), torch.sin(2 * torch.pi * x[:, 8:10] @ enc.freq),
                           torch.cos(2 * torch.pi * x[:, 8:10] @ enc.freq), x[:, 8:]], 1))
    a = torch.zeros(5, 5)
    a[ei[1], ei[0]] = w  # message j -> i sits in row i
    d = a.sum(1)
    dinv = torch.where(d > 0, d.rsqrt(), torch.zeros(()))
    ref = enc.norm(m + (dinv[:, None] * a * dinv[None]) @ m @ enc.graph[0].lin.weight.T)
    assert got.shape == (5, 6) and torch.allclose(got, ref, atol=1e-5)


def test_gradients_reach_the_gnn_and_edge_weights(tmp_path):
    c, data = city(tmp_path)
    gnn, _ = pair()
    gnn.train()
    ei = torch.tensor([[0, 1, 2, 5], [1, 0, 5, 2]])
    w = torch.ones(4, requires_grad=True)
    b = data.windows["train"].batch(torch.arange(2))
    logits, targets = gnn(data.features, b, (ei, w))
    gnn.loss(logits, targets).backward()
    grad = gnn.location.graph[0].lin.weight.grad
    assert logits.shape == (int((b["targets"] >= 0).sum()), c.num_venues)
    assert grad is not None and grad.abs().sum() > 0 and w.grad.abs().sum() > 0


def test_transition_graph_uses_training_rows_only(tmp_path):
    c, data = city(tmp_path)
    split, traj = chronological_split(c), trajectory_ids(c)
    graph = training_transition_graph(c, split == 0, traj)
    # slow reference: consecutive check-ins of one user and trajectory, both in training
    counts = {}
    for r in range(1, len(c)):
        if traj[r] == traj[r - 1]:
            key = (int(c.venue[r - 1]), int(c.venue[r]))
            part = counts.setdefault(split[r] == 0 and split[r - 1] == 0, {})
            part[key] = part.get(key, 0) + 1
    got = {(int(u), int(v)): float(n) for (u, v), n in zip(graph.edge_index.T, graph.edge_weight)}
    assert got == counts[True]
    held_out_only = set(counts[False]) - set(counts[True])
    assert held_out_only and not held_out_only & set(got)  # valid/test transitions are not in the graph
    ei, w = gnn_edges(graph)
    dense = torch.zeros(c.num_venues, c.num_venues)
    for (u, v), n in counts[True].items():
        if u != v:
            dense[u, v] += n
            dense[v, u] += n
    assert ei.size(1) == int((dense > 0).sum()) and torch.allclose(w, torch.log1p(dense[ei[0], ei[1]]))
    assert torch.equal(data.graph[0], ei) and torch.allclose(data.graph[1], w)


def test_untrained_users_add_no_edges(tmp_path):
    c, data = city(tmp_path, fraction=0.25, seed=1)
    (user,) = data.train_users
    venues = np.unique(c.venue[(c.user == user) & (data.split == 0)])
    assert data.graph[0].numel() > 0 and np.isin(data.graph[0].numpy(), venues).all()


def test_cli_train_with_transition_gnn_then_zero_shot(tmp_path):
    from graphrep.cli import main
    from graphrep.tasks.mobility.training import load_model

    a, b = write_city(tmp_path / "a"), write_city(tmp_path / "b", users=6, seed=1)
    common = ["--window", "8", "--epochs", "1", "--quiet"]
    assert main(["mobility", "train", "--city", str(a), "--out", str(tmp_path / "run"), "--dim", "16", "--heads", "2",
                 "--expert-hidden", "16", "--transition-gnn", *common]) == 0
    model, _ = load_model(tmp_path / "run")
    assert model.config.transition_gnn and len(model.location.graph) == 1
    # another city's graph (from its own training check-ins) drives the transferred GNN
    assert main(["mobility", "transfer", "--from", str(tmp_path / "run"), "--to", str(b), "--fraction", "0",
                 "--out", str(tmp_path / "t"), *common]) == 0
