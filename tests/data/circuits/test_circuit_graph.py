"""The circuit graph: a hand-made design checked node by node, and the five real designs (>= 99% of SPEF nets matched)."""

import math

import pytest
import torch

from graphrep.data.circuits.dataset import load_design
from graphrep.data.circuits.graph import (CIRCUITGCL_DECADES, CIRCUITGCL_REF, INSTANCE_FEATURES, NET_FEATURES,
                                          PIN_FEATURES, bucketize, build_graph, homogeneous, log_scale)
from graphrep.data.errors import GraphrepError

from circuit_fixtures import DESIGN_SPEF as SPEF, DESIGN_VERILOG as VERILOG, LIB



@pytest.fixture()
def design(tmp_path):
    (tmp_path / "top.v").write_text(VERILOG)
    (tmp_path / "top.spef").write_text(SPEF)
    (tmp_path / "cells.lib").write_text(LIB)
    return load_design(tmp_path)


def test_scales_and_buckets_by_formula():
    c = torch.tensor([0.0, 1e-21, 1e-18, 1e-15, 1e-12], dtype=torch.float64)
    # CircuitGCL: clip(log10(C * 1e21) / 6, 0, 1); 1 aF -> 0.5, 1 fF -> 1 (saturated)
    assert log_scale(c, CIRCUITGCL_REF, CIRCUITGCL_DECADES).tolist() == pytest.approx([0, 0, 0.5, 1, 1])
    assert log_scale(c).tolist() == pytest.approx([0, 0, 0, 0.5, 1])
    assert bucketize(torch.tensor([1e-16, 3e-16, 2e-15, 5e-15, 1e-13])).tolist() == [0, 1, 2, 3, 4]


def test_small_design_nodes_edges_features_labels(design):
    data, report = build_graph(design)
    assert sorted(data["instance"].names) == ["ANTENNA_1", "g1", "g2"]
    assert sorted(data["net"].names) == ["a", "clk", "n1", "y"]  # VDD/VSS left out by name
    assert report.skipped["supply nets (by name)"] == 2
    assert report.skipped_names["instances only in the SPEF, kept as flagged pins (e.g. ANTENNA_* inserted after "
                                "synthesis)"] == ["ANTENNA_1"]
    assert report.matched == 2 and report.unmatched_spef == ["ghost"]
    assert sorted(report.unlabelled_nets) == ["a", "clk"]
    pins = data["pin"].names
    assert sorted(pins) == sorted(["clk", "g2/A2", "a", "g1/A1", "g1/A2", "y", "g2/ZN", "g1/ZN", "g2/A1",
                                   "ANTENNA_1/A"])
    px = data["pin"].x
    col = PIN_FEATURES.index
    a1 = pins.index("g1/A1")
    assert px[a1, col("dir_input")] == 1 and px[a1, col("log_cap_ff")] == pytest.approx(math.log1p(1.5))
    assert px[pins.index("g1/ZN"), col("dir_output")] == 1 and px[pins.index("g1/ZN"), col("has_cap")] == 0
    ant = pins.index("ANTENNA_1/A")
    assert px[ant, col("spef_only")] == 1 and px[ant, col("dir_input")] == 1  # direction from the SPEF *CONN
    assert px[pins.index("clk"), col("is_port")] == 1 and px[pins.index("g2/A2"), col("is_clock")] == 1
    nx = data["net"].x
    n1 = data["net"].names.index("n1")
    ncol = NET_FEATURES.index
    assert nx[n1, ncol("log_degree")] == pytest.approx(math.log(4))  # g1/ZN, g2/A1, ANTENNA_1/A
    assert nx[n1, ncol("log_fanout")] == pytest.approx(math.log(3))
    assert nx[n1, ncol("log_sink_cap_ff")] == pytest.approx(math.log1p(1.5))  # only g2/A1 has a Liberty cap
    assert nx[n1, ncol("log_mean_cell_area_um2")] == pytest.approx(math.log(0.798))
    ix = data["instance"].x
    g1 = data["instance"].names.index("g1")
    assert ix[g1, INSTANCE_FEATURES.index("family_nand")] == 1 and ix[g1, INSTANCE_FEATURES.index("log_outputs")] == pytest.approx(math.log(2))
    # every pin on exactly one net; instance-pin edges exclude ports
    assert data["pin", "on", "net"].edge_index.size(1) == len(pins)
    assert data["instance", "has", "pin"].edge_index.size(1) == len(pins) - 3
    assert torch.equal(data["net", "connects", "pin"].edge_index, data["pin", "on", "net"].edge_index.flip(0))
    # labels: totals as stated, ground summed, coupling counted once per pair
    mask = data["net"].label_mask
    assert [n for n, m in zip(data["net"].names, mask.tolist()) if m] == [n for n in data["net"].names if n in "n1 y"]
    assert data["net"].total_cap[n1].item() == pytest.approx(5e-15)
    assert data["net"].ground_cap[n1].item() == pytest.approx(2e-15)
    y = data["net"].names.index("y")
    assert data.coupling_index.t().tolist() == [sorted([y, n1])] and data.coupling_cap.tolist() == pytest.approx([3e-15])
    assert data["net"].y_total[n1].item() == pytest.approx(math.log10(5e3) / 6)
    assert data["net"].ground_bucket[[n1, y]].tolist() == [2, 2]  # 2 fF and 1 fF: both in [1, 3) fF


