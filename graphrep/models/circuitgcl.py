r"""CircuitGCL (ICCAD 2025, arXiv 2507.06535): self-supervised circuit embeddings with representation scattering,
then capacitance heads trained with label-rebalanced losses.

Pre-training (one step, :meth:`CircuitGCL.pretrain_loss`, on the homogeneous circuit graph of
:func:`graphrep.data.circuits.graph.homogeneous`):

1. the *target* encoder embeds every node, :math:`t = f_\xi(X)`, and is trained to scatter its normalised embeddings
   (:func:`graphrep.objectives.scattering_loss`);
2. the *online* encoder embeds them, :math:`h = f_\theta(X)`; a topology constraint mixes each node with the mean of
   its neighbours, :math:`\bar h_i = h_i + \mathrm{mean}_{j \in N(i)} h_j` (through :func:`graphrep.ops.aggregate`),
   and a predictor :math:`q` maps it onto the target: :math:`\mathcal L_\mathrm{align}(q(\bar h), \mathrm{sg}(t))`;
3. after each optimiser step the target moves towards the online encoder by EMA, :math:`\xi \leftarrow m \xi + (1-m)
   \theta` (:meth:`CircuitGCL.update_target`).

Downstream (:class:`CircuitHead`): the online encoder, initialised from pre-training and fine-tuned, embeds the graph;
a net's representation is its embedding concatenated with its own features; heads are MLPs for a net (total/ground
capacitance regression, ground-capacitance bucket classification) or a net pair (coupling regression, coupled-or-not
link prediction, on :math:`[h_a \odot h_b, |h_a - h_b|, h_a + h_b]`, symmetric in the pair). Coupled pairs are targets
only: they are never message-passing edges.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from graphrep.nn import SAGEConv
from graphrep.objectives.scattering import alignment_loss, scattering_loss
from graphrep.ops import CSR, aggregate


class CircuitEncoder(nn.Module):
    """Input projection, then ``layers`` GraphSAGE (mean) convolutions with LayerNorm, ReLU and residuals.

    Shapes: x [N, F_in], csr (N -> N) -> [N, hidden]."""

    def __init__(self, in_dim: int, hidden: int = 64, layers: int = 4, dropout: float = 0.0):
        super().__init__()
        self.inp = nn.Linear(in_dim, hidden)
        self.convs = nn.ModuleList([SAGEConv(hidden, hidden, aggr="mean") for _ in range(layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(hidden) for _ in range(layers)])
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, csr: CSR) -> Tensor:
        h = torch.relu(self.inp(x))
        for conv, norm in zip(self.convs, self.norms):
            h = h + self.dropout(torch.relu(norm(conv(h, csr))))
        return h


def _mlp(in_dim: int, hidden: int, out_dim: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                         nn.ReLU(), nn.Linear(hidden, out_dim))


class CircuitGCL(nn.Module):
    """Online and target encoders and the predictor of the pre-training stage; ``momentum`` is the EMA rate ``m``
    and ``scatter_weight`` multiplies the scattering loss."""

    def __init__(self, in_dim: int, hidden: int = 64, layers: int = 4, momentum: float = 0.99,
                 scatter_weight: float = 1.0):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.online = CircuitEncoder(in_dim, hidden, layers)
        self.target = copy.deepcopy(self.online)
        self.predictor = _mlp(hidden, hidden, hidden)
        self.momentum, self.scatter_weight = momentum, scatter_weight

    def pretrain_loss(self, x: Tensor, csr: CSR) -> tuple[Tensor, dict[str, float]]:
        """:math:`\\mathcal L_\\mathrm{align} + w \\mathcal L_\\mathrm{scatter}` on one graph, and its parts."""
        t = self.target(x, csr)
        h = self.online(x, csr)
        p = self.predictor(h + aggregate(h, csr, reduce="mean"))
        align, scatter = alignment_loss(p, t), scattering_loss(t)
        parts = {"align": align.detach().item(), "scatter": scatter.detach().item()}
        return align + self.scatter_weight * scatter, parts

    @torch.no_grad()
    def update_target(self) -> None:
        """:math:`\\xi \\leftarrow m \\xi + (1 - m) \\theta` over the encoders' parameters."""
        for pt, po in zip(self.target.parameters(), self.online.parameters()):
            pt.mul_(self.momentum).add_(po.detach(), alpha=1 - self.momentum)


def pair_features(h: Tensor, pairs: Tensor) -> Tensor:
    """:math:`[h_a \\odot h_b, |h_a - h_b|, h_a + h_b]`, symmetric in the pair.

    Shapes: h [N, D], pairs [2, P] -> [P, 3D]."""
    a, b = h[pairs[0]], h[pairs[1]]
    return torch.cat([a * b, (a - b).abs(), a + b], dim=-1)


class CircuitHead(nn.Module):
    """An encoder plus one downstream head. ``kind``: ``"net"`` (``out_dim`` outputs per net: 1 for regression, C
    logits for classification) or ``"pair"`` (one output per net pair). ``net_dim`` is the width of the nets' own
    features, concatenated to their embeddings.

    Shapes: forward(x [N, F], csr, net_index [M], net_x [M, F_net], pairs [2, P] or None) -> [M, out] or [P]."""

    def __init__(self, encoder: CircuitEncoder, net_dim: int, kind: str = "net", out_dim: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        if kind not in ("net", "pair"):
            raise ValueError(f"kind must be 'net' or 'pair', got {kind!r}")
        self.encoder, self.kind = encoder, kind
        hidden = encoder.inp.out_features
        width = hidden + net_dim
        self.mlp = _mlp(width if kind == "net" else 3 * width, hidden, out_dim if kind == "net" else 1, dropout)

    def forward(self, x: Tensor, csr: CSR, net_index: Tensor, net_x: Tensor, pairs: Tensor | None = None) -> Tensor:
        h = torch.cat([self.encoder(x, csr)[net_index], net_x], dim=-1)
        if self.kind == "net":
            return self.mlp(h)
        if pairs is None:
            raise ValueError("a pair head needs pairs [2, P]")
        return self.mlp(pair_features(h, pairs)).squeeze(-1)
