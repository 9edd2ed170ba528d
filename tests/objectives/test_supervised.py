"""Masked losses ignore missing labels exactly."""

import math

import torch

from graphrep.objectives import masked_bce, masked_mse


def test_masked_bce_ignores_missing_labels():
    logits = torch.tensor([[0.0, 2.0], [1.0, -3.0]])
    target = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    expected = (math.log(2) + math.log1p(math.e) + math.log1p(math.exp(3))) / 3
    assert math.isclose(masked_bce(logits, target).item(), expected, rel_tol=1e-6)
    # changing a logit at a missing label changes neither the loss nor gives it a gradient
    logits2 = logits.clone().requires_grad_()
    with torch.no_grad():
        logits2[0, 1] = 100.0
    loss = masked_bce(logits2, target)
    loss.backward()
    assert math.isclose(loss.item(), expected, rel_tol=1e-6) and logits2.grad[0, 1] == 0


def test_masked_mse_and_all_missing_batch():
    pred = torch.tensor([[1.0, 5.0], [2.0, 0.0]], requires_grad=True)
    target = torch.tensor([[0.0, float("nan")], [4.0, float("nan")]])
    assert masked_mse(pred, target).item() == (1.0 + 4.0) / 2
    empty = masked_mse(pred, torch.full_like(target, float("nan")))
    empty.backward()
    assert empty.item() == 0.0 and torch.all(pred.grad == 0)
