"""Calibration of the exploration gate (graphrep.tasks.mobility.calibration): Platt scaling recovers a known map, the
shifted ranks equal a rescoring, and the calibration reads the validation split only."""

import math

import pytest
import torch

from graphrep.data.errors import InvalidInputError
from graphrep.data.mobility import load_checkins
from graphrep.models.trajmoe import TrajMoE, TrajMoEConfig, first_pick_scores, gated_log_probs
from graphrep.tasks.mobility.calibration import (SHIFTS, Z95, GateSummary, _confident_shift, _summarise,
                                                  calibrate_gate, confident_gain, fit_platt, gate_summary,
                                                  shifted_ranks, two_stage_ranks)
from graphrep.tasks.mobility.training import prepare_city
from graphrep.train.metrics import target_ranks

from test_mobility_training import fake_embed, write_city  # tests/tasks/mobility is on sys.path (rootdir import)


def test_platt_scaling_recovers_a_known_map_of_the_logits():
    gen = torch.Generator().manual_seed(0)
    g = 2.0 * torch.randn(200_000, generator=gen)
    y = torch.rand(200_000, generator=gen) < torch.sigmoid(0.5 * g - 1.2)  # the truth: a = 0.5, s = -1.2
    a, s = fit_platt(g, y)
    assert a == pytest.approx(0.5, abs=0.02) and s == pytest.approx(-1.2, abs=0.03)
    # at the optimum the mean calibrated probability equals the share of positives (the intercept's score equation)
    assert float(torch.sigmoid(a * g + s).mean()) == pytest.approx(float(y.float().mean()), abs=1e-6)
    with pytest.raises(InvalidInputError, match="both new and returning"):
        fit_platt(g[:10], torch.zeros(10, dtype=torch.bool))


@pytest.mark.parametrize("scale,shift", [(1.0, 0.0), (1.0, 1.5), (0.5, -2.0), (2.0, 3.0)])
def test_shifted_ranks_equal_the_ranks_of_the_rescored_mixture(scale, shift):
    gen = torch.Generator().manual_seed(1)
    m, v = 64, 30
    z_ret, z_new = 3 * torch.randn(m, v, generator=gen), 3 * torch.randn(m, v, generator=gen)
    g = torch.randn(m, generator=gen)
    visited = torch.rand(m, v, generator=gen) < 0.3
    visited[0], visited[1] = False, True  # a row without history and a row with nothing left to explore
    visited[2:, 0] = True
    has = visited.any(1)
    targets = torch.randint(0, v, (m,), generator=gen)
    logp = gated_log_probs(z_ret, z_new, visited, g, has)
    summary = _summarise(logp, targets, visited, g, depth=v)
    s = GateSummary(is_new=~visited[torch.arange(m), targets], **summary)
    want = target_ranks(gated_log_probs(z_ret, z_new, visited, scale * g + shift, has), targets)
    assert torch.equal(shifted_ranks(s, scale, shift), want)
    # a shift moves new venues up: new targets' ranks never get worse, returns' never better
    up = shifted_ranks(s, scale, shift + 1.0)
    base = shifted_ranks(s, scale, shift)
    assert (up[s.on_new_path] <= base[s.on_new_path]).all() and (up[~s.on_new_path] >= base[~s.on_new_path]).all()


def _random_mixture(seed, m=64, v=30):
    gen = torch.Generator().manual_seed(seed)
    z_ret, z_new = 3 * torch.randn(m, v, generator=gen), 3 * torch.randn(m, v, generator=gen)
    g = torch.randn(m, generator=gen)
    visited = torch.rand(m, v, generator=gen) < 0.3
    visited[0], visited[1] = False, True  # a row without history and a row with nothing left to explore
    visited[2:, 0] = True
    targets = torch.randint(0, v, (m,), generator=gen)
    # half the targets at a row's best venue of either path, where position 1 is decided
    best = torch.where(torch.rand(m, generator=gen) < 0.5, z_ret.masked_fill(~visited, -1e9).argmax(1),
                       z_new.masked_fill(visited, -1e9).argmax(1))
    targets = torch.where(torch.rand(m, generator=gen) < 0.5, best, targets)
    return z_ret, z_new, g, visited, targets


