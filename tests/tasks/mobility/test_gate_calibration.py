"""Calibration of the exploration gate (graphrep.tasks.mobility.calibration): Platt scaling recovers a known map, the
shifted ranks equal a rescoring, and the calibration reads the validation split only."""

import math

import pytest
import torch

from graphrep.data.errors import InvalidInputError
from graphrep.data.mobility import load_checkins
from graphrep.models.trajmoe import TrajMoE, TrajMoEConfig, gated_log_probs
from graphrep.tasks.mobility.calibration import (SHIFTS, GateSummary, _summarise, calibrate_gate, fit_platt,
                                                  gate_summary, shifted_ranks)
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
    with pytest.raises(InvalidInputError, match="margin"):
        calibrate_gate(model, guarded, rule="platt", margin=0.05)
    with pytest.raises(InvalidInputError, match="rule"):
        calibrate_gate(model, data, rule="test")


def test_gate_settings_need_the_gate():
    with pytest.raises(InvalidInputError, match="explore_gate"):
        TrajMoEConfig(gate_shift=0.5)
    assert math.isclose(TrajMoEConfig(explore_gate=True, gate_shift=0.5).gate_shift, 0.5)
