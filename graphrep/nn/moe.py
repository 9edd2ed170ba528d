r"""Mixture-of-experts feed-forward block: top-k routed experts beside always-on shared experts.

For a token :math:`x \in \mathbb R^d` with router input :math:`r` (the token itself, optionally concatenated with side
information such as spatial priors):

.. math::
    p = \operatorname{softmax}(W_r r + b_r) \in \Delta^{E-1}, \qquad
    \mathcal K = \operatorname{top\text{-}k}(p), \qquad g_e = p_e / \textstyle\sum_{j \in \mathcal K} p_j \ (e \in \mathcal K),

.. math::
    y = \sum_{e \in \mathcal K} g_e\, \mathrm{FFN}_e(x) + \sum_{s=1}^{S} \mathrm{FFN}^{\mathrm{shared}}_s(x),
    \qquad \mathrm{FFN}(x) = W_2\, \mathrm{GELU}(W_1 x + b_1) + b_2 .

Experts run batched: the :math:`N k` (token, expert) assignments are sorted by expert into a padded
``[E, C_max, d]`` buffer and multiplied with the stacked expert weights in one ``bmm`` per layer (no Python loop over
tokens or experts).

Load balancing (Switch Transformer / GShard): :func:`load_balancing_loss`
:math:`\mathcal L_{\mathrm{bal}} = E \sum_e f_e P_e`, with :math:`f_e` the fraction of the :math:`N k` assignments sent to
expert :math:`e` and :math:`P_e = \frac1N \sum_n p_{ne}` the mean router probability; it equals 1 for a perfectly
uniform router and grows up to :math:`E` as routing collapses onto one expert.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["load_balancing_loss", "route_top_k", "MoEFeedForward", "FeedForward"]


def route_top_k(logits: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Softmax router with top-k selection, weights renormalised over the chosen experts.

    Shapes: logits ``[N, E]`` -> (probs ``[N, E]``, weights ``[N, k]`` summing to 1 per row, experts ``[N, k]`` int64
    in decreasing probability).
    """
    if not 1 <= k <= logits.size(-1):
        raise ValueError(f"top_k must be in 1..{logits.size(-1)}, got {k}")
    probs = torch.softmax(logits.float(), dim=-1)
    top, idx = probs.topk(k, dim=-1)
    return probs, top / top.sum(-1, keepdim=True), idx


def load_balancing_loss(probs: Tensor, experts: Tensor, num_experts: int) -> Tensor:
    r""":math:`E \sum_e f_e P_e` (module docstring). Shapes: probs ``[N, E]``, experts ``[N, k]`` -> scalar."""
    n, k = experts.shape
    if n == 0:
        return probs.new_zeros(())
    f = torch.bincount(experts.reshape(-1), minlength=num_experts).to(probs.dtype) / (n * k)
    return num_experts * (f * probs.mean(0)).sum()


