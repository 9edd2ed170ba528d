r"""Label-rebalanced losses for imbalanced regression and classification.

Balanced MSE (Ren et al., CVPR 2022, "Balanced MSE for Imbalanced Visual Regression") replaces the likelihood
:math:`\mathcal N(y; \hat y, \sigma^2)` of plain MSE by the *balanced* likelihood, which divides out the training label
distribution :math:`p_\mathrm{train}(y)`. With :math:`\sigma^2` the (learnable) noise variance, each variant is

.. math::
    \mathcal L = -\log \mathcal N(y; \hat y, \sigma^2) + \log \int \mathcal N(y'; \hat y, \sigma^2)\,
    p_\mathrm{train}(y')\,dy'

times :math:`2\sigma^2` (detached, so that the gradient scale matches MSE), and differs in how the integral is taken:

- **GAI** (:func:`gai_loss`): :math:`p_\mathrm{train}` is a Gaussian mixture :math:`\sum_k \pi_k \mathcal N(\mu_k,
  v_k)` fitted once on the training labels (:func:`fit_gmm`, the label column only), so the integral is
  :math:`\sum_k \pi_k \mathcal N(\hat y; \mu_k, v_k + \sigma^2)`.
- **BMC** (:func:`bmc_loss`): the batch's targets are samples of :math:`p_\mathrm{train}`, so the loss is a cross
  entropy over the full :math:`B \times B` matrix of logits :math:`-(\hat y_i - y_j)^2 / 2\sigma^2`, the true target of
  row :math:`i` being column :math:`i`.
- **BNI** (:func:`bni_loss`): :math:`p_\mathrm{train}` is a kernel density of the training labels evaluated at bin
  centres (:func:`kde_bins`), the integral a sum over bins.

Balanced softmax (Ren et al., NeurIPS 2020) adds :math:`\log n_c` (class counts of the *training split*) to the logits
inside the cross entropy: :math:`\mathcal L = -\log \frac{n_y e^{z_y}}{\sum_c n_c e^{z_c}}`. Prediction uses the plain
logits.

Three mistakes of the public CircuitGCL code are designed out here (tests reproduce each): its GMM was fitted on
``[label, class]`` columns (:func:`fit_gmm` refuses 2-column input); its BMC flattened the logits instead of comparing
every prediction with every target; its balanced softmax counted classes in each batch, so an absent class gave
:math:`\log 0` and a one-class batch a loss of exactly 0 (:class:`BalancedSoftmaxLoss` takes training-split counts).
"""

from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.errors import InvalidInputError


def _column(values, name: str) -> np.ndarray:
    a = np.asarray(values.detach().cpu() if isinstance(values, Tensor) else values, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise InvalidInputError(f"{name}: expected one label column, got shape {list(a.shape)} (fit on the label only, "
                                "not on [label, class] columns)")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise InvalidInputError(f"{name}: {bad.size} of {a.size} labels are not finite (the first at index "
                                f"{bad[0]}: {a[bad[0]]})")
    if a.size < 2:
        raise InvalidInputError(f"{name}: need at least 2 labels, got {a.size}")
    return a


def fit_gmm(labels, n_components: int = 8, seed: int = 0) -> dict[str, Tensor]:
    """A 1-D Gaussian mixture of the training labels: ``{"means", "variances", "weights"}``, each [K] (float64).

    Shapes: labels [N] or [N, 1]; anything wider is an error. Uses scikit-learn's ``GaussianMixture``."""
    from sklearn.mixture import GaussianMixture

    y = _column(labels, "fit_gmm")
    k = max(1, min(n_components, len(np.unique(y))))
    gmm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed, reg_covar=1e-6).fit(y[:, None])
    return {"means": torch.tensor(gmm.means_[:, 0]), "variances": torch.tensor(gmm.covariances_[:, 0, 0]),
            "weights": torch.tensor(gmm.weights_)}


