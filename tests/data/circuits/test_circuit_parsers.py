"""Circuit readers: hand-written fixtures with known content, and malformed ones that must fail with ``file:line``."""

import gzip
import re

import pytest

from graphrep.data.circuits.def_ import read_def
from graphrep.data.circuits.lef import read_lef
from graphrep.data.circuits.liberty import read_liberty
from graphrep.data.circuits.names import cell_family, drive_strength, is_supply, unescape, verilog_name
from graphrep.data.circuits.source import CircuitFormatError
from graphrep.data.circuits.spef import read_spef
from graphrep.data.circuits.verilog import read_verilog

from circuit_fixtures import LIB, assert_fails_at

SPEF = """*SPEF "ieee 1481-1999"
*DESIGN "top"
*DIVIDER /
*DELIMITER :
*BUS_DELIMITER []
*C_UNIT 1 FF
*R_UNIT 1 KOHM

*NAME_MAP
*1 a\\.b\\[0\\]
*2 n2
*3 u1
*4 u2

*PORTS
in0 I

*D_NET *1 3.5
*CONN
*P in0 I
*I *3:A I *D INV_X1
*CAP
1 *1:1 1.0
2 *3:A 0.5
3 *3:A *4:Y 2.0
*RES
1 in0 *1:1 0.2
*END

*D_NET *2 2.5
*CONN
*I *4:Y O *D BUF_X1
*CAP
1 *4:Y 0.5
2 *4:Y *3:A 2.0
*END
"""


def _write(tmp_path, name, text, gz=False):
    path = tmp_path / name
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _line_error(exc_info, path, line):
    assert str(exc_info.value).startswith(f"{path}:{line}: "), str(exc_info.value)


def test_names_unescape_every_format_to_one_name():
    assert verilog_name("\\a.b$c[0] ") == unescape("a.b$c\\[0\\]") == unescape("a\\.b\\$c\\[0\\]") == "a.b$c[0]"
    assert is_supply("VGND") and is_supply("u1/vdd") and not is_supply("vdd_ok")
    assert drive_strength("sky130_fd_sc_hd__nand2_4") == 4 and drive_strength("NAND2_X2") == 2
    assert cell_family("sky130_fd_sc_hd__a21oi_1") == "aoi" and cell_family("AND2_X1") == "and"
    assert cell_family("sky130_fd_sc_hd__nand2b_1") == "nand" and cell_family("sg13g2_IOPadIn") == "pad"
    assert cell_family("gf180mcu_fd_sc_mcu7t5v0__fillcap_4") == "decap" and cell_family("I2cDeviceCtrl") == "macro"


@pytest.mark.parametrize("gz", [False, True])
def test_spef_units_name_map_and_coupling_sum(tmp_path, gz):
    spef = read_spef(_write(tmp_path, "t.spef", SPEF, gz))
    assert set(spef.nets) == {"a.b[0]", "n2"} and spef.ports == {"in0": "I"}
    net = spef.nets["a.b[0]"]
    assert net.total_cap == pytest.approx(3.5e-15) and net.ground_cap == pytest.approx(1.5e-15)
    assert net.resistors == [("in0", "a.b[0]:1", pytest.approx(200.0))]
    assert [(c.kind, c.instance, c.pin, c.direction, c.cell) for c in net.conns] == [
        ("P", None, "in0", "I", None), ("I", "u1", "A", "I", "INV_X1")]
    assert spef.node_net("u2:Y") == "n2" and spef.node_net("a.b[0]:7") == "a.b[0]" and spef.node_net("in0") == "a.b[0]"
    # the 2 fF capacitor is listed under both nets: the pair's value is 2 fF, not 4
    assert spef.coupling_pairs() == {("a.b[0]", "n2"): pytest.approx(2e-15)}


@pytest.mark.parametrize("good, bad, message", [
    ("*D_NET *1 3.5", "*D_NET *1 x.5", "expected a number"),
    ("*D_NET *1 3.5", "*D_NET *9 3.5", "name-map index *9"),
    ("3 *3:A *4:Y 2.0", "3 *3:A *4:Y", "expected a number, got '*4:Y'"),
    ("3 *3:A *4:Y 2.0", "3 *3:A *4:Y 2 2", "a *CAP line is"),
    ("*I *3:A I *D INV_X1", "*I *3:A Q *D INV_X1", "direction must be I, O or B"),
])
def test_spef_malformed_names_file_and_line(tmp_path, good, bad, message):
    lines = SPEF.splitlines()
    line = lines.index(good) + 1
    lines[line - 1] = bad
    path = _write(tmp_path, "bad.spef", "\n".join(lines))
    with pytest.raises(CircuitFormatError, match=re.escape(message)) as exc:
        read_spef(path)
    _line_error(exc, path, line)


