"""The graphrep command: listings, one-line errors (tracebacks only with --debug), and a tiny end-to-end train."""

import json

import pytest

from graphrep.cli import main


def test_help_and_data_list(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "chembl2321810" in out and "ogbg-molhiv" in out and "bbbp" in out


def test_data_info_reports_where_the_file_is(capsys):
    assert main(["data", "info", "chembl2321810"]) == 0
    out = capsys.readouterr().out
    assert "CC BY-SA" in out and "rdkit" in out and "sha256" in out


@pytest.mark.parametrize("argv,message", [
    (["data", "info", "bbpb"], "did you mean bbbp"),
    (["train", "--data", "tox21", "--root", "/nonexistent"], "tox21.csv.gz not found"),
    (["train", "--data", "zinc1k", "--root", "/nonexistent"], "zinc1k"),
    (["train", "--resume", "/nonexistent/last.ckpt", "--seeds", "0"], "no such checkpoint"),
])
def test_errors_are_one_line(argv, message, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphrep: error:") and message in err and "\n" not in err and "Traceback" not in err


def test_debug_shows_the_exception(monkeypatch, tmp_path):
    from graphrep.data import GraphrepError

    with pytest.raises(GraphrepError):
        main(["--debug", "data", "info", "bbpb"])


def test_bad_seeds_rejected_by_parser(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--seeds", "a,b"])
    assert "comma-separated integers" in capsys.readouterr().err


@pytest.mark.slow
def test_train_end_to_end_writes_report(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--epochs", "2", "--layers", "2", "--hidden", "16", "--seeds", "0,1", "--rf-trees", "20",
            "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "GIN (from scratch)" in printed and "RF on Morgan fingerprints" in printed and str(out) in printed
    results = json.loads((out / "results.json").read_text())
    assert results["summary"]["gin"]["test"]["rmse"]["n"] == 2
    assert (out / "results.md").read_text().startswith("| model |") and (out / "learning_curve.png").stat().st_size > 0


# ---------------------------------------------------------------- issue 15: reliability of the command

import os  # noqa: E402
import signal  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import graphrep.cli as cli  # noqa: E402
from graphrep.commands import bench as bench_command  # noqa: E402
from graphrep.commands import data as data_command  # noqa: E402
from graphrep.commands import pretrain as pretrain_command  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = ["--epochs", "1", "--layers", "1", "--hidden", "8", "--batch-size", "64", "--rf-trees", "5", "--no-progress"]


def one_line_error(capsys, prefix="graphrep: error:"):
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.startswith("graphrep:")]
    assert len(lines) == 1 and lines[0].startswith(prefix) and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def own_csv(tmp_path_factory):
    """150 molecules of the RDKit-shipped CHEMBL2321810 set as a user's CSV: SMILES, pIC50 and a 0/1 'active'."""
    from graphrep.data import load_dataset

    ds = load_dataset("chembl2321810")
    idx = np.random.default_rng(0).permutation(len(ds))[:150]
    y = ds.y.flatten().numpy()[idx]
    path = tmp_path_factory.mktemp("own") / "potency.csv"
    rows = [f"{ds.smiles[i]},{v:.3f},{int(v > np.median(y))},id{i}" for i, v in zip(idx, y)]
    path.write_text("SMILES,pic50,active,compound\n" + "\n".join(rows) + "\n")
    return path


def test_help_imports_no_heavy_module():
    code = ("import sys, contextlib, io\nfrom graphrep.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: main(['--help'])\n    except SystemExit: pass\n"
            "print(sorted(m for m in ('torch', 'lightning', 'rdkit', 'graphrep.models', 'graphrep.data') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]", out.stderr


def test_parser_choices_are_the_registries():
    from graphrep.commands import tag as tag_command
    from graphrep.models import PRETRAINING_METHODS, VARIANTS

    assert tag_command.VARIANTS == tuple(sorted(VARIANTS))
    assert pretrain_command.PRETRAINING_METHOD_NAMES == tuple(sorted(PRETRAINING_METHODS))
    from graphrep.commands import mobility as mobility_command
    from graphrep.tasks.mobility.calibration import RULES

    assert mobility_command.GATE_RULES == (*RULES, "none")


@pytest.mark.parametrize("raised,code,prefix", [
    (ValueError("shape mismatch\nsecond line"), 1, "graphrep: internal error (ValueError: shape mismatch second line)"),
    (KeyError("valid/rmse"), 1, "graphrep: internal error (KeyError"),
    (FileNotFoundError(2, "No such file or directory", "/x/y.csv"), 2, "graphrep: error: /x/y.csv: No such file"),
])
def test_only_user_input_errors_exit_2_and_bugs_say_so(raised, code, prefix, monkeypatch, capsys):
    def broken(args):
        raise raised

    monkeypatch.setattr(data_command, "run", broken)
    assert cli.main(["data", "list"]) == code
    line = one_line_error(capsys, prefix)
    assert ("this is a bug; rerun with --debug" in line) == (code == 1)


@pytest.mark.parametrize("extra,message", [
    (["--epochs", "-1"], "--epochs must be >= 1, got -1"),
    (["--epochs", "0"], "--epochs must be >= 1, got 0"),
    (["--hidden", "0"], "--hidden must be >= 1, got 0"),
    (["--rf-trees", "0"], "--rf-trees must be >= 1, got 0"),
    (["--seeds", "0,0"], "--seeds must be distinct"),
    (["--dropout", "1"], "--dropout must be in [0, 1)"),
    (["--lr", "nan"], "--lr must be a positive number"),
    (["--accelerator", "gpu"], "--accelerator gpu: no CUDA GPU"),
    (["--precision", "8-true"], "--precision '8-true'"),
    (["--strategy", "dpp"], "--strategy 'dpp'"),
    (["--devices", "two"], "--devices 'two'"),
    (["--data", "cora"], "--data cora: a tag dataset"),
    (["--data", "zinc-sample"], "--data zinc-sample"),
    (["--label-columns", "y"], "--label-columns apply to your own file"),
    (["--data", "missing.csv"], "--data missing.csv: no such file"),
    (["--resume", "/nonexistent/last.ckpt", "--seeds", "0,1"], "--resume continues one run"),
])
def test_arguments_are_checked_before_any_work(extra, message, monkeypatch, capsys, tmp_path):
    if extra[:2] == ["--accelerator", "gpu"] and torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    import graphrep.tasks.molecules.experiment as experiment

    def no_work(*args, **kwargs):
        raise AssertionError("data loaded before the arguments were checked")

    monkeypatch.setattr(experiment, "load_dataset", no_work)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", *extra, "--out", str(tmp_path / "out")]) == 2
    assert message in one_line_error(capsys)


def test_out_folder_is_never_silently_reused(tmp_path, monkeypatch, capsys):
    import graphrep.tasks.molecules.experiment as experiment

    monkeypatch.setattr(experiment, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("work")))
    used = tmp_path / "run"
    used.mkdir()
    (used / "results.json").write_text("{}")
    assert cli.main(["train", "--out", str(used)]) == 2
    assert "folder is not empty (holds results.json); choose another folder or pass --overwrite" in one_line_error(capsys)
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert cli.main(["train", "--out", str(a_file)]) == 2
    assert "is a file, not a folder" in one_line_error(capsys)
    assert cli.main(["train", "--out", str(used), "--overwrite"]) == 1  # checks passed; the stand-in work raised
    assert (used / "results.json").read_text() == "{}"


@pytest.mark.parametrize("flag", ["--resume", "--from"])
def test_unreadable_checkpoints_are_one_line(flag, tmp_path, capsys):
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"encoder.w": torch.ones(2)}}, good)
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(good.read_bytes()[:100])
    pickled = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "object": Path("x")}, pickled)
    for path, message in ((cut, "not a readable checkpoint"), (pickled, "refuses to load")):
        assert cli.main(["train", flag, str(path), "--seeds", "0", "--out", str(tmp_path / "o")]) == 2
        line = one_line_error(capsys)
        assert message in line and str(path) in line and "weights_only" not in line


