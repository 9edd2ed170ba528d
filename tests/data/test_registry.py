"""Dataset registry: cards, resolution order, checksums, and clear errors for missing or corrupt files."""

import gzip
import shutil

import pytest

from graphrep.data import (ChecksumError, DataNotFoundError, GraphrepError, InvalidInputError, dataset_info,
                           list_datasets, load_dataset)
from graphrep.data.registry import parse_card
from graphrep.data.resolve import read_bytes, resolve_file

MOLECULENET = ["bace", "bbbp", "clintox", "esol", "freesolv", "hiv", "lipophilicity", "muv", "sider", "tox21", "toxcast"]


def test_registry_lists_the_required_datasets():
    names = set(list_datasets())
    assert set(MOLECULENET) <= names
    assert {"zinc250k-valid", "zinc250k-test", "zinc250k-sample-9k", "zinc1k"} <= names
    assert {"nci-first-5k", "wehi-10k", "chembl2321810"} <= names
    assert {"ogbg-molhiv", "ogbg-molpcba"} <= set(list_datasets("ogb"))


def test_every_card_has_provenance():
    for name in list_datasets():
        card = dataset_info(name)
        assert card.license and card.citation and card.homepage and card.rows > 0
        for f in card.files:
            assert f.content_sha256 and len(f.content_sha256) == 64


def test_unknown_name_suggests_close_ones():
    with pytest.raises(GraphrepError, match="did you mean bbbp"):
        dataset_info("bbpb")


@pytest.mark.parametrize("name", ["nci-first-5k", "wehi-10k", "chembl2321810"])
def test_rdkit_shipped_sets_load_offline(name, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path))
    monkeypatch.delenv("GRAPHREP_DATA", raising=False)
    ds = load_dataset(name)
    assert len(ds) + len(ds.skipped) == dataset_info(name).rows


@pytest.mark.shared_data
def test_moleculenet_from_shared_copy_every_file_verifies(shared_data):
    for name in MOLECULENET:
        card = dataset_info(name)
        for f in card.files:
            assert resolve_file(card, f, root=shared_data, download=False).is_file()


@pytest.mark.shared_data
def test_moleculenet_loads_with_masked_labels(shared_data, monkeypatch):
    monkeypatch.setenv("GRAPHREP_DATA", str(shared_data))
    ds = load_dataset("tox21")
    assert ds.num_tasks == 12 and len(ds) + len(ds.skipped) == 7831
    assert ds.y.isnan().any()  # missing labels kept as NaN, masked by the loss
    bbbp = load_dataset("bbbp")
    assert len(bbbp) == 2039 and len(bbbp.skipped) == 11  # the 11 SMILES RDKit rejects, as in pretrain-gnns


def test_resolution_order_root_then_cache_then_package(tmp_path, monkeypatch):
    card = dataset_info("chembl2321810")
    smi = card.files[0]
    package_copy = resolve_file(card, smi, download=False)
    assert "rdkit" in str(package_copy)
    cache = tmp_path / "cache"
    (cache / "Contrib/FreeWilson/data").mkdir(parents=True)
    shutil.copy(package_copy, cache / "Contrib/FreeWilson/data/CHEMBL2321810.smi")
    monkeypatch.setenv("GRAPHREP_CACHE", str(cache))
    assert resolve_file(card, smi, download=False).parent.parent.parent.parent == cache
    root = tmp_path / "root"
    root.mkdir()
    (root / "CHEMBL2321810.smi.gz").write_bytes(gzip.compress(package_copy.read_bytes()))  # base name, gzipped
    assert resolve_file(card, smi, root=root, download=False) == root / "CHEMBL2321810.smi.gz"


@pytest.mark.shared_data
def test_checksum_mismatch_names_the_file(tmp_path, shared_data):
    truncated = tmp_path / "BBBP.csv"
    truncated.write_bytes(gzip.decompress((shared_data / "molecules/moleculenet/BBBP.csv.gz").read_bytes())[:5000])
    with pytest.raises(ChecksumError, match="BBBP.csv"):
        load_dataset("bbbp", root=tmp_path, download=False)


def test_missing_file_says_where_it_looked_and_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("tox21", root=tmp_path, download=False)
    message = str(info.value)
    assert "tox21.csv.gz" in message and str(tmp_path) in message and "deepchemdata" in message


def test_malformed_card_is_named(tmp_path):
    bad = tmp_path / "x.toml"
    bad.write_text('name = "x"\nkind = "molecules"\n')
    with pytest.raises(GraphrepError, match="x.toml.*lacks"):
        parse_card(bad)
    bad.write_text("name = \n")
    with pytest.raises(GraphrepError, match="not valid TOML"):
        parse_card(bad)


def _tox21_served(tmp_path, monkeypatch, payload: bytes | None):
    """Resolve tox21 with nothing local and ``fetch_url`` injected: it serves ``payload`` (None: offline)."""
    import urllib.error

    import graphrep.data.resolve as resolve

    fetched = []

    def fetch(url, dest):
        fetched.append(url)
        if payload is None:
            raise urllib.error.URLError("offline")
        dest.write_bytes(payload)

    monkeypatch.setattr(resolve, "fetch_url", fetch)
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path / "cache"))
    card = dataset_info("tox21")
    return card, card.files[0], fetched


def test_download_is_verified_and_cached_through_the_injected_fetcher(tmp_path, monkeypatch):
    card, file, fetched = _tox21_served(tmp_path, monkeypatch, gzip.compress(b"smiles,NR-AR\nCCO,1\n"))
    with pytest.raises(ChecksumError, match="failed verification"):  # served bytes differ from the card's checksum
        resolve_file(card, file, root=tmp_path)
    assert fetched == [file.url] and not list((tmp_path / "cache").rglob("*.gz"))  # nothing half-written kept
    unchecked = type(file)(path=file.path, url=file.url)  # same file, no checksum on the card
    path = resolve_file(card, unchecked, root=tmp_path)
    assert path.is_relative_to(tmp_path / "cache") and read_bytes(path) == b"smiles,NR-AR\nCCO,1\n"
    assert resolve_file(card, unchecked, root=tmp_path) == path and len(fetched) == 2  # second time: from the cache


def test_offline_download_reports_where_it_looked(tmp_path, monkeypatch):
    card, file, fetched = _tox21_served(tmp_path, monkeypatch, None)
    with pytest.raises(DataNotFoundError, match=r"tox21.csv.gz not found.*download from .*offline"):
        resolve_file(card, file, root=tmp_path)
    assert fetched == [file.url]


def test_truncated_gzip_is_one_named_error(tmp_path):
    whole = gzip.compress(b"smiles,y\n" + b"CCO,1\n" * 2000)
    cut = tmp_path / "m.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidInputError, match=r"m.csv.gz: truncated or corrupt gzip file"):
        read_bytes(cut)
