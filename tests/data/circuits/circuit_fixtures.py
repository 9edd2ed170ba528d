"""Hand-written circuit files shared by the circuit tests (a two-gate Verilog design, its SPEF, a Liberty library) and
the one check every malformed-input test makes."""

import re

import pytest

from graphrep.data.circuits.source import CircuitFormatError


def assert_fails_at(tmp_path, name: str, text: str, old: str, new: str, reader, line: int, message: str) -> None:
    """Writing ``text`` with ``old`` replaced by ``new`` and reading it raises ``file:line: ...message...``."""
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    with pytest.raises(CircuitFormatError, match=re.escape(message)) as exc:
        reader(path)
    assert str(exc.value).startswith(f"{path}:{line}: "), str(exc.value)

DESIGN_VERILOG = """module top (clk, a, y);
  input clk; input a; output y;
  wire n1;
  NAND2_X1 g1 (.A1(a), .A2(a), .ZN(n1), .VDD(VDD), .VSS(VSS));
  NAND2_X1 g2 (.A1(n1), .A2(clk), .ZN(y), .VDD(VDD), .VSS(VSS));
  TAP t ();
endmodule
"""

DESIGN_SPEF = """*SPEF "ieee 1481-1999"
*C_UNIT 1 FF
*NAME_MAP
*1 n1
*2 y
*D_NET *1 5.0
*CONN
*I g1:ZN O *D NAND2_X1
*I g2:A1 I *D NAND2_X1
*I ANTENNA_1:A I *D ANTENNA
*CAP
1 *1:1 2.0
2 *1:1 *2:1 3.0
*END
*D_NET *2 4.0
*CONN
*I g2:ZN O *D NAND2_X1
*P y O
*CAP
1 *2:1 1.0
2 *2:1 *1:1 3.0
*END
*D_NET ghost 1.0
*CONN
*P ghost I
*END
"""

LIB = """/* a library
   with a comment */
library (demo) {
  capacitive_load_unit (1, ff);
  lu_table_template (t) { variable_1 : x; index_1 ("1, 2"); }
  cell (NAND2_X1) {
    area : 0.798;
    pg_pin (VDD) { pg_type : primary_power; }
    pin (A1) {
      direction : input;
      capacitance : 1.5;
    }
    pin (ZN) {
      direction : output;
      function : "!(A1 & A2)";
      max_capacitance : 60.0;
      timing () {
        values ("1, 2", \\
                "3, 4");
      }
    }
  }
  cell (DFF_X1) {
    area : 4.5;
    ff (IQ, IQN) { next_state : "D"; }
    bus (Q) { direction : output; }
  }
}
"""

#: Transistor-level subcircuit of the NAND2_X1 cell of DESIGN_VERILOG: two parallel pull-ups, two series pull-downs
#: joined by the cell-internal net ``mid``.
NAND2_SPICE = """* NAND2_X1 at transistor level
.subckt NAND2_X1 A1 A2 ZN VDD VSS
MP1 ZN A1 VDD VDD pmos w=0.42 l=0.15
MP2 ZN A2 VDD VDD pmos w=0.42 l=0.15
MN1 ZN A1 mid VSS nmos w=0.65 l=0.15
MN2 mid A2 VSS VSS nmos w=0.65 l=0.15
.ends
"""