def test_homogeneous_view_blocks_and_edges(design):
    data, _ = build_graph(design)
    h = homogeneous(data)
    ni, npin, nn = (data[t].num_nodes for t in ("instance", "pin", "net"))
    assert h.num_nodes == ni + npin + nn and h.net_offset == ni + npin and h.num_nets == nn
    assert h.x.size(1) == 3 + len(INSTANCE_FEATURES) + len(PIN_FEATURES) + len(NET_FEATURES)
    assert torch.equal(h.x[h.net_offset:, 3 + len(INSTANCE_FEATURES) + len(PIN_FEATURES):], data["net"].x)
    assert torch.equal(h.x[:, :3].argmax(1), h.node_type)
    assert h.edge_index.size(1) == 2 * (data["instance", "has", "pin"].edge_index.size(1) + npin)
    # every edge joins a pin to an instance or a net
    types = h.node_type[h.edge_index]
    assert ((types[0] == 1) ^ (types[1] == 1)).all()


def test_missing_files_are_named(tmp_path):
    (tmp_path / "top.v").write_text(VERILOG)
    with pytest.raises(GraphrepError, match="expected one .spef file, found 0"):
        load_design(tmp_path)


DESIGNS = {"gcd_sky130hd": (288, 252), "i2c_sg13g2": (945, 988), "gcd_nangate45": (316, 279),
           "gcd_sky130hs": (411, 375), "user_proj_gf180": (874, 1540)}


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_real_designs_match_their_spef(shared_data, name):
    design = load_design(shared_data / "circuits" / name)
    data, report = build_graph(design)
    spef_nets, instances = DESIGNS[name]
    assert report.spef_nets == spef_nets and report.match_rate >= 0.99
    assert data["instance"].num_nodes == instances
    mask = data["net"].label_mask
    assert int(mask.sum()) == report.matched
    # SPEF totals are ground plus coupling (PIN_CAP NONE): check on the parsed nets, per net
    for net in list(design.spef.nets.values())[:50]:
        assert net.total_cap == pytest.approx(net.ground_cap + sum(c for *_, c in net.coupling), rel=1e-4)
    if name == "i2c_sg13g2":  # 50 ANTENNA_* connections not in the Verilog: kept, flagged
        flag = data["pin"].x[:, PIN_FEATURES.index("spef_only")]
        assert int(flag.sum()) == 50
    if name == "gcd_nangate45":
        assert data["net"].x[:, NET_FEATURES.index("has_hpwl")].sum() > 0.9 * data["net"].num_nodes


class _Custom:
    pass


def test_released_pt_loads_weights_only_and_refuses_pickles(tmp_path):
    from torch_geometric.data import Data

    from graphrep.data.circuits.released import load_released_pt
    from graphrep.data.errors import InvalidInputError

    good = tmp_path / "g.pt"
    torch.save({"x": torch.ones(2, 3), "edge_index": torch.tensor([[0], [1]])}, good)
    assert torch.equal(load_released_pt(good)["x"], torch.ones(2, 3))
    pyg = tmp_path / "d.pt"
    torch.save(Data(x=torch.zeros(3, 1), edge_index=torch.tensor([[0, 1], [1, 2]])), pyg)
    assert load_released_pt(pyg).num_nodes == 3
    bad = tmp_path / "bad.pt"
    torch.save({"obj": _Custom()}, bad)
    with pytest.raises(InvalidInputError, match=r"bad\.pt: .*pickled Python objects .*_Custom"):
        load_released_pt(bad)
    # PyG's own allow-list is left as it was (the ogb loader depends on it)
    assert Data in torch.serialization.get_safe_globals()
    junk = tmp_path / "junk.pt"
    junk.write_text("not a torch file")
    with pytest.raises(InvalidInputError, match="junk.pt"):
        load_released_pt(junk)


def test_pin_owners_held_as_other_string_objects_give_the_same_graph(design):
    """The builder finds pin owners among the instances by identity first (the readers share the key objects); a
    netlist whose pins hold equal strings that are other objects (as another reader may make) gives the same graph."""
    data, report = build_graph(design)
    nl = design.netlist
    for net, pins in nl.nets.items():
        nl.nets[net] = [(None if inst is None else "".join(list(inst)), pin) for inst, pin in pins]
    keys = {id(k) for k in nl.instances}
    owners = [inst for pins in nl.nets.values() for inst, _ in pins if inst is not None]
    assert owners and not any(id(inst) in keys for inst in owners)
    again, report2 = build_graph(design)
    assert again["instance"].names == data["instance"].names and again["pin"].names == data["pin"].names
    for t in ("instance", "pin", "net"):
        assert torch.equal(again[t].x, data[t].x)
    for edge in data.edge_types:
        assert torch.equal(again[edge].edge_index, data[edge].edge_index)
    assert report2.skipped == report.skipped