def _slow_two_stage_ranks(logp_list, logp_first, targets):
    """Reference: build each row's list by sorting the full score vectors: the first map's best venue, then the
    rest in the list map's order."""
    out = []
    for row in range(len(targets)):
        first = int(logp_first[row].argmax())
        rest = [int(v) for v in torch.argsort(logp_list[row], descending=True) if int(v) != first]
        out.append(([first] + rest).index(int(targets[row])) + 1)
    return torch.tensor(out)


@pytest.mark.parametrize("first_shift,shift", [(0.0, 0.0), (-1.5, 2.0), (1.0, -1.0), (-math.inf, 3.0)])
def test_two_stage_ranks_equal_a_full_resort_of_the_two_mixtures(first_shift, shift):
    z_ret, z_new, g, visited, targets = _random_mixture(2)
    has, scale = visited.any(1), 0.8
    logp = gated_log_probs(z_ret, z_new, visited, g, has)
    s = GateSummary(is_new=~visited[torch.arange(len(g)), targets],
                    **_summarise(logp, targets, visited, g, depth=z_ret.size(1)))
    logp_list = gated_log_probs(z_ret, z_new, visited, scale * g + shift, has)
    logp_first = gated_log_probs(z_ret, z_new, visited, scale * g + first_shift, has)
    want = _slow_two_stage_ranks(logp_list, logp_first, targets)
    got = two_stage_ranks(s, scale, shift, scale, first_shift)
    assert torch.equal(got, want)
    # the model's scores for the two-stage list rank the same
    assert torch.equal(target_ranks(first_pick_scores(logp_list, logp_first), targets), want)
    # position 1 is the first map's argmax: rank 1 exactly where the one-map ranking with the first shift says 1
    assert torch.equal(got == 1, shifted_ranks(s, scale, first_shift) == 1)
    # below the top the two-stage list moves a target by at most one place from the list map's ranking
    listed = shifted_ranks(s, scale, shift)
    assert ((got - listed)[got > 1] >= 0).all() and ((got - listed)[got > 1] <= 1).all()
    if first_shift == -math.inf:  # never new first: no new-path target is at position 1 in a row with history
        assert not (got[s.on_new_path & ~s.fixed] == 1).any()


def test_confident_gain_is_the_one_sided_normal_lower_end():
    # 20 targets only the model finds, 10 only the baseline, 70 neither or both: mean 0.1, sum of x^2 = 30,
    # sample variance (30 - 100 * 0.1^2) / 99 = 29 / 99
    hits = torch.tensor([1] * 20 + [0] * 10 + [1] * 35 + [0] * 35, dtype=torch.bool)
    base = torch.tensor([0] * 20 + [1] * 10 + [1] * 35 + [0] * 35, dtype=torch.bool)
    c = confident_gain(hits, base)
    assert c["n"] == 100 and c["gain"] == pytest.approx(0.1)
    assert c["std"] == pytest.approx(math.sqrt(29 / 99))
    assert c["lower"] == pytest.approx(0.1 - 1.6448536 * math.sqrt(29 / 99) / 10)
    assert Z95 == pytest.approx(1.6448536269514722)
    assert confident_gain(hits[:1], base[:1])["lower"] == -math.inf


def _toy_summary(thresholds):
    """New targets at the top of their path (value 0) against return paths whose best venue (100) is always first
    and whose 9 others score ``t``: with the first position never new, a target is at rank 2 iff the list shift
    d >= t (else 11)."""
    m = len(thresholds)
    other = torch.cat([torch.full((m, 1), 100.0), torch.tensor(thresholds, dtype=torch.float32)[:, None].expand(m, 9)],
                      1)
    return GateSummary(g=torch.zeros(m), is_new=torch.ones(m, dtype=torch.bool),
                       on_new_path=torch.ones(m, dtype=torch.bool), value=torch.zeros(m),
                       inner=torch.zeros(m, dtype=torch.int64), other=other, fixed=torch.zeros(m, dtype=torch.bool),
                       fixed_rank=torch.ones(m, dtype=torch.int64), top=torch.zeros(m))