class FeedForward(nn.Module):
    r"""Dense :math:`W_2\,\mathrm{GELU}(W_1 x + b_1) + b_2`. Shapes: ``[..., d]`` -> ``[..., d]``."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc1, self.fc2, self.dropout = nn.Linear(dim, hidden), nn.Linear(hidden, dim), nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.dropout(F.gelu(self.fc1(x))))


class MoEFeedForward(nn.Module):
    r"""Top-k routed experts + shared experts (formulas in the module docstring).

    Args:
        dim: ``d``. hidden: width of each expert. num_experts: ``E`` routed experts. top_k: ``k``.
        num_shared: ``S`` always-on experts (0 for none). router_extra: size of side information appended to the
            router input (e.g. 4 spatial priors; 0 for none). dropout: inside the experts.

    After a forward pass, ``self.aux_loss`` holds :func:`load_balancing_loss` of that pass. While ``track`` is True,
    assignment counts accumulate in the buffer ``expert_counts`` (``utilisation()`` gives fractions; ``reset_stats()``).

    Shapes:
        - **input:** x ``[..., d]``, router_side ``[..., router_extra]`` (when ``router_extra > 0``)
        - **output:** ``[..., d]``
    """

    def __init__(self, dim: int, hidden: int, num_experts: int = 4, top_k: int = 1, num_shared: int = 1,
                 router_extra: int = 0, dropout: float = 0.0):
        super().__init__()
        if num_experts < 1 or not 1 <= top_k <= num_experts or num_shared < 0 or router_extra < 0:
            raise ValueError(f"need num_experts >= 1, 1 <= top_k <= num_experts, num_shared >= 0, router_extra >= 0; "
                             f"got {num_experts}, {top_k}, {num_shared}, {router_extra}")
        self.dim, self.hidden, self.num_experts, self.top_k = dim, hidden, num_experts, top_k
        self.num_shared, self.router_extra = num_shared, router_extra
        self.router = nn.Linear(dim + router_extra, num_experts)
        bound1, bound2 = 1 / math.sqrt(dim), 1 / math.sqrt(hidden)  # nn.Linear's default init, per expert
        self.w1 = nn.Parameter(torch.empty(num_experts, dim, hidden).uniform_(-bound1, bound1))
        self.b1 = nn.Parameter(torch.empty(num_experts, hidden).uniform_(-bound1, bound1))
        self.w2 = nn.Parameter(torch.empty(num_experts, hidden, dim).uniform_(-bound2, bound2))
        self.b2 = nn.Parameter(torch.empty(num_experts, dim).uniform_(-bound2, bound2))
        self.shared = nn.ModuleList(FeedForward(dim, hidden, dropout) for _ in range(num_shared))
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("expert_counts", torch.zeros(num_experts), persistent=False)
        self.track = True
        self.aux_loss = torch.zeros(())

    def _experts(self, x: Tensor, weights: Tensor, experts: Tensor) -> Tensor:
        """Routed part: sort assignments by expert, pad to ``[E, C_max, d]``, two batched matmuls, scatter back."""
        n, k = experts.shape
        flat = experts.reshape(-1)
        token = torch.arange(n, device=x.device).repeat_interleave(k)
        order = torch.argsort(flat, stable=True)
        flat, token, gate = flat[order], token[order], weights.reshape(-1)[order]
        counts = torch.bincount(flat, minlength=self.num_experts)
        offsets = torch.cumsum(counts, 0) - counts
        slot = torch.arange(flat.numel(), device=x.device) - offsets[flat]
        cap = int(counts.max()) if flat.numel() else 0
        buf = x.new_zeros(self.num_experts, cap, self.dim)
        buf[flat, slot] = x[token]
        h = self.dropout(F.gelu(torch.baddbmm(self.b1[:, None, :], buf, self.w1)))
        out = torch.baddbmm(self.b2[:, None, :], h, self.w2)[flat, slot] * gate[:, None].to(x.dtype)
        return x.new_zeros(n, self.dim).index_add_(0, token, out)

    def forward(self, x: Tensor, router_side: Tensor | None = None) -> Tensor:
        shape = x.shape
        if shape[-1] != self.dim:
            raise ValueError(f"expected last dimension {self.dim}, got {tuple(shape)}")
        flat = x.reshape(-1, self.dim)
        r = flat
        if self.router_extra:
            if router_side is None or router_side.shape[:-1] != shape[:-1] or router_side.size(-1) != self.router_extra:
                raise ValueError(f"router_side must be [..., {self.router_extra}] matching x {tuple(shape)}, got "
                                 f"{None if router_side is None else tuple(router_side.shape)}")
            r = torch.cat([flat, router_side.reshape(-1, self.router_extra).to(flat.dtype)], dim=-1)
        probs, weights, experts = route_top_k(self.router(r), self.top_k)
        self.aux_loss = load_balancing_loss(probs, experts, self.num_experts)
        if self.track:
            with torch.no_grad():
                self.expert_counts += torch.bincount(experts.reshape(-1), minlength=self.num_experts).float()
        y = self._experts(flat, weights, experts)
        for ffn in self.shared:
            y = y + ffn(flat)
        return y.reshape(shape)

    def utilisation(self) -> Tensor:
        """Fraction of assignments per expert since the last :meth:`reset_stats` ``[E]`` (zeros if none)."""
        total = self.expert_counts.sum()
        return self.expert_counts / total if total > 0 else self.expert_counts.clone()

    def reset_stats(self) -> None:
        self.expert_counts.zero_()

    @property
    def active_parameters(self) -> int:
        """Parameters one token uses: router, ``k`` routed experts and the shared experts."""
        per_expert = 2 * self.dim * self.hidden + self.hidden + self.dim
        return (sum(p.numel() for p in self.router.parameters()) + self.top_k * per_expert
                + sum(p.numel() for p in self.shared.parameters()))

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, hidden={self.hidden}, num_experts={self.num_experts}, top_k={self.top_k}, "
                f"num_shared={self.num_shared}, router_extra={self.router_extra}")
