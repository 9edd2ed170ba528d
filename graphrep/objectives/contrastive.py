"""Contrastive alignment of two embedding sets (e.g. graph nodes and their texts): symmetric InfoNCE with several
positives per anchor and hard-negative mixing.

Symmetric InfoNCE (CLIP; van den Oord et al. 2018). With ``u_i = a_i / |a_i|``, ``v_j = b_j / |b_j|`` and logits
``l_ij = u_i . v_j / tau``, the a->b term for anchor ``i`` with positive set ``P_i`` (default ``{i}``) is the mean over
its positives of the cross-entropy (the "outside" multi-positive form of Khosla et al. 2020, SupCon)::

    L_i = -1/|P_i| sum_{p in P_i} [ l_ip - log( sum_j exp(l_ij) + sum_s exp(u_i . h_is / tau) ) ]

where ``h_is`` are optional synthetic negatives of anchor ``i``. The b->a term is the same with the roles of ``a`` and
``b`` (and the transposed mask) swapped. Anchors without positives are left out; the loss is the mean over the rest,
and the symmetric loss the mean of the two directions.

Hard-negative mixing (MoCHi, Kalantidis et al. 2020, "Hard Negative Mixing for Contrastive Learning"): for anchor ``q``
take its ``N`` hardest negatives (highest cosine) ``n_1..n_N`` and synthesise
``h = normalize(alpha n_p + (1 - alpha) n_q)``, ``alpha ~ U(0, 1)`` (``num_mix`` of them) and
``h' = normalize(beta q + (1 - beta) n_p)``, ``beta ~ U(0, beta_max)``, ``beta_max = 0.5`` (``num_self_mix``),
with ``p, q`` drawn from the hard set. Synthetic negatives carry no gradient (as in MoCHi).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["info_nce", "mochi_negatives", "neighbour_positive_mask", "InfoNCE"]


def _directional(logits: torch.Tensor, pos: torch.Tensor, extra: torch.Tensor | None) -> torch.Tensor:
    """Mean over anchors (rows with a positive) of the multi-positive cross-entropy; ``extra`` [n, s] logits."""
    full = logits if extra is None else torch.cat([logits, extra], dim=1)
    log_prob = logits - torch.logsumexp(full, dim=1, keepdim=True)
    n_pos = pos.sum(1)
    valid = n_pos > 0
    per_anchor = -(log_prob * pos).sum(1)[valid] / n_pos[valid]
    return per_anchor.mean()


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float | torch.Tensor = 0.07,
             pos_mask: torch.Tensor | None = None, symmetric: bool = True, normalize: bool = True,
             neg_a: torch.Tensor | None = None, neg_b: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric multi-positive InfoNCE between ``a`` and ``b`` (formula in the module docstring).

    Args:
        a, b: the two embedding sets.
        temperature: ``tau > 0`` (float or scalar tensor; a tensor receives gradients).
        pos_mask: bool ``[n, m]``, ``pos_mask[i, j]`` when ``b_j`` is a positive of ``a_i``; default the diagonal
            (needs ``n == m``).
        symmetric: average the a->b and b->a terms (else a->b only).
        normalize: L2-normalise ``a``, ``b`` and the synthetic negatives (cosine logits).
        neg_a: extra negatives for the ``a`` anchors, in ``b``'s space, ``[n, s, d]`` (e.g. :func:`mochi_negatives`).
        neg_b: extra negatives for the ``b`` anchors, in ``a``'s space, ``[m, s', d]``.

    Shapes:
        - **a:** ``[n, d]``; **b:** ``[m, d]``; **output:** scalar
    """
    if a.dim() != 2 or b.dim() != 2 or a.size(1) != b.size(1):
        raise ValueError(f"a and b must be [n, d] and [m, d] with the same d, got {tuple(a.shape)}, {tuple(b.shape)}")
    if pos_mask is None:
        if a.size(0) != b.size(0):
            raise ValueError(f"without pos_mask, a and b must pair row by row; got {a.size(0)} and {b.size(0)} rows")
        pos_mask = torch.eye(a.size(0), dtype=torch.bool, device=a.device)
    if pos_mask.shape != (a.size(0), b.size(0)):
        raise ValueError(f"pos_mask must be [{a.size(0)}, {b.size(0)}], got {tuple(pos_mask.shape)}")
    pos = pos_mask.to(device=a.device, dtype=torch.bool)
    if not pos.any():
        raise ValueError("pos_mask has no positive pair")
    tau = torch.as_tensor(temperature, dtype=a.dtype, device=a.device)
    if (tau <= 0).any():
        raise ValueError(f"temperature must be > 0, got {float(tau)}")
    if normalize:
        a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = a @ b.t() / tau

    def extra(anchor: torch.Tensor, neg: torch.Tensor | None) -> torch.Tensor | None:
        if neg is None or neg.size(1) == 0:
            return None
        if neg.dim() != 3 or neg.size(0) != anchor.size(0) or neg.size(2) != anchor.size(1):
            raise ValueError(f"extra negatives must be [{anchor.size(0)}, s, {anchor.size(1)}], got {tuple(neg.shape)}")
        neg = F.normalize(neg, dim=-1) if normalize else neg
        return torch.einsum("nd,nsd->ns", anchor, neg) / tau

    loss = _directional(logits, pos.to(logits.dtype), extra(a, neg_a))
    if not symmetric:
        return loss
    return 0.5 * (loss + _directional(logits.t(), pos.t().to(logits.dtype), extra(b, neg_b)))


