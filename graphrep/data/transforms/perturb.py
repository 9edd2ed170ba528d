"""D-SLA perturbation generator, vectorised over a batch of graphs (Kim et al., NeurIPS 2022).

For each graph ``g`` of a batch, with ``K = num_candidates``:

* pick a centre atom uniformly and take its ``num_hops``-hop subgraph ``S_g`` (nodes reachable in at most 3 bonds;
  a bond is in the subgraph when both its ends are), with ``E_sub`` bonds;
* candidate 0 is the original graph;
* candidate ``i = 1..K-1`` deletes ``d_i = max(1, int(edge_ratio * i * E_sub))`` subgraph bonds (0 when ``E_sub = 0``)
  and adds ``a_i = min(d_i, #non-bonded pairs of S_g)`` new bonds between atoms of ``S_g`` that are not bonded in the
  original graph, each new bond's (type, direction) drawn from an empirical distribution (:class:`BondDistribution`);
* every candidate, the original included, masks ``int(mask_ratio * |S_g|)`` atoms of ``S_g``;
* optionally a last, *strong* candidate does the same on the whole graph: ``int(strong_mask_ratio * n)`` atoms masked,
  ``max(1, int(strong_edge_ratio * E))`` bonds deleted and as many added anywhere in the graph.

Edit distance ``e_i = d_i + a_i`` counts **bonds** (undirected edges), not directed edges: deleting one bond removes
two entries of ``edge_index`` but is one edit. (The public D-SLA code perturbs and counts directed edges. Counting
directed edges doubles every ``e_i``, halves every ``r_i = ||h_i - h_0|| / e_i`` and so scales the edit term of the
loss by 1/4: pass ``2 * edit_distance`` to the loss for that convention.) It is exact: candidate ``i``'s bond set
differs from the original's in exactly ``e_i`` bonds, because deleted bonds are chosen among existing bonds and added
ones among pairs that were not bonded in the *original* graph (so a deleted bond is never added back). When a subgraph
has fewer free pairs than ``d_i``, fewer bonds are added and the true ``e_i`` is reported. Masking changes atom
attributes only and is not counted.

Generic graphs (no ``edge_attr``): edges are untyped and, by default, the perturbation acts on the whole graph
(``whole_graph=True``): ``S_g`` is every node of ``g`` and ``E_sub`` every edge.

All sampling uses one ``torch.Generator``, so a seed reproduces the candidates exactly. The work is a fixed number of
tensor operations on the whole batch (a BFS of ``num_hops`` sparse steps, segment-wise sampling by sorting random
permutations, enumeration of candidate pairs of subgraph atoms), never a Python loop over molecules. Pair
enumeration costs ``sum_g |S_g|^2 / 2`` memory (whole graphs: ``sum_g n_g^2 / 2``), which is small for molecules and
for the TU graphs D-SLA uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from graphrep.data.errors import InvalidInputError
from graphrep.data.transforms.batch_build import build_batch
from graphrep.data.transforms.masking import apply_node_mask, mask_nodes_per_graph, mask_value_for
from graphrep.data.transforms.segments import (
    bonds_to_directed,
    exclusive_cumsum,
    floor_ratio,
    sample_within_segments,
    undirected_bonds,
    uniform,
)


@dataclass(frozen=True)
class BondDistribution:
    """Empirical distribution of bond attributes, used to type the bonds that perturbation adds.

    Attributes:
        attrs: [K, F] LongTensor, the distinct attribute rows seen (molecules: (bond type, bond direction)).
        probs: [K] float tensor summing to 1.
    """

    attrs: Tensor
    probs: Tensor

    def __post_init__(self) -> None:
        if self.attrs.dim() != 2 or self.probs.dim() != 1 or self.attrs.size(0) != self.probs.size(0):
            raise InvalidInputError(
                f"BondDistribution needs attrs [K, F] and probs [K], got {tuple(self.attrs.shape)} "
                f"and {tuple(self.probs.shape)}"
            )
        if self.attrs.size(0) == 0 or not bool((self.probs >= 0).all()) or float(self.probs.sum()) <= 0:
            raise InvalidInputError("BondDistribution needs at least one attribute row with positive probability")

    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | None = None) -> Tensor:
        """``n`` attribute rows drawn i.i.d. Shapes: -> [n, F]."""
        device = device if device is not None else self.attrs.device
        if n == 0:
            return self.attrs.new_zeros((0, self.attrs.size(1))).to(device)
        gen_device = generator.device if generator is not None else torch.device("cpu")
        idx = torch.multinomial(self.probs.double().to(gen_device), n, replacement=True, generator=generator)
        return self.attrs.to(device)[idx.to(device)]


def bond_distribution(graphs: Data | Batch | Iterable[Data] | Tensor) -> BondDistribution:
    """Estimate :class:`BondDistribution` from data: frequencies of each distinct ``edge_attr`` row over bonds.

    Accepts a ``Data``/``Batch``, an iterable of ``Data`` (e.g. a dataset), or an ``edge_attr`` tensor directly.
    Each bond is counted once (its ``u < v`` direction) when ``edge_index`` is available; a bare tensor is counted
    row by row, which gives the same frequencies for the usual both-directions storage.
    """
    if isinstance(graphs, Tensor):
        rows = [graphs]
    elif isinstance(graphs, Data):  # Batch is a Data
        rows = [_bond_rows(graphs)]
    else:
        rows = [_bond_rows(d) for d in graphs]
    rows = [r for r in rows if r.numel()]
    if not rows:
        raise InvalidInputError("bond_distribution found no bonds with edge_attr to estimate from")
    attrs, counts = torch.unique(torch.cat(rows).long(), dim=0, return_counts=True)
    return BondDistribution(attrs=attrs, probs=counts.double() / counts.sum())


def _bond_rows(data: Data) -> Tensor:
    if data.edge_attr is None:
        raise InvalidInputError("bond_distribution needs graphs with edge_attr (typed bonds)")
    keep = data.edge_index[0] < data.edge_index[1]
    return data.edge_attr[keep]


@dataclass(frozen=True)
class PerturbationConfig:
    """Knobs of :func:`dsla_perturb` (defaults: the D-SLA paper's molecule setting)."""

    num_candidates: int = 4
    edge_ratio: float = 0.2
    mask_ratio: float = 0.8
    num_hops: int = 3
    strong: bool = False
    strong_edge_ratio: float = 0.8
    strong_mask_ratio: float = 0.8
    whole_graph: bool | None = None  # None: subgraph for typed (molecule) graphs, whole graph for untyped ones

    def __post_init__(self) -> None:
        if self.num_candidates < 1:
            raise InvalidInputError(f"num_candidates must be >= 1 (the original), got {self.num_candidates}")
        if self.num_hops < 0:
            raise InvalidInputError(f"num_hops must be >= 0, got {self.num_hops}")
        for name in ("edge_ratio", "mask_ratio", "strong_edge_ratio", "strong_mask_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidInputError(f"{name} must be in [0, 1], got {value}")

    @property
    def total_candidates(self) -> int:
        """Candidates per graph in the output: ``num_candidates`` (+1 with the strong candidate)."""
        return self.num_candidates + int(self.strong)


def _check_batch(batch: Batch) -> None:
    if not isinstance(batch, Batch):
        raise TypeError(f"dsla_perturb expects a torch_geometric Batch, got {type(batch).__name__}")
    if batch.num_graphs == 0 or batch.x is None or batch.x.size(0) == 0:
        raise InvalidInputError("dsla_perturb got an empty batch (no graphs or no nodes)")
    n = torch.bincount(batch.batch, minlength=batch.num_graphs)
    if bool((n == 0).any()):
        empty = (n == 0).nonzero().view(-1)[:5].tolist()
        raise InvalidInputError(f"graphs {empty} of the batch have no nodes; remove them before perturbing")


def dsla_perturb(
    batch: Batch,
    config: PerturbationConfig = PerturbationConfig(),
    *,
    bond_dist: BondDistribution | None = None,
    mask_token: int | Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    centers: Tensor | None = None,
) -> Batch:
    """All D-SLA candidates of every graph of ``batch``, as one ``Batch``.

    Args:
        batch: graphs to perturb. Molecules: ``x`` [N, 2] long, ``edge_attr`` [E, 2] long; generic: no ``edge_attr``.
        config: see :class:`PerturbationConfig`.
        bond_dist: distribution of new bonds' attributes; required when ``edge_attr`` is present.
        mask_token: value written over masked nodes (default ``(119, 0)`` for molecule features; float features are
            zeroed; other integer features need it).
        generator: random source; the same seed gives the same candidates.
        centers: optional [B] batch-global node index of each graph's centre atom (default: uniform random).

    Returns:
        A ``Batch`` of ``B * C`` graphs (``C = config.total_candidates``), ordered graph-major (graph ``g``'s
        candidate ``c`` is graph ``g * C + c``, so per-graph tensors reshape with ``.view(B, C)``), with per-candidate
        ``graph_id``, ``candidate_id``, ``edit_distance`` (bonds), ``num_deleted``, ``num_added`` ([B * C] each).
        Edges of each candidate: the kept bonds in their original order, then the added bonds, each bond as two
        consecutive directed edges.
    """
    _check_batch(batch)
    cfg = config
    device = batch.x.device
    typed = batch.edge_attr is not None
    if typed and bond_dist is None:
        raise InvalidInputError("graphs with edge_attr need bond_dist (see bond_distribution()) to type the added bonds")
    whole = (not typed) if cfg.whole_graph is None else cfg.whole_graph
    mask_value_for(batch.x, mask_token)  # fail early on an unusable mask token

    num_graphs = batch.num_graphs
    num_nodes = batch.x.size(0)
    C = cfg.total_candidates
    G = num_graphs * C
    node_graph = batch.batch
    n_per = torch.bincount(node_graph, minlength=num_graphs)
    ptr = exclusive_cumsum(n_per)

    # ---- bonds of the original batch (one representative per undirected bond)
    bond_e = undirected_bonds(batch.edge_index, num_nodes)
    b_src, b_dst = batch.edge_index[:, bond_e]
    b_attr = batch.edge_attr[bond_e] if typed else None
    b_graph = node_graph[b_src]

    # ---- the perturbation pool of each graph: centre's k-hop subgraph, or the whole graph
    if whole:
        in_sub = torch.ones(num_nodes, dtype=torch.bool, device=device)
    else:
        if centers is None:
            centers = ptr[:-1] + torch.floor(uniform(num_graphs, generator, device) * n_per).long()
        elif centers.numel() != num_graphs or bool(((centers < ptr[:-1]) | (centers >= ptr[1:])).any()):
            raise InvalidInputError("centers must hold one node index per graph, inside that graph")
        in_sub = torch.zeros(num_nodes, dtype=torch.bool, device=device)
        in_sub[centers] = True
        src, dst = batch.edge_index
        for _ in range(cfg.num_hops):
            reached = in_sub.clone()
            reached[dst[in_sub[src]]] = True
            in_sub = reached

    # ---- expanded graphs: graph g's candidate c is eg = g * C + c
    cand = torch.arange(C, device=device)
    n_e = n_per.repeat_interleave(C)
    ptr_e = exclusive_cumsum(n_e)
    eg_of_node = torch.arange(G, device=device).repeat_interleave(n_e)
    orig_of_node = ptr[eg_of_node // C] + (torch.arange(eg_of_node.numel(), device=device) - ptr_e[eg_of_node])
    cand_of_node = eg_of_node % C
    is_strong = torch.zeros(C, dtype=torch.bool, device=device)
    if cfg.strong:
        is_strong[-1] = True
    pool = in_sub[orig_of_node] | is_strong[cand_of_node]

    # replicate bonds per candidate, grouped by expanded graph
    rep_bond = torch.arange(b_src.numel(), device=device).repeat(C)
    rep_cand = cand.repeat_interleave(b_src.numel())
    rep_eg = b_graph[rep_bond] * C + rep_cand
    order = torch.sort(rep_eg, stable=True).indices
    rep_bond, rep_eg = rep_bond[order], rep_eg[order]
    shift = ptr_e[rep_eg] - ptr[rep_eg // C]  # original node index -> expanded node index
    rep_src, rep_dst = b_src[rep_bond] + shift, b_dst[rep_bond] + shift
    rep_in_pool = pool[rep_src] & pool[rep_dst]

    # ---- how many bonds each candidate deletes
    pool_bonds = torch.bincount(rep_eg[rep_in_pool], minlength=G)
    cand_e = cand.repeat(num_graphs)
    step = torch.where(cand_e > 0, cfg.edge_ratio * cand_e.double(), torch.zeros_like(cand_e, dtype=torch.float64))
    want = torch.floor(step * pool_bonds.double()).long()
    if cfg.strong:
        strong_e = cand_e == C - 1
        want = torch.where(strong_e, floor_ratio(cfg.strong_edge_ratio, pool_bonds), want)
    want = torch.where(cand_e > 0, want.clamp(min=1), want)
    n_delete = torch.minimum(want, pool_bonds)

    pool_bond_idx = rep_in_pool.nonzero().view(-1)
    deleted = torch.zeros_like(rep_in_pool)
    deleted[pool_bond_idx] = sample_within_segments(rep_eg[pool_bond_idx], n_delete, generator)
    kept = ~deleted

    # ---- new bonds: pairs of pool nodes not bonded in the original graph
    add_src, add_dst, add_eg, n_added = _sample_new_bonds(
        pool, eg_of_node, orig_of_node, n_delete, b_src, b_dst, num_nodes, G, generator
    )

    # ---- node masking
    pool_size = torch.bincount(eg_of_node[pool], minlength=G)
    ratio = torch.full((G,), cfg.mask_ratio, dtype=torch.float64, device=device)
    if cfg.strong:
        ratio[cand_e == C - 1] = cfg.strong_mask_ratio
    n_mask = torch.floor(ratio * pool_size.double()).long()
    masked = mask_nodes_per_graph(eg_of_node, pool, n_mask, generator)
    x = apply_node_mask(batch.x[orig_of_node], masked, mask_token)

    # ---- assemble: kept bonds then added bonds of each candidate, both directions
    all_src = torch.cat([rep_src[kept], add_src])
    all_dst = torch.cat([rep_dst[kept], add_dst])
    all_eg = torch.cat([rep_eg[kept], add_eg])
    all_attr = None
    if typed:
        new_attr = bond_dist.sample(add_src.numel(), generator, device).to(b_attr.dtype)
        all_attr = torch.cat([b_attr[rep_bond[kept]], new_attr])
    order = torch.sort(all_eg, stable=True).indices
    edge_index, edge_attr = bonds_to_directed(
        all_src[order], all_dst[order], all_attr[order] if all_attr is not None else None
    )
    return build_batch(
        x=x,
        edge_index=edge_index,
        edge_attr=edge_attr,
        node_graph=eg_of_node,
        edge_graph=all_eg[order].repeat_interleave(2),
        num_graphs=G,
        graph_attrs={
            "graph_id": torch.arange(num_graphs, device=device).repeat_interleave(C),
            "candidate_id": cand_e,
            "edit_distance": n_delete + n_added,
            "num_deleted": n_delete,
            "num_added": n_added,
        },
    )


def _sample_new_bonds(
    pool: Tensor,
    eg_of_node: Tensor,
    orig_of_node: Tensor,
    n_want: Tensor,
    b_src: Tensor,
    b_dst: Tensor,
    num_orig_nodes: int,
    num_eg: int,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """For each expanded graph, ``min(n_want, #free pairs)`` uniformly chosen unordered pairs ``u < v`` of pool nodes
    that are not bonded in the original graph.

    Enumerates, for expanded graphs with ``n_want > 0`` only, the ``s (s - 1) / 2`` local pairs ``a < b`` (``s`` =
    pool size) by decoding a flat index (:func:`upper_pair`), drops original bonds (binary search of ``u * N + v``
    keys in the sorted bond keys), then samples per graph.

    Returns expanded-node ``src`` [A], ``dst`` [A] (src < dst), expanded graph [A], and the count per graph [num_eg].
    """
    device = pool.device
    active = n_want > 0
    sel = pool & active[eg_of_node]
    nodes = sel.nonzero().view(-1)  # grouped by expanded graph, ascending
    seg = eg_of_node[nodes]
    s = torch.bincount(seg, minlength=num_eg)
    s_ptr = exclusive_cumsum(s)
    n_pairs = s * (s - 1) // 2
    t_eg = torch.arange(num_eg, device=device).repeat_interleave(n_pairs)
    k = torch.arange(t_eg.numel(), device=device) - exclusive_cumsum(n_pairs)[t_eg]
    a, b = upper_pair(k, s[t_eg])
    u = nodes[s_ptr[t_eg] + a]
    v = nodes[s_ptr[t_eg] + b]
    bond_keys = torch.sort(b_src * num_orig_nodes + b_dst).values  # b_src < b_dst
    pair_keys = orig_of_node[u] * num_orig_nodes + orig_of_node[v]
    pos = torch.searchsorted(bond_keys, pair_keys).clamp(max=max(bond_keys.numel() - 1, 0))
    bonded = bond_keys[pos] == pair_keys if bond_keys.numel() else torch.zeros_like(pair_keys, dtype=torch.bool)
    free = ~bonded
    u, v, t_eg = u[free], v[free], t_eg[free]
    n_free = torch.bincount(t_eg, minlength=num_eg)
    n_add = torch.minimum(n_want, n_free)
    chosen = sample_within_segments(t_eg, n_add, generator)
    return u[chosen], v[chosen], t_eg[chosen], n_add


def upper_pair(k: Tensor, n: Tensor) -> tuple[Tensor, Tensor]:
    """The ``k``-th pair ``(a, b)``, ``0 <= a < b < n``, of the row-major strict upper triangle of an ``n x n`` matrix.

    Closed form ``a = n - 2 - floor(sqrt(4 n (n - 1) - 8 k - 7) / 2 - 1/2)``, ``b = k + a + 1 - n (n - 1) / 2 +
    (n - a)(n - a - 1) / 2`` (float64 square root: exact for ``n`` far beyond molecule or TU-graph sizes; checked
    against ``torch.triu_indices`` in the tests).

    Shapes:
        k, n: [P] -> a, b: [P]
    """
    kf, nf = k.double(), n.double()
    a = n - 2 - torch.floor(torch.sqrt(4 * nf * (nf - 1) - 8 * kf - 7) / 2 - 0.5).long()
    b = k + a + 1 - n * (n - 1) // 2 + (n - a) * (n - a - 1) // 2
    return a, b


class DSLAPerturbation:
    """Callable holding a :class:`PerturbationConfig`, a bond distribution and a seeded generator.

    ``DSLAPerturbation(bond_dist, seed=0)(batch)`` == ``dsla_perturb(batch, config, bond_dist=..., generator=...)``
    with a generator that advances across calls (one stream per instance).
    """

    def __init__(
        self,
        bond_dist: BondDistribution | None = None,
        config: PerturbationConfig = PerturbationConfig(),
        *,
        mask_token: int | Sequence[int] | None = None,
        seed: int | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.bond_dist = bond_dist
        self.config = config
        self.mask_token = mask_token
        self.generator = torch.Generator(device=device)
        if seed is not None:
            self.generator.manual_seed(seed)
        else:
            self.generator.seed()

    def __call__(self, batch: Batch) -> Batch:
        return dsla_perturb(
            batch, self.config, bond_dist=self.bond_dist, mask_token=self.mask_token, generator=self.generator
        )
