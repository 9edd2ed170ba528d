"""Technology normalisation (:mod:`graphrep.tasks.circuits.normalise`): per-technology label offsets from the
training designs only, and technology-scale feature columns centred per design, against hand-computed values."""

import dataclasses

import pytest
import torch

from graphrep.data.circuits.graph import INSTANCE_FEATURES, NET_FEATURES, PIN_FEATURES
from graphrep.ops import CSR
from graphrep.tasks.circuits.normalise import _block_start, relative_features, technology_offsets
from graphrep.tasks.circuits.training import CircuitInputs

WIDTH = 3 + len(INSTANCE_FEATURES) + len(PIN_FEATURES) + len(NET_FEATURES)


def _design(name, y, prior, mask=None):
    """Labels ``y`` on ``len(y)`` nets (no graph needed for the label statistics)."""
    m = len(y)
    return CircuitInputs(
        name=name, x=torch.zeros(m, WIDTH), csr=CSR.from_edge_index(torch.zeros(2, 0, dtype=torch.long), (m, m)),
        net_index=torch.arange(m), net_x=torch.zeros(m, len(NET_FEATURES)), degree=torch.ones(m),
        y_total=torch.tensor(y), y_ground=torch.tensor(y) / 2, bucket=torch.zeros(m, dtype=torch.long),
        mask=torch.tensor(mask) if mask is not None else torch.ones(m, dtype=torch.bool),
        pairs=torch.zeros(2, 0, dtype=torch.long), pair_y=torch.zeros(0), link_pairs=torch.zeros(2, 0, dtype=torch.long),
        link_y=torch.zeros(0), prior_offset=prior)


def test_technology_offsets_by_hand():
    """Relative design means: a (p) 0.6 - 0.1 = 0.5 (its unlabelled 0.9 ignored), b (p) 0.3 (no prior: 0), c (q)
    0.6; overall mean 1.4 / 3; p: 0.4 - 1.4/3 = -1/15, q: 0.6 - 1.4/3 = 2/15; the held-out h (p) gets p's offset,
    a design of an unseen technology (r) or of none gets 0."""
    train = {"a": _design("a", [0.5, 0.7, 0.9], 0.1, [True, True, False]), "b": _design("b", [0.2, 0.4], None),
             "c": _design("c", [0.5, 0.7], 0.0)}
    tech = {"a": "p", "b": "p", "c": "q", "h": "p", "u": "r", "v": None}
    off = technology_offsets(train, tech, "total-cap")
    assert off == pytest.approx({"a": -1 / 15, "b": -1 / 15, "c": 2 / 15, "h": -1 / 15, "u": 0.0, "v": 0.0})
    assert off["a"] == pytest.approx(0.4 - 1.4 / 3)  # each design counts once, whatever its number of nets
    ground = technology_offsets(train, tech, "ground-cap")  # ground labels are y / 2 here: a 0.2, b 0.15, c 0.3
    assert ground["c"] == pytest.approx(0.3 - 0.65 / 3)


def test_technology_offsets_never_read_the_held_out_design():
    """The benchmark's use: every design in one dict, the offsets from the training names only. Changing the
    held-out design's labels and prior changes no offset (its own included); counting it as a training design
    would (so the check can fail)."""
    designs = {"a": _design("a", [0.5, 0.7], 0.1), "b": _design("b", [0.2, 0.4], 0.0), "c": _design("c", [0.6], 0.0),
               "h": _design("h", [0.1, 0.2], 0.0)}
    tech = {"a": "p", "b": "q", "c": "q", "h": "q"}
    train = ["a", "b", "c"]
    before = technology_offsets({n: designs[n] for n in train}, tech)
    assert before == pytest.approx({"a": 0.5 - 1.4 / 3, "b": 0.45 - 1.4 / 3, "c": 0.45 - 1.4 / 3,
                                    "h": 0.45 - 1.4 / 3})
    designs["h"] = dataclasses.replace(designs["h"], y_total=torch.tensor([0.9, 0.95]), prior_offset=0.3)
    assert technology_offsets({n: designs[n] for n in train}, tech) == before
    assert technology_offsets({n: designs[n] for n in train + ["h"]}, tech)["b"] != pytest.approx(before["b"])


