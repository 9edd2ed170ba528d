"""`graphrep pretrain` and `graphrep finetune`: one-line errors, and pre-train -> fine-tune through the command line."""

import json

import pytest

from graphrep.cli import main


@pytest.mark.parametrize("argv,message", [
    (["pretrain", "--data", "zinc-sampel"], "did you mean zinc-sample"),
    (["pretrain", "--data", "cora"], "molecule dataset"),
    (["pretrain", "--data", "zinc2m", "--root", "/nonexistent"], "chem_dataset.zip"),
    (["pretrain", "--data", "nci-first-5k", "--limit", "0"], "positive number of molecules"),
    (["finetune", "--from", "/nonexistent/last.ckpt", "--data", "bbbp"], "no such checkpoint"),
    (["pretrain", "--data", "nci-first-5k", "--max-time", "90s"], "DD:HH:MM:SS"),
    (["pretrain", "--data", "nci-first-5k", "--featurise-workers", "0"], "--featurise-workers >= 1"),
    (["pretrain", "--data", "nci-first-5k", "--resident", "--limit", "20", "--epochs", "1"], "sharded corpus"),
])
def test_errors_are_one_line(argv, message, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphrep: error:") and message in err and "\n" not in err and "Traceback" not in err


def test_finetune_requires_a_checkpoint_and_pretrain_a_known_method(capsys):
    with pytest.raises(SystemExit):
        main(["finetune", "--data", "bbbp"])
    assert "--from" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrain", "--method", "contextpred"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.slow
def test_pretrain_then_finetune_from_the_command_line(tmp_path, capsys):
    pre = tmp_path / "pre"
    assert main(["pretrain", "--method", "dsla", "--data", "nci-first-5k", "--limit", "200", "--epochs", "1",
                 "--layers", "2", "--hidden", "16", "--batch-size", "64", "--out", str(pre)]) == 0
    printed = capsys.readouterr().out
    assert "molecules/s" in printed and "200 molecules" in printed
    ckpt = pre / "checkpoints" / "last.ckpt"
    out = tmp_path / "ft"
    assert main(["finetune", "--from", str(ckpt), "--data", "chembl2321810", "--epochs", "1", "--seeds", "0",
                 "--rf-trees", "10", "--out", str(out)]) == 0
    assert "GIN (fine-tuned from a pre-trained encoder)" in capsys.readouterr().out
    config = json.loads((out / "results.json").read_text())["config"]
    assert (config["features"], config["layers"], config["hidden"], config["dropout"], config["batch_size"]) == (
        "pretrain", 2, 16, 0.5, 32)
    assert config["encoder_checkpoint"] == str(ckpt)


@pytest.mark.slow
def test_two_process_ddp_pretraining_on_cpu(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "graphrep", "pretrain", "--method", "graphcl", "--data", "nci-first-5k", "--limit",
           "130", "--epochs", "1", "--layers", "2", "--hidden", "16", "--batch-size", "64", "--devices", "2",
           "--strategy", "ddp", "--out", str(out)]  # 130 = 2 x 64 + 2: each rank ends on a 1-graph batch (skipped)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "pretraining.json").read_text())
    assert summary["config"]["devices"] == 2 and summary["epochs"][0]["molecules"] == 130
    assert (out / "checkpoints" / "last.ckpt").is_file()
