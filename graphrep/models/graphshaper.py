r"""GraphShaper: geometry-aware experts fused per node by a structural gate, aligned with a frozen text encoder.

For a text-attributed graph with node texts :math:`t_i`, the node features are the frozen, L2-normalised sentence
embeddings :math:`x_i = \mathrm{enc}(t_i) \in \mathbb R^{d}` (as ZeroG and GraphShaper do), so a model trained on one
TAG applies to any other. Each expert :math:`k` (:mod:`graphrep.nn.experts`) encodes the graph on its manifold and
maps its points to a shared tangent space, :math:`z^k_i = A_k \log_0(f_k(X, G)_i)`; the fusion is

.. math::
    z_i = \sum_k g_{ik} z^k_i, \qquad g_i = \mathrm{gate}(s_i) \ \text{(gated)}, \quad g_{ik} = 1/K \ \text{(uniform)},

and the node embedding in the text space is :math:`e_i = \mathrm{MLP}(z_i) + (\hat A^k X)_i` (``residual``, default
``k = 2``): the training-free propagation baseline is the model's skip path, and with the projection's last layer
zero-initialised the untrained model *is* that baseline; training learns the correction.
Zero-shot classification compares :math:`e_i` with class-prompt embeddings from the same text encoder
(:meth:`GraphShaper.encode_text`) by cosine similarity. Training (:mod:`graphrep.tasks.tag.alignment`) aligns
:math:`e_i` with the node's own text embedding by symmetric InfoNCE.

Variants (:data:`VARIANTS`): one expert (``euclidean``, ``hyperbolic``, ``spherical``), the three experts averaged
(``uniform``), or gated (``gated``); ``routed``: experts that differ (``text``: no propagation, ``euclidean``:
propagation, ``signed``: heterophily), gated. With a gate the skip path is gated too,
:math:`e_i = \mathrm{MLP}(z_i) + \sum_k g_{ik} (S_k X)_i` with each expert's training-free view :math:`S_k X`
(:meth:`~graphrep.nn.experts.TextExpert.skip`: :math:`X`, :math:`\hat A^k X`, :math:`X - \tfrac12 \hat A X`), so
the untrained routed model is a per-node choice between text only, propagation and signed propagation (for
propagating experts all views are :math:`\hat A^k X` and the gated skip equals the plain one). The routed gate also
reads graph-level features (``data.graph_features``, e.g. a label-free homophily estimate, set by the task layer).
Hard-negative mixing is a training option, not a model variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphrep.data.text import DEFAULT_TEXT_MODEL, TextEncoder
from graphrep.data.transforms.structural import STRUCTURAL_NAMES, structural_descriptors
from graphrep.nn.experts import PropagationGraph, make_expert
from graphrep.nn.gate import StructuralGate

__all__ = ["GraphShaper", "GraphShaperOutput", "VARIANTS", "variant_experts"]

ALL_EXPERTS = ("euclidean", "hyperbolic", "spherical")
VARIANTS = {
    "euclidean": (("euclidean",), "single"),
    "hyperbolic": (("hyperbolic",), "single"),
    "spherical": (("spherical",), "single"),
    "uniform": (ALL_EXPERTS, "uniform"),
    "gated": (ALL_EXPERTS, "gated"),
    "routed": (("text", "euclidean", "signed"), "gated"),
}


def variant_experts(variant: str) -> tuple[tuple[str, ...], str]:
    """``(expert kinds, fusion)`` of a named variant."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown GraphShaper variant {variant!r}; choose from {sorted(VARIANTS)}")
    return VARIANTS[variant]


@dataclass
class GraphShaperOutput:
    """``embedding`` ``[N, d_text]`` (not normalised); ``weights`` ``[N, K]`` fusion weights (``None`` for a single
    expert); ``expert_names`` in the order of the weights' columns."""

    embedding: Tensor
    weights: Tensor | None
    expert_names: tuple[str, ...]


