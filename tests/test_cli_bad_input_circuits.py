"""`graphrep circuit graph|train` on malformed circuit files: one line naming file:line, exit 2, never an "internal
error", and no absurd value (non-finite, negative, beyond float32) becomes a feature or a label (issue 21)."""

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

from graphrep.cli import main
from graphrep.data.errors import InvalidInputError
from graphrep.objectives.balanced import fit_gmm

sys.path.insert(0, str(Path(__file__).resolve().parent / "data" / "circuits"))
from circuit_fixtures import DESIGN_SPEF, DESIGN_VERILOG, LIB  # noqa: E402


def _design(folder, spef=DESIGN_SPEF, lib=LIB, gz_lib: bytes | None = None):
    folder.mkdir(parents=True)
    (folder / "top.v").write_text(DESIGN_VERILOG)
    (folder / "top.spef").write_text(spef)
    if gz_lib is not None:
        (folder / "cells.lib.gz").write_bytes(gz_lib)
    else:
        (folder / "cells.lib").write_text(lib)
    return folder


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphrep: error: ") and "\n" not in err, err
    return err


def _truncated_lib() -> bytes:
    whole = gzip.compress(LIB.encode())
    return whole[:len(whole) // 2]


def test_truncated_liberty_gz_in_circuit_graph(tmp_path, capsys):
    design = _design(tmp_path / "tiny", gz_lib=_truncated_lib())
    assert main(["circuit", "graph", str(design)]) == 2
    err = _one_error_line(capsys)
    assert f"{design / 'cells.lib.gz'}:" in err and "truncated or corrupt" in err


def test_truncated_liberty_gz_as_an_evaluated_design_stops_before_training(tmp_path, capsys):
    good = _design(tmp_path / "good")
    bad = _design(tmp_path / "bad", gz_lib=_truncated_lib())
    out = tmp_path / "run"
    assert main(["circuit", "train", "--train", str(good), "--eval", str(bad), "--epochs", "1",
                 "--pretrain-epochs", "0", "--hidden", "4", "--layers", "1", "--out", str(out)]) == 2
    assert f"{bad / 'cells.lib.gz'}:" in _one_error_line(capsys)
    assert not (out / "metrics.json").exists()


LIBERTY_CASES = {
    "nan capacitance": (("capacitance : 1.5;", "capacitance : nan;"), 11, "finite"),
    "negative capacitance": (("capacitance : 1.5;", "capacitance : -1.5;"), 11, ">= 0"),
    "nan area": (("area : 0.798;", "area : nan;"), 7, "finite"),
    # a pin's '}' missing: the next pin would land inside it
    "pin not closed": (("      capacitance : 1.5;\n    }\n", "      capacitance : 1.5;\n"), 12,
                       "pin (A1), opened at line 9 and not closed"),
    # a cell's '}' missing and one '}' too many at the end: braces balance, the second cell would vanish into the first
    "cell not closed": (("      }\n    }\n  }\n  cell (DFF_X1)", "      }\n    }\n  cell (DFF_X1)"), 22,
                        "cell (NAND2_X1), opened at line 6 and not closed"),
    # one '}' too many inside a cell and none at the end: the library closes early, the second cell falls outside it
    "library closed early": (("area : 0.798;", "area : 0.798; }"), 23, "outside the library group"),
}


@pytest.mark.parametrize("case", list(LIBERTY_CASES))
def test_bad_liberty_is_refused_naming_the_line(tmp_path, capsys, case):
    (old, new), line, message = LIBERTY_CASES[case]
    assert old in LIB
    lib = LIB.replace(old, new)
    if case == "cell not closed":
        lib += "}\n"
    if case == "library closed early":
        lib = lib.rstrip()[:-1]
    design = _design(tmp_path / "tiny", lib=lib)
    assert main(["circuit", "graph", str(design)]) == 2
    err = _one_error_line(capsys)
    assert f"{design / 'cells.lib'}:{line}: " in err and message in err


SPEF_CASES = {  # DESIGN_SPEF line 12 is the ground capacitor "1 *1:1 2.0"; line 6 is "*D_NET *1 5.0"
    "inf capacitance": ("1 *1:1 2.0", "1 *1:1 inf", 12),
    "nan capacitance": ("1 *1:1 2.0", "1 *1:1 nan", 12),
    "1e400 capacitance": ("1 *1:1 2.0", "1 *1:1 1e400", 12),
    "1e300 farads, beyond float32": ("1 *1:1 2.0", "1 *1:1 1e300", 12),
    "negative capacitance": ("1 *1:1 2.0", "1 *1:1 -2.0", 12),
    "nan total capacitance": ("*D_NET *1 5.0", "*D_NET *1 nan", 6),
    "negative coupling": ("2 *1:1 *2:1 3.0", "2 *1:1 *2:1 -3.0", 13),
}


@pytest.mark.parametrize("case", list(SPEF_CASES))
def test_absurd_spef_values_are_refused_naming_the_line(tmp_path, capsys, case):
    old, new, line = SPEF_CASES[case]
    assert old in DESIGN_SPEF
    design = _design(tmp_path / "tiny", spef=DESIGN_SPEF.replace(old, new, 1))
    assert main(["circuit", "graph", str(design)]) == 2
    assert f"{design / 'top.spef'}:{line}: " in _one_error_line(capsys)


def test_nan_spef_label_stops_circuit_train_with_its_line(tmp_path, capsys):
    design = _design(tmp_path / "tiny", spef=DESIGN_SPEF.replace("*D_NET *1 5.0", "*D_NET *1 nan"))
    assert main(["circuit", "train", "--train", str(design), "--eval", str(design), "--method", "gnn-bmse",
                 "--epochs", "1", "--pretrain-epochs", "0", "--hidden", "4", "--layers", "1",
                 "--out", str(tmp_path / "run")]) == 2
    err = _one_error_line(capsys)
    assert f"{design / 'top.spef'}:6: " in err and "got 288" not in err


def test_label_fit_names_the_non_finite_label_instead_of_miscounting():
    with pytest.raises(InvalidInputError, match=r"1 of 288 labels are not finite \(the first at index 5: nan\)"):
        fit_gmm(np.where(np.arange(288) == 5, np.nan, np.arange(288.0)))
    with pytest.raises(InvalidInputError, match="need at least 2 labels, got 1"):
        fit_gmm(np.array([1.0]))


def test_a_cell_no_library_describes_is_counted_and_named(tmp_path, capsys):
    """It used to vanish: the instance was kept without area or pin capacitance and the report did not say so."""
    verilog = DESIGN_VERILOG.replace("NAND2_X1 g2", "BOGUS_X9 g2")
    design = _design(tmp_path / "tiny")
    (design / "top.v").write_text(verilog)
    assert main(["circuit", "graph", str(design)]) == 0
    out = capsys.readouterr().out
    assert "instances whose cell is in no Liberty or LEF" in out and "(1): g2 (BOGUS_X9)" in out
    assert main(["circuit", "graph", str(_design(tmp_path / "clean"))]) == 0
    assert "no Liberty or LEF" not in capsys.readouterr().out


def test_a_spef_missing_most_nets_is_flagged(tmp_path, capsys):
    """A SPEF cut at a *D_NET boundary is valid SPEF (the format has no trailer), so it cannot be refused; the report
    says that most multi-pin nets have no SPEF net instead of only "SPEF nets matched: 100%"."""
    assert main(["circuit", "graph", str(_design(tmp_path / "whole"))]) == 0  # a and clk unlabelled: 2 of 4
    assert "warning:" not in capsys.readouterr().out
    cut = DESIGN_SPEF[:DESIGN_SPEF.index("*D_NET *2")]
    assert main(["circuit", "graph", str(_design(tmp_path / "cut", spef=cut))]) == 0
    assert "warning: 3 of 4 multi-pin netlist nets have no SPEF net" in capsys.readouterr().out


def test_coupling_on_designs_without_enough_coupled_pairs_stops_before_training(tmp_path, capsys, shared_data):
    """An evaluated design without coupled pairs used to train first, then fail inside scikit-learn."""
    flat = _design(tmp_path / "flat", spef=DESIGN_SPEF.replace("2 *1:1 *2:1 3.0\n", "").replace(
        "2 *2:1 *1:1 3.0\n", ""))
    for train, evaluated, role in ((f"{shared_data}/circuits/gcd_sky130hd", str(flat), "evaluate"),
                                   (str(_design(tmp_path / "tiny")), f"{shared_data}/circuits/gcd_sky130hd", "train")):
        out = tmp_path / f"run_{role}"
        assert main(["circuit", "train", "--train", train, "--eval", evaluated, "--task", "coupling",
                     "--method", "gnn-mse", "--epochs", "1", "--pretrain-epochs", "0", "--hidden", "4",
                     "--layers", "1", "--no-progress", "--out", str(out)]) == 2
        err = _one_error_line(capsys)
        assert "coupled net pairs for task coupling" in err and f"needed to {role}" in err, err
        assert not (out / "metrics.json").exists()