def test_the_two_stage_rule_takes_the_smallest_shift_confidently_above_popularity():
    # popularity finds targets 0-9 (the model never does: t = 100); the model finds 12 more from shift 0 on and 30 more
    # from shift 1 on. At d = 0: x = +1 x 12, -1 x 10, mean 0.02, sample variance (22 - 100 * 0.02^2) / 99, lower end
    # 0.02 - 1.645 * 0.0471 = -0.058 < 0 (above popularity, but not with confidence: margin 0 would stop here). At
    # d = 1: x = +1 x 42, -1 x 10, mean 0.32, lower end 0.32 - 1.645 * sqrt((52 - 100 * 0.32^2) / 99) / 10 = 0.22 > 0.
    thresholds = [100.0] * 10 + [0.0] * 12 + [1.0] * 30 + [100.0] * 48
    s = _toy_summary(thresholds)
    popularity = torch.tensor([1] * 10 + [50] * 90)
    ranks = two_stage_ranks(s, 1.0, 0.5, 1.0, -math.inf)
    assert (ranks[10:22] == 2).all() and (ranks[22:52] == 11).all()  # the hand-computed ranks at d = 0.5
    shift, paired, sure = _confident_shift(s, 1.0, 0.0, -math.inf, popularity)
    assert sure and shift == 1.0
    assert paired["gain"] == pytest.approx(0.32)
    assert paired["lower"] == pytest.approx(0.32 - Z95 * math.sqrt((52 - 100 * 0.32 ** 2) / 99) / 10)
    below = confident_gain(two_stage_ranks(s, 1.0, 0.75, 1.0, -math.inf) <= 5, popularity <= 5)
    assert below["gain"] == pytest.approx(0.02) and below["lower"] < 0
    # the grid is relative to Platt's shift: from -0.3 the first grid point at or above 1 is -0.3 + 1.5
    assert _confident_shift(s, 1.0, -0.3, -math.inf, popularity)[0] == pytest.approx(1.2)
    # if no shift is confident, the one with the highest lower end (the smallest among equals)
    weak = _toy_summary([100.0] * 10 + [0.0] * 11 + [100.0] * 79)
    shift, paired, sure = _confident_shift(weak, 1.0, 0.0, -math.inf, popularity)
    assert not sure and shift == 0.0 and paired["gain"] == pytest.approx(0.01)


class _ValidOnly(dict):
    """Windows that refuse any split but validation: calibration must never read test (or train) labels."""

    def __getitem__(self, key):
        if key != "valid":
            raise AssertionError(f"calibration read the {key!r} windows")
        return super().__getitem__(key)


def _city_and_model(tmp_path):
    path = write_city(tmp_path / "a")
    data = prepare_city("a", checkins=load_checkins(path, city="a"), length=8, embed_categories=fake_embed)
    torch.manual_seed(0)
    model = TrajMoE(TrajMoEConfig(category_dim=8, dim=16, heads=2,
                                  expert_hidden=16, max_len=8, explore_gate=True, new_scores=True))
    return model, data


