r"""Per-node fusion weights over experts from local structure (the GraphShaper gate).

For node :math:`i` with structural descriptors :math:`s_i \in \mathbb R^F` (e.g.
:func:`graphrep.data.transforms.structural_descriptors` with ``log_counts=True``) and optionally an embedding
:math:`x_i`:

.. math::
    \tilde s_i = (s_i - \mu) / \sigma, \qquad
    g_i = \operatorname{softmax}\big(\mathrm{MLP}([\tilde s_i; P x_i]) / T\big) \in \Delta^{K-1},

with :math:`\mu, \sigma` the per-descriptor mean and standard deviation over the nodes of the graph being encoded
(parameter-free, so a gate trained on one graph reads another graph's descriptors on the same relative scale), and
:math:`T` a temperature. Optional graph-level inputs :math:`u \in \mathbb R^G` (e.g. a label-free homophily
estimate) are appended to every node's input *unstandardised*: per-graph z-scoring removes everything that tells one
graph from another, so without them a gate cannot send all of a WebKB graph to one expert and all of Cora to another.
With ``node_inputs=False`` the gate reads only :math:`u` (a *per-graph* choice, the same weights for every node:
:math:`g = \operatorname{softmax}(\mathrm{MLP}(u) / T)`); the descriptors then only give the node count.
The last layer starts at zero: an untrained gate gives every expert weight :math:`1/K`.

Entropy regularisation: :func:`gate_entropy` :math:`\bar H = \frac1N \sum_i -\sum_k g_{ik} \log g_{ik}`; adding
:math:`\lambda \bar H` to a loss makes choices sharper for :math:`\lambda > 0` and pushes them toward uniform for
:math:`\lambda < 0`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["gate_entropy", "standardize", "StructuralGate"]


def gate_entropy(weights: Tensor, eps: float = 1e-12) -> Tensor:
    r"""Mean per-node entropy :math:`\frac1N\sum_i -\sum_k g_{ik}\log g_{ik}` (nats). Shapes: ``[N, K]`` -> scalar."""
    if weights.dim() != 2:
        raise ValueError(f"weights must be [N, K], got {tuple(weights.shape)}")
    return -(weights * weights.clamp_min(eps).log()).sum(-1).mean()


def standardize(s: Tensor, eps: float = 1e-6) -> Tensor:
    """Per-column z-score over the rows (a constant column becomes 0). Shapes: ``[N, F]`` -> ``[N, F]``."""
    mean = s.mean(0, keepdim=True)
    std = s.std(0, unbiased=False, keepdim=True) if s.size(0) > 1 else torch.ones_like(mean)
    return (s - mean) / std.clamp_min(eps)


class StructuralGate(nn.Module):
    r"""Softmax gate over ``num_experts`` experts from structural descriptors (formulas in the module docstring).

    Args:
        num_descriptors: ``F``. num_experts: ``K``. hidden_channels: MLP width.
        embedding_channels: if given, the gate also reads a node embedding of this size through a linear map ``P``.
        graph_channels: if given, the gate also reads ``G`` graph-level features (one vector per graph).
        temperature: softmax temperature ``T`` (> 0). dropout: on the hidden layer.
        node_inputs: read the descriptors (and embedding); ``False``: the graph-level features only (needs
            ``graph_channels``), one choice per graph.

    Shapes:
        - **input:** descriptors ``[N, F]``, embedding ``[N, D]`` (when ``embedding_channels``), graph_features
          ``[G]`` or ``[N, G]`` (when ``graph_channels``)
        - **output:** weights ``[N, K]``, non-negative, rows summing to 1
    """

    def __init__(self, num_descriptors: int, num_experts: int, hidden_channels: int = 32,
                 embedding_channels: int | None = None, temperature: float = 1.0, dropout: float = 0.0,
                 graph_channels: int | None = None, node_inputs: bool = True):
        super().__init__()
        if num_experts < 1 or num_descriptors < 1:
            raise ValueError(f"need num_descriptors >= 1 and num_experts >= 1, got {num_descriptors}, {num_experts}")
        if not node_inputs and not graph_channels:
            raise ValueError("a gate without node inputs reads graph-level features: give graph_channels >= 1")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.num_descriptors, self.num_experts, self.temperature = num_descriptors, num_experts, float(temperature)
        self.node_inputs = node_inputs
        self.inp = nn.Linear(num_descriptors, hidden_channels) if node_inputs else None
        self.emb = (nn.Linear(embedding_channels, hidden_channels, bias=False) if embedding_channels and node_inputs
                    else None)
        self.glob = nn.Linear(graph_channels, hidden_channels, bias=not node_inputs) if graph_channels else None
        self.out = nn.Linear(hidden_channels, num_experts)
        self.dropout = nn.Dropout(dropout)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def logits(self, descriptors: Tensor, embedding: Tensor | None = None,
               graph_features: Tensor | None = None) -> Tensor:
        """Pre-softmax scores ``[N, K]`` (divided by the temperature)."""
        if descriptors.dim() != 2 or descriptors.size(1) != self.num_descriptors:
            raise ValueError(f"descriptors must be [N, {self.num_descriptors}], got {tuple(descriptors.shape)}")
        if self.inp is not None:
            h = self.inp(standardize(descriptors.float()))
        else:
            h = descriptors.new_zeros(descriptors.size(0), self.out.in_features, dtype=torch.float32)
        if self.emb is not None:
            if embedding is None or embedding.shape != (descriptors.size(0), self.emb.in_features):
                raise ValueError(f"this gate reads a node embedding [{descriptors.size(0)}, {self.emb.in_features}], "
                                 f"got {None if embedding is None else tuple(embedding.shape)}")
            h = h + self.emb(embedding)
        if self.glob is not None:
            if graph_features is None or graph_features.size(-1) != self.glob.in_features:
                raise ValueError(f"this gate reads {self.glob.in_features} graph-level features, got "
                                 f"{None if graph_features is None else tuple(graph_features.shape)}")
            h = h + self.glob(graph_features.float().to(h.device)).expand_as(h)
        return self.out(self.dropout(torch.relu(h))) / self.temperature

    def forward(self, descriptors: Tensor, embedding: Tensor | None = None,
                graph_features: Tensor | None = None) -> Tensor:
        return torch.softmax(self.logits(descriptors, embedding, graph_features), dim=-1)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, node_inputs={self.node_inputs}"