def test_spef_unterminated_net(tmp_path):
    path = _write(tmp_path, "cut.spef", SPEF.rsplit("*END", 1)[0])
    with pytest.raises(CircuitFormatError, match="without \\*END"):
        read_spef(path)


VERILOG = """// a two-level design
module leaf (a, y);
  input a; output y;
  INV_X1 u (.A(a), .ZN(y));
endmodule
module top (clk, d, q, bus);
  input clk; input [1:0] d; output q; output [1:0] bus;
  wire \\n.x[3] ;
  wire [1:0] w;
  (* keep *) DFF_X1 ff (.CK(clk), .D(d[0]), .Q(\\n.x[3] ));
  leaf l1 (.a(\\n.x[3] ), .y(w[1]));
  NAND2_X1 g (w[1], d[1], q);
  MACRO m (.io({w[1], d[0]}), .t(1'b0));
  assign bus = {q, w[1]};
endmodule
"""


def test_verilog_flattens_hierarchy_buses_assign_and_escapes(tmp_path):
    nl = read_verilog(_write(tmp_path, "t.v", VERILOG), cell_pins={"NAND2_X1": ["A1", "A2", "ZN"]})
    assert nl.name == "top"
    assert nl.instances == {"ff": "DFF_X1", "l1/u": "INV_X1", "g": "NAND2_X1", "m": "MACRO"}
    assert nl.ports == {"clk": "input", "d[1]": "input", "d[0]": "input", "q": "output", "bus[1]": "output",
                        "bus[0]": "output"}
    # escaped identifier, and the child's port a, are one net; w[1] is merged with bus[0] by the assign
    n_x = nl.resolve("n.x[3]")
    assert n_x == nl.resolve("l1/a") and sorted(nl.nets[n_x]) == [("ff", "Q"), ("l1/u", "A")]
    w1 = nl.resolve("w[1]")
    assert w1 == "bus[0]" == nl.resolve("l1/y")
    assert sorted(nl.nets[w1], key=str) == sorted([(None, "bus[0]"), ("l1/u", "ZN"), ("g", "A1"), ("m", "io[1]")], key=str)
    assert ("m", "io[0]") in nl.nets["d[0]"] and ("g", "ZN") in nl.nets[nl.resolve("q")]
    assert nl.skipped["pins tied to a constant"] == 1 and nl.skipped_names["pins tied to a constant"] == ["m/t"]


@pytest.mark.parametrize("old, new, line, message", [
    ("  INV_X1 u (.A(a), .ZN(y));", "  INV_X1 u (.A(a) .ZN(y));", 4, "expected ',' or ')'"),
    ("  assign bus = {q, w[1]};", "  assign bus = {q};", 14, "assign of 1 bits to 2 bits"),
    ("  wire [1:0] w;", "  wire [1:0] w", 10, "expected ';'"),
    ("  leaf l1 (.a(\\n.x[3] ), .y(w[1]));", "  leaf l1 (.b(\\n.x[3] ), .y(w[1]));", 11, "no port 'b'"),
])
def test_verilog_malformed_names_file_and_line(tmp_path, old, new, line, message):
    assert_fails_at(tmp_path, "bad.v", VERILOG, old, new, read_verilog, line, message)


DEF = """VERSION 5.8 ;
DESIGN top ;
UNITS DISTANCE MICRONS 1000 ;
COMPONENTS 2 ;
    - u1 INV_X1 + PLACED ( 1000 2000 ) N ;
    - a\\[0\\] BUF_X1 + PLACED ( 3000 2000 ) FS ;
END COMPONENTS
PINS 1 ;
    - in0 + NET in0 + DIRECTION INPUT + USE SIGNAL + PLACED ( 0 500 ) N ;
END PINS
SPECIALNETS 1 ;
    - VDD ( * VDD ) + USE POWER ;
END SPECIALNETS
NETS 2 ;
    - in0 ( PIN in0 ) ( u1 A ) + USE SIGNAL ;
    - n\\[1\\] ( u1 ZN ) ( a\\[0\\] A )
      + ROUTED metal1 ( 1 2 ) ( 3 * ) ;
END NETS
END DESIGN
"""


