"""`graphrep train --data own.csv` with absurd or misleading labels: one line naming the row and column, exit 2,
before any training (issue 21). The rule: an empty cell is a missing label; any other cell must be a finite number
within float32's range."""

import pytest

from graphrep.cli import main

SMILES = ["CCO", "CCC", "c1ccccc1", "CC(=O)O", "CCN", "CCCl", "OCCO", "CC=O"]
TINY = ["--epochs", "1", "--layers", "1", "--hidden", "8", "--rf-trees", "5", "--seeds", "0", "--no-progress"]


def _csv(tmp_path, header, cells):
    path = tmp_path / "own.csv"
    path.write_text(header + "\n" + "\n".join(f"{s},{c}" for s, c in zip(SMILES, cells)) + "\n")
    return path


def _run(tmp_path, path, *extra):
    return main(["train", "--data", str(path), "--out", str(tmp_path / "run"), *TINY, *extra])


def _error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphrep: error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize("cell", ["NaN", "nan", "-inf", "1e300", "-1e300"])
def test_a_label_that_is_not_a_finite_float32_is_refused_naming_row_and_column(tmp_path, capsys, cell):
    values = [str(v) for v in range(len(SMILES))]
    values[3] = cell
    path = _csv(tmp_path, "smiles,logS", values)
    assert _run(tmp_path, path, "--label-columns", "logS") == 2
    err = _error(capsys)
    assert f"{path}:5: label 'logS' is '{cell}'" in err and not (tmp_path / "run" / "results.json").exists()


def test_a_repeated_header_is_refused_not_split_into_two_tasks(tmp_path, capsys):
    path = tmp_path / "own.csv"
    path.write_text("smiles,logS,logS\n" + "\n".join(f"{s},{i},{i}" for i, s in enumerate(SMILES)) + "\n")
    assert _run(tmp_path, path) == 2
    assert f"{path}:1: column 'logS' appears more than once" in _error(capsys)


@pytest.mark.parametrize("explicit", [True, False])
def test_a_label_column_without_labels_says_so_instead_of_speaking_of_roc_auc(tmp_path, capsys, explicit):
    path = _csv(tmp_path, "smiles,y", [""] * len(SMILES))
    assert _run(tmp_path, path, *(["--label-columns", "y"] if explicit else [])) == 2
    err = _error(capsys)
    assert "label column 'y' has no labels" in err and "ROC-AUC" not in err