def test_relative_features_centres_the_technology_columns_by_hand():
    """Two instances of log area 1 and 3 (known) and one unknown (flag 0, kept at 0): known ones become -1, +1; the
    nets' design-constant mean cell area becomes 0; other columns are untouched."""
    d = _design("d", [0.5, 0.6], 0.0)
    x = torch.zeros(5, WIDTH)
    x[:3, 0], x[3:, 2] = 1, 1  # three instances, two nets
    area, has = _block_start("instance") + INSTANCE_FEATURES.index("log_area_um2"), \
        _block_start("instance") + INSTANCE_FEATURES.index("has_area")
    x[0, area], x[1, area], x[0, has], x[1, has] = 1.0, 3.0, 1, 1
    drive = _block_start("instance") + INSTANCE_FEATURES.index("log2_drive")
    x[:3, drive] = torch.tensor([1.0, 2.0, 4.0])
    mean_area = NET_FEATURES.index("log_mean_cell_area_um2")
    net_x = torch.zeros(2, len(NET_FEATURES))
    net_x[:, mean_area], net_x[:, NET_FEATURES.index("has_cell_area")] = 2.0, 1
    net_x[:, NET_FEATURES.index("log_degree")] = torch.tensor([0.5, 1.5])
    x[3:, _block_start("net"):] = net_x
    d = dataclasses.replace(d, x=x, net_x=net_x, net_index=torch.tensor([3, 4]))
    r = relative_features(d)
    assert r.x[:3, area].tolist() == [-1.0, 1.0, 0.0]
    assert r.x[:, drive].tolist() == x[:, drive].tolist()
    assert r.net_x[:, mean_area].tolist() == [0.0, 0.0] and r.x[3:, _block_start("net") + mean_area].tolist() == [0, 0]
    assert r.net_x[:, NET_FEATURES.index("log_degree")].tolist() == [0.5, 1.5]
    assert d.x[0, area] == 1.0  # the input is not modified
    with pytest.raises(ValueError, match="design d"):
        relative_features(dataclasses.replace(d, x=x[:, :10]))


def test_shift_by_technology_moves_each_prior_by_hand():
    """Same designs as above (a p 0.5, b p 0.3 with no prior, c q 0.6 relative means): offsets p -1/15, q 2/15, added
    to each prior (b's None counts as 0); the held-out h (p, prior 0.2) gets p's, u (unseen r) 0; labels untouched;
    a training name missing from the designs is refused by name."""
    from graphrep.tasks.circuits.normalise import shift_by_technology

    designs = {"a": _design("a", [0.5, 0.7, 0.9], 0.1, [True, True, False]), "b": _design("b", [0.2, 0.4], None),
               "c": _design("c", [0.5, 0.7], 0.0), "h": _design("h", [0.9], 0.2), "u": _design("u", [0.3], 0.05)}
    tech = {"a": "p", "b": "p", "c": "q", "h": "p", "u": "r"}
    out = shift_by_technology(designs, ["a", "b", "c"], tech, "total-cap")
    want = {"a": 0.1 - 1 / 15, "b": -1 / 15, "c": 2 / 15, "h": 0.2 - 1 / 15, "u": 0.05}
    assert {n: d.prior_offset for n, d in out.items()} == pytest.approx(want)
    assert torch.equal(out["h"].y_total, designs["h"].y_total)
    with pytest.raises(KeyError, match="zz"):
        shift_by_technology(designs, ["a", "zz"], tech)


