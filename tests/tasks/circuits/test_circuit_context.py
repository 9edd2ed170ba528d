"""Netlist-context net features (:mod:`graphrep.tasks.circuits.context`) on a hand-built three-net design, against
hand-computed values."""

import math

import numpy as np
import pytest
import torch

from graphrep.data.circuits.graph import INSTANCE_FEATURES, NET_FEATURES, PIN_FEATURES
from graphrep.ops import CSR
from graphrep.tasks.circuits.context import (ANTENNA_FEATURES, CONTEXT_FEATURES, LOCALITY_FEATURES,
                                             NAME_CLASS_FEATURES, WIRELOAD_FEATURES, antenna_columns,
                                             context_columns, locality_columns, name_class_columns, netlist_context,
                                             wireload_columns)
from graphrep.tasks.circuits.normalise import _block_start
from graphrep.tasks.circuits.training import CircuitInputs

WIDTH = 3 + len(INSTANCE_FEATURES) + len(PIN_FEATURES) + len(NET_FEATURES)


def _design() -> CircuitInputs:
    """Instances I0 (buffer, drive log2 2, log area 1), I1 (sequential, drive 0, area 2), I2 (drive 1, area 3);
    N0: I0 drives I1 and I2; N1: I1 drives I2; N2: an input port drives I0. Nodes: instances 0-2, pins 3-9, nets
    10-12; every edge in both directions, as :func:`graphrep.data.circuits.graph.homogeneous` gives them."""
    x = torch.zeros(13, WIDTH)
    x[:3, 0], x[3:10, 1], x[10:, 2] = 1, 1, 1
    inst, pin = _block_start("instance"), _block_start("pin")

    def col(block, names, name):
        return block + names.index(name)
    for i, (drive, area, seq) in enumerate([(2.0, 1.0, 0.0), (0.0, 2.0, 1.0), (1.0, 3.0, 0.0)]):
        x[i, col(inst, INSTANCE_FEATURES, "log2_drive")] = drive
        x[i, col(inst, INSTANCE_FEATURES, "log_area_um2")] = area
        x[i, col(inst, INSTANCE_FEATURES, "has_area")] = 1
        x[i, col(inst, INSTANCE_FEATURES, "sequential")] = seq
    x[0, col(inst, INSTANCE_FEATURES, "family_buf")] = 1
    # pins: (node, instance or None, net, output?, port?)
    pins = [(3, 0, 10, True, False), (4, 1, 10, False, False), (5, 2, 10, False, False), (6, 1, 11, True, False),
            (7, 2, 11, False, False), (8, None, 12, True, True), (9, 0, 12, False, False)]
    edges = []
    for node, owner, net, out, port in pins:
        x[node, col(pin, PIN_FEATURES, "dir_output" if out else "dir_input")] = 1
        x[node, col(pin, PIN_FEATURES, "is_port")] = float(port)
        edges += [(node, net), (net, node)] + ([(owner, node), (node, owner)] if owner is not None else [])
    ei = torch.tensor(edges).t()
    m = 3
    return CircuitInputs(
        name="hand", x=x, csr=CSR.from_edge_index(ei, (13, 13)), net_index=torch.arange(10, 13),
        net_x=torch.zeros(m, len(NET_FEATURES)), degree=torch.tensor([3.0, 2.0, 2.0]), y_total=torch.zeros(m),
        y_ground=torch.zeros(m), bucket=torch.zeros(m, dtype=torch.long), mask=torch.ones(m, dtype=torch.bool),
        pairs=torch.zeros(2, 0, dtype=torch.long), pair_y=torch.zeros(0), link_pairs=torch.zeros(2, 0, dtype=torch.long),
        link_y=torch.zeros(0))


def test_context_columns_by_hand():
    """N0: driver I0 (drive 2, area 1, buffer), sinks I1, I2 (area mean 2.5, max 3, one of two sequential), N1 and N2
    share an instance with it (pin counts 2 + 2), their instances are I0, I1, I2; drive per sink 2 ln 2 - ln 2.
    N1: driver I1, sink I2, neighbour N0 (3 pins). N2: driven by a port (no driver instance: zeros, port flag 1)."""
    c = context_columns(_design())
    got = {f: c[:, k].tolist() for k, f in enumerate(CONTEXT_FEATURES)}
    log = math.log
    want = {"drv_log2_drive": [2, 0, 0], "drv_log_area": [1, 2, 0], "drv_log_pins": [0, 0, 0],
            "drv_buffer": [1, 0, 0], "drv_port": [0, 0, 1], "sink_log_area_mean": [2.5, 3, 1],
            "sink_log_area_max": [3, 3, 1], "sink_seq": [0.5, 0, 0], "log_nets_2hop": [log(3), log(2), log(2)],
            "log_deg_2hop": [log(5), log(4), log(4)], "log_inst_3hop": [log(4), log(4), log(4)],
            "drv_minus_fanout": [2 * log(2) - log(2), 0, 0]}
    assert set(want) == set(CONTEXT_FEATURES)
    for f, v in want.items():
        assert got[f] == pytest.approx(v), f


def test_netlist_context_appends_and_keeps_the_rest():
    d = _design()
    out = netlist_context(d)
    assert out.net_x.shape == (3, len(NET_FEATURES) + len(CONTEXT_FEATURES))
    assert torch.equal(out.net_x[:, :len(NET_FEATURES)], d.net_x) and out.x is d.x
    with pytest.raises(ValueError, match="hand"):
        context_columns(CircuitInputs(**{**d.__dict__, "x": d.x[:, :-1]}))