class GraphShaper(nn.Module):
    r"""Geometry experts + structural gate + projection to a frozen text encoder's space.

    Args:
        text_channels: size ``d`` of the text embeddings (384 for all-MiniLM-L6-v2); input and output size.
        hidden_channels: width of every expert. shared_channels: size of the shared tangent space.
        num_layers: message-passing layers per expert.
        variant: one of :data:`VARIANTS` (default ``"euclidean"``: the gated three-expert model measured no better,
            README).
        gate_hidden: width of the gate MLP. gate_uses_embedding: the gate also reads the node's text embedding.
        gate_temperature: softmax temperature of the gate.
        gate_scope: ``"node"`` (the gate reads each node's descriptors, plus the graph-level features when given) or
            ``"graph"`` (graph-level features only: one expert mixture per graph, e.g. all of a WebKB graph to text).
        graph_channels: number of graph-level gate inputs (``data.graph_features``); default 2 for ``routed`` (:func:`graphrep.tasks.tag.routing.graph_features`), else 0.
        residual: add a skip path to the projection, so the model learns a graph-informed correction of the text
            embeddings rather than the whole text space from scratch (in 30-epoch CiteSeer->Cora trials, seed 0:
            no residual 41%, residual with the node's own text 61%, with 2-hop propagated text 67%).
        skip_hops: the skip path is :math:`\hat A^k x` (``k = skip_hops`` rounds of the GCN-normalised propagation,
            i.e. the training-free ZeroG baseline; default 2); 0: the node's own text embedding.
        zero_init: with ``residual``, zero the projection's last layer, so the untrained model is exactly its skip
            path (default).
        dropout: on the input features during training.
        backend: ``"graphrep"`` (fused ops) or ``"pyg"`` (PyG's layers); same parameters, same function.
        text_model: sentence-transformers model for :meth:`encode_text` / :meth:`encode_nodes` (default the offline
            all-MiniLM-L6-v2); text_cache_dir: its embedding cache (default ``$GRAPHREP_CACHE/text``).
        text_encoder: an object with ``encode(list[str]) -> [n, d]`` to use instead (e.g. a shared
            :class:`~graphrep.data.text.TextEncoder`); it is not saved with the model.
    """

    def __init__(self, text_channels: int = 384, hidden_channels: int = 64, shared_channels: int = 64,
                 num_layers: int = 2, variant: str = "euclidean", gate_hidden: int = 32,
                 gate_uses_embedding: bool = False,
                 gate_temperature: float = 1.0, residual: bool = True, skip_hops: int = 2, zero_init: bool = True,
                 dropout: float = 0.0,
                 backend: str = "graphrep", text_model: str = DEFAULT_TEXT_MODEL, text_cache_dir=None,
                 text_encoder=None, graph_channels: int | None = None, gate_scope: str = "node"):
        super().__init__()
        kinds, fusion = variant_experts(variant)
        self.variant, self.fusion, self.expert_names = variant, fusion, kinds
        if skip_hops < 0:
            raise ValueError(f"skip_hops must be >= 0, got {skip_hops}")
        self.text_channels, self.backend, self.residual, self.dropout = text_channels, backend, residual, dropout
        self.skip_hops = skip_hops
        self.experts = nn.ModuleList(make_expert(k, text_channels, hidden_channels, num_layers, shared_channels,
                                                 backend=backend) for k in kinds)
        if gate_scope not in ("node", "graph"):
            raise ValueError(f"gate_scope must be 'node' or 'graph', got {gate_scope!r}")
        if graph_channels is None:
            graph_channels = 2 if variant == "routed" else 0
        self.graph_channels = graph_channels
        self.gate = (StructuralGate(len(STRUCTURAL_NAMES), len(kinds), gate_hidden,
                                    text_channels if gate_uses_embedding else None, gate_temperature,
                                    graph_channels=graph_channels or None, node_inputs=gate_scope == "node")
                     if fusion == "gated" else None)
        self.proj = nn.Sequential(nn.Linear(shared_channels, shared_channels), nn.ReLU(),
                                  nn.Linear(shared_channels, text_channels))
        if residual and zero_init:  # start as the skip path exactly; training learns the correction
            nn.init.zeros_(self.proj[-1].weight)
            nn.init.zeros_(self.proj[-1].bias)
        self.text_model, self.text_cache_dir = text_model, text_cache_dir
        self._text_encoder = text_encoder
        self.text_fallback: float | None = None  # see set_text_fallback

    def set_text_fallback(self, threshold: float | None) -> None:
        r"""Route a whole graph to the text expert when its first graph-level feature (the label-free agreement
        :math:`a_1` of :func:`graphrep.tasks.tag.routing.graph_features`) is at most ``threshold``: the embedding is
        then the input text embedding exactly (gate one-hot on ``text``, no learnt correction, whose projection was
        trained on every source, homophilous ones included). ``None`` turns it off. Choose the threshold on source
        graphs only (e.g. :func:`graphrep.tasks.tag.routing.source_two_way_route`). Not part of the state dict."""
        if threshold is not None:
            if "text" not in self.expert_names or not self.graph_channels:
                raise ValueError(f"variant {self.variant!r} has no text expert and graph-level gate inputs to fall "
                                 f"back on; use variant 'routed'")
            threshold = float(threshold)
        self.text_fallback = threshold

    # --- the differentiable part ---------------------------------------------------------------------------------
    def forward(self, x: Tensor, graph: PropagationGraph, descriptors: Tensor | None = None,
                graph_features: Tensor | None = None) -> GraphShaperOutput:
        """Shapes: x ``[N, d]`` node text embeddings, graph over ``N`` nodes, descriptors ``[N, 6]`` (needed when
        gated; :func:`~graphrep.data.transforms.structural_descriptors` with ``log_counts=True``), graph_features
        ``[G]`` (needed when the gate reads graph-level features)."""
        if x.dim() != 2 or x.size(1) != self.text_channels:
            raise ValueError(f"node features must be [N, {self.text_channels}] text embeddings, got {tuple(x.shape)}")
        if graph.num_nodes != x.size(0):
            raise ValueError(f"graph has {graph.num_nodes} nodes but x has {x.size(0)} rows")
        if (self.text_fallback is not None and graph_features is not None
                and float(graph_features.reshape(-1)[0]) <= self.text_fallback):  # heterophily: text expert alone
            weights = torch.zeros(x.size(0), len(self.experts), dtype=x.dtype, device=x.device)
            weights[:, self.expert_names.index("text")] = 1.0
            return GraphShaperOutput(x, weights, self.expert_names)
        h = F.dropout(x, self.dropout, self.training)
        zs = [e.to_shared(e(h, graph)) for e in self.experts]
        weights = None
        if self.fusion == "gated":
            if descriptors is None:
                raise ValueError("the gated variant needs structural descriptors [N, 6]")
            weights = self.gate(descriptors, x if self.gate.emb is not None else None, graph_features)
            z = (torch.stack(zs, -1) * weights.unsqueeze(1)).sum(-1)
        elif self.fusion == "uniform":
            z = torch.stack(zs, -1).mean(-1)
            weights = torch.full((x.size(0), len(zs)), 1.0 / len(zs), dtype=x.dtype, device=x.device)
        else:
            z = zs[0]
        out = self.proj(z)
        if self.residual:
            if self.fusion == "gated":  # each expert's training-free view, weighted as its expert
                views = torch.stack([e.skip(x, graph, self.skip_hops) for e in self.experts], -1)
                skip = (views * weights.unsqueeze(1)).sum(-1)
            else:
                skip = x
                for _ in range(self.skip_hops):
                    skip = graph.propagate(skip)
            out = out + skip
        return GraphShaperOutput(out, weights, self.expert_names)

    # --- data in, embeddings out ---------------------------------------------------------------------------------
    @property
    def text_encoder(self):
        if self._text_encoder is None:
            self._text_encoder = TextEncoder(self.text_model, cache_dir=self.text_cache_dir, normalize=True)
        return self._text_encoder

    def inputs(self, data) -> tuple:
        """Node features, normalised graph and descriptors of a TAG ``Data`` (``x`` and ``struct`` are computed from
        ``text`` and ``edge_index`` when absent, and stored on ``data``), plus ``data.graph_features`` when the gate
        reads graph-level features."""
        n = data.num_nodes
        x = getattr(data, "x", None)
        if x is None:
            texts = getattr(data, "text", None)
            if texts is None or len(texts) != n:
                raise ValueError(f"graph {getattr(data, 'name', '')!r} needs node texts (data.text, {n} strings) or "
                                 f"their embeddings (data.x)")
            data.x = x = self.text_encoder.encode(list(texts))
        x = F.normalize(x.float(), dim=-1)
        desc = getattr(data, "struct", None)
        if desc is None and self.gate is not None:
            data.struct = desc = structural_descriptors(data.edge_index, n, log_counts=True)[0]
        graph = PropagationGraph.build(data.edge_index, n, self.backend)
        if self.graph_channels:
            g = getattr(data, "graph_features", None)
            if g is None:
                raise ValueError(f"graph {getattr(data, 'name', '')!r}: the {self.variant} gate reads "
                                 f"{self.graph_channels} graph-level feature(s) (data.graph_features)")
            return x, graph, desc, torch.as_tensor(g, dtype=torch.float32).reshape(-1)
        return x, graph, desc

    @torch.no_grad()
    def encode_nodes(self, data, return_weights: bool = False):
        """Node embeddings in the text space ``[N, d_text]``, L2-normalised (eval mode; restores the mode after).
        With ``return_weights`` also the fusion weights ``[N, K]`` (``None`` for a single expert)."""
        was = self.training
        self.eval()
        try:
            out = self(*self.inputs(data))
        finally:
            self.train(was)
        emb = F.normalize(out.embedding, dim=-1)
        return (emb, out.weights) if return_weights else emb

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> Tensor:
        """L2-normalised text embeddings ``[n, d_text]`` from the frozen text encoder (e.g. class prompts)."""
        if isinstance(texts, str):
            raise TypeError("encode_text expects a list of strings, got a single str; wrap it in a list")
        return F.normalize(self.text_encoder.encode(list(texts)).float(), dim=-1)
