"""`graphrep bench` from a `pip install .`: the package sits in site-packages, so the checkout is found from the working
directory (the clone or a folder inside it); another project's checkout is not taken for graphrep's (issue 21)."""

import pytest

from graphrep.cli import main
from graphrep.commands import bench as bench_command


@pytest.fixture()
def installed(tmp_path, monkeypatch):
    """graphrep as `pip install .` leaves it: the package in a site-packages folder without benchmarks/."""
    site = tmp_path / "site-packages"
    (site / "graphrep" / "commands").mkdir(parents=True)
    monkeypatch.setattr(bench_command, "__file__", str(site / "graphrep" / "commands" / "bench.py"))
    return site


def _clone(folder, name="graphrep"):
    (folder / "benchmarks").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
    (folder / "benchmarks" / "hello.py").write_text(
        "import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('ran')\n")
    return folder


def test_bench_runs_the_checkout_it_is_called_in(tmp_path, installed, monkeypatch, capsys):
    clone = _clone(tmp_path / "clone")
    (clone / "docs").mkdir()
    monkeypatch.chdir(clone / "docs")
    assert main(["bench"]) == 0
    assert capsys.readouterr().out.split() == ["hello"]
    assert main(["bench", "hello", str(tmp_path / "marker")]) == 0
    assert (tmp_path / "marker").read_text() == "ran"


def test_bench_in_another_projects_checkout_is_refused(tmp_path, installed, monkeypatch, capsys):
    monkeypatch.chdir(_clone(tmp_path / "other", name="someone-else"))
    assert main(["bench", "hello", str(tmp_path / "marker")]) == 2
    err = capsys.readouterr().err
    assert "nor a folder above it is a graphrep checkout" in err
    assert not (tmp_path / "marker").exists()
