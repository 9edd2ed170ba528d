r"""Classifiers for data converted to graphs (:mod:`graphrep.data.modalities`), built only from generic graphrep parts.

:class:`GraphEncoder` embeds any batch of graphs: an input map (an embedding table when ``x`` holds integer ids, a
linear layer when it holds features), ``L`` residual layers

.. math:: h^{l+1} = h^l + \mathrm{dropout}(\mathrm{ReLU}(\mathrm{LN}(\mathrm{conv}_l(h^l, G^l))))

and mean pooling over each graph (:func:`graphrep.ops.segment`). ``conv`` is one of graphrep's convolutions (GIN, GCN
with the graph's ``edge_weight`` when present, SAGE, GAT) or a geometry expert (:func:`graphrep.nn.experts.make_expert`,
Euclidean or hyperbolic; pooled in its shared tangent space). ``G^l`` is the input graph, or with ``knn=k`` the k-NN
graph of ``h^l`` (:class:`graphrep.nn.dynamic_knn.DynamicKNNConv`, Vision GNN). Nothing here knows which modality the
graph came from.

:class:`NextVenueModel`: a GRU over the representations of the last visited venues, scored against every venue's
representation; the representations are a learned table, or that table passed through a :class:`GraphEncoder` over
the city-wide transition graph.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from ..nn.conv import GATConv, GCNConv, GINConv, SAGEConv
from ..nn.dynamic_knn import DynamicKNNConv
from ..nn.experts import PropagationGraph, make_expert
from ..ops import CSR, segment

__all__ = ["CONV_KINDS", "GraphEncoder", "GraphClassifier", "NextVenueModel", "MLPClassifier", "SmallCNN"]

CONV_KINDS = ("gin", "gcn", "sage", "gat", "euclidean", "hyperbolic")


def _conv(kind: str, dim: int) -> nn.Module:
    if kind == "gin":
        return GINConv(nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim)))
    if kind == "gcn":
        return GCNConv(dim, dim)
    if kind == "sage":
        return SAGEConv(dim, dim)
    if kind == "gat":
        return GATConv(dim, dim // 4, heads=4)
    raise ValueError(f"unknown convolution {kind!r}; choose from {CONV_KINDS}")


class GraphEncoder(nn.Module):
    """See the module docstring.

    Args:
        in_channels: float node-feature size (``x`` ``[N, F]``); or ``num_embeddings`` for integer ids (``x`` ``[N]``),
            optionally initialised from ``embedding`` ``[num_embeddings, d]`` and frozen with ``freeze_embedding``.
        conv: one of :data:`CONV_KINDS`. hidden: width. layers: number of message-passing layers.
        knn: rebuild the graph as k-NN in feature space at every layer (``None``: use the input graph).
        dropout: after each layer.

    Shapes: batch with ``x``, ``edge_index``, ``batch`` -> node embeddings ``[N, hidden]`` (:meth:`nodes`) or
    graph embeddings ``[B, hidden]`` (:meth:`forward`)
    """

    def __init__(self, in_channels: int | None = None, num_embeddings: int | None = None,
                 embedding: Tensor | None = None, freeze_embedding: bool = False, conv: str = "gin", hidden: int = 64,
                 layers: int = 2, knn: int | None = None, dropout: float = 0.0):
        super().__init__()
        if conv not in CONV_KINDS:
            raise ValueError(f"unknown convolution {conv!r}; choose from {CONV_KINDS}")
        if (in_channels is None) == (num_embeddings is None and embedding is None):
            raise ValueError("give exactly one of in_channels (float features) or num_embeddings/embedding (ids)")
        if knn is not None and conv in ("euclidean", "hyperbolic"):
            raise ValueError("the geometry experts propagate on the input graph; knn works with gin/gcn/sage/gat")
        if embedding is not None:
            self.embed = nn.Embedding.from_pretrained(embedding.float(), freeze=freeze_embedding)
            self.input = nn.Linear(embedding.size(1), hidden)
        elif num_embeddings is not None:
            self.embed, self.input = nn.Embedding(num_embeddings, hidden), nn.Identity()
        else:
            self.embed, self.input = None, nn.Linear(in_channels, hidden)
        self.kind, self.hidden, self.knn = conv, hidden, knn
        if conv in ("euclidean", "hyperbolic"):
            self.expert = make_expert(conv, hidden, hidden, num_layers=layers)
            self.convs = nn.ModuleList()
        else:
            self.expert = None
            self.convs = nn.ModuleList(DynamicKNNConv(_conv(conv, hidden), knn) if knn else _conv(conv, hidden)
                                       for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in self.convs)
        self.dropout = nn.Dropout(dropout)

    @property
    def out_dim(self) -> int:
        return self.hidden

    def features(self, x: Tensor) -> Tensor:
        """Input map: ids -> embedding (-> linear), or features -> linear. Shapes: ``[N]`` or ``[N, F]`` -> ``[N, h]``"""
        if self.embed is not None:
            if x.is_floating_point():
                raise ValueError("this encoder embeds integer node ids; got float features")
            return self.input(self.embed(x.view(-1)))
        return self.input(x.float())

    def nodes(self, data: Data | Batch) -> Tensor:
        h = self.features(data.x)
        batch = getattr(data, "batch", None)
        if self.expert is not None:
            graph = PropagationGraph.build(data.edge_index, h.size(0))
            return self.expert.to_shared(self.expert(h, graph))
        weight = getattr(data, "edge_weight", None)
        graph = CSR.of(data, h.size(0)) if self.convs else None  # built once per graph object, cached on it
        for conv, norm in zip(self.convs, self.norms):
            if isinstance(conv, DynamicKNNConv):
                out = conv(h, batch)
            elif isinstance(conv, GCNConv):
                out = conv(h, graph, weight)
            else:
                out = conv(h, graph)
            h = h + self.dropout(torch.relu(norm(out)))
        return h

    def forward(self, data: Data | Batch) -> Tensor:
        h = self.nodes(data)
        ptr = getattr(data, "ptr", None)
        if ptr is None:
            ptr = torch.tensor([0, h.size(0)], device=h.device)
        return segment(h, ptr, "mean")


class GraphClassifier(nn.Module):
    """:class:`GraphEncoder` + dropout + linear head. Shapes: batch of ``B`` graphs -> logits ``[B, num_classes]``"""

    def __init__(self, num_classes: int, dropout: float = 0.0, **encoder):
        super().__init__()
        self.encoder = GraphEncoder(dropout=dropout, **encoder)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.encoder.out_dim, num_classes))

    def forward(self, data: Data | Batch) -> Tensor:
        return self.head(self.encoder(data))


class MLPClassifier(nn.Module):
    """Baseline on flat inputs: ``Linear -> ReLU -> Dropout -> Linear``. Shapes: ``[B, F]`` -> ``[B, C]``"""

    def __init__(self, in_features: int, hidden: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class SmallCNN(nn.Module):
    """Baseline on images: two 3x3 conv + ReLU + 2x2 max-pool blocks, global mean pool, linear head.

    Shapes: ``[B, C, H, W]`` -> ``[B, num_classes]``
    """

    def __init__(self, in_channels: int, width: int, num_classes: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(2 * width, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class NextVenueModel(nn.Module):
    """Next-venue prediction from the last ``L`` visits (see the module docstring).

    Args:
        num_venues: ``V``. dim: embedding / GRU width.
        graph: the transition graph (``edge_index`` over venue ids, optional ``edge_weight``); ``None``: venue
            representations are the learned table alone.
        conv, layers: the :class:`GraphEncoder` over ``graph``.

    Shapes: history ``[B, L]`` venue ids (``-1`` = padding, left-padded) -> logits ``[B, V]``
    """

    def __init__(self, num_venues: int, dim: int = 64, graph: Data | None = None, conv: str = "gcn",
                 layers: int = 2, dropout: float = 0.0):
        super().__init__()
        self.num_venues = num_venues
        if graph is None:
            self.table, self.graph_encoder = nn.Embedding(num_venues, dim), None
        else:
            self.table = None
            self.graph_encoder = GraphEncoder(num_embeddings=num_venues, conv=conv, hidden=dim, layers=layers,
                                              dropout=dropout)
            self.graph = Data(x=torch.arange(num_venues), edge_index=graph.edge_index, num_nodes=num_venues)
            if getattr(graph, "edge_weight", None) is not None:
                self.graph.edge_weight = graph.edge_weight.float()
        self.gru = nn.GRU(dim, dim, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(dim, dim)

    def venue_representations(self) -> Tensor:
        """Shapes: -> ``[V, dim]``"""
        if self.graph_encoder is None:
            return self.table.weight
        return self.graph_encoder.nodes(self.graph.to(self.out.weight.device))

    def forward(self, history: Tensor) -> Tensor:
        reps = self.venue_representations()
        pad = history < 0
        seq = reps[history.clamp(min=0)].masked_fill(pad[..., None], 0.0)
        _, h = self.gru(self.dropout(seq))
        return self.out(self.dropout(h[-1])) @ reps.t()