def test_size_offsets_by_hand():
    """Scales 1, 2, 3 and relative means a 0.6 - 0.5 = 0.1, b 0.3 - 0 = 0.3 (no prior: 0), c 0.2 - 0 = 0.2: slope
    b = ((-1)(-0.1) + 0 (0.1) + 1 (0)) / 2 = 0.05 around the mean scale 2; the held-out h (scale 4) gets 0.05 * 2;
    its labels are never read (changing them changes nothing; counting it as training would)."""
    from graphrep.tasks.circuits.normalise import size_offsets

    train = {"a": _design("a", [0.5, 0.7], 0.5), "b": _design("b", [0.2, 0.4], None), "c": _design("c", [0.2], 0.0)}
    scale = {"a": 1.0, "b": 2.0, "c": 3.0, "h": 4.0}
    off = size_offsets(train, scale)
    assert off == pytest.approx({"a": -0.05, "b": 0.0, "c": 0.05, "h": 0.1})
    with_h = size_offsets({**train, "h": _design("h", [0.9], 0.0)}, scale)
    assert with_h["h"] != pytest.approx(0.1)
    assert size_offsets({"a": train["a"]}, scale) == {n: 0.0 for n in scale}  # one design: no slope
    assert size_offsets(train, {**scale, "a": 2.0, "c": 2.0, "b": 2.0}) == {n: 0.0 for n in scale}  # one size
    with pytest.raises(KeyError, match="c"):
        size_offsets(train, {"a": 1.0, "b": 2.0})
    with pytest.raises(ValueError, match="h"):
        size_offsets(train, {**scale, "h": float("nan")})


def test_shift_by_size_moves_each_prior_by_hand():
    from graphrep.tasks.circuits.normalise import shift_by_size

    designs = {"a": _design("a", [0.5, 0.7], 0.5), "b": _design("b", [0.2, 0.4], None), "c": _design("c", [0.2], 0.0),
               "h": _design("h", [0.9], 0.2)}
    out = shift_by_size(designs, ["a", "b", "c"], {"a": 1.0, "b": 2.0, "c": 3.0, "h": 4.0})
    assert {n: d.prior_offset for n, d in out.items()} == pytest.approx({"a": 0.45, "b": 0.0, "c": 0.05, "h": 0.3})
    assert torch.equal(out["h"].y_total, designs["h"].y_total)
    with pytest.raises(KeyError, match="zz"):
        shift_by_size(designs, ["a", "zz"], {"a": 1.0, "b": 2.0, "c": 3.0, "h": 4.0})


def test_shift_by_technology_shrink_scales_the_offset_by_hand():
    """The designs of test_shift_by_technology_moves_each_prior_by_hand with shrink 0.5: half of each offset (p
    -1/30, q 1/15); shrink 0 leaves every prior (None as 0); outside [0, 1] refused."""
    from graphrep.tasks.circuits.normalise import shift_by_technology

    designs = {"a": _design("a", [0.5, 0.7, 0.9], 0.1, [True, True, False]), "b": _design("b", [0.2, 0.4], None),
               "c": _design("c", [0.5, 0.7], 0.0), "h": _design("h", [0.9], 0.2)}
    tech = {"a": "p", "b": "p", "c": "q", "h": "p"}
    half = shift_by_technology(designs, ["a", "b", "c"], tech, "total-cap", shrink=0.5)
    want = {"a": 0.1 - 1 / 30, "b": -1 / 30, "c": 1 / 15, "h": 0.2 - 1 / 30}
    assert {n: d.prior_offset for n, d in half.items()} == pytest.approx(want)
    none = shift_by_technology(designs, ["a", "b", "c"], tech, "total-cap", shrink=0.0)
    assert {n: d.prior_offset for n, d in none.items()} == pytest.approx({"a": 0.1, "b": 0.0, "c": 0.0, "h": 0.2})
    with pytest.raises(ValueError, match="shrink"):
        shift_by_technology(designs, ["a", "b", "c"], tech, shrink=1.5)
