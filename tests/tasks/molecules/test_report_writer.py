"""`run_experiment(out_dir=...)` leaves the report files `graphrep train` leaves, written by the one writer
(graphrep.train.report.write_report), with the results it returns (issue 21)."""

import json

import pytest

from graphrep.cli import main
from graphrep.tasks.molecules.experiment import TrainConfig, run_experiment
from graphrep.train.outdir import LOCK_NAME

TINY = dict(epochs=1, layers=1, hidden=8, batch_size=64, seeds=[0], rf_trees=5, progress=False)


@pytest.mark.slow
def test_library_and_cli_runs_leave_the_same_report(tmp_path, capsys):
    results = run_experiment(TrainConfig(out_dir=str(tmp_path / "lib"), **TINY))
    lib = tmp_path / "lib"
    written_files = {p.name for p in lib.iterdir() if p.is_file() and p.name != LOCK_NAME}
    assert written_files == {"results.json", "results.md", "learning_curve.png"}
    written = json.loads((lib / "results.json").read_text())
    assert written["summary"] == json.loads(json.dumps(results["summary"]))
    assert written["wall_seconds"] == pytest.approx(results["wall_seconds"])
    assert (lib / "results.md").read_text().startswith("| model |")

    assert main(["train", "--epochs", "1", "--layers", "1", "--hidden", "8", "--batch-size", "64", "--seeds", "0",
                 "--rf-trees", "5", "--no-progress", "--out", str(tmp_path / "cli")]) == 0
    cli = tmp_path / "cli"
    assert {p.name for p in cli.iterdir() if p.is_file() and p.name != LOCK_NAME} == written_files
    from_cli = json.loads((cli / "results.json").read_text())
    assert set(from_cli) == set(written)
    assert str(cli.resolve()) in capsys.readouterr().out
