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
