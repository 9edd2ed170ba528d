"""Ranking metrics, the count baselines against slow references, training on a small synthetic city, and the CLI."""

import gzip
import json

import numpy as np
import pytest
import torch

from graphrep.cli import main
from graphrep.data.mobility import load_checkins
from graphrep.models.trajmoe import TrajMoE
from graphrep.train.metrics import ranking_metrics, target_ranks
from graphrep.tasks.mobility.training import TrainSettings, baseline_metrics, evaluate_model, prepare_city, train_model


def test_ranking_metrics_hand_computed():
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.1], [0.0, 0.0, 1.0]])
    ranks = target_ranks(scores, torch.tensor([0, 0, 1]))
    assert ranks.tolist() == [1, 2, 2]  # ties count in the target's favour
    m = ranking_metrics([1, 2, 6])
    assert m["acc@1"] == pytest.approx(1 / 3) and m["acc@5"] == pytest.approx(2 / 3) and m["acc@10"] == 1.0
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 6) / 3)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / np.log2(3)) / 3)


def write_city(folder, users=8, per_user=40, seed=0):
    """A small city where each user alternates between a home and a work venue, with some noise."""
    rng = np.random.default_rng(seed)
    lines = ["Uid,Pid,Catname,Region,Latitude,Longitude,Local Time"]
    for u in range(users):
        t = 0
        home, work = 2 * u, 2 * u + 1
        for i in range(per_user):
            t += int(rng.integers(120, 600))
            v = (home if i % 2 == 0 else work) if rng.random() < 0.8 else int(rng.integers(2 * users))
            day, minute = divmod(t, 1440)
            lines.append(f"{u},v{v},{'Home' if v % 2 == 0 else 'Office'},R,{35 + v / 50},{139 + v / 70},"
                         f"2013-01-{1 + day:02d} {minute // 60:02d}:{minute % 60:02d}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "filtered_TKY_val.csv.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return folder


def fake_embed(names):
    return torch.stack([torch.tensor([float((sum(map(ord, n)) >> i) & 1) for i in range(8)]) for n in names])


def test_user_frequency_baseline_matches_slow_count(tmp_path):
    c = load_checkins(write_city(tmp_path / "city"), city="c")
    data = prepare_city("c", checkins=c, embed_categories=fake_embed, length=8)
    got = baseline_metrics(data, "user_frequency")
    pop = data.train_counts.numpy() / data.train_counts.max().item()
    ranks = []
    for r in np.flatnonzero(data.split == 2):
        if r == 0 or c.user[r - 1] != c.user[r]:
            continue
        prior = c.venue[(c.user == c.user[r]) & (np.arange(len(c)) < r)]
        score = np.bincount(prior, minlength=c.num_venues) + 1e-3 * pop
        ranks.append(1 + (score > score[c.venue[r]]).sum())
    assert got == pytest.approx(ranking_metrics(ranks))
    # the user x venue matrix of covisit: 1 where the user has a training check-in, from training rows only
    slow = np.zeros((c.num_users, c.num_venues), dtype=np.float32)
    for r in np.flatnonzero(data.split == 0):
        slow[c.user[r], c.venue[r]] = 1.0
    assert torch.equal(data.user_visits, torch.from_numpy(slow))


def test_training_learns_the_routine(tmp_path):
    c = load_checkins(write_city(tmp_path / "city"), city="c")
    data = prepare_city("c", checkins=c, embed_categories=fake_embed, length=8)
    torch.manual_seed(0)
    model = TrajMoE(category_dim=8, dim=16, heads=2, expert_hidden=16, max_len=8)
    before = evaluate_model(model, data)
    info = train_model(model, data, TrainSettings(epochs=8, lr=1e-2, batch_size=8, patience=8))
    after = evaluate_model(model, data)
    assert after["mrr"] > before["mrr"] and after["acc@1"] >= 0.6
    assert len(info["history"]) == 8 and len(info["history"][0]["utilisation"]) == 2
    assert sum(info["history"][-1]["utilisation"][0]) == pytest.approx(1.0)
    # keep_initial: weights that no epoch beats on validation are kept (lr 0: every epoch ties the start)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    info = train_model(model, data, TrainSettings(epochs=1, lr=0.0, batch_size=8, keep_initial=True))
    assert info["best_epoch"] == -1 and info["initial_valid"] == info["history"][0]["valid"]
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def test_cli_train_evaluate_transfer(tmp_path, capsys):
    a, b = write_city(tmp_path / "a"), write_city(tmp_path / "b", users=6, seed=1)
    common = ["--window", "8", "--epochs", "1", "--quiet"]
    assert main(["mobility", "train", "--city", str(a), "--out", str(tmp_path / "run"), "--dim", "16",
                 "--heads", "2", "--expert-hidden", "16", "--backbone", "moe", *common]) == 0
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(m["model"]) == {"acc@1", "acc@5", "acc@10", "mrr", "ndcg@5"} and "user_frequency" in m["baselines"]
    assert (tmp_path / "run" / "utilisation.png").is_file() and (tmp_path / "run" / "model.pt").is_file()
    assert main(["mobility", "transfer", "--from", str(tmp_path / "run"), "--to", str(b), "--fraction", "0.5",
                 "--out", str(tmp_path / "t"), *common]) == 0
    t = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert "zero_shot" in t and "model" in t
    capsys.readouterr()
    assert main(["mobility", "evaluate", "--model", str(tmp_path / "t"), "--city", str(b), "--window", "8"]) == 0
    with_flag = capsys.readouterr().out
    assert "TrajMoE (test)" in with_flag
    # exploration slots: the same model's list with the last slot of the top 5 kept for an unvisited venue
    assert main(["mobility", "evaluate", "--model", str(tmp_path / "t"), "--city", str(b), "--explore-slots", "1",
                 "--out", str(tmp_path / "e")]) == 0
    e = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert e["model_explore_slots"]["slots"] == 1 and "+ 1 explore slot(s)" in capsys.readouterr().out
    assert e["model_explore_slots"]["acc@1"] == e["model"]["acc@1"]
    # without --window, evaluate uses the model's own window (it used to default to 64 and refuse this model)
    assert main(["mobility", "evaluate", "--model", str(tmp_path / "t"), "--city", str(b)]) == 0
    assert capsys.readouterr().out == with_flag
    assert main(["mobility", "evaluate", "--model", str(tmp_path / "t"), "--city", str(b), "--window", "9"]) == 2
    assert "--window 9 exceeds the model's max_len 8" in capsys.readouterr().err
    # user errors: one line, exit 2
    assert main(["mobility", "evaluate", "--model", str(tmp_path / "nothing"), "--city", str(b)]) == 2
    assert main(["mobility", "train", "--city", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "no trained mobility model" in err and "neither a known city" in err
    with pytest.raises(SystemExit):
        main(["mobility", "transfer", "--from", "x", "--to", "tky", "--fraction", "1.5", "--out", "y"])


def test_cli_train_defaults_to_the_dense_backbone_without_an_expert_plot(tmp_path, capsys):
    """benchmarks/mobility_moe_regimes.py found no regime where the mixture beat the dense model: dense is the default."""
    a = write_city(tmp_path / "a")
    assert main(["mobility", "train", "--city", str(a), "--out", str(tmp_path / "run"), "--dim", "16", "--heads", "2",
                 "--expert-hidden", "16", "--window", "8", "--epochs", "1", "--quiet"]) == 0
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=False)
    assert saved["config"]["backbone"] == "dense"
    assert not (tmp_path / "run" / "utilisation.png").exists()
