"""User files: CSV/SMI/SDF parsing, invalid SMILES skipped with a counted warning or an error, empty datasets rejected."""

import logging

import pytest
import torch

from graphrep.data import InvalidInputError, molecules_from_file


def write(path, text):
    path.write_text(text)
    return path


def test_invalid_smiles_are_counted_and_named(tmp_path, caplog):
    csv = write(tmp_path / "m.csv", "smiles,a,b\nCCO,1,0\nC1CC,0,1\nc1ccccc1,,1\nXYZ,1,1\nCC(=O)O,0,\n")
    with caplog.at_level(logging.WARNING):
        ds = molecules_from_file(csv, label_columns=["a", "b"])
    assert len(ds) == 3 and ds.task_type == "classification"
    assert "skipped 2 of 5" in caplog.text and "line 3" in caplog.text and "'XYZ'" in caplog.text
    assert torch.isnan(ds.y[1, 0]) and torch.isnan(ds.y[2, 1]) and ds.y[0].tolist() == [1.0, 0.0]


def test_strict_makes_the_first_invalid_smiles_an_error(tmp_path):
    csv = write(tmp_path / "m.csv", "smiles,a\nCCO,1\nC1CC,0\n")
    with pytest.raises(InvalidInputError, match=r"m.csv:3: invalid SMILES 'C1CC'"):
        molecules_from_file(csv, label_columns=["a"], strict=True)


def test_dataset_with_no_valid_molecule_is_an_error(tmp_path):
    csv = write(tmp_path / "m.csv", "smiles,a\nC1CC,1\nfoo,0\n")
    with pytest.raises(InvalidInputError, match="no valid molecule"):
        molecules_from_file(csv, label_columns=["a"])


@pytest.mark.parametrize("content,match", [
    ("", "empty"),
    ("smiles,a\nCCO,yes\n", r"m.csv:2: label 'a' is 'yes'"),
    ("smi,a\nCCO,1\n", "no column 'smiles'"),
    ("smiles,a\nCCO,1\n", "label column"),
])
def test_malformed_csv_names_file_and_line(tmp_path, content, match):
    csv = write(tmp_path / "m.csv", content)
    with pytest.raises(InvalidInputError, match=match):
        molecules_from_file(csv, label_columns=["a"] if "label column" not in match else ["b"])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        molecules_from_file(tmp_path / "nope.csv")


def test_regression_detected_and_smi_and_sdf(tmp_path):
    ds = molecules_from_file(write(tmp_path / "r.csv", "smiles,y\nCCO,1.5\nCCC,-0.2\n"), label_columns=["y"])
    assert ds.task_type == "regression"
    smi = molecules_from_file(write(tmp_path / "m.smi", "CCO ethanol\n\nc1ccccc1 benzene\n"))
    assert len(smi) == 2 and smi.task_type == "none"
    from rdkit import Chem

    writer = Chem.SDWriter(str(tmp_path / "m.sdf"))
    for s, v in [("CCO", 1.0), ("CCN", 0.0)]:
        mol = Chem.MolFromSmiles(s)
        mol.SetProp("active", str(v))
        writer.write(mol)
    writer.close()
    sdf = molecules_from_file(tmp_path / "m.sdf", label_columns=["active"])
    assert len(sdf) == 2 and sdf.y.flatten().tolist() == [1.0, 0.0]


def test_truncated_sdf_record_is_skipped_and_reported(tmp_path, caplog):
    from rdkit import Chem

    block = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    text = block + "$$$$\n" + block[: len(block) // 2] + "\n$$$$\n"
    with caplog.at_level(logging.WARNING):
        ds = molecules_from_file(write(tmp_path / "t.sdf", text))
    assert len(ds) == 1 and "skipped 1 of 2" in caplog.text