def test_calibration_reads_validation_only_and_is_stored_in_the_config(tmp_path):
    model, data = _city_and_model(tmp_path)
    raw = gate_summary(model, data, "valid")
    active = ~raw.fixed
    guarded = type(data)(**{**data.__dict__, "windows": _ValidOnly(data.windows)})
    info = calibrate_gate(model, guarded, rule="platt")
    a, s = fit_platt(raw.g[active], raw.is_new[active])
    assert model.config.gate_scale == pytest.approx(a) and model.config.gate_shift == pytest.approx(s)
    assert info["part"] == "valid" and info["scale"] == pytest.approx(a)
    # the stored calibration is what the model now predicts with: mean P(new) = the validation new share
    with torch.no_grad():
        model.eval()(data.features, data.windows["valid"].batch(torch.arange(len(data.windows["valid"]))),
                     data.graph, data.markov)
    p = torch.sigmoid(model.last_gate)[active]
    assert float(p.mean()) == pytest.approx(float(raw.is_new[active].float().mean()), abs=1e-4)
    # gate_summary sets the calibration aside: the raw logits are the same after calibrating
    again = gate_summary(model, data, "valid")
    assert torch.allclose(again.g, raw.g, atol=1e-5)
    assert model.config.gate_shift == pytest.approx(s)
    # the acc5 rule picks its shift on validation Acc@5: never below the Platt calibration's
    info5 = calibrate_gate(model, guarded, rule="acc5")
    assert info5["valid"]["acc@5"] >= info["valid"]["acc@5"] - 1e-12
    # the popularity rule: the smallest shift above Platt's whose validation new-venue Acc@5 beats popularity's
    infop = calibrate_gate(model, guarded, rule="popularity")
    assert infop["shift"] >= infop["platt_shift"]
    if infop["shift"] < infop["platt_shift"] + max(SHIFTS):
        assert infop["valid"]["new/acc@5"] > infop["popularity_new_acc@5"]
        lower = shifted_ranks(raw, infop["scale"], infop["shift"] - 0.25)[raw.is_new]
        assert infop["shift"] == infop["platt_shift"] or (lower <= 5).double().mean() <= infop["popularity_new_acc@5"]
    # with a margin: the smallest shift whose validation new-venue Acc@5 beats popularity's + margin (never below the
    # shift without one)
    inform = calibrate_gate(model, guarded, rule="popularity", margin=0.05)
    assert inform["shift"] >= infop["shift"]
    if inform["shift"] < inform["platt_shift"] + max(SHIFTS):
        assert inform["valid"]["new/acc@5"] > inform["popularity_new_acc@5"] + 0.05
        lower = shifted_ranks(raw, inform["scale"], inform["shift"] - 0.25)[raw.is_new]
        assert (inform["shift"] == inform["platt_shift"]
                or (lower <= 5).double().mean() <= inform["popularity_new_acc@5"] + 0.05)
    # acc1: the best validation Acc@1 of the grid (never new included)
    info1 = calibrate_gate(model, guarded, rule="acc1")
    assert info1["valid"]["acc@1"] >= max(info["valid"]["acc@1"], info["raw"]["acc@1"]) - 1e-12
    assert model.config.first_gate_shift is None
    # two-stage: the first position is the acc1 map's, stored beside the list map
    info2 = calibrate_gate(model, guarded, rule="two-stage")
    c = model.config
    assert c.first_gate_scale == pytest.approx(info1["scale"])
    assert c.first_gate_shift == pytest.approx(info1["shift"])
    assert info2["valid"]["acc@1"] == pytest.approx(info1["valid"]["acc@1"])
    assert info2["confident"] == (info2["paired"]["lower"] > 0)
    # the model now ranks with both maps: its first venue is the acc1 map's argmax, its list the two-stage one
    batch = data.windows["valid"].batch(torch.arange(len(data.windows["valid"])))
    with torch.no_grad():
        two, targets = model.eval()(data.features, batch, data.graph, data.markov)
        saved = (c.first_gate_scale, c.first_gate_shift, c.gate_shift)
        c.first_gate_scale = c.first_gate_shift = None
        listed = model(data.features, batch, data.graph, data.markov)[0]
        c.gate_shift = saved[1]
        first = model(data.features, batch, data.graph, data.markov)[0]
        c.first_gate_scale, c.first_gate_shift, c.gate_shift = saved
    assert torch.equal(two.argmax(1), first.argmax(1))
    raw2 = gate_summary(model, data, "valid")
    assert torch.equal(target_ranks(two, targets), two_stage_ranks(raw2, c.gate_scale, c.gate_shift, c.gate_scale,
                                                                   c.first_gate_shift))
    # every venue but the first keeps the list map's score; the first is raised above the row
    pick = torch.nn.functional.one_hot(two.argmax(1), listed.size(1)).bool()
    assert torch.allclose(two[~pick], listed[~pick])
    assert (two[pick] > listed.amax(1)).all()
    # a later one-map calibration replaces both maps
    calibrate_gate(model, guarded, rule="platt")
    assert model.config.first_gate_shift is None and model.config.first_gate_scale is None
    with pytest.raises(InvalidInputError, match="margin"):
        calibrate_gate(model, guarded, rule="platt", margin=0.05)
    with pytest.raises(InvalidInputError, match="rule"):
        calibrate_gate(model, data, rule="test")


def test_gate_settings_need_the_gate():
    with pytest.raises(InvalidInputError, match="explore_gate"):
        TrajMoEConfig(gate_shift=0.5)
    assert math.isclose(TrajMoEConfig(explore_gate=True, gate_shift=0.5).gate_shift, 0.5)
    with pytest.raises(InvalidInputError, match="explore_gate"):
        TrajMoEConfig(first_gate_scale=1.0, first_gate_shift=0.5)
    with pytest.raises(InvalidInputError, match="together"):
        TrajMoEConfig(explore_gate=True, first_gate_shift=0.5)
    with pytest.raises(InvalidInputError, match="-inf"):
        TrajMoEConfig(explore_gate=True, first_gate_scale=1.0, first_gate_shift=math.inf)
    assert TrajMoEConfig(explore_gate=True, first_gate_scale=1.0, first_gate_shift=-math.inf).first_gate_shift < 0
