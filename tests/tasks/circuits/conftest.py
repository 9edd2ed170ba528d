"""The tiny gate-level design (Verilog + SPEF + Liberty) the circuit training tests share."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "data" / "circuits"))
from circuit_fixtures import DESIGN_SPEF, DESIGN_VERILOG, LIB  # noqa: E402


@pytest.fixture()
def design_dir(tmp_path):
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "top.v").write_text(DESIGN_VERILOG)
    (d / "top.spef").write_text(DESIGN_SPEF)
    (d / "cells.lib").write_text(LIB)
    return d
