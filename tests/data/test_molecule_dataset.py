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


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e400", "-Infinity"])
def test_non_finite_label_is_rejected_with_its_line(tmp_path, cell):
    csv = write(tmp_path / "m.csv", f"smiles,y\nCCO,1.5\nCCC,{cell}\nCCN,0.3\n")
    with pytest.raises(InvalidInputError, match=rf"m.csv:3: label 'y' is '{cell}', not a finite number"):
        molecules_from_file(csv, label_columns=["y"])


def test_non_finite_sdf_property_is_rejected_with_its_record(tmp_path):
    from rdkit import Chem

    writer = Chem.SDWriter(str(tmp_path / "m.sdf"))
    for s, v in [("CCO", "1.0"), ("CCN", "inf")]:
        mol = Chem.MolFromSmiles(s)
        mol.SetProp("logS", v)
        writer.write(mol)
    writer.close()
    with pytest.raises(InvalidInputError, match=r"m.sdf: record 2: label 'logS' is 'inf'"):
        molecules_from_file(tmp_path / "m.sdf", label_columns=["logS"])


def test_default_labels_are_the_numeric_columns_and_the_rest_is_named(tmp_path, caplog):
    csv = write(tmp_path / "m.csv", "name,SMILES,a,b\nethanol,CCO,1,0.5\npropane,CCC,0,\nbenzene,c1ccccc1,,2\n")
    with caplog.at_level(logging.WARNING):
        ds = molecules_from_file(csv)  # SMILES found in any case; 'name' is text
    assert ds.task_names == ["a", "b"] and ds.task_type == "regression" and len(ds) == 3
    assert "ignoring non-numeric or empty column(s) name" in caplog.text
    assert ds.y[0].tolist() == [1.0, 0.5] and torch.isnan(ds.y[1, 1]) and torch.isnan(ds.y[2, 0])


def test_classification_labels_must_be_binary(tmp_path):
    csv = write(tmp_path / "m.csv", "smiles,active\nCCO,1\nCCC,0\nCCN,2\n")
    with pytest.raises(InvalidInputError, match=r"m.csv:4: label 'active' is 2; classification labels must be 0 or 1"):
        molecules_from_file(csv, task_type="classification")
    assert molecules_from_file(csv, task_type="regression").task_type == "regression"
    with pytest.raises(InvalidInputError, match="task type 'ranking'"):
        molecules_from_file(csv, task_type="ranking")


def test_sdf_default_labels_are_its_numeric_properties(tmp_path):
    from rdkit import Chem

    writer = Chem.SDWriter(str(tmp_path / "m.sdf"))
    for s, v in [("CCO", 1.0), ("CCN", 0.0), ("CCC", 1.0)]:
        mol = Chem.MolFromSmiles(s)
        mol.SetProp("active", str(v))
        mol.SetProp("vendor", "acme")
        writer.write(mol)
    writer.close()
    ds = molecules_from_file(tmp_path / "m.sdf")
    assert ds.task_names == ["active"] and ds.task_type == "classification" and ds.y.flatten().tolist() == [1, 0, 1]


def test_load_dataset_takes_a_path_and_keeps_file_options_to_files(tmp_path):
    from graphrep.data import GraphrepError, load_dataset

    csv = write(tmp_path / "mine.csv", "mol,logS,id\nCCO,1.5,a\nCCC,-0.2,b\n")
    ds = load_dataset(str(csv), smiles_column="mol", label_columns=["logS"], task_type="regression")
    assert ds.name == "mine.csv" and ds.task_names == ["logS"] and ds.y.flatten().tolist() == pytest.approx([1.5, -0.2])
    with pytest.raises(GraphrepError, match="label_columns applies to your own molecule file"):
        load_dataset("chembl2321810", label_columns=["y"])
    with pytest.raises(FileNotFoundError, match="nope.csv: no such file"):
        load_dataset(str(tmp_path / "nope.csv"))
