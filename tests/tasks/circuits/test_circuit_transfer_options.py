"""The leave-one-design-out benchmark's label options (``benchmarks/circuit_transfer.py``: ``--tech-offset``,
``--tail``) on copies of the tiny design: known values where a model can only learn the mean label."""

import argparse
import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from graphrep.data.circuits.dataset import load_design
from graphrep.data.circuits.graph import build_graph
from graphrep.tasks.circuits.training import prepare

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"


def _bench():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("circuit_transfer", BENCH / "circuit_transfer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(designs, **kw):
    base = dict(designs=designs, tasks=["total-cap"], seeds=[0], gcl_seeds=[], max_train_nets=None, layers=2,
                hidden=4, lr=1e-2, epochs=1, pretrain_epochs=1, val_fraction=0.2, patience=0, context=[],
                gbm_max_train_nets=None, tech_offset=[], tail=[], tail_weight=1.0, gbm_grouped_folds=0)
    return argparse.Namespace(**{**base, **kw})


@pytest.fixture()
def designs(design_dir):
    """Four copies of the tiny design (too few nets for a tree split: GBM predicts its training mean), labels moved
    by a per-PDK constant: sky130 +0.1, sg13g2 -0.2 (same prior everywhere)."""
    inputs = prepare(build_graph(load_design(design_dir))[0])
    shift = {"gcd_sky130hd": 0.1, "gcd_sky130hs": 0.1, "pdp8_sky130hd": 0.1, "i2c_sg13g2": -0.2}
    return {n: dataclasses.replace(inputs, name=n, y_total=inputs.y_total + s) for n, s in shift.items()}


def _gbm_bias(bench, designs, held, **kw):
    out = bench.fold(held, designs, _args(list(designs), **kw), lambda msg: None)
    y = designs[held].target("total-cap")[0].numpy()
    return out, float(np.mean(y))


def test_tech_offset_removes_the_pdk_shift_by_hand(designs):
    """Held out pdp8_sky130hd. Training designs' relative means: sky130 b + 0.1 (x2), sg13g2 b - 0.2 (b the tiny
    design's own mean relative to its prior). Without offsets GBM predicts their union mean, b + 0 (each design has
    as many nets), i.e. 0.1 below the held-out truth; with ``--tech-offset gbm`` it learns labels minus
    (m_t - m) and adds the held-out's sky130 offset back: no bias. Bias is read from the MAE here, since every net's
    prediction is the same constant and every net's truth is the tiny design's label plus 0.1."""
    bench = _bench()
    plain, _ = _gbm_bias(bench, designs, "pdp8_sky130hd")
    tech, _ = _gbm_bias(bench, designs, "pdp8_sky130hd", tech_offset=["gbm"])
    y = designs["pdp8_sky130hd"].target("total-cap")[0].numpy()
    base = float(np.mean(y))  # the held-out mean: b + 0.1 (+ prior)
    mae = lambda c: float(np.mean(np.abs(y - c)))  # noqa: E731
    # technology offsets (training designs only): m = (0.1 + 0.1 - 0.2) / 3 + b = b, m_sky130 = b + 0.1
    assert plain["results"]["total-cap"]["gbm"][0]["mae"] == pytest.approx(mae(base - 0.1), abs=1e-5)
    assert tech["results"]["total-cap"]["gbm"][0]["mae"] == pytest.approx(mae(base), abs=1e-5)
    # pin-count never reads the option; the GNN rows only when named
    assert (tech["results"]["total-cap"]["pin-count"][0]["mae"]
            == pytest.approx(plain["results"]["total-cap"]["pin-count"][0]["mae"]))


def test_tech_offset_is_a_no_op_within_one_pdk(designs):
    """Every design sky130: m_t = m, every offset 0, so the gbm row's numbers are those without the option."""
    sky = {n: d for n, d in designs.items() if n != "i2c_sg13g2"}
    bench = _bench()
    plain, _ = _gbm_bias(bench, sky, "gcd_sky130hs")
    tech, _ = _gbm_bias(bench, sky, "gcd_sky130hs", tech_offset=["gbm"], tail=["gbm"], tail_weight=0.0)
    assert tech["results"]["total-cap"]["gbm"][0]["mae"] == pytest.approx(plain["results"]["total-cap"]["gbm"][0]["mae"])


def test_bad_rows_are_refused_by_name(capsys):
    bench = _bench()
    with pytest.raises(SystemExit):
        bench.main(["--tech-offset", "gbm,nosuchrow", "--tail", "circuitgcl"])
    err = capsys.readouterr().err
    assert "nosuchrow" in err and "circuitgcl" in err
    with pytest.raises(SystemExit):
        bench.main(["--tail-weight", "-1"])
    assert "--tail-weight" in capsys.readouterr().err


def test_rows_run_by_hand():
    """The blend and ensemble rows come with both their members, never with one of them."""
    bench = _bench()
    both = bench.rows_run(argparse.Namespace(rows=["gnn-mse", "gbm"]))
    assert both == ["gbm", "gnn-mse", "gnn-mse+gbm", "gnn-mse-ens", "gnn-mse-ens+gbm"]
    assert bench.rows_run(argparse.Namespace(rows=[])) == bench.ROWS
    assert bench.rows_run(argparse.Namespace(rows=["pin-count", "gnn-bmse"])) == ["pin-count", "gnn-bmse"]


def test_rows_and_merge_take_the_other_rows_from_the_earlier_run(designs):
    """An earlier run of every row; a run of gbm and gnn-mse (their blends with them) with per-PDK offsets for gbm:
    the merged result keeps the new gbm (the tech-offset gbm predicts the held-out mean exactly, see
    test_tech_offset_removes_the_pdk_shift_by_hand, where the earlier one is 0.1 below it) and the earlier pin-count
    and gnn-bmse, and says which came from where. Different seeds, or rows that were themselves merged, are refused."""
    bench = _bench()
    held = "pdp8_sky130hd"
    old_args = _args(list(designs))
    full = bench.fold(held, designs, old_args, lambda msg: None)
    earlier = {"folds": {held: full}, "total_seconds": 5.0, "meta": {"args": vars(old_args)}}
    new_args = _args(list(designs), rows=["gbm", "gnn-mse"], tech_offset=["gbm"])
    part = bench.fold(held, designs, new_args, lambda msg: None)
    res = part["results"]["total-cap"]
    assert res["pin-count"] == [] and res["gnn-bmse"] == [] and len(res["gbm"]) == 1
    assert len(res["gnn-mse+gbm"]) == 1 and len(res["gnn-mse-ens+gbm"]) == 1
    out = bench.merge({"folds": {held: part}, "total_seconds": 1.0}, earlier, new_args)
    got, old = out["folds"][held]["results"]["total-cap"], full["results"]["total-cap"]
    assert got["pin-count"] == old["pin-count"] and got["gnn-bmse"] == old["gnn-bmse"]
    y = designs[held].target("total-cap")[0].numpy()
    base = float(np.mean(y))
    assert got["gbm"][0]["mae"] == pytest.approx(float(np.mean(np.abs(y - base))), abs=1e-5)
    assert old["gbm"][0]["mae"] == pytest.approx(float(np.mean(np.abs(y - base + 0.1))), abs=1e-5)
    assert out["merged"]["rows"] == ["pin-count", "gnn-bmse", "circuitgcl"]
    text = bench.merged_text(out, new_args)
    assert "--rows gbm,gnn-mse --tech-offset gbm" in text
    assert "Rows pin-count, gnn-bmse, circuitgcl: the earlier" in text
    with pytest.raises(ValueError, match="seeds"):
        bench.merge({"folds": {held: part}, "total_seconds": 1.0},
                    {**earlier, "meta": {"args": {**vars(old_args), "seeds": [1]}}}, new_args)
    with pytest.raises(ValueError, match="epochs"):
        bench.merge({"folds": {held: part}, "total_seconds": 1.0},
                    {**earlier, "meta": {"args": {**vars(old_args), "epochs": 60}}}, new_args)
    with pytest.raises(ValueError, match="pin-count"):
        bench.merge({"folds": {held: part}, "total_seconds": 1.0}, {**out, "meta": {"args": vars(new_args)}},
                    new_args)
    with pytest.raises(ValueError, match="gcd_sky130hs"):
        bench.merge({"folds": {"gcd_sky130hs": part}, "total_seconds": 1.0}, earlier, new_args)


def test_bad_rows_options_are_refused_by_name(capsys):
    bench = _bench()
    with pytest.raises(SystemExit):
        bench.main(["--rows", "gbm,nosuchrow"])
    assert "nosuchrow" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--rows", "gbm"])
    assert "gnn-mse" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--rows", "gnn-mse+gbm"])  # a derived row is not run on its own
    assert "gnn-mse+gbm" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--rows", "gbm,gnn-mse"])  # a report of some rows only, with nothing to merge
    assert "--merge" in capsys.readouterr().err


def test_gbm_grouped_folds_choose_and_record_the_iterations(designs, capsys):
    """Copies of the tiny design: too few nets for a split, so every iteration predicts the training mean and the
    grouped curve is flat: its first maximum, 1 iteration, is chosen and recorded; with sky130 +0.1 / sg13g2 -0.2 and
    no per-PDK offsets the one-iteration gbm still predicts the union mean, 0.1 below the held-out pdp8_sky130hd
    (as test_tech_offset_removes_the_pdk_shift_by_hand). Out-of-range folds are refused by name."""
    bench = _bench()
    out, _ = _gbm_bias(bench, designs, "pdp8_sky130hd", gbm_grouped_folds=3)
    gbm = out["results"]["total-cap"]["gbm"][0]
    assert gbm["gbm_iterations"] == 1
    y = designs["pdp8_sky130hd"].target("total-cap")[0].numpy()
    assert gbm["mae"] == pytest.approx(float(np.mean(np.abs(y - float(np.mean(y)) + 0.1))), abs=1e-5)
    assert "gbm_iterations" not in out["results"]["total-cap"]["pin-count"][0]
    with pytest.raises(SystemExit):
        bench.main(["--gbm-grouped-folds", "1"])
    assert "--gbm-grouped-folds" in capsys.readouterr().err


def test_antenna_option_is_named_in_the_command_and_the_setup_text():
    bench = _bench()
    a = dict(seeds=[0, 1], gcl_seeds=[0, 1], context=["gbm"], locality=True, antenna=True)
    command = bench.command_text(a)
    assert "--context gbm --locality --antenna" in command
    assert "--antenna" not in bench.command_text({**a, "antenna": False})
    text = bench.context_text(argparse.Namespace(**a, tech_offset=[], gbm_grouped_folds=0))
    assert "antenna-diode columns (`--antenna`" in text and "locality columns" in text
    assert "antenna" not in bench.context_text(argparse.Namespace(**{**a, "antenna": False}, tech_offset=[],
                                                                  gbm_grouped_folds=0))