def kde_bins(labels, bins: int = 100, bandwidth: float | None = None, low: float | None = None,
             high: float | None = None) -> tuple[Tensor, Tensor]:
    r"""Gaussian kernel density of the training labels at ``bins`` evenly spaced centres over ``[low, high]`` (default:
    the label range): ``(centres [bins], weights [bins])``, weights summing to 1. Bandwidth defaults to Scott's rule
    :math:`1.06\,\hat\sigma\,N^{-1/5}`."""
    y = _column(labels, "kde_bins")
    if bins < 1:
        raise InvalidInputError(f"kde_bins: bins must be >= 1, got {bins}")
    lo = float(y.min()) if low is None else low
    hi = float(y.max()) if high is None else high
    h = bandwidth if bandwidth is not None else 1.06 * max(float(y.std(ddof=1)), 1e-6) * len(y) ** -0.2
    centres = np.linspace(lo, hi, bins) if bins > 1 else np.array([(lo + hi) / 2])
    density = np.exp(-0.5 * ((centres[:, None] - y[None, :]) / h) ** 2).sum(1)
    density = density / density.sum()
    return torch.tensor(centres), torch.tensor(density)


def _flat(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if pred.numel() != target.numel():
        raise InvalidInputError(f"pred has {pred.numel()} values, target {target.numel()}")
    return pred.reshape(-1, 1), target.reshape(-1, 1).to(pred.dtype)


def bmc_loss(pred: Tensor, target: Tensor, noise_var: Tensor) -> Tensor:
    r"""Batch-based Monte Carlo Balanced MSE: :math:`2\sigma^2 \cdot \mathrm{CE}(L, [0..B))` with
    :math:`L_{ij} = -(\hat y_i - y_j)^2 / 2\sigma^2`, every prediction against every target of the batch.

    Shapes: pred, target [B] or [B, 1]; noise_var scalar -> scalar."""
    pred, target = _flat(pred, target)
    logits = -(pred - target.t()).pow(2) / (2 * noise_var)
    loss = F.cross_entropy(logits, torch.arange(pred.size(0), device=pred.device))
    return loss * (2 * noise_var).detach()


def gai_loss(pred: Tensor, target: Tensor, gmm: dict[str, Tensor], noise_var: Tensor) -> Tensor:
    r"""GMM-based analytic integration:
    :math:`2\sigma^2 \cdot \mathrm{mean}_i\big[(\hat y_i - y_i)^2 / 2\sigma^2 + \tfrac12\log\sigma^2
    + \log \sum_k \pi_k (v_k + \sigma^2)^{-1/2} e^{-(\hat y_i - \mu_k)^2 / 2(v_k + \sigma^2)}\big]`
    (the :math:`\sqrt{2\pi}` constants cancel).

    Shapes: pred, target [B] or [B, 1]; gmm values [K] -> scalar."""
    pred, target = _flat(pred, target)
    means, variances, weights = (gmm[k].to(pred) for k in ("means", "variances", "weights"))
    mse_term = (pred - target).pow(2) / (2 * noise_var) + 0.5 * torch.log(noise_var)
    total_var = variances[None, :] + noise_var
    balancing = torch.logsumexp(-0.5 * torch.log(total_var) - 0.5 * (pred - means[None, :]).pow(2) / total_var
                                + torch.log(weights)[None, :], dim=1, keepdim=True)
    return ((mse_term + balancing) * (2 * noise_var).detach()).mean()


def bni_loss(pred: Tensor, target: Tensor, noise_var: Tensor, centres: Tensor, weights: Tensor) -> Tensor:
    r"""Bin-based numerical integration:
    :math:`2\sigma^2 \cdot \mathrm{mean}_i\big[(\hat y_i - y_i)^2 / 2\sigma^2
    + \log \sum_b w_b e^{-(\hat y_i - c_b)^2 / 2\sigma^2}\big]` with KDE weights :math:`w_b` at centres :math:`c_b`.

    Shapes: pred, target [B] or [B, 1]; centres, weights [bins] -> scalar."""
    pred, target = _flat(pred, target)
    centres, weights = centres.to(pred), weights.to(pred)
    mse_term = (pred - target).pow(2) / (2 * noise_var)
    balancing = torch.logsumexp(-0.5 * (pred - centres[None, :]).pow(2) / noise_var
                                + torch.log(weights.clamp_min(1e-300))[None, :], dim=1, keepdim=True)
    return ((mse_term + balancing) * (2 * noise_var).detach()).mean()


class BalancedMSE(nn.Module):
    """Balanced MSE with a learnable noise scale :math:`\\sigma` (``noise_var = sigma**2``), fitted to the training
    labels once at construction: ``mode`` ``"gai"`` (GMM with ``n_components``), ``"bmc"`` (needs no fit) or ``"bni"``
    (KDE over ``bins``). Add its parameter to the optimiser (Ren et al. use a larger learning rate for it)."""

    def __init__(self, train_labels, mode: str = "gai", init_noise_sigma: float = 1.0, n_components: int = 8,
                 bins: int = 100, seed: int = 0):
        super().__init__()
        if mode not in ("gai", "bmc", "bni"):
            raise InvalidInputError(f"BalancedMSE mode must be gai, bmc or bni, got {mode!r}")
        if init_noise_sigma <= 0:
            raise InvalidInputError(f"init_noise_sigma must be > 0, got {init_noise_sigma}")
        self.mode = mode
        self.noise_sigma = nn.Parameter(torch.tensor(float(init_noise_sigma)))
        if mode == "gai":
            for k, v in fit_gmm(train_labels, n_components, seed).items():
                self.register_buffer(f"gmm_{k}", v.float())
        elif mode == "bni":
            centres, weights = kde_bins(train_labels, bins)
            self.register_buffer("centres", centres.float())
            self.register_buffer("weights", weights.float())

    @property
    def noise_var(self) -> Tensor:
        return self.noise_sigma.pow(2)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if self.mode == "gai":
            gmm = {"means": self.gmm_means, "variances": self.gmm_variances, "weights": self.gmm_weights}
            return gai_loss(pred, target, gmm, self.noise_var)
        if self.mode == "bmc":
            return bmc_loss(pred, target, self.noise_var)
        return bni_loss(pred, target, self.noise_var, self.centres, self.weights)


def class_counts(labels, num_classes: int, min_count: float = 1.0) -> Tensor:
    """Counts per class of the training split's labels, [num_classes]; a class absent from the split counts
    ``min_count`` (so its prior is small but :math:`\\log 0` never occurs)."""
    y = torch.as_tensor(labels).long().reshape(-1)
    if y.numel() == 0:
        raise InvalidInputError("class_counts: no training labels")
    if y.min() < 0 or y.max() >= num_classes:
        raise InvalidInputError(f"class_counts: labels must lie in [0, {num_classes}), "
                                f"got [{int(y.min())}, {int(y.max())}]")
    return torch.bincount(y, minlength=num_classes).double().clamp_min(min_count)


def balanced_softmax_loss(logits: Tensor, target: Tensor, counts: Tensor) -> Tensor:
    """:math:`\\mathrm{CE}(z + \\log n, y)`. Shapes: logits [B, C], target [B] long, counts [C] (training split)."""
    if counts.numel() != logits.size(1):
        raise InvalidInputError(f"{counts.numel()} class counts for {logits.size(1)} classes")
    if (counts <= 0).any():
        raise InvalidInputError("class counts must be > 0 (use class_counts(..., min_count=1))")
    return F.cross_entropy(logits + torch.log(counts.to(logits))[None, :], target)


class BalancedSoftmaxLoss(nn.Module):
    """Balanced softmax cross entropy with the class prior of the training split, fixed at construction."""

    def __init__(self, train_labels, num_classes: int, min_count: float = 1.0):
        super().__init__()
        self.register_buffer("counts", class_counts(train_labels, num_classes, min_count).float())

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return balanced_softmax_loss(logits, target, self.counts)


__all__ = ["BalancedMSE", "BalancedSoftmaxLoss", "balanced_softmax_loss", "bmc_loss", "bni_loss", "class_counts",
           "fit_gmm", "gai_loss", "kde_bins"]
