"""Balanced MSE (GAI, BMC, BNI), balanced softmax and representation scattering: hand-computed values, the published
formulas, and the three mistakes of the public CircuitGCL loss code reproduced as regressions."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import norm

from graphrep.data.errors import InvalidInputError
from graphrep.objectives import (BalancedMSE, BalancedSoftmaxLoss, alignment_loss, balanced_softmax_loss, bmc_loss,
                                 bni_loss, gai_loss, scattering_loss)
from graphrep.objectives.balanced import class_counts, fit_gmm, kde_bins


def test_bmc_hand_computed_full_matrix():
    pred, target, var = torch.tensor([0.0, 1.0]), torch.tensor([0.0, 2.0]), torch.tensor(0.5)
    # logits -(p_i - y_j)^2 / (2 * 0.5) = [[0, -4], [-1, -1]]; row i's target is column i; times 2 sigma^2 = 1
    expected = (math.log1p(math.exp(-4)) + math.log(2)) / 2
    assert bmc_loss(pred, target, var).item() == pytest.approx(expected)


def test_bmc_regression_flattened_logits_lose_the_balancing_term():
    """Public-code bug: with logits flattened to each prediction against its own target only, every row's softmax
    has one entry, the cross entropy is exactly 0 and nothing is learned. The full B x B matrix is not degenerate."""
    pred = torch.tensor([0.3, 0.9, 0.1], requires_grad=True)
    target, var = torch.tensor([0.0, 1.0, 0.5]), torch.tensor(0.1)
    flattened = -(pred - target).pow(2).reshape(-1, 1) / (2 * var)
    buggy = F.cross_entropy(flattened, torch.zeros(3, dtype=torch.long)) * 2 * var
    assert buggy.item() == 0.0
    loss = bmc_loss(pred, target, var)
    loss.backward()
    assert loss.item() > 0 and pred.grad.abs().sum() > 0


def test_gai_hand_computed_and_published_formula():
    gmm = {"means": torch.tensor([0.0]), "variances": torch.tensor([1.0]), "weights": torch.tensor([1.0])}
    # -log N(0; 1, 1) + log N(1; 0, 1 + 1), times 2 sigma^2 = 2:  0.5 - log 2
    loss = gai_loss(torch.tensor([1.0]), torch.tensor([0.0]), gmm, torch.tensor(1.0))
    assert loss.item() == pytest.approx(0.5 - math.log(2))
    rng = np.random.default_rng(0)
    means, variances, weights = rng.normal(size=3), rng.uniform(0.1, 1, 3), rng.dirichlet(np.ones(3))
    pred, target, var = rng.normal(size=5), rng.normal(size=5), 0.3
    published = np.mean(-norm.logpdf(target, pred, math.sqrt(var)) + np.log(
        (weights * norm.pdf(pred[:, None], means, np.sqrt(variances + var))).sum(1))) * 2 * var
    gmm = {"means": torch.tensor(means), "variances": torch.tensor(variances), "weights": torch.tensor(weights)}
    got = gai_loss(torch.tensor(pred), torch.tensor(target), gmm, torch.tensor(var, dtype=torch.float64))
    assert got.item() == pytest.approx(published, rel=1e-9)


def test_gai_regression_gmm_fitted_on_label_and_class_columns():
    """Public-code bug: the GMM was fitted on [label, class] columns, so the flattened 'means' mix class indices
    (0..4) with label means. fit_gmm refuses two columns and its means lie in the label range."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(1)
    labels = np.concatenate([rng.normal(0.3, 0.03, 300), rng.normal(0.7, 0.05, 60)]).clip(0, 1)
    classes = np.digitize(labels, [0.2, 0.4, 0.6, 0.8]).astype(float)
    buggy = GaussianMixture(2, random_state=0).fit(np.stack([labels, classes], 1)).means_.reshape(-1)
    assert buggy.max() > 1.5  # a class index taken for a label mean
    with pytest.raises(InvalidInputError, match="one label column"):
        fit_gmm(np.stack([labels, classes], 1))
    gmm = fit_gmm(labels, n_components=2)
    assert gmm["means"].min() >= labels.min() and gmm["means"].max() <= labels.max()
    assert sorted(gmm["means"].tolist()) == pytest.approx([0.3, 0.7], abs=0.02)
    assert gmm["weights"].sum().item() == pytest.approx(1.0)


