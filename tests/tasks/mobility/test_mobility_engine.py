"""Mobility training on the shared engine: exact resume through the printed command, refused checkpoints, flag
combinations refused up front, DDP on two CPU processes and SIGTERM, through the CLI."""

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from graphrep import cli
from graphrep.train.engine import Engine, LoopCheckpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_mobility_training import write_city  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


def argv(city, out, *extra):
    return ["mobility", "train", "--city", str(city), "--out", str(out), "--dim", "16", "--heads", "2",
            "--expert-hidden", "16", "--window", "8", "--epochs", "3", "--batch-size", "4", "--quiet", *extra]


def model_metrics(out):
    return json.loads((Path(out) / "metrics.json").read_text())["model"]


def test_interrupt_then_printed_resume_command_reaches_the_uninterrupted_metrics(tmp_path, monkeypatch, capsys):
    city = write_city(tmp_path / "city")
    assert cli.main(argv(city, tmp_path / "full")) == 0
    reference = model_metrics(tmp_path / "full")
    capsys.readouterr()
    state = {"epochs_done": 0}
    real_save = LoopCheckpoint.save

    def save(self, s):
        real_save(self, s)
        state["epochs_done"] += 1

    monkeypatch.setattr("graphrep.train.engine.LoopCheckpoint.save", save)
    monkeypatch.setattr(Engine, "stop_requested", lambda self: state["epochs_done"] == 1)
    out = tmp_path / "cut"
    assert cli.main(argv(city, out)) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("graphrep: interrupted; resume with: graphrep mobility train"), err
    command = err[0].split("resume with: ", 1)[1]
    assert f"--resume {out / 'checkpoint.pt'}" in command
    monkeypatch.undo()
    assert cli.main(shlex.split(command)[1:]) == 0
    assert model_metrics(out) == pytest.approx(reference, rel=1e-6, abs=1e-9)
    history = json.loads((out / "metrics.json").read_text())["training"]["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]


def test_refusals_before_any_work(tmp_path, capsys):
    city = write_city(tmp_path / "city")
    assert cli.main(argv(city, tmp_path / "a")) == 0
    capsys.readouterr()
    ckpt = tmp_path / "a" / "checkpoint.pt"
    assert cli.main(argv(city, tmp_path / "b", "--lr", "0.5", "--resume", str(ckpt))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "belongs to another run" in err[0] and "settings.lr" in err[0], err
    for flags, needle in ((["--dim", "64", "--heads", "3"], "--dim 64 is not divisible by --heads 3"),
                          (["--backbone", "moe", "--top-k", "5", "--num-experts", "4"], "--top-k 5 exceeds --num-experts 4"),
                          (["--backbone", "moe", "--top-k", "5", "--num-experts", "2"], "--top-k 5 exceeds --num-experts 2"),
                          (["--num-experts", "8"], "--num-experts is a setting of --backbone moe, not of --backbone dense"),
                          (["--fraction", "0"], "--fraction 0 trains on no user")):
        out = tmp_path / "x"
        args = argv(city, out)
        for flag, value in zip(flags[::2], flags[1::2]):
            if flag in args:
                args[args.index(flag) + 1] = value
            else:
                args += [flag, value]
        assert cli.main(args) == 2, flags
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
        assert not (out / "metrics.json").exists()
    # the --out policy: a non-empty folder and a file are refused; nothing is overwritten
    before = (tmp_path / "a" / "metrics.json").read_bytes()
    assert cli.main(argv(city, tmp_path / "a")) == 2
    assert "folder is not empty" in capsys.readouterr().err
    assert (tmp_path / "a" / "metrics.json").read_bytes() == before
    (tmp_path / "f").write_text("x")
    assert cli.main(argv(city, tmp_path / "f")) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_two_process_ddp_agrees_with_one_process(tmp_path):
    city = write_city(tmp_path / "city", users=8, per_user=60)
    runs = {}
    for name, extra in (("one", []), ("two", ["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp"])):
        proc = subprocess.run([sys.executable, "-m", "graphrep", *argv(city, tmp_path / name, "--lr", "0.01",
                                                                        "--epochs", "4", *extra)],
                              env=_env(), capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    assert runs["two"]["engine"]["world_size"] == 2
    # each global batch of 4 windows is split 2 + 2 and DDP averages the two mean losses: the single-process step
    # up to the weighting of windows with different numbers of scored targets, and to rounding; on this routine
    # city both learn it, and their test MRR agrees within 0.05
    assert runs["two"]["model"]["mrr"] == pytest.approx(runs["one"]["model"]["mrr"], abs=0.05)
    assert runs["two"]["model"]["mrr"] > runs["two"]["baselines"]["popularity"]["mrr"]


@pytest.mark.slow
def test_sigterm_mid_run_exits_143_with_a_resume_command(tmp_path, interrupt_run):
    city = write_city(tmp_path / "city", users=8, per_user=200)
    out = tmp_path / "run"
    args = argv(city, out, "--epochs", "100000", "--batch-size", "1")
    args.remove("--quiet")
    ckpt = out / "checkpoint.pt"
    code, lines = interrupt_run([sys.executable, "-m", "graphrep", *args], signal.SIGTERM, ckpt, env=_env(),
                                cwd=tmp_path)
    err = "\n".join(lines)
    assert code == 143, err
    assert len(lines) == 1 and lines[0].startswith("graphrep: terminated (SIGTERM); resume with: graphrep mobility "
                                                   "train"), err
    assert f"--resume {ckpt}" in lines[0]
