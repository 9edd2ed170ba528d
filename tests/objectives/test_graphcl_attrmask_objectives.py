"""GraphCL NT-Xent and AttrMasking loss against hand-computed values."""

import math

import pytest
import torch

from graphrep.objectives import AttrMaskHead, ProjectionHead, attr_mask_loss, nt_xent


def test_nt_xent_orthogonal_views_by_hand():
    e = torch.eye(2)
    # positives: cos 1 -> e^{10}; the one negative: cos 0 -> e^0 = 1; l_n = -log(e^10 / 1) = -10
    assert nt_xent(e, e).item() == pytest.approx(-10.0, abs=1e-5)
    # swapped views: positive cos 0, negative cos 1: l_n = -log(1 / e^10) = 10
    assert nt_xent(e, e.flip(0)).item() == pytest.approx(10.0, abs=1e-5)


def test_nt_xent_three_graphs_by_hand():
    # unit vectors at 0, 90 and 180 degrees; the second view equals the first, scaled (cosine ignores the scale)
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    z2 = 3 * z1
    t = 0.5
    # graph 0: pos cos 1; negatives cos 0 (graph 1), cos -1 (graph 2)
    l0 = -math.log(math.exp(1 / t) / (math.exp(0) + math.exp(-1 / t)))
    # graph 1: pos 1; negatives 0, 0
    l1 = -math.log(math.exp(1 / t) / 2)
    l2 = l0
    assert nt_xent(z1, z2, temperature=t).item() == pytest.approx((l0 + l1 + l2) / 3, abs=1e-5)


def test_nt_xent_matches_loop_and_is_not_symmetric_in_views():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    cos = lambda a, b: float(a @ b / (a.norm() * b.norm()))  # noqa: E731
    ref = 0.0
    for n in range(5):
        num = math.exp(cos(z1[n], z2[n]) / 0.1)
        den = sum(math.exp(cos(z1[n], z2[m]) / 0.1) for m in range(5) if m != n)
        ref += -math.log(num / den)
    assert nt_xent(z1, z2).item() == pytest.approx(ref / 5, rel=1e-9)


def test_nt_xent_bad_inputs():
    with pytest.raises(ValueError, match="at least 2"):
        nt_xent(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="same shape"):
        nt_xent(torch.ones(2, 3), torch.ones(3, 3))


def test_projection_head_shapes_and_gradients():
    head = ProjectionHead(8, 4)
    z = head(torch.randn(3, 8))
    assert z.shape == (3, 4)
    nt_xent(z, z + 0.1).backward()
    assert all(p.grad is not None for p in head.parameters())


def test_attr_mask_loss_by_hand():
    # two masked atoms, three classes. logits (ln1, ln2, ln1) -> p(target=1) = 2/4; (0, 0, ln2) target 0 -> 1/4
    logits = torch.tensor([[0.0, math.log(2), 0.0], [0.0, 0.0, math.log(2)]])
    out = attr_mask_loss(logits, torch.tensor([1, 0]))
    assert out.loss.item() == pytest.approx((math.log(2) + math.log(4)) / 2, abs=1e-6)
    assert out.accuracy.item() == pytest.approx(0.5)


def test_attr_mask_head_predicts_from_masked_nodes_only():
    head = AttrMaskHead(dim=4, num_classes=119)
    emb = torch.randn(6, 4)
    idx = torch.tensor([1, 4])
    logits = head(emb, idx)
    assert torch.allclose(logits, head.linear(emb[idx]))
    with pytest.raises(ValueError, match="class indices"):
        attr_mask_loss(logits, torch.tensor([0, 119]))
    with pytest.raises(ValueError, match="no masked atoms"):
        attr_mask_loss(logits[:0], torch.tensor([], dtype=torch.long))