def test_truncated_gzip_non_finite_labels_and_one_class_tasks(tmp_path, own_csv, capsys, caplog):
    import gzip

    whole = gzip.compress(own_csv.read_bytes())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    assert cli.main(["train", "--data", str(cut), "--out", str(tmp_path / "a"), *TINY]) == 2
    assert "cut.csv.gz: truncated or corrupt gzip file" in one_line_error(capsys)
    lines = own_csv.read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[1], "inf")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines))
    assert cli.main(["train", "--data", str(bad), "--label-columns", "pic50", "--out", str(tmp_path / "b"), *TINY]) == 2
    assert "bad.csv:6: label 'pic50' is 'inf', not a finite number" in one_line_error(capsys)
    rows = [line.split(",") for line in own_csv.read_text().splitlines()]
    one_class = tmp_path / "one.csv"
    one_class.write_text("\n".join(f"{r[0]},{r[2] if i else 'active'},{1 if i else 'always'}"
                                   for i, r in enumerate(rows)))
    with caplog.at_level("WARNING"):
        assert cli.main(["train", "--data", str(one_class), "--task", "classification", "--no-baseline",
                         "--seeds", "0,1", "--out", str(tmp_path / "c"), *TINY]) == 0
    warned = [r.getMessage() for r in caplog.records if "one class" in r.getMessage()]
    assert len(warned) == 1 and "1 of 2 task(s) have one class in the training split (always)" in warned[0]


