r"""Curvature magnitude as a module: fixed (a buffer) or learnable, kept in its sign range.

A learnable magnitude is stored as an unconstrained ``raw`` parameter and read as
:math:`|\kappa| = \epsilon + \operatorname{softplus}(\text{raw})` with :math:`\epsilon = 10^{-8}`, so no gradient step
can move it through zero (the failure mode of a plain learnable ``k``, as in geoopt's ``Stereographic``). The value is
computed in the dtype of the tensors it is used with, so a float32 parameter inside a float64 computation contributes
a float64 curvature (and its gradient flows back to the float32 parameter through the cast).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

FLOOR = 1e-8


def _inverse_softplus(y: float) -> float:
    # log(expm1(y)), written to stay finite for large and tiny y
    return y + math.log(-math.expm1(-y))


class Curvature(nn.Module):
    r"""Positive curvature magnitude, fixed or learnable.

    Args:
        value: initial magnitude, a finite number > 0 (> ``1e-8`` when learnable), or a tensor of such numbers (one
            per row, e.g. shape ``(batch, 1)``, broadcast against the points as in geoopt).
        learnable: learn it (stored as ``raw`` with :math:`\epsilon + \operatorname{softplus}(\text{raw})`).
        name: what to call it in error messages (``"c"``, ``"k"``).
    """

    def __init__(self, value: float | torch.Tensor = 1.0, learnable: bool = False, name: str = "k"):
        super().__init__()
        self.learnable = bool(learnable)
        self.name = name
        if isinstance(value, torch.Tensor) and value.numel() != 1:
            # one magnitude per row (geoopt accepts such tensors), e.g. shape (batch, 1)
            v = value.detach().to(torch.float64)
            if not bool(torch.isfinite(v).all()) or not bool((v > 0).all()):
                raise ValueError(f"curvature {name} must hold finite numbers > 0, got {value.tolist()}")
            if learnable and not bool((v > FLOOR).all()):
                raise ValueError(f"learnable curvature {name} must exceed its floor {FLOOR} in every entry")
            if self.learnable:
                raw = v - FLOOR + torch.log(-torch.expm1(-(v - FLOOR)))
                self.raw = nn.Parameter(raw.to(torch.get_default_dtype()))
            else:
                self.register_buffer("value", v)
            return
        if isinstance(value, torch.Tensor):
            value = value.detach().double().item()
        try:
            v = float(value)  # a Python float keeps its float64 value (torch.as_tensor would round it to float32)
        except (TypeError, ValueError):
            raise ValueError(f"curvature {name} must be a number, got {value!r}") from None
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"curvature {name} must be a finite number > 0, got {v}")
        if learnable and v <= FLOOR:
            raise ValueError(f"learnable curvature {name} must exceed its floor {FLOOR}, got {v}")
        if self.learnable:
            self.raw = nn.Parameter(torch.tensor(_inverse_softplus(v - FLOOR), dtype=torch.get_default_dtype()))
        else:
            self.register_buffer("value", torch.tensor(v, dtype=torch.float64))

    def forward(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The magnitude as a 0-d tensor in ``dtype`` (default: the stored dtype)."""
        if self.learnable:
            raw = self.raw if dtype is None else self.raw.to(dtype)
            return FLOOR + F.softplus(raw)
        return self.value if dtype is None else self.value.to(dtype)

    def extra_repr(self) -> str:
        v = self().detach()
        shown = f"{float(v):.4g}" if v.numel() == 1 else f"tensor of shape {tuple(v.shape)}"
        return f"{self.name}={shown}, learnable={self.learnable}"