@torch.no_grad()
def mochi_negatives(anchor: torch.Tensor, candidates: torch.Tensor, pos_mask: torch.Tensor | None = None,
                    num_hard: int = 16, num_mix: int = 8, num_self_mix: int = 4, beta_max: float = 0.5,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Synthetic hard negatives by mixing (MoCHi; formulas in the module docstring), without gradient.

    Args:
        anchor: queries ``[n, d]``; candidates: ``[m, d]`` (their negatives are candidates not in ``pos_mask``).
        pos_mask: bool ``[n, m]``; default the diagonal.
        num_hard: size ``N`` of the hard set (reduced to the smallest number of negatives any anchor has).
        num_mix / num_self_mix: how many negative-negative / anchor-negative mixtures per anchor.
        beta_max: upper bound of the anchor weight in anchor-negative mixtures (< 0.5 keeps them negatives).

    Returns:
        ``[n, num_mix + num_self_mix, d]`` unit vectors (``[n, 0, d]`` when some anchor has no negative).
    """
    if not 0.0 <= beta_max <= 0.5:
        raise ValueError(f"beta_max must be in [0, 0.5], got {beta_max}")
    if min(num_hard, num_mix, num_self_mix) < 0:
        raise ValueError("num_hard, num_mix and num_self_mix must be >= 0")
    n, m = anchor.size(0), candidates.size(0)
    if pos_mask is None:
        if n != m:
            raise ValueError(f"without pos_mask, anchor and candidates must pair row by row; got {n} and {m} rows")
        pos_mask = torch.eye(n, dtype=torch.bool, device=anchor.device)
    q, c = F.normalize(anchor.detach(), dim=-1), F.normalize(candidates.detach(), dim=-1)
    k = min(num_hard, int((~pos_mask).sum(1).min()) if n else 0)
    if k == 0 or num_mix + num_self_mix == 0:
        return q.new_zeros(n, 0, q.size(1))
    sims = (q @ c.t()).masked_fill(pos_mask.to(q.device), float("-inf"))
    hard = c[sims.topk(k, dim=1).indices]  # [n, k, d], hardest first
    dev = q.device

    def pick(count: int) -> torch.Tensor:
        idx = torch.randint(0, k, (n, count), generator=generator, device="cpu").to(dev)
        return hard.gather(1, idx[..., None].expand(-1, -1, q.size(1)))

    out = []
    if num_mix:
        alpha = torch.rand(n, num_mix, 1, generator=generator, device="cpu").to(dev, q.dtype)
        out.append(F.normalize(alpha * pick(num_mix) + (1 - alpha) * pick(num_mix), dim=-1))
    if num_self_mix:
        beta = beta_max * torch.rand(n, num_self_mix, 1, generator=generator, device="cpu").to(dev, q.dtype)
        out.append(F.normalize(beta * q[:, None] + (1 - beta) * pick(num_self_mix), dim=-1))
    return torch.cat(out, dim=1)


def neighbour_positive_mask(edge_index: torch.Tensor, nodes: torch.Tensor, include_self: bool = True) -> torch.Tensor:
    """Positive mask for node-text alignment with neighbour texts as positives.

    ``mask[i, j]`` is true when ``nodes[j]`` is a neighbour of ``nodes[i]`` (an edge in either direction) or, with
    ``include_self``, the same node. Pass it as ``pos_mask`` with node embeddings of ``nodes`` as ``a`` and their texts'
    embeddings as ``b``.

    Shapes:
        - **edge_index:** ``[2, E]``; **nodes:** ``[n]`` (distinct indices); **output:** bool ``[n, n]``
    """
    nodes = nodes.reshape(-1).long()
    if nodes.numel() and nodes.unique().numel() != nodes.numel():
        raise ValueError("nodes must be distinct")
    size = int(max(int(edge_index.max()) if edge_index.numel() else -1, int(nodes.max()) if nodes.numel() else -1)) + 1
    pos = torch.full((size,), -1, dtype=torch.long, device=nodes.device)
    pos[nodes] = torch.arange(nodes.numel(), device=nodes.device)
    src, dst = pos[edge_index[0].to(nodes.device)], pos[edge_index[1].to(nodes.device)]
    keep = (src >= 0) & (dst >= 0)
    mask = torch.zeros(nodes.numel(), nodes.numel(), dtype=torch.bool, device=nodes.device)
    mask[src[keep], dst[keep]] = True
    mask[dst[keep], src[keep]] = True
    if include_self:
        mask.fill_diagonal_(True)
    return mask


class InfoNCE(nn.Module):
    """:func:`info_nce` with a learnable temperature and optional MoCHi hard-negative mixing.

    The temperature is learned as CLIP's logit scale ``s = log(1 / tau)``, clamped to ``tau >= 1 / max_scale``.

    Args:
        temperature: initial ``tau``.
        learnable: learn ``tau`` (else a buffer).
        max_scale: upper bound of ``1 / tau`` (CLIP: 100).
        hard_negatives: ``None`` or keyword arguments of :func:`mochi_negatives` (``num_hard``, ``num_mix``, ...);
            mixing is applied in both directions during training only.
        symmetric: see :func:`info_nce`.
    """

    def __init__(self, temperature: float = 0.07, learnable: bool = True, max_scale: float = 100.0,
                 hard_negatives: dict | None = None, symmetric: bool = True):
        super().__init__()
        if temperature <= 0 or max_scale <= 0 or 1.0 / temperature > max_scale:
            raise ValueError(f"need 0 < 1/temperature <= max_scale, got temperature={temperature}, "
                             f"max_scale={max_scale}")
        scale = torch.tensor(math.log(1.0 / temperature))
        if learnable:
            self.log_scale = nn.Parameter(scale)
        else:
            self.register_buffer("log_scale", scale)
        self.max_log_scale = math.log(max_scale)
        self.hard_negatives = dict(hard_negatives) if hard_negatives is not None else None
        self.symmetric = symmetric

    @property
    def temperature(self) -> torch.Tensor:
        """Current ``tau`` (differentiable)."""
        return torch.exp(-self.log_scale.clamp(max=self.max_log_scale))

    def forward(self, a: torch.Tensor, b: torch.Tensor, pos_mask: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        neg_a = neg_b = None
        if self.hard_negatives is not None and self.training:
            neg_a = mochi_negatives(a, b, pos_mask, generator=generator, **self.hard_negatives)
            if self.symmetric:
                neg_b = mochi_negatives(b, a, None if pos_mask is None else pos_mask.t(), generator=generator,
                                        **self.hard_negatives)
        return info_nce(a, b, self.temperature, pos_mask, self.symmetric, neg_a=neg_a, neg_b=neg_b)

    def extra_repr(self) -> str:
        return f"temperature={float(self.temperature.detach()):.4g}, hard_negatives={self.hard_negatives}"
