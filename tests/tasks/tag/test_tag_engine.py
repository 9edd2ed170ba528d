"""TAG alignment on the shared engine, through `graphrep tag zero-shot`: exact resume through the printed command, a
checkpoint of another run refused in one line, DDP on two CPU processes against one process, and SIGTERM."""

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

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests"))
from test_cli_tag import _write_tag  # noqa: E402


def _root(tmp_path):
    root = tmp_path / "tag"
    _write_tag(root, "src", ["graph theory", "protein folding"])
    _write_tag(root, "src2", ["poetry", "volcanoes"])
    _write_tag(root, "dst", ["astronomy", "cooking", "music"])
    return root


def argv(root, out, *extra):
    return ["tag", "zero-shot", "--train", "src,src2", "--eval", "dst", "--root", str(root), "--out", str(out),
            "--hidden", "8", "--cache-dir", str(root.parent / "cache"), "--epochs", "4", "--checkpoint-every", "1",
            "--batch-size", "8", "--adaptation", "self-train", *extra]


def metrics(out):
    m = json.loads((Path(out) / "metrics.json").read_text())
    return {"loss": m["final_loss"], "temperature": m["temperature"], "accuracy": m["accuracy"],
            "plain": m["without_adaptation"]["accuracy"]}


@pytest.mark.slow
def test_interrupt_then_printed_resume_command_reaches_the_uninterrupted_metrics(tmp_path, monkeypatch, capsys):
    root = _root(tmp_path)
    assert cli.main(argv(root, tmp_path / "full")) == 0
    reference = metrics(tmp_path / "full")
    capsys.readouterr()
    state = {"saves": 0}
    real_save = LoopCheckpoint.save

    def save(self, s):
        real_save(self, s)
        state["saves"] += 1

    monkeypatch.setattr("graphrep.train.engine.LoopCheckpoint.save", save)
    # asked to stop after two epochs (two periodic checkpoints): the loop saves epoch 2 and stops
    monkeypatch.setattr(Engine, "stop_requested", lambda self: state["saves"] == 2)
    out = tmp_path / "cut"
    assert cli.main(argv(root, out)) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("graphrep: interrupted; resume with: graphrep tag zero-shot"), err
    command = err[0].split("resume with: ", 1)[1]
    assert f"--resume {out / 'checkpoint.pt'}" in command
    assert not (out / "metrics.json").exists()
    monkeypatch.undo()
    assert cli.main(shlex.split(command)[1:]) == 0
    # the same computation continued: the final loss, temperature and predictions of the uninterrupted run
    assert metrics(out) == pytest.approx(reference, rel=1e-6, abs=1e-9)


@pytest.mark.slow
def test_a_checkpoint_of_another_run_is_refused_in_one_line(tmp_path, capsys):
    root = _root(tmp_path)
    assert cli.main(argv(root, tmp_path / "a")) == 0
    capsys.readouterr()
    ckpt = tmp_path / "a" / "checkpoint.pt"
    assert cli.main(argv(root, tmp_path / "b", "--lr", "0.5", "--resume", str(ckpt))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "belongs to another run" in err[0] and "settings.lr" in err[0], err
    assert not (tmp_path / "b" / "metrics.json").exists()
    assert cli.main(argv(root, tmp_path / "c", "--seeds", "0,1", "--resume", str(ckpt))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume continues one seed's run" in err[0], err


def test_engine_flags_are_checked_before_any_work(tmp_path, capsys):
    root = _root(tmp_path)
    assert cli.main(argv(root, tmp_path / "o", "--accelerator", "cpu", "--devices", "0")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--devices" in err[0], err
    assert cli.main(argv(root, tmp_path / "p", "--resume", str(tmp_path / "missing.pt"))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.pt" in err[0], err
    assert not (tmp_path / "o").exists() and not (tmp_path / "p").exists()  # nothing was done


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_two_process_ddp_agrees_with_one_process(tmp_path, shared_data):
    runs = {}
    for name, extra in (("one", []), ("two", ["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp"])):
        args = ["tag", "zero-shot", "--train", "webkb_texas,webkb_wisconsin", "--eval", "webkb_cornell", "--root",
                str(shared_data / "tag"), "--out", str(tmp_path / name), "--epochs", "6", "--batch-size", "64",
                "--adaptation", "none", *extra]
        proc = subprocess.run([sys.executable, "-m", "graphrep", *args], env=_env(), capture_output=True, text=True,
                              timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    assert runs["two"]["engine"]["world_size"] == 2 and runs["one"]["engine"]["world_size"] == 1
    # both processes draw the same views and anchors and each contrasts half of them (half the in-batch negatives:
    # the losses differ by design), DDP averaging the gradients; the zero-shot metrics agree within 0.05
    for key in ("accuracy", "macro_f1"):
        assert runs["two"]["without_adaptation"][key] == pytest.approx(runs["one"]["without_adaptation"][key],
                                                                       abs=0.05)
    assert runs["two"]["baselines"] == runs["one"]["baselines"]  # training-free rows: the same computation


@pytest.mark.slow
def test_sigterm_mid_run_exits_143_with_a_resume_command(tmp_path, interrupt_run):
    root = _root(tmp_path)
    out = tmp_path / "run"
    args = argv(root, out, "--epochs", "100000")
    ckpt = out / "checkpoint.pt"
    code, lines = interrupt_run([sys.executable, "-m", "graphrep", *args], signal.SIGTERM, ckpt, env=_env(),
                                cwd=tmp_path)
    err = "\n".join(lines)
    assert code == 143, err
    assert len(lines) == 1 and lines[0].startswith("graphrep: terminated (SIGTERM); resume with: graphrep tag "
                                                   "zero-shot"), err
    assert f"--resume {ckpt}" in lines[0]