def test_locality_columns_by_hand():
    """Instances: N0 {I0, I1, I2}, N1 {I1, I2}, N2 {I0} (and a port). Adjacent pairs (nets of <= 20 instances):
    I0-I1, I0-I2 (N0), I1-I2 (N0, N1). N0 holds every instance: no outside neighbour. N1: I0 is next to both I1 and
    I2 (T = 2): one neighbour, reconvergent. N2: I1 and I2 are each next to I0 once: two neighbours, none
    reconvergent. With max_instances 2 only N1 makes instances adjacent (I1-I2), which are all inside N1: all 0."""
    log = math.log
    c = locality_columns(_design())
    got = {f: c[:, k].tolist() for k, f in enumerate(LOCALITY_FEATURES)}
    want = {"log_ext": [0, log(2), log(3)], "log_recon": [0, log(2), 0], "recon_share": [0, 1, 0]}
    assert set(want) == set(LOCALITY_FEATURES)
    for f, v in want.items():
        assert got[f] == pytest.approx(v), f
    assert locality_columns(_design(), max_instances=2) == pytest.approx(torch.zeros(3, 3).numpy())
    with pytest.raises(ValueError, match="max_instances"):
        locality_columns(_design(), max_instances=1)


def test_netlist_context_with_locality_appends_both():
    d = _design()
    out = netlist_context(d, locality=True)
    base = len(NET_FEATURES) + len(CONTEXT_FEATURES)
    assert out.net_x.shape == (3, base + len(LOCALITY_FEATURES))
    assert torch.allclose(out.net_x[:, :base], netlist_context(d).net_x)
    assert out.net_x[:, base:].numpy() == pytest.approx(locality_columns(d))


def test_wireload_columns_by_hand():
    """Log areas log(1 + a) of 1, 2, 3: cell area A = (e - 1) + (e^2 - 1) + (e^3 - 1) = 31.19 um^2; 3 nets, 3
    instances; the same row on every net. An instance without a library area (has_area 0) adds nothing to A."""
    e = math.e
    area = e + e ** 2 + e ** 3 - 3
    want = {"design_log10_area": math.log10(1 + area), "design_log10_nets": math.log10(4),
            "design_log10_instances": math.log10(4), "design_edge_mm": math.sqrt(area) / 1000}
    assert set(want) == set(WIRELOAD_FEATURES)
    c = wireload_columns(_design())
    assert c.shape == (3, len(WIRELOAD_FEATURES))
    for k, f in enumerate(WIRELOAD_FEATURES):
        assert c[:, k].tolist() == pytest.approx([want[f]] * 3), f
    d = _design()
    d.x[2, _block_start("instance") + INSTANCE_FEATURES.index("has_area")] = 0  # I2 (log area 3) unknown
    less = e + e ** 2 - 2
    assert wireload_columns(d)[0, 0] == pytest.approx(math.log10(1 + less))
    assert wireload_columns(d)[0, 3] == pytest.approx(math.sqrt(less) / 1000)
    with pytest.raises(ValueError, match="hand"):
        wireload_columns(CircuitInputs(**{**d.__dict__, "x": d.x[:, :-1]}))


def test_antenna_columns_count_the_netlist_diodes_on_each_net():
    """Make I2 an antenna diode: it sits on N0 and N1, not on N2. An instance only the SPEF names (``spef_only``)
    does not count: with I1 a SPEF-only diode too, N0 and N1 still count one (I2)."""
    d = _design()
    col = _block_start("instance") + INSTANCE_FEATURES.index("family_antenna")
    assert antenna_columns(d) == pytest.approx(torch.zeros(3, 2).numpy())
    d.x[2, col] = 1
    want = np.array([[math.log(2), 1], [math.log(2), 1], [0, 0]])
    assert len(ANTENNA_FEATURES) == 2 and antenna_columns(d) == pytest.approx(want)
    d.x[1, col] = 1
    d.x[1, _block_start("instance") + INSTANCE_FEATURES.index("spef_only")] = 1
    assert antenna_columns(d) == pytest.approx(want)
    d.x[1, _block_start("instance") + INSTANCE_FEATURES.index("spef_only")] = 0  # I1 now a netlist diode: N0 has two
    assert antenna_columns(d)[:, 0] == pytest.approx([math.log(3), math.log(3), 0])


@pytest.mark.parametrize("option, columns, features", [("wireload", wireload_columns, WIRELOAD_FEATURES),
                                                        ("antenna", antenna_columns, ANTENNA_FEATURES)])
def test_netlist_context_appends_the_option_columns_last(option, columns, features):
    d = _design()
    d.x[2, _block_start("instance") + INSTANCE_FEATURES.index("family_antenna")] = 1  # a diode, for the antenna case
    out = netlist_context(d, locality=True, **{option: True})
    base = len(NET_FEATURES) + len(CONTEXT_FEATURES) + len(LOCALITY_FEATURES)
    assert out.net_x.shape == (3, base + len(features))
    assert torch.allclose(out.net_x[:, :base], netlist_context(d, locality=True).net_x)
    assert out.net_x[:, base:].numpy() == pytest.approx(columns(d), rel=1e-6)


def test_name_class_columns_match_whole_names_only():
    names = ["_123_", "net45", "clknet_0_clk", "clknet_leaf_3_wb_clk_i", "req_msg[3]", "_12", "net", "net4a",
             "x_12_", "dpath.net3", "_0_"]
    want = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0],
            [0, 0, 0], [1, 0, 0]]
    got = name_class_columns(names)
    assert got.shape == (len(names), len(NAME_CLASS_FEATURES)) and got.tolist() == want
    assert name_class_columns([]).shape == (0, 3)

