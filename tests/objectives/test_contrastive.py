"""InfoNCE on hand-computed cases and against a loop reference; MoCHi negatives; neighbour positives."""

import math

import pytest
import torch
import torch.nn.functional as F

from graphrep.objectives.contrastive import InfoNCE, info_nce, mochi_negatives, neighbour_positive_mask


def test_hand_computed_identity_pairs():
    # a = b = I_2, tau = 1: logits = I, each row -log(e / (e + 1)) = log(1 + 1/e), both directions.
    eye = torch.eye(2)
    assert float(info_nce(eye, eye, 1.0)) == pytest.approx(math.log(1 + math.exp(-1)))
    # tau = 0.5 doubles the logits: log(1 + e^-2)
    assert float(info_nce(eye, eye, 0.5)) == pytest.approx(math.log(1 + math.exp(-2)))
    # normalisation: scaling the inputs changes nothing
    assert float(info_nce(3 * eye, 0.2 * eye, 1.0)) == pytest.approx(math.log(1 + math.exp(-1)))


def test_hand_computed_multi_positive():
    # a = [1, 0]; b = [1, 0], [0, 1], [-1, 0]; positives b0, b1; tau = 1: logits [1, 0, -1].
    # a->b: -(1/2)[(1 - L) + (0 - L)] = L - 1/2, L = log(e + 1 + 1/e).
    # b->a: columns 0 and 1 have the single anchor as positive and as only candidate -> 0; column 2 has none (skipped).
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    mask = torch.tensor([[True, True, False]])
    lse = math.log(math.e + 1 + 1 / math.e)
    assert float(info_nce(a, b, 1.0, mask, symmetric=False)) == pytest.approx(lse - 0.5)
    assert float(info_nce(a, b, 1.0, mask)) == pytest.approx((lse - 0.5) / 2)


def test_hand_computed_extra_negatives():
    # a = b = I_2, tau = 1, anchor 0 gets one extra negative [0, 1] (logit 0), anchor 1 gets [0, -1] (logit -1):
    # row 0: log(e + 1 + 1) - 1; row 1: log(e + 1 + 1/e) - 1.
    eye = torch.eye(2)
    neg = torch.tensor([[[0.0, 1.0]], [[0.0, -1.0]]])
    want = 0.5 * ((math.log(math.e + 2) - 1) + (math.log(math.e + 1 + 1 / math.e) - 1))
    assert float(info_nce(eye, eye, 1.0, neg_a=neg, symmetric=False)) == pytest.approx(want)


def _reference(a, b, tau, mask):
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)

    def one_way(x, y, m):
        losses = []
        for i in range(x.size(0)):
            pos = [j for j in range(y.size(0)) if m[i, j]]
            if not pos:
                continue
            denom = sum(math.exp(float(x[i] @ y[j]) / tau) for j in range(y.size(0)))
            losses.append(-sum(float(x[i] @ y[p]) / tau - math.log(denom) for p in pos) / len(pos))
        return sum(losses) / len(losses)

    return 0.5 * (one_way(a, b, mask) + one_way(b, a, mask.t()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_reference(seed):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)
    mask = torch.rand(6, 5, generator=g) < 0.3
    mask[0, 0] = True
    assert float(info_nce(a, b, 0.3, mask)) == pytest.approx(_reference(a, b, 0.3, mask), rel=1e-9)


def test_gradients_and_learnable_temperature():
    loss_fn = InfoNCE(temperature=0.1)
    assert float(loss_fn.temperature.detach()) == pytest.approx(0.1)
    a, b = torch.randn(8, 5, requires_grad=True), torch.randn(8, 5, requires_grad=True)
    loss = loss_fn(a, b)
    loss.backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0 and loss_fn.log_scale.grad is not None
    assert float(loss.detach()) == pytest.approx(float(info_nce(a, b, 0.1).detach()), rel=1e-6)
    fixed = InfoNCE(temperature=0.5, learnable=False)
    assert not list(fixed.parameters()) and float(fixed.temperature.detach()) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="max_scale"):
        InfoNCE(temperature=0.001)


def test_errors():
    with pytest.raises(ValueError, match="pair row by row"):
        info_nce(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="no positive"):
        info_nce(torch.randn(3, 2), torch.randn(3, 2), pos_mask=torch.zeros(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="temperature"):
        info_nce(torch.randn(3, 2), torch.randn(3, 2), 0.0)


def test_mochi_hand_case_and_properties():
    anchor = torch.tensor([[1.0, 0.0]])
    cands = torch.tensor([[1.0, 0.0], [0.8, 0.6], [-1.0, 0.0]])
    mask = torch.tensor([[True, False, False]])
    g = torch.Generator().manual_seed(0)
    # hard set of size 1 = {[0.8, 0.6]}: any mixture of it with itself is itself.
    h = mochi_negatives(anchor, cands, mask, num_hard=1, num_mix=3, num_self_mix=0, generator=g)
    torch.testing.assert_close(h, torch.tensor([[0.8, 0.6]]).expand(1, 3, 2).contiguous().view(1, 3, 2))
    # anchor-negative mixtures lie on the arc between the anchor (angle 0) and the negative, nearer the negative.
    s = mochi_negatives(anchor, cands, mask, num_hard=1, num_mix=0, num_self_mix=50, generator=g)
    ang = torch.atan2(s[0, :, 1], s[0, :, 0])
    theta = math.atan2(0.6, 0.8)
    assert (ang <= theta + 1e-6).all() and (ang >= theta / 2 - 1e-6).all()
    torch.testing.assert_close(s.norm(dim=-1), torch.ones(1, 50))
    # num_hard is clamped to the 2 negatives available; positives never enter the hard set
    m = mochi_negatives(anchor, cands, mask, num_hard=5, num_mix=4, num_self_mix=2, generator=g)
    assert m.shape == (1, 6, 2) and not m.requires_grad
    # deterministic for a seed
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    x, y = torch.randn(6, 4), torch.randn(6, 4)
    assert torch.equal(mochi_negatives(x, y, generator=g1), mochi_negatives(x, y, generator=g2))
    # hard negatives can only raise the loss
    neg = mochi_negatives(x, y, num_hard=3, generator=g1)
    assert float(info_nce(x, y, 0.2, neg_a=neg, symmetric=False)) > float(info_nce(x, y, 0.2, symmetric=False))


def test_infonce_module_with_mochi_and_neighbour_mask():
    ei = torch.tensor([[0, 1, 4], [1, 2, 5]])
    mask = neighbour_positive_mask(ei, torch.tensor([2, 1, 0, 3]))
    want = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=torch.bool)
    assert torch.equal(mask, want)
    assert not neighbour_positive_mask(ei, torch.tensor([0, 1]), include_self=False).diagonal().any()
    loss_fn = InfoNCE(0.1, hard_negatives={"num_hard": 2, "num_mix": 2, "num_self_mix": 1})
    a, b = torch.randn(4, 3, requires_grad=True), torch.randn(4, 3)
    g = torch.Generator().manual_seed(0)
    train_loss = loss_fn(a, b, mask, generator=g)
    train_loss.backward()
    assert torch.isfinite(train_loss) and a.grad is not None
    loss_fn.eval()  # no mixing at evaluation
    assert float(loss_fn(a, b, mask).detach()) == pytest.approx(float(info_nce(a, b, 0.1, mask).detach()), rel=1e-6)