def test_def_components_pins_nets_placement(tmp_path):
    nl = read_def(_write(tmp_path, "t.def", DEF))
    assert nl.name == "top" and nl.instances == {"u1": "INV_X1", "a[0]": "BUF_X1"}
    assert nl.placement == {"u1": (1.0, 2.0), "a[0]": (3.0, 2.0), "in0": (0.0, 0.5)}
    assert nl.nets == {"in0": [(None, "in0"), ("u1", "A")], "n[1]": [("u1", "ZN"), ("a[0]", "A")]}
    assert nl.ports == {"in0": "input"} and nl.skipped["SPECIALNETS (power/ground, skipped by name)"] == 1


@pytest.mark.parametrize("old, new, line, message", [
    ("    - u1 INV_X1 + PLACED ( 1000 2000 ) N ;", "    - u1 INV_X1 + PLACED ( 1000 ) N ;", 5, "expected '( x y )'"),
    ("( u1 ZN ) ( a\\[0\\] A )", "( u1 ZN ) ( u9 A )", 16, "u9, which is not in COMPONENTS"),
    ("COMPONENTS 2 ;", "COMPONENTS 3 ;", 7, "declares 3 items, found 2"),
    ("    - in0 ( PIN in0 ) ( u1 A ) + USE SIGNAL ;", "    - in0 ( PIN in0 ) ( u1 ) + USE SIGNAL ;", 15,
     "expected '( instance pin )'"),
])
def test_def_malformed_names_file_and_line(tmp_path, old, new, line, message):
    assert_fails_at(tmp_path, "bad.def", DEF, old, new, read_def, line, message)


LEF = """VERSION 5.8 ;
LAYER metal1
  TYPE ROUTING ;
  PITCH 0.14 ;
  WIDTH 0.07 ;
  SPACINGTABLE
    PARALLELRUNLENGTH 0.0
    WIDTH 0.0 0.07
    WIDTH 0.5 0.09 ;
  PROPERTY LEF58_TYPE "TYPE X ;" ;
  THICKNESS 0.13 ;
END metal1
MACRO INV_X1
  CLASS CORE ;
  SIZE 0.38 BY 1.4 ;
  PIN A
    DIRECTION INPUT ;
    USE SIGNAL ;
    PORT
      LAYER metal1 ;
        RECT 0.06 0.525 0.185 0.7 ;
    END
  END A
  PIN VDD
    DIRECTION INOUT ;
    USE POWER ;
  END VDD
  OBS
    LAYER metal1 ;
  END
END INV_X1
END LIBRARY
"""


def test_lef_macros_and_layers(tmp_path):
    lef = read_lef(_write(tmp_path, "t.lef.gz", LEF, gz=True))
    layer = lef.layers["metal1"]
    assert (layer.type, layer.pitch, layer.width, layer.thickness) == ("ROUTING", 0.14, 0.07, 0.13)
    m = lef.macros["INV_X1"]
    assert (m.cls, m.width, m.height) == ("CORE", 0.38, 1.4) and m.area == pytest.approx(0.532)
    assert {p: (v.direction, v.use) for p, v in m.pins.items()} == {"A": ("input", "SIGNAL"), "VDD": ("inout", "POWER")}


@pytest.mark.parametrize("old, new, line, message", [
    ("  SIZE 0.38 BY 1.4 ;", "  SIZE 0.38 1.4 ;", 15, "SIZE must be"),
    ("  END A\n", "  END B\n", 23, "END B closes PIN A"),
    ("  PITCH 0.14 ;", "  PITCH x ;", 4, "PITCH needs a number"),
])
def test_lef_malformed_names_file_and_line(tmp_path, old, new, line, message):
    assert_fails_at(tmp_path, "bad.lef", LEF, old, new, read_lef, line, message)




def test_liberty_cells_pins_units(tmp_path):
    lib = read_liberty(_write(tmp_path, "t.lib.gz", LIB, gz=True))
    nand = lib.cells["NAND2_X1"]
    assert nand.area == pytest.approx(0.798) and list(nand.pg_pins) == ["VDD"] and not nand.sequential
    assert nand.pins["A1"].direction == "input" and nand.pins["A1"].capacitance == pytest.approx(1.5e-15)
    zn = nand.pins["ZN"]
    assert zn.function == "!(A1 & A2)" and zn.max_capacitance == pytest.approx(6e-14) and zn.capacitance is None
    assert lib.cells["DFF_X1"].sequential and lib.cells["DFF_X1"].pins["Q"].direction == "output"


