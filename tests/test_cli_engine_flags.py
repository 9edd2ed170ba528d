"""Flag combinations that used to end in "internal error" are refused up front (exit 2, one line), and the --out
policy of the modality, tag zero-shot and main-job commands (tag zero-shot trains on the shared engine since issue 20;
its engine flags are tested in tests/tasks/tag/test_tag_engine.py)."""

from graphrep import cli


def test_modality_geometry_conv_with_knn_is_refused(tmp_path, capsys):
    out = tmp_path / "m"
    assert cli.main(["modality", "train", "--kind", "image", "--conv", "hyperbolic", "--knn", "4",
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--conv hyperbolic with --knn 4" in err[0], err


def test_modality_refuses_a_non_empty_out(tmp_path, capsys):
    out = tmp_path / "m"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    assert cli.main(["modality", "train", "--kind", "image", "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "folder is not empty" in err and (out / "metrics.json").read_text() == "{}"


def test_every_training_subcommand_takes_the_same_run_flags():
    parser = cli.build_parser()
    shared = {"--accelerator", "--devices", "--strategy", "--num-nodes", "--precision", "--resume", "--seeds", "--out",
              "--overwrite", "--root"}
    for path in (["train"], ["finetune"], ["circuit", "train"], ["mobility", "train"], ["mobility", "transfer"]):
        sub = parser
        for name in path:
            sub = next(a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction").choices[name]
        flags = {o for a in sub._actions for o in a.option_strings}
        assert shared <= flags, (path, shared - flags)


def test_graphrep_train_refuses_a_folder_another_run_holds(tmp_path, capsys):
    import subprocess
    import sys

    held = tmp_path / "held"
    held.mkdir()
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "os.write(fd, str(os.getpid()).encode()); fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); "
            "time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(held / ".graphrep.lock")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert cli.main(["train", "--seeds", "0", "--epochs", "1", "--no-baseline", "--out", str(held)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "another graphrep run is writing there" in err[0], err
        assert f"(process {holder.pid})" in err[0]
    finally:
        holder.kill()
        holder.wait()


def test_circuit_half_precision_weights_are_refused_up_front(tmp_path, capsys):
    assert cli.main(["circuit", "train", "--train", "x", "--eval", "x", "--precision", "bf16-true",
                     "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--precision bf16-true: circuit training runs in" in err[0], err
    assert not (tmp_path / "c").exists()


def _non_empty(tmp_path):
    out = tmp_path / "previous-run"
    out.mkdir()
    (out / "metrics.json").write_text('{"kept": true}')
    return out


def test_tag_zero_shot_refuses_a_non_empty_out_before_any_work(tmp_path, capsys, shared_data):
    out = _non_empty(tmp_path)
    assert cli.main(["tag", "zero-shot", "--train", "webkb_texas", "--eval", "webkb_cornell", "--root",
                     str(shared_data / "tag"), "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "folder is not empty" in err[0] and "--overwrite" in err[0], err
    assert (out / "metrics.json").read_text() == '{"kept": true}'


def test_main_job_refuses_a_non_empty_out_before_any_work(tmp_path, capsys):
    out = _non_empty(tmp_path)
    assert cli.main(["main-job", "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "folder is not empty" in err[0], err
    assert sorted(p.name for p in out.iterdir() if p.name != ".graphrep.lock") == ["metrics.json"]


def test_learning_rate_and_seeds_are_checked_by_every_training_subcommand(capsys, shared_data):
    """nan/inf learning rates and negative or repeated seeds used to end in "internal error" (or in a NaN model
    scored as perfect); each is now one line naming the flag, exit 2, before any work."""
    for command in (["circuit", "train", "--train", "a", "--eval", "b"], ["mobility", "train", "--city", "nyc"],
                    ["modality", "train", "--kind", "image"],
                    ["tag", "zero-shot", "--train", "cora", "--eval", "citeseer", "--root", f"{shared_data}/tag"]):
        for lr in ("nan", "inf", "-inf"):
            assert cli.main(command + [f"--lr={lr}", "--out", "never-made"]) == 2
            err = capsys.readouterr().err.strip()
            assert err.startswith("graphrep: error: ") and "\n" not in err and "--lr" in err, err
            assert f"got {float(lr)}" in err, err
        for seeds in ("-1", "0,0", "1,2,1"):
            assert cli.main(command + ["--seeds", seeds, "--out", "never-made"]) == 2
            err = capsys.readouterr().err.strip()
            assert err == f"graphrep: error: --seeds must be distinct non-negative integers, got {seeds}", err
    args = cli.build_parser().parse_args(["circuit", "train", "--train", "a", "--eval", "b", "--lr", "1e-3",
                                          "--seeds", "2,0"])
    assert args.lr == 1e-3 and args.seeds == [2, 0]
