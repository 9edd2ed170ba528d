"""D-SLA loss against a hand-computed example and an independent loop implementation."""

import math

import pytest
import torch

from graphrep.objectives import dsla_loss, edit_distance_loss, margin_loss


def hand_example():
    # graph 0: h_1 - h_0 = (3, 4) -> 5, h_2 - h_0 = (6, 8) -> 10; e = 1, 4 -> r = 5, 2.5 -> (r1 - r2)^2 = 6.25
    # graph 1: h_1 - h_0 = (0, 1) -> 1, h_2 = h_0 -> 0;        e = 2, 2 -> r = 0.5, 0 -> 0.25
    h = torch.tensor(
        [
            [[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]],
            [[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]],
        ]
    )
    e = torch.tensor([[0, 1, 4], [0, 2, 2]])
    # CE: graph 0 softmax of (0, ln2, 0) at 0 = 1/4 -> ln 4; graph 1 (ln2, 0, 0) -> 2/4 -> ln 2
    scores = torch.tensor([[0.0, math.log(2), 0.0], [math.log(2), 0.0, 0.0]])
    return scores, h, e


def test_hand_computed_example():
    scores, h, e = hand_example()
    out = dsla_loss(scores, h, e)
    # L_GD = (ln4 + ln2) / 2 = 1.5 ln2
    assert out.discrimination.item() == pytest.approx(1.5 * math.log(2), abs=1e-6)
    # L_edit = (6.25 + 0.25) / 2
    assert out.edit.item() == pytest.approx(3.25, abs=1e-6)
    # originals (0,0) and (1,0) are 1 apart; margin 5:
    # graph 0: relu(5 + 5 - 1) = 9, relu(5 + 10 - 1) = 14; graph 1: relu(5 + 1 - 1) = 5, relu(5 + 0 - 1) = 4 -> mean 8
    assert out.margin.item() == pytest.approx(8.0, abs=1e-6)
    assert out.loss.item() == pytest.approx(1.5 * math.log(2) + 0.7 * 3.25 + 0.5 * 8.0, abs=1e-5)
    assert out.accuracy.item() == pytest.approx(0.5)  # graph 0 scores candidate 1 highest


def test_weights_and_margin_are_configurable():
    scores, h, e = hand_example()
    out = dsla_loss(scores, h, e, edit_weight=1.0, margin_weight=2.0, margin=1.0)
    # margin 1: graph 0: relu(1+5-1)=5, relu(1+10-1)=10; graph 1: relu(1+1-1)=1, relu(1+0-1)=0 -> 16/4 = 4
    assert out.margin.item() == pytest.approx(4.0, abs=1e-6)
    assert out.loss.item() == pytest.approx(1.5 * math.log(2) + 3.25 + 8.0, abs=1e-5)


def test_zero_edit_distance_candidates_are_left_out():
    _, h, e = hand_example()
    e = e.clone()
    e[1] = torch.tensor([0, 0, 2])  # graph 1's first candidate could not be perturbed
    assert edit_distance_loss(h, e).item() == pytest.approx(6.25, abs=1e-6)
    e[:] = 0
    assert edit_distance_loss(h, e).item() == 0.0


def test_strong_candidate_is_left_out_of_margin_only():
    scores, h, e = hand_example()
    h4 = torch.cat([h, torch.full((2, 1, 2), 100.0)], 1)
    e4 = torch.cat([e, torch.tensor([[8], [8]])], 1)
    assert margin_loss(h4, strong=True).item() == pytest.approx(8.0, abs=1e-6)
    assert margin_loss(h4, strong=False).item() > 8.0
    assert edit_distance_loss(h4, e4).item() != pytest.approx(3.25)


def loop_reference(scores, h, e, edit_w=0.7, margin_w=0.5, margin=5.0):
    B, C, _ = h.shape
    gd = 0.0
    for b in range(B):
        gd += -math.log(math.exp(scores[b, 0]) / sum(math.exp(scores[b, c]) for c in range(C)))
    gd /= B
    sq, n = 0.0, 0
    for b in range(B):
        r = [None] + [float((h[b, i] - h[b, 0]).norm()) / float(e[b, i]) if e[b, i] > 0 else None for i in range(1, C)]
        for i in range(1, C):
            for j in range(i + 1, C):
                if r[i] is not None and r[j] is not None:
                    sq += (r[i] - r[j]) ** 2
                    n += 1
    edit = sq / n if n else 0.0
    terms = []
    for b in range(B):
        for i in range(1, C):
            for b2 in range(B):
                if b2 != b:
                    pos = float((h[b, 0] - h[b, i]).norm())
                    neg = float((h[b, 0] - h[b2, 0]).norm())
                    terms.append(max(0.0, margin + pos - neg))
    mar = sum(terms) / len(terms)
    return gd + edit_w * edit + margin_w * mar


def test_matches_loop_reference_on_random_inputs():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        scores = torch.randn(6, 4, generator=g, dtype=torch.float64)
        h = torch.randn(6, 4, 8, generator=g, dtype=torch.float64) * 3
        e = torch.randint(0, 6, (6, 4), generator=g)
        e[:, 0] = 0
        out = dsla_loss(scores, h, e)
        assert out.loss.item() == pytest.approx(loop_reference(scores, h, e), rel=1e-9)


def test_gradients_are_finite_with_coinciding_embeddings():
    h = torch.zeros(3, 4, 5, requires_grad=True)
    scores = torch.zeros(3, 4, requires_grad=True)
    out = dsla_loss(scores, h, torch.tensor([[0, 1, 2, 3]] * 3))
    out.loss.backward()
    assert torch.isfinite(h.grad).all() and torch.isfinite(scores.grad).all()


def test_single_graph_batch_and_bad_shapes():
    scores, h, e = hand_example()
    out = dsla_loss(scores[:1], h[:1], e[:1])
    assert out.margin.item() == 0.0
    with pytest.raises(ValueError, match=r"\[B, C, D\]"):
        dsla_loss(scores, h[:, :2], e)
    with pytest.raises(ValueError, match="at least 2 candidates"):
        dsla_loss(scores[:, :1], h[:, :1], e[:, :1])
