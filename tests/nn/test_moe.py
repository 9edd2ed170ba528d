"""The MoE block: routing weights, top-k, the load-balancing loss on a hand-computed case, equality with a dense FFN
when there is one expert, and the batched dispatch against a per-token loop."""

import pytest
import torch
import torch.nn.functional as F

from graphrep.nn.moe import FeedForward, MoEFeedForward, load_balancing_loss, route_top_k


def test_route_top_k_weights_sum_to_one_and_pick_the_largest():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.0, 3.0, 0.5, 2.9]])
    probs, w, idx = route_top_k(logits, 2)
    assert torch.allclose(probs.sum(-1), torch.ones(2))
    assert torch.allclose(w.sum(-1), torch.ones(2))
    assert idx.tolist() == [[0, 1], [1, 3]]
    p = torch.softmax(logits, -1)
    assert torch.allclose(w[1], p[1, [1, 3]] / p[1, [1, 3]].sum())
    with pytest.raises(ValueError, match="top_k"):
        route_top_k(logits, 5)


def test_load_balancing_loss_hand_computed():
    probs = torch.tensor([[0.7, 0.3], [0.4, 0.6], [0.9, 0.1], [0.2, 0.8]])
    experts = torch.tensor([[0], [0], [0], [1]])
    # f = (3/4, 1/4); P = mean rows = (0.55, 0.45); L = 2 * (0.75 * 0.55 + 0.25 * 0.45) = 1.05
    assert load_balancing_loss(probs, experts, 2).item() == pytest.approx(1.05)
    # top-2 over 2 experts: f = (1/2, 1/2) -> L = 2 * 0.5 * (0.55 + 0.45) = 1
    assert load_balancing_loss(probs, torch.tensor([[0, 1]] * 4), 2).item() == pytest.approx(1.0)
    # collapse onto one expert with certainty: L = E
    assert load_balancing_loss(torch.tensor([[1.0, 0, 0]] * 3), torch.zeros(3, 1, dtype=torch.long), 3).item() == 3


def test_one_expert_equals_dense_ffn():
    torch.manual_seed(0)
    moe = MoEFeedForward(8, 16, num_experts=1, top_k=1, num_shared=0)
    dense = FeedForward(8, 16)
    with torch.no_grad():
        dense.fc1.weight.copy_(moe.w1[0].T)
        dense.fc1.bias.copy_(moe.b1[0])
        dense.fc2.weight.copy_(moe.w2[0].T)
        dense.fc2.bias.copy_(moe.b2[0])
    x = torch.randn(3, 5, 8)
    assert torch.allclose(moe(x), dense(x), atol=1e-6)
    assert moe.aux_loss.item() == pytest.approx(1.0)


def test_batched_dispatch_matches_per_token_loop_and_backpropagates():
    torch.manual_seed(1)
    moe = MoEFeedForward(6, 10, num_experts=4, top_k=2, num_shared=1, router_extra=3)
    x, side = torch.randn(7, 6, requires_grad=True), torch.randn(7, 3)
    y = moe(x, side)
    _, w, idx = route_top_k(moe.router(torch.cat([x, side], -1)), 2)
    for n in range(7):
        ref = moe.shared[0](x[n])
        for j in range(2):
            e = idx[n, j]
            ref = ref + w[n, j] * (F.gelu(x[n] @ moe.w1[e] + moe.b1[e]) @ moe.w2[e] + moe.b2[e])
        assert torch.allclose(y[n], ref, atol=1e-5)
    (y.sum() + moe.aux_loss).backward()
    assert moe.router.weight.grad.abs().sum() > 0 and x.grad is not None
    util = moe.utilisation()
    assert util.sum().item() == pytest.approx(1.0) and moe.expert_counts.sum().item() == 14
    moe.reset_stats()
    assert moe.utilisation().sum().item() == 0
    with pytest.raises(ValueError, match="router_side"):
        moe(x)


def test_active_parameters_count_top_k_experts():
    moe = MoEFeedForward(4, 8, num_experts=3, top_k=1, num_shared=1)
    per_expert = 4 * 8 + 8 + 8 * 4 + 4
    assert moe.active_parameters == (4 * 3 + 3) + per_expert + per_expert
