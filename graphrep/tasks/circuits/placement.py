r"""A placement-free wire-length estimate per net: a spectral embedding of the instance hypergraph as a stand-in
placement, and each net's half-perimeter wire length (HPWL) in it.

A net's capacitance is mostly wire, and the wire's length follows from where its pins sit; these designs have a
netlist and no placement. The field's classic answer without a placer: place the instances by the low eigenvectors
of the netlist's Laplacian (Hall's quadratic placement, whose unconstrained minimiser of
:math:`\sum_{uv} A_{uv} \lVert p_u - p_v \rVert^2` they are), spread them over a die, and measure each net there.

Embedding (:func:`spectral_coordinates`), from the binary net x instance incidence :math:`H` [M, I]: the nets with
:math:`k_e \ge 2` instances, clique model with net weights :math:`w_e = 1 / (k_e - 1)`, give the instance adjacency
:math:`A = H^T \operatorname{diag}(w) H - \operatorname{diag}(H^T w)` (never formed: applied as an operator, so a
net of a thousand instances costs a thousand entries) with degrees :math:`d_v = \sum_{e \ni v} w_e (k_e - 1)`, the
nets of at least two instances on ``v``. Per connected component ``c`` of :math:`A` (the component's own graph: a
disconnected design gets one embedding per piece, never the indicator vectors of its pieces): the eigenvectors
:math:`v_2, v_3` of the normalised adjacency :math:`D^{-1/2} A D^{-1/2}` with the 2nd and 3rd largest eigenvalues
(the 2nd and 3rd smallest of the normalised Laplacian), as :math:`y = D^{-1/2} v` (dense ``eigh`` up to
``dense_max`` instances, else Lanczos ``eigsh`` from a seeded start vector). Spectral coordinates bunch most cells
near 0; a placer spreads them over the die, and so does this, per axis by rank:
:math:`u = (\operatorname{rank}(y) - 1/2) / n_c \in (0, 1)` (average ranks for ties, ``y`` rounded to 9 digits of
its largest entry), which is also blind to the eigenvectors' signs. A component of one instance sits at
(1/2, 1/2); one of two has one axis (the other at 1/2).
Top-level ports (I/O pads) are not placed: a placer puts them on the die's edge, so a net with a port pin gets the
distance from its bounding box to the nearest edge added to its HPWL (a pad at the nearest edge point).

Scale (:func:`placement_columns`): component ``c`` fills a square of side :math:`s_c = \sqrt{A_c}`, :math:`A_c` its
instances' total cell area in µm² (library area where known, the design's median known area otherwise; 1 µm² per
instance if none is known), and :math:`s'_c = \sqrt{n_c}` in cell pitches, so that a net of one design compares
with one of another (a larger design has a larger die and longer wires, Rent's rule).

Columns (:data:`PLACEMENT_FEATURES`, per net, in the order of ``net_index``; :math:`[x_0, x_1] \times [y_0, y_1]`
the bounding box of the net's instances in unit coordinates, :math:`h = (x_1 - x_0) + (y_1 - y_0) + b`, ``b`` the
port's distance :math:`\min(x_0, y_0, 1 - x_1, 1 - y_1)` or 0; a net of no instance has :math:`h = 0`):

- ``place_hpwl_frac``: :math:`h / 2`, the HPWL as a share of the component's half-perimeter;
- ``log_place_hpwl_um``: :math:`\log(1 + s_c h)`; ``log_place_hpwl_cells``: :math:`\log(1 + s'_c h)`;
- ``log_place_bbox_um2``: :math:`\log(1 + s_c^2 (x_1 - x_0)(y_1 - y_0))`;
- ``log_place_steiner_um``: :math:`\log(1 + q(p)\, s_c h)`, ``p`` the net's pin points (instances, plus one for a
  port), ``q`` the fanout correction of a rectilinear Steiner tree over HPWL (:func:`steiner_factor`; Cheng,
  "RISA", ICCAD 1994: 1 up to 3 points, 1.45 at 10, 2.79 at 50, then + 0.0262 per point);
- ``log_place_star_um``: :math:`\log(1 + s_c \sum_i |x_i - \bar x| + |y_i - \bar y|)` over the net's instances, the
  star model's length.

A second stand-in placement, :func:`bisection_coordinates` (``method="bisection"``): recursive spectral min-cut
bisection down to single instances, which spreads cells by construction and keeps local clusters together below
the two coarsest modes; the same columns are then measured with the whole design as one square.

Deterministic for a given ``seed`` (the Lanczos start vector), invariant to the order of the instances up to the
eigen solver's rounding (the bisection's median cuts may break ties differently). What they buy the GBM, leave one
design out: the ``-place`` and ``-bisect`` trials of ``benchmarks/circuit_transfer_trials.py``
(``benchmarks/results/circuit_transfer_trials_placement.md``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import LinearOperator, eigsh
from scipy.stats import rankdata

from graphrep.data.circuits.graph import INSTANCE_FEATURES

from .training import CircuitInputs

PLACEMENT_FEATURES = ["place_hpwl_frac", "log_place_hpwl_um", "log_place_hpwl_cells", "log_place_bbox_um2",
                      "log_place_steiner_um", "log_place_star_um"]
#: (pin points, q): Cheng's RISA table of the expected rectilinear Steiner length over HPWL
_RISA = np.array([[1, 1.0], [3, 1.0], [4, 1.0828], [5, 1.1536], [6, 1.2206], [7, 1.2823], [8, 1.3385],
                  [9, 1.3991], [10, 1.4493], [15, 1.6899], [20, 1.8924], [25, 2.0743], [30, 2.2334], [35, 2.3895],
                  [40, 2.5356], [45, 2.6625], [50, 2.7933]])


def steiner_factor(points: np.ndarray) -> np.ndarray:
    """q(p) for pin counts ``points`` [M]: Cheng's table (:data:`_RISA`), linear between its entries, and
    :math:`2.7933 + 0.02616 (p - 50)` above 50."""
    p = np.asarray(points, dtype=np.float64)
    q = np.interp(p, _RISA[:, 0], _RISA[:, 1])
    return np.where(p > 50, 2.7933 + 0.02616 * (p - 50), q)


def _component_embedding(h: sp.csr_matrix, w: np.ndarray, seed: int, dense_max: int) -> np.ndarray:
    """[n, 2] spectral coordinates :math:`D^{-1/2} v_{2,3}` of one connected component (module docstring); ``h``
    [E, n] binary incidence of its nets of at least two instances, ``w`` [E] their weights."""
    n = h.shape[1]
    ht = h.T.tocsr()
    self_w = ht @ w  # sum_{e ∋ v} w_e, the clique's diagonal
    deg = ht @ (w * np.asarray(h.sum(1)).ravel()) - self_w
    inv = 1.0 / np.sqrt(deg)
    if n <= dense_max:
        a = (ht @ sp.diags(w) @ h).toarray()
        np.fill_diagonal(a, 0.0)
        vals, vecs = np.linalg.eigh(inv[:, None] * a * inv[None, :])
        vecs = vecs[:, ::-1]  # largest first
    else:
        def matvec(x):
            x = np.asarray(x).ravel()
            z = inv * x
            return inv * (ht @ (w * (h @ z)) - self_w * z)
        op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
        v0 = np.random.default_rng(seed).standard_normal(n)
        # shift by 1 (eigenvalues of the normalised adjacency lie in [-1, 1]): the wanted end is the largest
        shifted = LinearOperator((n, n), matvec=lambda x: matvec(x) + np.asarray(x).ravel(), dtype=np.float64)
        vals, vecs = eigsh(shifted, k=3, which="LA", v0=v0, tol=1e-6, ncv=min(n, 40))
        vecs = vecs[:, np.argsort(-vals)]
    y = inv[:, None] * vecs[:, 1:3]
    if y.shape[1] < 2:  # two instances: one non-trivial eigenvector
        y = np.concatenate([y, np.zeros((n, 2 - y.shape[1]))], 1)
    return y


def spectral_coordinates(net_inst: sp.csr_matrix, seed: int = 0, dense_max: int = 400
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(unit coordinates [I, 2] in (0, 1), component label [I]) of the instances of the binary net x instance
    incidence ``net_inst`` [M, I]: per connected component, the rank-spread spectral embedding of the module
    docstring (dense eigensolver up to ``dense_max`` instances; ``seed`` the Lanczos start vector's)."""
    h = sp.csr_matrix(net_inst, dtype=np.float64)
    h.sum_duplicates()
    h.data[:] = 1.0
    h, w = _net_weights(h)
    n_inst = h.shape[1]
    label = _components(h)
    coords = np.full((n_inst, 2), 0.5)
    net_label = label[h.indices[h.indptr[:-1]]] if h.shape[0] else np.zeros(0, dtype=int)
    order = np.argsort(net_label, kind="stable")
    bounds = np.searchsorted(net_label[order], np.arange(label.max() + 2 if n_inst else 1))
    by_label = np.argsort(label, kind="stable")
    starts = np.searchsorted(label[by_label], np.arange(label.max() + 2 if n_inst else 1))
    for c in range(label.max() + 1 if n_inst else 0):
        members = by_label[starts[c]:starts[c + 1]]
        if members.size < 2:
            continue
        nets = order[bounds[c]:bounds[c + 1]]
        sub = h[nets][:, members]
        y = _component_embedding(sub, w[nets], seed, dense_max)
        for axis in range(2):
            top = np.abs(y[:, axis]).max()
            if top == 0 or np.ptp(y[:, axis]) <= 1e-9 * top:
                continue  # no information on this axis: all at 1/2
            # equal in exact arithmetic is equal here (9 digits of the largest entry), so symmetric cells tie
            coords[members, axis] = (rankdata(np.round(y[:, axis] / top, 9)) - 0.5) / members.size
    return coords, label


