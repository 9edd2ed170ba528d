"""Placement-free wire-length columns (:mod:`graphrep.tasks.circuits.placement`): the per-net estimates for given
coordinates and the spectral embedding of small netlists, against hand-computed values."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from test_circuit_context import _design  # tests/tasks/circuits is on sys.path (rootdir import)

from graphrep.data.circuits.graph import NET_FEATURES
from graphrep.tasks.circuits.placement import (PLACEMENT_FEATURES, bisection_coordinates, component_scales,
                                               net_wire_columns, placement_columns, spectral_coordinates,
                                               steiner_factor, with_placement)


def _incidence(nets: list[list[int]], n_inst: int) -> sp.csr_matrix:
    rows = [r for r, net in enumerate(nets) for _ in net]
    cols = [c for net in nets for c in net]
    return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(nets), n_inst))


def test_net_wire_columns_by_hand():
    """I0 (0.1, 0.2), I1 (0.5, 0.9), I2 (0.7, 0.4), I3 (0.3, 0.3); component side 10 µm, 2 cell pitches.
    N0 {I0, I1, I2}: box 0.6 x 0.7, HPWL 1.3, star |x - 13/30| + |y - 1/2| summed = 2/3 + 0.8;
    N1 {I2, I3} + port: box [0.3, 0.7] x [0.3, 0.4], nearest edge 0.3 away: HPWL 0.4 + 0.1 + 0.3 = 0.8, 3 points;
    N2 {I0, I1, I2, I3} (I3 twice): box as N0, q(4) = 1.0828; N3 {I3}: HPWL 0; N4: no instance."""
    coords = np.array([[0.1, 0.2], [0.5, 0.9], [0.7, 0.4], [0.3, 0.3]])
    h = _incidence([[0, 1, 2], [2, 3], [0, 1, 2, 3, 3], [3], []], 4)
    port = np.array([False, True, False, False, True])
    got = net_wire_columns(h, coords, port, np.full(4, 10.0), np.full(4, 2.0))
    hpwl = np.array([1.3, 0.8, 1.3, 0.0, 0.0])
    star0 = 2 / 3 + 0.8
    star2 = abs(0.1 - 0.4) + 0.1 + 0.3 + 0.1 + abs(0.2 - 0.45) + 0.45 + 0.05 + 0.15
    want = {"place_hpwl_frac": hpwl / 2, "log_place_hpwl_um": np.log1p(10 * hpwl),
            "log_place_hpwl_cells": np.log1p(2 * hpwl),
            "log_place_bbox_um2": np.log1p(100 * np.array([0.42, 0.04, 0.42, 0.0, 0.0])),
            "log_place_steiner_um": np.log1p(10 * hpwl * np.array([1.0, 1.0, 1.0828, 1.0, 1.0])),
            "log_place_star_um": np.log1p(10 * np.array([star0, 0.4 + 0.1, star2, 0.0, 0.0]))}
    assert set(want) == set(PLACEMENT_FEATURES)
    for k, f in enumerate(PLACEMENT_FEATURES):
        assert got[:, k] == pytest.approx(want[f]), f


def test_steiner_factor_table_and_tail():
    assert steiner_factor(np.array([1, 2, 3, 4, 10, 50, 60])) == pytest.approx(
        [1.0, 1.0, 1.0, 1.0828, 1.4493, 2.7933, 2.7933 + 0.2616])
    assert steiner_factor(np.array([12.5]))[0] == pytest.approx((1.4493 + 1.6899) / 2)


def test_chain_is_placed_in_order():
    """A chain of 2-pin nets: the Fiedler vector is monotone along it, so the x ranks are the chain order (or its
    reverse) and every net spans 1/n in x; the dense and Lanczos solvers agree on that."""
    n = 9
    h = _incidence([[i, i + 1] for i in range(n - 1)], n)
    for dense_max in (400, 0):
        coords, label = spectral_coordinates(h, dense_max=dense_max)
        x = coords[:, 0]
        want = (np.arange(n) + 0.5) / n
        assert x == pytest.approx(want) or x == pytest.approx(want[::-1]), dense_max
        assert (label == 0).all()


def _random_netlist(rng, n_inst: int, n_nets: int) -> list[list[int]]:
    """A connected random netlist: a chain through all instances, then nets of 2-5 random instances."""
    nets = [[i, i + 1] for i in range(n_inst - 1)]
    return nets + [list(rng.choice(n_inst, size=rng.integers(2, 6), replace=False)) for _ in range(n_nets)]


@pytest.mark.parametrize("dense_max", [400, 0])
def test_invariant_to_instance_order(dense_max):
    """Renumbering the instances moves their coordinates with them, and each net's columns stay (to rounding)."""
    rng = np.random.default_rng(3)
    n = 60
    nets = _random_netlist(rng, n, 40)
    perm = rng.permutation(n)  # new id of instance i
    h, hp = _incidence(nets, n), _incidence([[int(perm[i]) for i in net] for net in nets], n)
    c, _ = spectral_coordinates(h, dense_max=dense_max)
    cp, _ = spectral_coordinates(hp, dense_max=dense_max)
    for axis in range(2):  # up to the eigenvector's sign: ranks reversed
        same, flipped = cp[perm, axis], 1.0 - cp[perm, axis]
        assert c[:, axis] == pytest.approx(same) or c[:, axis] == pytest.approx(flipped)
    port = rng.random(len(nets)) < 0.2
    ones = np.ones(n)
    assert net_wire_columns(h, c, port, ones, ones) == pytest.approx(net_wire_columns(hp, cp, port, ones, ones))


