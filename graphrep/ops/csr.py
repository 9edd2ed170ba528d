"""Destination-major compressed sparse rows of a graph, plus the transposed CSR that backward passes use.

An edge ``j -> i`` (``edge_index[0] = j`` source, ``edge_index[1] = i`` destination) becomes entry ``(i, j)`` of the
CSR: row ``i`` lists the sources of the edges that arrive at ``i``. Within a row, edges keep their order in
``edge_index`` (stable sort), so ties in max/min and the summation order are fixed by the input alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, List, NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor
from torch.utils.weak import WeakIdKeyDictionary

from . import _edge_cache

_CACHE_ATTR = "_graphrep_csr_cache"
# edge_index tensor -> _edge_cache.Entry; entries vanish with their tensor (keyed by identity: tensors compare
# elementwise)
_TENSOR_CACHE: WeakIdKeyDictionary = WeakIdKeyDictionary()
_EDGE_ROWS_CACHE: WeakIdKeyDictionary = WeakIdKeyDictionary()  # the same for CSR.edge_rows_of


def _check_edge_index(edge_index: Any) -> None:
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"edge_index must be a torch.Tensor of shape [2, E], got {type(edge_index).__name__}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {list(edge_index.shape)}")
    if edge_index.dtype.is_floating_point or edge_index.dtype in (torch.bool, torch.complex64, torch.complex128):
        raise ValueError(f"edge_index must hold integers, got dtype {edge_index.dtype}")


# The index tensors of a CSR, in the order the custom ops take them (as a ``List[Tensor]``, from CSR.tensors()).
INDEX_FIELDS = ("rowptr", "col", "row", "perm", "inv_perm", "rowptr_t", "col_t", "perm_t")
CSRTensors = NamedTuple("CSRTensors", [(name, Tensor) for name in INDEX_FIELDS])
CSRTensors.__doc__ = """The index tensors of a :class:`CSR` by name: the ops read their ``List[Tensor]`` argument back
with ``CSRTensors(*graph)``; see :class:`CSR` for their meaning."""


class HeadLayout(NamedTuple):
    """How a graph made by :meth:`CSR.per_head` maps onto the graph it copies (``H`` heads, ``E`` edges there).

    - ``heads``: ``H``.
    - ``col``, ``row`` [E] int64: source and destination of each CSR position of the copied graph.
    - ``position`` [E * H] int64: for each CSR position of the per-head graph, its index in an ``[E, H]`` table laid
      out row-major in the copied graph's CSR order (entry ``(p, h)``: position ``p``, head ``h``).

    A kernel may then work on the copied graph with rows of ``H * C`` features (node ``v``'s heads side by side)
    instead of ``H`` times as many rows of ``C``: one gather per edge instead of one per edge and head.
    """

    heads: int
    col: Tensor
    row: Tensor
    position: Tensor


class SelfLooped(NamedTuple):
    """Result of :meth:`CSR.add_self_loops`: the new graph and how its edges relate to the old one's.

    - ``csr``: every self-loop removed, then one loop per node ``0..K-1`` appended (edge order: kept edges, loops).
    - ``source_edge`` [E'] int64: the old edge id of each new edge, ``-1`` for the appended loops.
    - ``removed_loops`` [L] int64: the old edge ids of the removed self-loops, ascending.
    """

    csr: "CSR"
    source_edge: Tensor
    removed_loops: Tensor


@dataclass(eq=False)
class CSR:
    """Adjacency of a graph in destination-major CSR form, with the transposed CSR for backward.

    For ``E`` edges, ``N_dst`` destination and ``N_src`` source nodes (``N_dst = N_src = N`` for an ordinary graph):

    - ``rowptr`` [N_dst + 1] int64: edges into node ``i`` occupy CSR positions ``rowptr[i]:rowptr[i+1]``.
    - ``col`` [E] int64: source node of each CSR position; ``row`` [E] int64: its destination node.
    - ``perm`` [E] int64: edge id (column of ``edge_index``) at each CSR position; ``inv_perm`` [E]: its inverse.
    - ``rowptr_t`` [N_src + 1], ``col_t`` [E]: the transposed CSR (source-major, ``col_t`` holds destinations),
      ``perm_t`` [E]: the CSR position of each transposed position.

    All index tensors are int64, so offsets such as ``col * F`` cannot overflow when ``E * F`` or ``N * F`` exceed
    ``2**31``. Build with :meth:`from_edge_index` or, cached on a PyG ``Data``, :meth:`of`.
    """

    rowptr: Tensor
    col: Tensor
    row: Tensor
    perm: Tensor
    inv_perm: Tensor
    rowptr_t: Tensor
    col_t: Tensor
    perm_t: Tensor
    num_src: int
    num_dst: int
    _derived: dict = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edge_index(
        cls, edge_index: Tensor, num_nodes: Optional[Union[int, Tuple[int, int]]] = None
    ) -> "CSR":
        """Builds the CSR of ``edge_index`` [2, E] (row 0 sources, row 1 destinations).

        ``num_nodes`` is ``N`` (square graph) or ``(N_src, N_dst)`` for a bipartite graph; by default
        ``max(edge_index) + 1``. Raises ValueError for a malformed ``edge_index`` or out-of-range node ids.
        """
        edge_index, num_src, num_dst = _validated(edge_index, num_nodes)
        src = edge_index[0]
        perm, row, rowptr, inv_perm = _destination_order(edge_index[1], num_dst)
        # index_select rather than tensor[idx]: several times faster on CPU, and this runs once per molecule batch
        col = src.index_select(0, perm)
        perm_t = torch.argsort(col, stable=True)
        col_t = row.index_select(0, perm_t)
        rowptr_t = _ptr_from_counts(src, num_src)
        return cls(rowptr, col, row, perm, inv_perm, rowptr_t, col_t, perm_t, num_src, num_dst)

    @classmethod
    def from_ptr(cls, ptr: Tensor, num_items: Optional[int] = None, segment_ids: Optional[Tensor] = None) -> "CSR":
        """The CSR of a segmentation: row ``b`` gathers items ``ptr[b]:ptr[b+1]`` (e.g. the nodes of graph ``b`` in a
        PyG ``Batch``), so ``aggregate(x, CSR.from_ptr(ptr), reduce)`` pools each segment.

        Pass ``num_items`` (and, if known, the segment id of every item) to avoid a device synchronisation, e.g.
        inside ``torch.compile``.
        """
        if not isinstance(ptr, Tensor) or ptr.dim() != 1 or ptr.numel() < 1 or ptr.dtype.is_floating_point:
            raise ValueError("ptr must be a 1-D integer tensor of segment offsets [B + 1] starting at 0")
        ptr = ptr.long()
        m = int(ptr[-1]) if num_items is None else int(num_items)
        b = ptr.numel() - 1
        ar = torch.arange(m, device=ptr.device)
        seg = segment_ids
        if seg is None:
            seg = torch.repeat_interleave(torch.arange(b, device=ptr.device), ptr.diff(), output_size=m)
        csr = cls(ptr, ar, seg, ar, ar, torch.arange(m + 1, device=ptr.device), seg, ar, m, b)
        csr._derived["one_edge_per_source"] = True
        return csr

    @classmethod
    def _built(cls, edge_index: Tensor, num_nodes: Any) -> "CSR":
        # cached for later calls: never inference tensors, which autograd cannot save (the context is entered on
        # a cache miss only: as a decorator of `of` it cost more than the cache lookup itself)
        with torch.inference_mode(False):
            return cls.from_edge_index(edge_index, num_nodes)

    @classmethod
    def of(cls, data: Any, num_nodes: Optional[Union[int, Tuple[int, int]]] = None) -> "CSR":
        """The CSR of a PyG ``Data`` (``data.edge_index``, ``data.num_nodes``) or of an ``edge_index`` tensor, built
        once and cached: on the ``Data``, or (for a tensor) in a table keyed weakly by the tensor object, so every
        layer of a model and every training step that sees the same ``edge_index`` shares one CSR.

        Never stale: the cached CSR is returned only while ``edge_index`` holds the values it was built from, however
        they were changed (in place in torch, through NumPy after ``torch.from_numpy``, ...); each hit costs one
        comparison of ``edge_index`` with a copy of those values. The contract is in :mod:`graphrep.ops._edge_cache`;
        pass a prebuilt CSR to skip the check. Under ``torch.compile`` the CSR is built in the compiled code on
        every call, never cached.
        """
        if isinstance(data, Tensor):
            _check_edge_index(data)
            if torch.compiler.is_compiling():
                return cls.from_edge_index(data, num_nodes)
            key = _edge_cache.key_of(data, num_nodes)
            csr = _edge_cache.lookup(_TENSOR_CACHE.get(data), data, key)
            if csr is None:
                csr = cls._built(data, num_nodes)
                _TENSOR_CACHE[data] = _cached_entry(key, data, csr)
            return csr
        edge_index = getattr(data, "edge_index", None)
        if edge_index is None:
            raise ValueError(f"{type(data).__name__} has no edge_index to build a CSR from")
        n = num_nodes if num_nodes is not None else data.num_nodes
        if torch.compiler.is_compiling():
            return cls.from_edge_index(edge_index, n)
        key = _edge_cache.key_of(edge_index, n)
        cached = data.__dict__.get(_CACHE_ATTR)
        csr = None
        if cached is not None and cached[0] is edge_index:
            csr = _edge_cache.lookup(cached[1], edge_index, key)
        if csr is None:
            csr = cls._built(edge_index, n)
            # underscore attributes live in Data.__dict__: not collated, not moved by .to(), not saved as graph data
            data.__dict__[_CACHE_ATTR] = (edge_index, _cached_entry(key, edge_index, csr))
        return csr

    @classmethod
    def edge_rows_of(cls, edge_index: Tensor, num_nodes: Optional[Union[int, Tuple[int, int]]] = None) -> "CSR":
        """``CSR.of(edge_index, num_nodes).edges_to_rows()``, the graph that sums per-edge rows ``m`` [E, F] into
        their destinations, built with one stable sort instead of two (it has no use for the transposed graph) and
        cached per tensor like :meth:`of` (same never-stale contract); if that tensor's full CSR is already cached,
        its view is returned.
        """
        if not isinstance(edge_index, Tensor):
            return cls.of(edge_index, num_nodes).edges_to_rows()
        _check_edge_index(edge_index)
        compiling = torch.compiler.is_compiling()
        if not compiling:
            key = _edge_cache.key_of(edge_index, num_nodes)
            full = _edge_cache.lookup(_TENSOR_CACHE.get(edge_index), edge_index, key)
            if full is not None:
                return full.edges_to_rows()
            rows = _edge_cache.lookup(_EDGE_ROWS_CACHE.get(edge_index), edge_index, key)
            if rows is not None:
                return rows
        with torch.inference_mode(False):
            ei, _, num_dst = _validated(edge_index, num_nodes)
            dst = ei[1].clone()  # the CSR owns its tensors: the caller may later change edge_index in place
            perm, row, rowptr, inv_perm = _destination_order(dst, num_dst)
            e = perm.numel()
            rows = cls(rowptr, perm, row, perm, inv_perm, torch.arange(e + 1, device=perm.device), dst, inv_perm, e,
                       num_dst)
        rows._derived["one_edge_per_source"] = True
        if not compiling:
            _EDGE_ROWS_CACHE[edge_index] = _edge_cache.Entry(key, _edge_cache.snapshot(edge_index), rows)
        return rows

    # ------------------------------------------------------------------ views and helpers
    @property
    def num_edges(self) -> int:
        return self.col.numel()

    @property
    def device(self) -> torch.device:
        return self.col.device

    @property
    def one_edge_per_source(self) -> bool:
        """Whether every source has exactly one out-edge, known by construction (:meth:`from_ptr`,
        :meth:`edges_to_rows`): the transposed product is then a row gather, which kernels may use."""
        return self._derived.get("one_edge_per_source", False)

    @property
    def head_layout(self) -> Optional[HeadLayout]:
        """For a graph made by :meth:`per_head` (``H > 1``), how it maps onto the graph it copies; else ``None``."""
        return self._derived.get("head_layout")

    def degree(self) -> Tensor:
        """In-degree of each destination node [N_dst] int64."""
        return self.rowptr.diff()

    @torch.inference_mode(False)  # cached in _derived: see `of`
    def transpose(self) -> "CSR":
        """The CSR of the reversed graph (edges ``i -> j``), edge ids unchanged."""
        key = "transpose"
        if key not in self._derived:
            self._derived[key] = self._transpose()
        return self._derived[key]

    def _transpose(self) -> "CSR":
        with torch.inference_mode(False):
            perm = self.perm[self.perm_t]
            inv = torch.empty_like(perm)
            inv[perm] = torch.arange(perm.numel(), device=perm.device)
            col_t_sorted = self.col[self.perm_t]
            # perm_t: the position in this reversed CSR of each of its transposed positions, i.e. of each position
            # of the original CSR, whose edge is self.perm[k] (not self.inv_perm[perm], the inverse permutation)
            return CSR(
                self.rowptr_t, self.col_t, col_t_sorted, perm, inv,
                self.rowptr, self.col, inv[self.perm], self.num_dst, self.num_src,
            )

    def derived(self, key: Any, build: Callable[[], Any]) -> Any:
        """``build()``, computed once per ``key`` and kept on this CSR (for quantities that depend on the graph alone,
        e.g. a normalisation of an unweighted graph). Built outside inference mode and without autograd, so the
        result also serves later training steps."""
        if key not in self._derived:
            with torch.inference_mode(False), torch.no_grad():
                self._derived[key] = build()
        return self._derived[key]

    def edge_index(self) -> Tensor:
        """``edge_index`` [2, E] in the original edge order (computed once, then cached)."""
        if "edge_index" not in self._derived:
            with torch.inference_mode(False):
                self._derived["edge_index"] = torch.stack([self.col, self.row]).index_select(1, self.inv_perm)
        return self._derived["edge_index"]

    def tensors(self) -> List[Tensor]:
        """The index tensors the custom ops take, in the order of :data:`INDEX_FIELDS` (see :class:`CSRTensors`)."""
        return [getattr(self, name) for name in INDEX_FIELDS]

    def to(self, device: Union[str, torch.device]) -> "CSR":
        return CSR(*[v.to(device) for v in self.tensors()], self.num_src, self.num_dst)

    def edges_to_rows(self) -> "CSR":
        """The CSR that reduces per-edge rows: source "node" ``e`` is edge ``e`` (E sources), destinations as here.

        ``aggregate(m, csr.edges_to_rows())`` gives ``out[i] = sum_{e into i} m[e]`` for messages ``m`` [E, F] in
        edge order (e.g. GINE's ``relu(x_j + e_ji)``), in CSR order, deterministically. Cached on this object.
        """
        key = "edges_to_rows"
        if key not in self._derived:
            e = self.num_edges
            with torch.inference_mode(False):
                rows = CSR(
                    self.rowptr, self.perm, self.row, self.perm, self.inv_perm,
                    torch.arange(e + 1, device=self.device), self.row.index_select(0, self.inv_perm), self.inv_perm,
                    e, self.num_dst,
                )
                rows._derived["one_edge_per_source"] = True
                self._derived[key] = rows
        return self._derived[key]

    def per_head(self, heads: int) -> "CSR":
        """``heads`` disjoint copies of the graph, interleaved: node ``(v, h)`` is ``v * heads + h`` and edge
        ``(e, h)`` is ``e * heads + h``, so ``aggregate(x.view(N * H, C), csr.per_head(H), "sum", alpha.view(-1))``
        is one fused call for per-head attention weights ``alpha`` [E, H] and features ``x`` [N, H, C]. Cached.
        """
        if heads == 1:
            return self
        key = ("per_head", int(heads))
        if key not in self._derived:
            with torch.inference_mode(False), torch.no_grad():
                h = torch.arange(heads, device=self.device)
                ei = self.edge_index()
                rep = (ei.unsqueeze(2) * heads + h).reshape(2, -1)
                copies = CSR.from_edge_index(rep, (self.num_src * heads, self.num_dst * heads))
                p = copies.perm  # per-head edge e * H + h at each position
                position = self.inv_perm.index_select(0, p // heads) * heads + p % heads
                copies._derived["head_layout"] = HeadLayout(int(heads), self.col, self.row, position)
                self._derived[key] = copies
        return self._derived[key]

    def add_self_loops(self, num_loops: Optional[int] = None) -> SelfLooped:
        """The graph with every self-loop removed and one self-loop ``k -> k`` added for ``k < num_loops`` (default
        ``N``; for a bipartite graph ``min(N_src, N_dst)``, as PyG's GAT does), in PyG's ``remove_self_loops`` +
        ``add_self_loops`` edge order: kept edges in edge order, then the loops. Cached on this object.
        """
        k = min(self.num_src, self.num_dst) if num_loops is None else int(num_loops)
        if not 0 <= k <= min(self.num_src, self.num_dst):
            raise ValueError(f"num_loops must be in [0, {min(self.num_src, self.num_dst)}], got {num_loops}")
        key = ("self_loops", k)
        if key not in self._derived:
            with torch.inference_mode(False):
                self._derived[key] = self._add_self_loops(k)
        return self._derived[key]

    def _add_self_loops(self, k: int) -> SelfLooped:
        ei = self.edge_index()
        keep = ei[0] != ei[1]
        kept_ids = torch.nonzero(keep).flatten()
        loops = torch.arange(k, device=ei.device)
        new_ei = torch.cat([ei[:, kept_ids], torch.stack([loops, loops])], 1)
        out = CSR.from_edge_index(new_ei, (self.num_src, self.num_dst))
        source = torch.cat([kept_ids, torch.full((k,), -1, dtype=torch.long, device=ei.device)])
        return SelfLooped(out, source, torch.nonzero(~keep).flatten())

    @torch.inference_mode(False)  # cached in _derived: see `of`
    def with_self_loops(self) -> "CSR":
        """``add_self_loops().csr`` for a square graph: every self-loop replaced by one per node."""
        if self.num_src != self.num_dst:
            raise ValueError("with_self_loops needs a square graph (num_src == num_dst); use add_self_loops(k)")
        return self.add_self_loops().csr


def _cached_entry(key: tuple, edge_index: Tensor, csr: CSR) -> _edge_cache.Entry:
    """The cache entry of a freshly built ``csr``. The copy of ``edge_index`` kept for the check also serves as the
    CSR's :meth:`CSR.edge_index` when it is int64 (the same values in the same order), so it costs no memory then."""
    edges = _edge_cache.snapshot(edge_index)
    if edges.dtype == torch.long:
        csr._derived.setdefault("edge_index", edges)
    return _edge_cache.Entry(key, edges, csr)


def _ptr_from_counts(index: Tensor, n: int) -> Tensor:
    """Offsets ``[n + 1]`` of the rows of a CSR whose entries have row ids ``index`` (in any order)."""
    ptr = torch.zeros(n + 1, dtype=torch.long, device=index.device)
    if torch.compiler.is_compiling():  # bincount's length depends on the data: compiled code cannot size it
        return ptr.index_add_(0, index + 1, torch.ones_like(index)).cumsum(0)
    if index.numel() > 0:
        torch.cumsum(torch.bincount(index, minlength=n), 0, out=ptr[1:])
    return ptr


def _validated(edge_index: Tensor, num_nodes: Any) -> Tuple[Tensor, int, int]:
    """``(edge_index as int64, num_src, num_dst)``; ValueError for a malformed ``edge_index``, ``num_nodes`` or
    out-of-range node ids."""
    _check_edge_index(edge_index)
    edge_index = edge_index.long()
    num_edges = edge_index.size(1)
    if num_nodes is None:
        n = int(edge_index.max()) + 1 if num_edges > 0 else 0
        num_src = num_dst = n
    elif isinstance(num_nodes, (tuple, list)):
        if len(num_nodes) != 2:
            raise ValueError(f"num_nodes must be an int or a pair (num_src, num_dst), got {num_nodes!r}")
        num_src, num_dst = int(num_nodes[0]), int(num_nodes[1])
    else:
        num_src = num_dst = int(num_nodes)
    if num_src < 0 or num_dst < 0:
        raise ValueError(f"num_nodes must be non-negative, got {num_nodes!r}")
    if num_edges > 0 and not torch.compiler.is_compiling():  # compiled: no synchronisation (as segment)
        lo, hi = edge_index.aminmax(dim=1)  # one pass and one synchronisation for all four bounds
        (src_lo, dst_lo), (src_hi, dst_hi) = lo.tolist(), hi.tolist()
        if src_lo < 0 or dst_lo < 0:
            raise ValueError("edge_index contains negative node ids")
        if src_hi >= num_src or dst_hi >= num_dst:
            raise ValueError(
                f"edge_index refers to node {max(src_hi, dst_hi)} but num_nodes is {num_nodes!r} "
                f"(sources < {num_src}, destinations < {num_dst} required)"
            )
    return edge_index, num_src, num_dst


def _destination_order(dst: Tensor, num_dst: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(perm, row, rowptr, inv_perm)`` of the destination-major order: edges stably sorted by destination."""
    perm = torch.argsort(dst, stable=True)
    inv_perm = torch.empty_like(perm).index_copy_(0, perm, torch.arange(perm.numel(), device=perm.device))
    return perm, dst.index_select(0, perm), _ptr_from_counts(dst, num_dst), inv_perm