def _net_weights(h: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """(the rows of the binary incidence ``h`` [M, n] with at least two instances, their clique weights
    :math:`1 / (k_e - 1)`)."""
    k = np.asarray(h.sum(1)).ravel()
    return h[k >= 2], 1.0 / (k[k >= 2] - 1.0)


def _components(h: sp.csr_matrix) -> np.ndarray:
    """[n] connected-component label (0..C-1) of the instances of the incidence ``h`` [E, n]."""
    bip = sp.bmat([[None, h], [h.T, None]]).tocsr() if h.shape[0] else sp.csr_matrix((h.shape[1], h.shape[1]))
    _, label = connected_components(bip, directed=False)
    return np.unique(label[-h.shape[1]:], return_inverse=True)[1]


def bisection_coordinates(net_inst: sp.csr_matrix, seed: int = 0, dense_max: int = 200) -> np.ndarray:
    r"""[I, 2] coordinates in the unit square by recursive spectral bisection (min-cut placement, Breuer's scheme
    with a spectral cut): a region holding instances ``S`` is cut across its longer side into two parts whose areas
    are proportional to the two halves of ``S``; the halves are, when ``S``'s sub-netlist (nets restricted to ``S``,
    weights :math:`1 / (k_e^S - 1)` over their instances in ``S``) is disconnected, its components (largest first,
    each to the half with fewer instances so far), else the lower and upper half (by count) of its Fiedler vector
    :math:`D^{-1/2} v_2` (:func:`spectral_coordinates`' eigenvector, oriented so that its third central moment is
    >= 0). Recursion to single instances, each at its region's centre. No terminal propagation (a cut does not see
    the nets that leave the region). ``seed``, ``dense_max`` as in :func:`spectral_coordinates`."""
    h = sp.csr_matrix(net_inst, dtype=np.float64)
    h.sum_duplicates()
    h.data[:] = 1.0
    hc = h.tocsc()
    coords = np.zeros((h.shape[1], 2))
    stack = [(np.arange(h.shape[1]), (0.0, 1.0, 0.0, 1.0))]
    while stack:
        members, (x0, x1, y0, y1) = stack.pop()
        n = members.size
        if n == 1:
            coords[members[0]] = ((x0 + x1) / 2, (y0 + y1) / 2)
            continue
        sub, w = _net_weights(hc[:, members].tocsr())
        label = _components(sub)
        left = np.zeros(n, dtype=bool)
        if label.max() > 0:
            sizes = np.bincount(label)
            count = [0, 0]
            for c in np.argsort(-sizes, kind="stable"):
                side = 0 if count[0] <= count[1] else 1
                left[label == c] = side == 0
                count[side] += sizes[c]
        else:
            y = _component_embedding(sub, w, seed, dense_max)[:, 0]
            y = y - y.mean()
            top = np.abs(y).max()
            y = np.round(y / top, 9) if top > 0 else y
            if (y ** 3).sum() < 0:
                y = -y
            left[np.argsort(y, kind="stable")[:n // 2]] = True
        frac = left.sum() / n
        if x1 - x0 >= y1 - y0:
            cut = x0 + frac * (x1 - x0)
            stack += [(members[left], (x0, cut, y0, y1)), (members[~left], (cut, x1, y0, y1))]
        else:
            cut = y0 + frac * (y1 - y0)
            stack += [(members[left], (x0, x1, y0, cut)), (members[~left], (x0, x1, cut, y1))]
    return coords


def _row_reduce(m: sp.csr_matrix, values: np.ndarray, fn, empty: float) -> np.ndarray:
    """[rows] ``fn`` (a ufunc: minimum, maximum, add) over each row's columns of ``values``; ``empty`` where a row
    has none."""
    out = np.full(m.shape[0], empty, dtype=np.float64)
    full = np.diff(m.indptr) > 0
    if m.nnz:
        out[full] = fn.reduceat(values[m.indices], m.indptr[:-1][full])
    return out


def net_wire_columns(net_inst: sp.csr_matrix, coords: np.ndarray, port: np.ndarray, scale_um: np.ndarray,
                     scale_cells: np.ndarray) -> np.ndarray:
    """[M, len(PLACEMENT_FEATURES)] float64 (module docstring) for the nets of the binary incidence ``net_inst``
    [M, I] (duplicates counted once) with instance coordinates ``coords`` [I, 2] in the unit square, ``port`` [M]
    whether the net has a top-level port, and per instance its component's side in µm ``scale_um`` [I] and in cell
    pitches ``scale_cells`` [I]."""
    h = sp.csr_matrix(net_inst, dtype=np.float64)
    h.sum_duplicates()
    h.sort_indices()
    h.data[:] = 1.0
    count = np.diff(h.indptr)
    lo = np.stack([_row_reduce(h, coords[:, a], np.minimum, 0.0) for a in range(2)], 1)
    hi = np.stack([_row_reduce(h, coords[:, a], np.maximum, 0.0) for a in range(2)], 1)
    span = hi - lo
    edge = np.minimum(lo.min(1), (1.0 - hi).min(1))
    has_port = np.asarray(port, dtype=bool) & (count > 0)
    hpwl = span.sum(1) + np.where(has_port, edge, 0.0)
    mean = np.stack([_row_reduce(h, coords[:, a], np.add, 0.0) for a in range(2)], 1) / np.maximum(count, 1)[:, None]
    dev = np.abs(coords[h.indices] - np.repeat(mean, count, axis=0)).sum(1)
    star = np.zeros(h.shape[0])
    s_um, s_cells = np.zeros(h.shape[0]), np.zeros(h.shape[0])
    full = count > 0
    if h.nnz:
        star[full] = np.add.reduceat(dev, h.indptr[:-1][full])
        first = h.indices[h.indptr[:-1][full]]  # every instance of a net is in one component
        s_um[full], s_cells[full] = scale_um[first], scale_cells[first]
    points = count + np.asarray(port, dtype=float)
    return np.stack([hpwl / 2.0, np.log1p(s_um * hpwl), np.log1p(s_cells * hpwl),
                     np.log1p(s_um ** 2 * span[:, 0] * span[:, 1]), np.log1p(steiner_factor(points) * s_um * hpwl),
                     np.log1p(s_um * star)], 1)


def component_scales(label: np.ndarray, area_um2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per instance, its component's side :math:`\\sqrt{A_c}` in µm and :math:`\\sqrt{n_c}` in cell pitches (module
    docstring), from the component labels [I] and the instance areas [I] (µm²)."""
    area = np.bincount(label, weights=area_um2) if label.size else np.zeros(0)
    n = np.bincount(label) if label.size else np.zeros(0)
    return np.sqrt(area[label]), np.sqrt(n[label].astype(np.float64))


def instance_areas(inst: np.ndarray) -> np.ndarray:
    """[I] cell area in µm² from the instance feature rows [I, len(INSTANCE_FEATURES)] (``log_area_um2`` =
    :math:`\\log(1 + \\text{area})` where ``has_area``), the median known area where unknown, 1 if none is known."""
    known = inst[:, INSTANCE_FEATURES.index("has_area")] > 0.5
    area = np.expm1(inst[:, INSTANCE_FEATURES.index("log_area_um2")])
    fill = float(np.median(area[known])) if known.any() else 1.0
    return np.where(known, area, fill)


def placement_columns(inputs: CircuitInputs, seed: int = 0, method: str = "spectral") -> np.ndarray:
    r"""[M, len(PLACEMENT_FEATURES)] float64 for the design's nets in the order of ``net_index`` (module docstring),
    from its graph and instance features only (no labels). ``method``: ``"spectral"`` (:func:`spectral_coordinates`,
    each component in its own square) or ``"bisection"`` (:func:`bisection_coordinates`, the whole design in one
    square: :math:`s = \sqrt{A}`, :math:`s' = \sqrt{I}` for every net)."""
    if method not in ("spectral", "bisection"):
        raise ValueError(f"method must be 'spectral' or 'bisection', got {method!r}")
    from graphrep.data.circuits.graph import PIN_FEATURES

    from .context import _incidence_blocks

    np_, pi, pins, inst = _incidence_blocks(inputs)
    net_inst = (np_ @ pi).tocsr()
    net_inst.data[:] = 1.0
    port = np.asarray(np_ @ (pins[:, 3 + len(INSTANCE_FEATURES) + PIN_FEATURES.index("is_port")] > 0.5)
                      .astype(float)).ravel() > 0
    if method == "spectral":
        coords, label = spectral_coordinates(net_inst, seed=seed)
    else:
        coords, label = bisection_coordinates(net_inst, seed=seed), np.zeros(net_inst.shape[1], dtype=np.int64)
    s_um, s_cells = component_scales(label, instance_areas(inst[:, 3:3 + len(INSTANCE_FEATURES)]))
    return net_wire_columns(net_inst, coords, port, s_um, s_cells)


def with_placement(inputs: CircuitInputs, seed: int = 0, method: str = "spectral") -> CircuitInputs:
    """``inputs`` with :data:`PLACEMENT_FEATURES` appended to ``net_x`` ([M, F] -> [M, F + 6]; ``method`` as in
    :func:`placement_columns`); the graph and ``x`` unchanged."""
    extra = torch.as_tensor(placement_columns(inputs, seed, method), dtype=inputs.net_x.dtype)
    return dataclasses.replace(inputs, net_x=torch.cat([inputs.net_x, extra], 1))