@pytest.mark.parametrize("old, new, line, message", [
    ("      capacitance : 1.5;", "      capacitance : big;", 11, "capacitance must be a number"),
    ("    area : 0.798;", "    area = 0.798;", 7, "cannot read"),
    ("  capacitive_load_unit (1, ff);", "  capacitive_load_unit (1, parsec);", 4, "capacitive_load_unit needs"),
    ("  cell (DFF_X1) {", "  cell (DFF_X1) { {", 23, "cannot read ' {'"),
    ("    bus (Q) { direction : output; }", "    bus (Q) { direction : output;", 3, "group library (demo) is not closed"),
])
def test_liberty_malformed_names_file_and_line(tmp_path, old, new, line, message):
    assert_fails_at(tmp_path, "bad.lib", LIB, old, new, read_liberty, line, message)


def test_verilog_tokens_and_lines_match_the_plain_token_loop():
    """The one-match-per-token lexer gives the kinds, values and lines of the plain loop (white space, comments and
    attributes dropped), here on a text with every kind of skipped span."""
    from graphrep.data.circuits.verilog import _TOKEN, _Tokens

    text = VERILOG + "/* a\nblock */ (* attr\n *) \\esc.id[0]  4'b10 \"s\"\n"
    plain, line = [], 1
    for m in _TOKEN.finditer(text):
        if m.lastgroup not in ("ws", "lc", "bc", "attr"):
            plain.append((m.lastgroup, m.group(), line))
        line += m.group().count("\n")
    tokens = _Tokens(text, "t.v")
    assert list(tokens) == plain and tokens.peek() == ("eof", "", line)


PLAIN_STATEMENTS = """module top (clk, d, q);
  input clk;
  input [3:0] d;
  output q;
  wire \\a.b[2] ;
  wire  n1 ;
  wire [7:0]
     bus;
  DFF_X1 ff (.CK(clk),
      .D( d [ 2 ] ), .Q(\\a.b[2] ));
  INV_X1 \\u.inv  ( .A(\\a.b[2] ) , .ZN(bus[7]) , .NC() );
  TAP_X1 tap ();
  BUF_X1 b1 (.A(bus[7]), .Z(n1));
  /* a comment */ BUF_X1 b2 (.A(n1), .Z(q));
  BUF_X1 b3 (.A(n1), .Z(bus[6]),);
  wire (* keep *) n2;
  NAND2_X1 g (.A1(n1), .A2(n2), .ZN(bus[0]));
  wire wire_in_name, n3;
endmodule
"""


def test_verilog_plain_statements_by_one_match_equal_the_token_parser(monkeypatch):
    """Instances and declarations read by one match each (_fast_statement) give the modules, with every line
    number, that the token parser gives; a statement outside the plain form (comment, trailing comma, attribute) is
    left to the token parser."""
    from graphrep.data.circuits import verilog as V

    def modules(text):
        tok = V._Tokens(text, "t.v")
        out = []
        while tok.peek()[0] != "eof":
            out.append(vars(V._parse_module(tok)))
        return out

    fast_hits = []
    real = V._fast_statement
    monkeypatch.setattr(V, "_fast_statement", lambda tok, mod: fast_hits.append(real(tok, mod)) or fast_hits[-1])
    for text in (PLAIN_STATEMENTS, VERILOG):
        fast = modules(text)
        monkeypatch.setattr(V, "_fast_statement", lambda tok, mod: False)
        slow = modules(text)
        monkeypatch.setattr(V, "_fast_statement", lambda tok, mod: fast_hits.append(real(tok, mod)) or fast_hits[-1])
        assert fast == slow
    assert sum(fast_hits) >= 10 and not all(fast_hits)
    top = modules(PLAIN_STATEMENTS)[0]
    assert top["instances"][1] == ("INV_X1", "u.inv", {"A": [("net", "a.b[2]", None, 11)],
                                                        "ZN": [("net", "bus", 7, 11)], "NC": []}, 11)
    assert top["instances"][0][2]["D"] == [("net", "d", 2, 10)] and top["ranges"] == {"d": (3, 0), "bus": (7, 0)}


def test_verilog_plain_statement_errors_name_the_line(tmp_path):
    assert_fails_at(tmp_path, "bad.v", PLAIN_STATEMENTS, "  BUF_X1 b1 (.A(bus[7]), .Z(n1));",
                    "  BUF_X1 b1 (.A(bus[7]),\n    .Z(q[0]));", read_verilog, 14, "q is not a bus; bit 0 selected")
