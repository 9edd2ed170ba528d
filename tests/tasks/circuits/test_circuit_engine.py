"""Circuit training on the shared engine: exact resume (both phases), refused checkpoints, DDP on two CPU processes,
SIGTERM, and the --out policy, through the CLI."""

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from graphrep import cli


REPO = Path(__file__).resolve().parents[3]


def argv(design_dir, out, *extra):
    return ["circuit", "train", "--train", str(design_dir), "--eval", str(design_dir), "--epochs", "6",
            "--pretrain-epochs", "4", "--hidden", "8", "--layers", "1", "--seeds", "1", "--out", str(out), *extra]


def evals(out):
    return json.loads((Path(out) / "metrics.json").read_text())["eval"]


@pytest.mark.parametrize("phase_step", [2, 7], ids=["in-pretraining", "in-training"])
def test_interrupt_then_printed_resume_command_reaches_the_uninterrupted_metrics(design_dir, tmp_path, monkeypatch,
                                                                                 capsys, stop_engine_at, phase_step):
    assert cli.main(argv(design_dir, tmp_path / "full")) == 0
    reference = evals(tmp_path / "full")
    capsys.readouterr()
    out = tmp_path / "cut"
    stop_engine_at(phase_step)  # 4 pretraining epochs, then 6 training steps
    assert cli.main(argv(design_dir, out)) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("graphrep: interrupted; resume with: graphrep circuit train"), err
    command = err[0].split("resume with: ", 1)[1]
    assert f"--resume {out / 'checkpoints' / 'seed1.pt'}" in command
    monkeypatch.undo()
    assert cli.main(shlex.split(command)[1:]) == 0  # exactly as printed
    got = evals(out)
    for design, metrics in reference.items():
        assert got[design] == pytest.approx(metrics, rel=1e-6, abs=1e-9, nan_ok=True)


def test_resume_from_a_periodic_checkpoint_and_refusals(design_dir, tmp_path, capsys):
    out = tmp_path / "a"
    assert cli.main(argv(design_dir, out, "--method", "gnn-bmse", "--epochs", "5", "--checkpoint-every", "2")) == 0
    reference = evals(out)
    mid = tmp_path / "mid.pt"
    (out / "checkpoints" / "seed1.pt").rename(mid)  # written after step 4 of 5
    b = tmp_path / "b"
    assert cli.main(argv(design_dir, b, "--method", "gnn-bmse", "--epochs", "5", "--resume", str(mid))) == 0
    for design, metrics in reference.items():
        assert evals(b)[design] == pytest.approx(metrics, rel=1e-6, abs=1e-9, nan_ok=True)
    capsys.readouterr()
    # another run's checkpoint: one line naming what differs
    assert cli.main(argv(design_dir, tmp_path / "c", "--method", "gnn-bmse", "--lr", "0.5",
                         "--resume", str(mid))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "belongs to another run" in err[0] and "config.lr" in err[0], err
    # a checkpoint already past --epochs (it would be reported as a 3-epoch model)
    assert cli.main(argv(design_dir, tmp_path / "f", "--method", "gnn-bmse", "--epochs", "3", "--resume", str(mid))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already at epoch 4, past --epochs 3" in err[0], err
    # several seeds with --resume, a bad --devices: refused before any work
    assert cli.main(argv(design_dir, tmp_path / "d", "--seeds", "0,1", "--resume", str(mid))) == 2
    assert "--resume continues one seed" in capsys.readouterr().err
    assert cli.main(argv(design_dir, tmp_path / "e", "--devices", "0")) == 2
    assert "--devices must be >= 1" in capsys.readouterr().err


def test_out_policy(design_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(argv(design_dir, out, "--method", "gnn-mse")) == 0
    before = (out / "metrics.json").read_text()
    assert cli.main(argv(design_dir, out, "--method", "gnn-mse")) == 2
    assert "folder is not empty" in capsys.readouterr().err and (out / "metrics.json").read_text() == before
    assert cli.main(argv(design_dir, out, "--method", "gnn-mse", "--overwrite")) == 0
    file = tmp_path / "file"
    file.write_text("x")
    assert cli.main(argv(design_dir, file, "--method", "gnn-mse")) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    # a folder another process holds: refused (the lock is an flock of .graphrep.lock, held by a child here)
    held = tmp_path / "held"
    held.mkdir()
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(held / ".graphrep.lock")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert cli.main(argv(design_dir, held, "--method", "gnn-mse")) == 2
        assert "another graphrep run is writing there" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert cli.main(argv(design_dir, held, "--method", "gnn-mse")) == 0  # released: the folder holds only the lock


def _run(args, cwd, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "graphrep", *args], env=env, capture_output=True, text=True,
                          timeout=600, cwd=cwd, **kw)


@pytest.mark.slow
def test_two_process_ddp_gives_the_single_process_metrics(design_dir, tmp_path):
    one = _run(argv(design_dir, tmp_path / "one"), tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _run(argv(design_dir, tmp_path / "two", "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp"),
               tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    result = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert result["engine"]["world_size"] == 2
    # every process takes the same full-batch step and DDP averages equal gradients: the same model up to the
    # rounding of the gradient all-reduce
    for design, metrics in evals(tmp_path / "one").items():
        assert result["eval"][design] == pytest.approx(metrics, rel=1e-4, abs=1e-6, nan_ok=True)


@pytest.mark.slow
def test_sigterm_mid_run_exits_143_with_a_resume_command(design_dir, tmp_path, interrupt_run):
    out = tmp_path / "run"
    args = argv(design_dir, out, "--method", "gnn-mse", "--epochs", "1000000", "--checkpoint-every", "20")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    ckpt = out / "checkpoints" / "seed1.pt"
    code, lines = interrupt_run([sys.executable, "-m", "graphrep", *args], signal.SIGTERM, ckpt, env=env, cwd=tmp_path)
    err = "\n".join(lines)
    assert code == 143, err
    assert len(lines) == 1 and lines[0].startswith("graphrep: terminated (SIGTERM); resume with: graphrep circuit "
                                                   "train"), err
    assert f"--resume {ckpt}" in lines[0] and lines[0].endswith("--overwrite")


def test_bf16_mixed_on_cpu_trains_to_the_fp32_metrics(design_dir, tmp_path, capsys):
    """Mixed precision on the CPU (autocast: the fused aggregation widens to fp32, the Linear layers run in bf16)
    trains both phases and lands near the fp32 run; bf16 rounding (8 bits of mantissa) moves the metrics a little."""
    assert cli.main(argv(design_dir, tmp_path / "fp32", "--method", "circuitgcl")) == 0
    assert cli.main(argv(design_dir, tmp_path / "bf16", "--method", "circuitgcl", "--precision", "bf16-mixed")) == 0
    full, mixed = evals(tmp_path / "fp32"), evals(tmp_path / "bf16")
    for design, metrics in full.items():
        assert mixed[design]["mae"] == pytest.approx(metrics["mae"], rel=0.1, abs=0.02)
