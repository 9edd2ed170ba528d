"""Hierarchical designs (a top Verilog + block Verilog, a top SPEF + a block SPEF applied per instance), LEF comments
holding quotes, single-pin nets named as the reason for missing labels, and every registered real design matched."""

import pytest

from graphrep.data.circuits.dataset import load_design
from graphrep.data.circuits.graph import build_graph
from graphrep.data.circuits.lef import read_lef

TOP_V = """module top (a, y);
  input a; output y;
  wire m;
  blk b0 (.i(a), .o(m));
  blk b1 (.i(m), .o(y));
endmodule
"""
BLOCK_V = """module blk (i, o);
  input i; output o;
  wire n;
  INV_X1 g1 (.A(i), .Y(n));
  INV_X1 g2 (.A(n), .Y(o));
endmodule
"""
TOP_SPEF = """*SPEF "ieee 1481-1999"
*DESIGN "top"
*DIVIDER /
*DELIMITER :
*BUS_DELIMITER []
*C_UNIT 1 FF
*R_UNIT 1 OHM
*PORTS
a I
y O
*D_NET a 1.0
*CONN
*P a I
*I b0:i I
*CAP
1 a:1 1.0
*END
*D_NET m 2.0
*CONN
*I b0:o O
*I b1:i I
*CAP
1 m:1 1.5
2 m:2 y:1 0.5
*END
*D_NET y 3.0
*CONN
*P y O
*I b1:o O
*CAP
1 y:1 2.5
2 y:1 m:2 0.5
*END
"""
BLOCK_SPEF = """*SPEF "ieee 1481-1999"
*DESIGN "blk"
*DIVIDER /
*DELIMITER :
*BUS_DELIMITER []
*C_UNIT 1 FF
*R_UNIT 1 OHM
*PORTS
i I
o O
*D_NET i 0.25
*CONN
*P i I
*I g1:A I
*CAP
1 i:1 0.25
*END
*D_NET n 0.5
*CONN
*I g1:Y O
*I g2:A I
*CAP
1 n:1 0.5
*END
*D_NET o 0.125
*CONN
*I g2:Y O
*P o O
*CAP
1 o:1 0.125
*END
"""
LIB = """library (t) {
  cell (INV_X1) { area : 1.0;
    pin (A) { direction : input; capacitance : 0.001; }
    pin (Y) { direction : output; function : "!A"; }
  }
}
"""


@pytest.fixture()
def hier(tmp_path):
    for name, text in (("top.v", TOP_V), ("blk.v", BLOCK_V), ("top.spef", TOP_SPEF), ("blk.spef", BLOCK_SPEF),
                       ("cells.lib", LIB)):
        (tmp_path / name).write_text(text)
    return tmp_path


def test_block_spef_is_applied_to_every_instance_and_port_nets_join_the_top_net(hier):
    design = load_design(hier)
    assert design.netlist.modules == {"b0": "blk", "b1": "blk"}
    data, report = build_graph(design)
    names = data["net"].names
    assert sorted(names) == ["a", "b0/n", "b1/n", "m", "y"]
    assert report.match_rate == 1.0 and not report.unlabelled_nets
    total = dict(zip(names, (data["net"].total_cap * 1e15).tolist()))
    ground = dict(zip(names, (data["net"].ground_cap * 1e15).tolist()))
    # m = top part 2.0 + b0's inside part of port o (0.125) + b1's inside part of port i (0.25)
    assert total == pytest.approx({"a": 1.25, "m": 2.375, "y": 3.125, "b0/n": 0.5, "b1/n": 0.5})
    assert ground == pytest.approx({"a": 1.25, "m": 1.875, "y": 2.625, "b0/n": 0.5, "b1/n": 0.5})
    # every pin on a net is a cell pin of the flattened blocks (or a port), never a block pin b0:i
    pins = sorted(data["pin"].names)
    assert pins == sorted(["a", "y", "b0/g1/A", "b0/g1/Y", "b0/g2/A", "b0/g2/Y", "b1/g1/A", "b1/g1/Y", "b1/g2/A",
                           "b1/g2/Y"])
    assert data.coupling_index.size(1) == 1 and float(data.coupling_cap[0]) == pytest.approx(0.5e-15)


def test_block_spef_of_an_unknown_module_is_named(hier):
    (hier / "blk.spef").write_text(BLOCK_SPEF.replace('*DESIGN "blk"', '*DESIGN "other"'))
    with pytest.raises(Exception, match="other.*neither the top module"):
        load_design(hier)


def test_single_pin_nets_are_named_as_why_they_have_no_label(tmp_path):
    (tmp_path / "top.v").write_text(TOP_V.replace("blk b1 (.i(m), .o(y));", "blk b1 (.i(m), .o(y));\n  "
                                                  "INV_X1 dangling (.A(a), .Y(z));").replace("wire m;", "wire m, z;")
                                    + BLOCK_V)
    (tmp_path / "top.spef").write_text(TOP_SPEF)
    (tmp_path / "blk.spef").write_text(BLOCK_SPEF)
    (tmp_path / "cells.lib").write_text(LIB)
    _, report = build_graph(load_design(tmp_path))
    assert report.unlabelled_nets == ["z"] and report.single_pin_unlabelled == ["z"]
    assert any("1 of them have a single pin" in line for line in report.lines())


def test_lef_comment_with_quotes_and_semicolon_is_skipped(tmp_path):
    text = """VERSION 5.7 ;
# Licensed under the Apache License (the "License");
# distributed on an "AS IS" BASIS,
MACRO inv
  CLASS CORE ;
  SIZE 1.5 BY 2 ;
  PIN A
    DIRECTION INPUT ;
  END A
END inv
END LIBRARY
"""
    path = tmp_path / "c.lef"
    path.write_text(text)
    lef = read_lef(path)
    assert list(lef.macros) == ["inv"] and lef.macros["inv"].area == pytest.approx(3.0)
    assert lef.macros["inv"].pins["A"].direction == "input"


ALL = ["gcd_sky130hd", "video_sky130hd", "flash_sky130hd", "pdp8_sky130hd", "experiar_wrapper_sky130hd",
       "tt03_wrapper_sky130hd", "gcd_sky130hs", "i2c_sg13g2", "silice_sg13g2", "ay8913_sg13g2", "gcd_nangate45",
       "user_proj_gf180", "timers_gf180", "serial_ports_gf180", "mockarray_asap7", "credit_pi_switch_asap7"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
def test_every_registered_design_matches_all_its_spef_nets(shared_data, name):
    design = load_design(name, root=shared_data)
    data, report = build_graph(design)
    assert report.matched == report.spef_nets > 0
    multi = sorted(set(report.unlabelled_nets) - set(report.single_pin_unlabelled))
    # the only multi-pin nets without a SPEF entry: i2c_sg13g2's 16 IO-pad nets (pad pin to chip port)
    assert multi == [] or (name == "i2c_sg13g2" and all(n.endswith("_PAD") for n in multi) and len(multi) == 16)
    if name == "mockarray_asap7":  # top SPEF (7,298 nets) + Element.spef on each of the 16 instances
        assert report.spef_nets == 25230
        assert any(n.startswith("ces_3_3/") for n in data["net"].names)
    if name in ("video_sky130hd", "silice_sg13g2", "timers_gf180", "credit_pi_switch_asap7"):
        # the library from a sibling folder (dataset card) gives areas
        assert data["instance"].x[:, 1].mean() > 0.9