def test_bench_outside_a_source_checkout_says_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "benchmarks").mkdir()  # e.g. another distribution's top-level `benchmarks` in site-packages
    (tmp_path / "benchmarks" / "theirs.py").write_text("raise SystemExit('must not run')\n")
    monkeypatch.setattr(bench_command, "source_checkout", lambda: tmp_path)
    monkeypatch.setattr(bench_command, "benchmark_dir", lambda: tmp_path / "benchmarks")
    assert cli.main(["bench", "theirs"]) == 2
    assert "runs the scripts in benchmarks/ of a source checkout" in one_line_error(capsys)


def test_progress_bars_of_model_loading_only_on_a_terminal(monkeypatch, capfd):
    """transformers' "Loading weights" bar stays out of logs and pipes once the command has started."""
    from graphrep.data.text import DEFAULT_TEXT_MODEL, TextEncoder

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    assert cli.main(["data", "list"]) == 0  # stderr is captured here, not a terminal
    capfd.readouterr()
    assert TextEncoder(DEFAULT_TEXT_MODEL, cache=False).encode(["a paper"]).shape == (1, 384)
    assert "Loading weights" not in capfd.readouterr().err


@pytest.mark.slow
def test_own_csv_end_to_end_then_resume_refuses_another_run(own_csv, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", str(own_csv), "--label-columns", "pic50", "--seeds", "0", "--out", str(out), *TINY]
    assert cli.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    d = results["dataset"]
    assert (d["name"], d["molecules"], d["tasks"], d["task_type"]) == ("potency.csv", 150, 1, "regression")
    assert d["split_sizes"] == {"train": 120, "valid": 15, "test": 15} and results["config"]["split"] == "scaffold"
    assert results["random_forest"] and {"rmse", "r2"} <= set(results["summary"]["random_forest"]["test"])
    # a trivial predictor (the training mean) is the floor the forest must beat on this congeneric series
    assert results["summary"]["random_forest"]["test"]["r2"]["mean"] > 0
    ckpt = out / "seed0" / "checkpoints" / "last.ckpt"
    capsys.readouterr()
    wider = ["train", "--data", str(own_csv), "--label-columns", "pic50", "--seeds", "0", "--resume", str(ckpt),
             "--out", str(out), "--epochs", "1", "--layers", "1", "--hidden", "16", "--batch-size", "64", "--no-baseline"]
    assert cli.main(wider) == 2
    assert "belongs to another run: model.encoder.hidden 8 in the checkpoint, 16 now" in one_line_error(capsys)
    other = ["train", "--seeds", "0", "--resume", str(ckpt), "--out", str(out), *TINY, "--no-baseline"]
    assert cli.main(other) == 2  # the registered CHEMBL set instead of the user's file
    line = one_line_error(capsys)
    assert "dataset 'potency.csv' in the checkpoint, 'chembl2321810' now" in line
    classification = ["train", "--data", str(own_csv), "--label-columns", "active", "--task", "classification",
                      "--seeds", "0", "--out", str(tmp_path / "cls"), *TINY]
    assert cli.main(classification) == 0
    summary = json.loads((tmp_path / "cls" / "results.json").read_text())["summary"]
    assert {"roc_auc"} <= set(summary["gin"]["test"]) and summary["random_forest"]["test"]["roc_auc"]["n"] == 1


@pytest.mark.slow
def test_ctrl_c_during_training_exits_130_and_the_hint_resumes(own_csv, tmp_path, monkeypatch, capsys):
    from graphrep.tasks.molecules.graph_prediction import GraphPredictor

    step = GraphPredictor.training_step

    def interrupted_in_epoch_2(self, batch, batch_idx):
        if self.current_epoch == 1:
            raise KeyboardInterrupt
        return step(self, batch, batch_idx)

    out = tmp_path / "run"
    argv = ["train", "--data", str(own_csv), "--label-columns", "pic50", "--seeds", "3", "--out", str(out),
            "--no-baseline", *TINY]
    argv[argv.index("--epochs") + 1] = "3"
    monkeypatch.setattr(GraphPredictor, "training_step", interrupted_in_epoch_2)
    assert cli.main(argv) == 130
    line = one_line_error(capsys, "graphrep: interrupted; resume with: graphrep train ")
    ckpt = out / "seed3" / "checkpoints" / "last.ckpt"
    # a command that runs as printed: every argument of the interrupted run, this seed, --resume and --overwrite
    command = shlex.split(line.split("resume with: ", 1)[1])
    assert command[:2] == ["graphrep", "train"] and command[-3:] == ["--resume", str(ckpt), "--overwrite"]
    assert command[command.index("--label-columns") + 1] == "pic50" and command[command.index("--epochs") + 1] == "3"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Lightning had left Ctrl-C ignored
    monkeypatch.setattr(GraphPredictor, "training_step", step)
    assert cli.main(shlex.split(line.split("resume with: ", 1)[1])[1:]) == 0
    history = json.loads((out / "results.json").read_text())["gin"][0]["history"]
    assert [r["epoch"] for r in history] == [0, 1, 2]


@pytest.mark.slow
@pytest.mark.parametrize("when", ["start-up", "training"])
def test_sigint_from_outside_is_one_line_and_exit_130(when, own_csv, tmp_path, interrupt_run):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "graphrep", "train", "--data", str(own_csv), "--label-columns", "pic50",
           "--seeds", "0", "--out", str(out), "--no-baseline", *TINY]
    cmd[cmd.index("--epochs") + 1] = "500"
    ckpt = out / "seed0" / "checkpoints" / "last.ckpt"
    # start-up: while the heavy imports run, after the interpreter's own start-up (whose Ctrl-C Python itself
    # reports), which took over 0.5 s once on this loaded 2-core machine
    code, lines = interrupt_run(cmd, signal.SIGINT, None if when == "start-up" else ckpt, delay=2.0,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
    err = "\n".join(lines)
    assert code == 130, err
    assert len(lines) == 1 and lines[0].startswith("graphrep: interrupted"), err
    if when == "training":
        assert f"--seeds 0 --out {out} --resume {ckpt} --overwrite" in lines[0]


@pytest.mark.slow
@pytest.mark.shared_data
def test_freesolv_lone_one_atom_molecule_trains(shared_data, tmp_path, capsys):
    """Seed 282 puts methane alone in the last of FreeSolv's 513/32 training batches in epoch 0: BatchNorm failed."""
    out = tmp_path / "run"
    argv = ["train", "--data", "freesolv", "--root", str(shared_data), "--seeds", "282", "--batch-size", "32",
            "--epochs", "1", "--layers", "1", "--hidden", "8", "--no-baseline", "--no-progress", "--out", str(out)]
    assert cli.main(argv) == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["split_sizes"]["train"] == 513 and np.isfinite(results["gin"][0]["history"][0]["train/loss"])


def test_main_job_options_work_without_the_subcommand_name(monkeypatch):
    """`graphrep --out X` is the main job with --out X, as `graphrep` alone is the main job."""
    import graphrep.commands.main_job as main_job

    seen = []
    monkeypatch.setattr(main_job, "run", lambda args: seen.append(args) or 0)
    assert cli.main(["--out", "runs/x", "--epochs", "3"]) == 0
    assert cli.main(["--debug", "--out", "runs/y"]) == 0
    assert cli.main(["main-job", "--out", "runs/z"]) == 0
    assert [(a.command, a.out, a.debug) for a in seen] == [("main-job", "runs/x", False), ("main-job", "runs/y", True),
                                                            ("main-job", "runs/z", False)]
    assert seen[0].epochs == 3


@pytest.mark.slow
def test_sigterm_during_graphrep_train_exits_143_with_a_resume_command(own_csv, tmp_path, interrupt_run):
    """Lightning used to swallow SIGTERM (exit 0, no results, no hint): now it is Ctrl-C with exit 143."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "graphrep", "train", "--data", str(own_csv), "--label-columns", "pic50",
           "--seeds", "0", "--out", str(out), "--no-baseline", *TINY]
    cmd[cmd.index("--epochs") + 1] = "500"
    ckpt = out / "seed0" / "checkpoints" / "last.ckpt"
    code, lines = interrupt_run(cmd, signal.SIGTERM, ckpt, env={**os.environ, "PYTHONPATH": str(REPO)})
    err = "\n".join(lines)
    assert code == 143, err
    assert len(lines) == 1 and lines[0].startswith("graphrep: terminated (SIGTERM); resume with: graphrep train"), err
    assert lines[0].endswith(f"--resume {ckpt} --overwrite")
