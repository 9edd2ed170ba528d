r"""Geometry experts (the GraphShaper idea): one message-passing encoder per geometry, each returning points on its
manifold and carrying a map of those points to a shared tangent space, where experts can be fused.

Every expert is a stack of GCN-style layers. With the GCN weights :math:`\hat w_{ji}` of
:math:`\hat A = D^{-1/2}(A + I)D^{-1/2}` (:class:`PropagationGraph`, built once per graph and shared by all
experts and layers) and intrinsic tangent coordinates at the origin (:meth:`geometries.Manifold.to_tangent0`):

- :class:`EuclideanExpert`: :math:`h^{l+1} = \sigma(\hat A h^l W^l + b^l)`, the plain GCN
  (:class:`graphrep.nn.conv.GCNConv`, or PyG's :class:`~torch_geometric.nn.GCNConv` with ``backend="pyg"``);
- :class:`ManifoldExpert` on a Poincare ball, Lorentz hyperboloid or sphere (HGCN, Chami et al. 2019, aggregating at
  the origin): the input is mapped onto the manifold by :math:`x^0 = \exp_0(x)`, then
  :math:`h = (W^l \otimes x^l) \oplus b^l` (:class:`~graphrep.nn.manifold.ManifoldLinear`),
  :math:`x^{l+1} = \exp_0\big(\sigma(\sum_{j \to i} \hat w_{ji} \log_0 h_j)\big)`, which is
  :class:`~graphrep.nn.manifold.ManifoldGCNConv` (``local=False``) with the normalisation computed once per graph
  and the aggregation on :func:`graphrep.ops.aggregate`.

:math:`\sigma` (ReLU by default) is applied between layers, not after the last one.

Two experts that do not smooth, so that a gate has something different to choose:

- :class:`TextExpert` (``"text"``): no message passing, :math:`f(X, G) = X` exactly (the text-only baseline as an
  expert); its map to the shared space is a plain linear layer.
- :class:`SignedExpert` (``"signed"``, heterophily): ego and neighbour channels kept apart (H2GCN, Zhu et al. 2020),
  :math:`h^{l+1} = \sigma(h^l W^l_{self} + (\hat A h^l) W^l_{nbr} + b^l)`; the neighbour weights are free in sign,
  so the expert can subtract its neighbours (a high-pass filter) where propagation would add them.

Every expert also offers a training-free *view* of its input, :meth:`skip` (the model's residual path):
:math:`\hat A^k X` for the propagating experts, :math:`X` for the text expert, and the signed one-step
:math:`X - \tfrac12 \hat A X` for the signed expert. ``expert.to_shared(points)``
(:class:`~graphrep.nn.manifold.ToSharedTangent`) gives :math:`A \log_0(x)` in the shared space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

import geometries
from graphrep.nn.conv import GCNConv, csr_gcn_norm
from graphrep.nn.manifold import ManifoldLinear, ToSharedTangent
from graphrep.ops import CSR, aggregate

__all__ = ["BACKENDS", "PropagationGraph", "EuclideanExpert", "ManifoldExpert", "TextExpert", "SignedExpert",
           "make_expert", "EXPERT_KINDS"]

BACKENDS = ("graphrep", "pyg")
EXPERT_KINDS = ("euclidean", "hyperbolic", "lorentz", "spherical", "text", "signed")


def _propagated_view(x: Tensor, graph: "PropagationGraph", hops: int) -> Tensor:
    r""":math:`\hat A^k x` (``k = hops``)."""
    for _ in range(hops):
        x = graph.propagate(x)
    return x


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


@dataclass
class PropagationGraph:
    r"""A graph with its symmetric GCN normalisation, ready for aggregation:
    :math:`\text{propagate}(v)_i = \sum_{j \to i} \hat w_{ji} v_j` with self-loops added and
    :math:`\hat w_{ji} = w_{ji} / \sqrt{\deg(i)\deg(j)}`.

    Build it once per graph (or per augmented view) with :meth:`build`; the experts and their layers share it.

    Attributes:
        edge_index: ``[2, E']`` edges with one self-loop per node (in the weights' order).
        edge_weight: ``[E']`` normalised weights.
        csr: the graph as a :class:`graphrep.ops.CSR` (``backend="graphrep"``), else ``None``.
        num_nodes: ``N``.
        backend: ``"graphrep"`` (fused :func:`graphrep.ops.aggregate`) or ``"pyg"`` (PyG's gather-scatter).
    """

    edge_index: Tensor
    edge_weight: Tensor
    csr: CSR | None
    num_nodes: int
    backend: str

    @classmethod
    def build(cls, edge_index: Tensor, num_nodes: int, backend: str = "graphrep",
              dtype: torch.dtype = torch.float32) -> "PropagationGraph":
        """Normalise ``edge_index`` [2, E] (read as given: symmetrise it first for an undirected graph)."""
        _check_backend(backend)
        if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"edge_index must be a [2, E] tensor, got {getattr(edge_index, 'shape', edge_index)}")
        if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
            raise ValueError(f"edge_index holds node indices outside [0, {num_nodes})")
        if backend == "graphrep":
            graph, w = csr_gcn_norm(CSR.from_edge_index(edge_index, num_nodes), dtype=dtype)
            return cls(graph.edge_index(), w, graph, num_nodes, backend)
        from torch_geometric.nn.conv.gcn_conv import gcn_norm as pyg_gcn_norm

        ei, w = pyg_gcn_norm(edge_index, None, num_nodes, add_self_loops=True, dtype=dtype)
        return cls(ei, w, None, num_nodes, backend)

    @property
    def graph(self) -> Tensor | CSR:
        """What convolutions take as ``edge_index``: the CSR (graphrep) or the edge list (pyg)."""
        return self.csr if self.csr is not None else self.edge_index

    def propagate(self, v: Tensor) -> Tensor:
        """Shapes: v ``[N, F]`` -> ``[N, F]``."""
        if self.csr is not None:
            return aggregate(v, self.csr, "sum", self.edge_weight.to(v.dtype))
        src, dst = self.edge_index
        msg = v.index_select(0, src) * self.edge_weight.to(v.dtype).unsqueeze(-1)
        return torch.zeros_like(v).index_add_(0, dst, msg)


class EuclideanExpert(nn.Module):
    r"""GCN encoder: ``num_layers`` GCN layers with activation in between; outputs points of :math:`\mathbb R^h`.

    Args:
        in_channels: input feature size. hidden_channels: ``h``. num_layers: >= 1.
        shared_channels: size of the shared tangent space (``None``: ``h``, identity map).
        act: activation between layers. backend: ``"graphrep"`` (:class:`graphrep.nn.conv.GCNConv` on the fused ops)
            or ``"pyg"`` (:class:`torch_geometric.nn.GCNConv`, its gather-scatter path); same parameters either way.

    Shapes: x ``[N, in_channels]``, graph :class:`PropagationGraph` -> ``[N, h]``
    """

    kind = "euclidean"

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 2, shared_channels: int | None = None,
                 act: Callable[[Tensor], Tensor] = torch.relu, backend: str = "graphrep"):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.backend = _check_backend(backend)
        if backend == "graphrep":
            conv = GCNConv
        else:
            from torch_geometric.nn import GCNConv as conv
        dims = [in_channels] + [hidden_channels] * num_layers
        self.convs = nn.ModuleList(conv(a, b, normalize=False) for a, b in zip(dims[:-1], dims[1:]))
        self.manifold = geometries.Euclidean()
        self.act = act
        self.to_shared = ToSharedTangent(self.manifold, hidden_channels, shared_channels)

    def forward(self, x: Tensor, graph: PropagationGraph) -> Tensor:
        if graph.backend != self.backend:
            raise ValueError(f"expert built for backend {self.backend!r} got a {graph.backend!r} graph")
        for i, conv in enumerate(self.convs):
            x = conv(x, graph.graph, graph.edge_weight)
            if i < len(self.convs) - 1:
                x = self.act(x)
        return x

    def skip(self, x: Tensor, graph: PropagationGraph, hops: int = 2) -> Tensor:
        r"""Training-free view :math:`\hat A^k x`. Shapes: ``[N, F]`` -> ``[N, F]``."""
        return _propagated_view(x, graph, hops)


class ManifoldExpert(nn.Module):
    r"""HGCN-style encoder on a curved manifold (formulas in the module docstring); outputs points on ``manifold``.

    Args:
        manifold: a :class:`geometries.Manifold` (e.g. ``PoincareBall(learnable=True)``, ``Lorentz``, ``Sphere``);
            registered as a submodule, so a learnable curvature trains with the expert.
        in_channels: input (Euclidean) feature size, mapped onto the manifold by :math:`\exp_0`.
        hidden_channels, num_layers, shared_channels, act, backend: as :class:`EuclideanExpert`.
        input_scale: the input is scaled by this before :math:`\exp_0` (keeps unit-norm text embeddings away from a
            ball's boundary).

    Shapes: x ``[N, in_channels]``, graph -> ``[N, manifold.point_dim(h)]``
    """

    def __init__(self, manifold: geometries.Manifold, in_channels: int, hidden_channels: int, num_layers: int = 2,
                 shared_channels: int | None = None, act: Callable[[Tensor], Tensor] = torch.relu,
                 backend: str = "graphrep", input_scale: float = 1.0):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if not isinstance(manifold, geometries.Manifold):
            raise ValueError(f"manifold must be a geometries.Manifold, got {type(manifold).__name__}")
        self.backend = _check_backend(backend)
        self.manifold = manifold
        dims = [in_channels] + [hidden_channels] * num_layers
        self.lins = nn.ModuleList(ManifoldLinear(manifold, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.act = act
        self.input_scale = float(input_scale)
        self.to_shared = ToSharedTangent(manifold, hidden_channels, shared_channels)

    @property
    def kind(self) -> str:
        return {"PoincareBall": "hyperbolic", "Lorentz": "lorentz", "Sphere": "spherical"}.get(
            self.manifold.name, self.manifold.name.lower())

    def forward(self, x: Tensor, graph: PropagationGraph) -> Tensor:
        if graph.backend != self.backend:
            raise ValueError(f"expert built for backend {self.backend!r} got a {graph.backend!r} graph")
        m = self.manifold
        h = m.from_tangent0(x * self.input_scale)
        for i, lin in enumerate(self.lins):
            v = graph.propagate(m.to_tangent0(lin(h)))
            if i < len(self.lins) - 1:
                v = self.act(v)
            h = m.from_tangent0(v)
        return h

    def skip(self, x: Tensor, graph: PropagationGraph, hops: int = 2) -> Tensor:
        r"""Training-free view :math:`\hat A^k x`. Shapes: ``[N, F]`` -> ``[N, F]``."""
        return _propagated_view(x, graph, hops)


class TextExpert(nn.Module):
    r"""The non-propagating expert: :math:`f(X, G) = X`, the input returned as is (the same tensor); the graph is
    ignored. ``to_shared`` is a linear map :math:`\mathbb R^{d} \to \mathbb R^{s}`.

    Shapes: x ``[N, in_channels]``, graph -> ``[N, in_channels]``
    """

    kind = "text"

    def __init__(self, in_channels: int, shared_channels: int | None = None, backend: str = "graphrep"):
        super().__init__()
        self.backend = _check_backend(backend)
        self.manifold = geometries.Euclidean()
        self.to_shared = ToSharedTangent(self.manifold, in_channels, shared_channels)

    def forward(self, x: Tensor, graph: PropagationGraph | None = None) -> Tensor:
        return x

    def skip(self, x: Tensor, graph: PropagationGraph | None = None, hops: int = 2) -> Tensor:
        """Training-free view: the text embedding itself."""
        return x


class SignedExpert(nn.Module):
    r"""Heterophily expert: :math:`h^{l+1} = \sigma(h^l W^l_{self} + (\hat A h^l) W^l_{nbr} + b^l)` with separate
    ego and neighbour weights (signs free), ReLU between layers; outputs points of :math:`\mathbb R^h`.

    Args: as :class:`EuclideanExpert`. signed_strength: :math:`\beta` of the training-free view
    :math:`X - \beta \hat A X` (:meth:`skip`).

    Shapes: x ``[N, in_channels]``, graph :class:`PropagationGraph` -> ``[N, h]``
    """

    kind = "signed"

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 2, shared_channels: int | None = None,
                 act: Callable[[Tensor], Tensor] = torch.relu, backend: str = "graphrep",
                 signed_strength: float = 0.5):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.backend = _check_backend(backend)
        dims = [in_channels] + [hidden_channels] * num_layers
        self.self_lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.nbr_lins = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(dims[:-1], dims[1:]))
        self.manifold = geometries.Euclidean()
        self.act = act
        self.signed_strength = float(signed_strength)
        self.to_shared = ToSharedTangent(self.manifold, hidden_channels, shared_channels)

    def forward(self, x: Tensor, graph: PropagationGraph) -> Tensor:
        if graph.backend != self.backend:
            raise ValueError(f"expert built for backend {self.backend!r} got a {graph.backend!r} graph")
        for i, (ego, nbr) in enumerate(zip(self.self_lins, self.nbr_lins)):
            x = ego(x) + nbr(graph.propagate(x))
            if i < len(self.self_lins) - 1:
                x = self.act(x)
        return x

    def skip(self, x: Tensor, graph: PropagationGraph, hops: int = 2) -> Tensor:
        r"""Training-free view :math:`X - \beta \hat A X` (one signed step; ``hops`` is ignored)."""
        return x - self.signed_strength * graph.propagate(x)


def make_expert(kind: str, in_channels: int, hidden_channels: int, num_layers: int = 2,
                shared_channels: int | None = None, backend: str = "graphrep", learnable_curvature: bool = True,
                curvature: float = 1.0) -> nn.Module:
    """An expert by name: ``"euclidean"``, ``"hyperbolic"`` (Poincare ball), ``"lorentz"`` or ``"spherical"``
    (stereographic sphere), ``"text"`` (no propagation) or ``"signed"`` (heterophily); curved ones start at
    curvature magnitude ``curvature``."""
    if kind == "text":
        return TextExpert(in_channels, shared_channels, backend=backend)
    if kind == "signed":
        return SignedExpert(in_channels, hidden_channels, num_layers, shared_channels, backend=backend)
    if kind == "euclidean":
        return EuclideanExpert(in_channels, hidden_channels, num_layers, shared_channels, backend=backend)
    manifolds = {"hyperbolic": lambda: geometries.PoincareBall(curvature, learnable_curvature),
                 "lorentz": lambda: geometries.Lorentz(1.0 / curvature, learnable_curvature),
                 "spherical": lambda: geometries.Sphere(curvature, learnable_curvature)}
    if kind not in manifolds:
        raise ValueError(f"unknown expert {kind!r}; choose from {EXPERT_KINDS}")
    return ManifoldExpert(manifolds[kind](), in_channels, hidden_channels, num_layers, shared_channels,
                          backend=backend)