def test_deterministic_for_a_seed():
    rng = np.random.default_rng(0)
    h = _incidence(_random_netlist(rng, 500, 300), 500)
    a, _ = spectral_coordinates(h, seed=1, dense_max=0)
    b, _ = spectral_coordinates(h, seed=1, dense_max=0)
    assert np.array_equal(a, b)


def test_disconnected_components_are_placed_apart():
    """Two copies of one netlist side by side and an isolated instance: each copy gets the coordinates it has alone
    (up to sign), the lone instance sits at (1/2, 1/2), and each copy's side comes from its own area."""
    rng = np.random.default_rng(1)
    n = 30
    nets = _random_netlist(rng, n, 20)
    h = _incidence(nets + [[i + n for i in net] for net in nets], 2 * n + 1)
    coords, label = spectral_coordinates(h)
    alone, _ = spectral_coordinates(_incidence(nets, n))
    assert len(set(label.tolist())) == 3 and len(set(label[:n])) == 1 and label[0] != label[n]
    for part in (coords[:n], coords[n:2 * n]):
        for axis in range(2):
            assert part[:, axis] == pytest.approx(alone[:, axis]) or part[:, axis] == pytest.approx(
                1.0 - alone[:, axis])
    assert coords[-1] == pytest.approx([0.5, 0.5])
    area = np.r_[np.full(n, 1.0), np.full(n, 4.0), [9.0]]
    s_um, s_cells = component_scales(label, area)
    assert s_um == pytest.approx(np.r_[np.full(n, math.sqrt(n)), np.full(n, math.sqrt(4 * n)), [3.0]])
    assert s_cells == pytest.approx(np.r_[np.full(2 * n, math.sqrt(n)), [1.0]])


def test_placement_columns_of_the_hand_design():
    """The three-net design of the context tests: instances I0, I1, I2 with log areas 1, 2, 3; nets N0 {I0, I1, I2}
    (weight 1/2), N1 {I1, I2} (weight 1), N2 {I0} and a port. Normalised adjacency eigenvalues 1, -1/4 (I1 = I2,
    I0 apart) and -3/4 (I1 = -I2, I0 = 0): x puts I0 at 1/6 (or 5/6) and I1, I2 tied at 2/3 (or 1/3); y puts I0 at
    1/2 and I1, I2 at 1/6 and 5/6. HPWL: N0 1/2 + 2/3, N1 2/3, N2 the distance from I0 to the nearest edge, 1/6;
    one component of side sqrt(e + e² + e³ - 3) µm, sqrt(3) pitches."""
    d = _design()
    got = placement_columns(d)
    hpwl = np.array([7 / 6, 2 / 3, 1 / 6])
    side = math.sqrt(math.e + math.e ** 2 + math.e ** 3 - 3)
    assert got[:, PLACEMENT_FEATURES.index("place_hpwl_frac")] == pytest.approx(hpwl / 2)
    assert got[:, PLACEMENT_FEATURES.index("log_place_hpwl_um")] == pytest.approx(np.log1p(side * hpwl))
    assert got[:, PLACEMENT_FEATURES.index("log_place_hpwl_cells")] == pytest.approx(np.log1p(math.sqrt(3) * hpwl))
    assert got[:, PLACEMENT_FEATURES.index("log_place_bbox_um2")] == pytest.approx(
        np.log1p(side ** 2 * np.array([0.5 * 2 / 3, 0.0, 0.0])))
    out = with_placement(d)
    assert out.net_x.shape == (3, len(NET_FEATURES) + len(PLACEMENT_FEATURES)) and out.x is d.x
    assert torch.equal(out.net_x[:, :len(NET_FEATURES)], d.net_x)


def test_bisection_fills_a_grid_and_keeps_the_chain_together():
    """A chain of 4 (nets 0-1, 1-2, 2-3): the first cut (across x) separates {I0, I1} from {I2, I3} (the Fiedler
    vector is monotone), the second (across y) each pair: the four cell centres of a 2 x 2 grid, each pair in one
    column; nets 0-1 and 2-3 then span 1/2 in y, net 1-2 1/2 in x (and 0 or 1/2 in y)."""
    h = _incidence([[0, 1], [1, 2], [2, 3]], 4)
    c = bisection_coordinates(h)
    assert sorted(map(tuple, c.round(9).tolist())) == [(0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75)]
    assert c[0, 0] == c[1, 0] and c[2, 0] == c[3, 0] and c[0, 0] != c[2, 0]
    ones = np.ones(4)
    hpwl = 2 * net_wire_columns(h, c, np.zeros(3, dtype=bool), ones, ones)[:, 0]
    assert hpwl[[0, 2]] == pytest.approx([0.5, 0.5]) and hpwl[1] in (pytest.approx(0.5), pytest.approx(1.0))


def test_bisection_separates_components_and_is_deterministic():
    """Two chains of 4 and an isolated instance: the first cut puts the components apart (largest first, each to
    the half with fewer instances: chain A left, chain B right, the lone instance left: 5 | 4), every instance gets
    its own cell, and a seed gives the same placement twice."""
    chain = [[0, 1], [1, 2], [2, 3]]
    h = _incidence(chain + [[i + 4 for i in net] for net in chain], 9)
    c = bisection_coordinates(h)
    assert (c[:4, 0] < 5 / 9).all() and (c[4:8, 0] > 5 / 9).all() and c[8, 0] < 5 / 9
    assert len(set(map(tuple, c.round(9).tolist()))) == 9
    rng = np.random.default_rng(2)
    big = _incidence(_random_netlist(rng, 500, 300), 500)
    assert np.array_equal(bisection_coordinates(big, seed=1, dense_max=50),
                          bisection_coordinates(big, seed=1, dense_max=50))
    with pytest.raises(ValueError, match="method"):
        placement_columns(_design(), method="annealing")