def test_bni_hand_computed_and_kde():
    centres, weights = torch.tensor([0.0, 1.0]), torch.tensor([0.25, 0.75])
    # pred 0, target 0, sigma^2 0.5: mse term 0; balancing log(0.25 + 0.75 e^-1); times 2 sigma^2 = 1
    loss = bni_loss(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor(0.5), centres, weights)
    assert loss.item() == pytest.approx(math.log(0.25 + 0.75 * math.exp(-1)))
    c, w = kde_bins([0.0, 0.0, 1.0], bins=3, bandwidth=0.5)
    assert c.tolist() == [0.0, 0.5, 1.0] and w.sum().item() == pytest.approx(1.0)
    raw = [2 + math.exp(-2), 3 * math.exp(-0.5), 2 * math.exp(-2) + 1]
    assert w.tolist() == pytest.approx([r / sum(raw) for r in raw])


@pytest.mark.parametrize("mode", ["gai", "bmc", "bni"])
def test_balanced_mse_module_learns_sigma_and_is_finite(mode):
    torch.manual_seed(0)
    labels = torch.rand(200) ** 3
    loss_fn = BalancedMSE(labels, mode=mode, init_noise_sigma=0.5)
    pred = torch.rand(32, 1, requires_grad=True)
    loss = loss_fn(pred, labels[:32])
    loss.backward()
    assert torch.isfinite(loss) and loss_fn.noise_sigma.grad is not None and torch.isfinite(pred.grad).all()


def test_balanced_softmax_hand_computed():
    logits, target = torch.zeros(1, 3), torch.tensor([2])
    assert balanced_softmax_loss(logits, target, torch.tensor([1.0, 2.0, 7.0])).item() == pytest.approx(math.log(10 / 7))
    assert class_counts([0, 2, 2], 4).tolist() == [1, 1, 2, 1]  # absent classes count 1: no log 0


def test_balanced_softmax_regression_counts_from_each_batch():
    """Public-code bug: class counts taken from each batch. A batch holding one class gives the others log 0 = -inf,
    and the loss is exactly 0 whatever the logits; counts from the training split keep the signal."""
    logits = torch.tensor([[2.0, 0.5, -1.0], [1.0, 0.0, 0.3]], requires_grad=True)
    target = torch.tensor([2, 2])
    batch_counts = torch.bincount(target, minlength=3).float()
    buggy = F.cross_entropy(logits + batch_counts.log(), target)
    assert buggy.item() == 0.0
    train = torch.tensor([0, 0, 0, 1, 1, 2])
    loss_fn = BalancedSoftmaxLoss(train, num_classes=3)
    loss = loss_fn(logits, target)
    loss.backward()
    prior = torch.tensor([3.0, 2.0, 1.0]).log()
    assert loss.item() == pytest.approx(F.cross_entropy(logits.detach() + prior, target).item())
    assert loss.item() > 0 and logits.grad.abs().sum() > 0
    with pytest.raises(InvalidInputError, match=r"labels must lie in \[0, 3\)"):
        BalancedSoftmaxLoss(torch.tensor([0, 3]), num_classes=3)


def test_scattering_and_alignment_hand_computed():
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert scattering_loss(z).item() == pytest.approx(-0.5)
    assert scattering_loss(3 * z).item() == pytest.approx(-0.5)  # on normalised rows
    zs = torch.randn(50, 8)
    centre = F.normalize(zs, dim=-1).mean(0)
    assert scattering_loss(zs).item() == pytest.approx(centre.pow(2).sum().item() - 1, abs=1e-6)
    assert scattering_loss(torch.ones(4, 3)).item() == pytest.approx(0.0, abs=1e-7)  # collapsed: no scatter
    p, t = torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0, 4.0]])
    assert alignment_loss(p, t).item() == pytest.approx(0.0, abs=1e-6)
    assert alignment_loss(p, -t).item() == pytest.approx(4.0)
    t.requires_grad_()
    alignment_loss(p.requires_grad_(), t).backward()
    assert t.grad is None  # the target is detached
