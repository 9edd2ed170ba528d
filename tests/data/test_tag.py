"""TAG loader: real Cora/CiteSeer, root resolution, and errors that name the file and line."""

import gzip
import json

import pytest
import torch
from torch_geometric.utils import contains_self_loops, is_undirected

from graphrep.data.tag import load_tag, tag_info


def _write(folder, nodes, edges="src,dst\n0,1\n", classes=("a", "b"), gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(n) + "\n" if isinstance(n, dict) else n for n in nodes)
    if gz:
        with gzip.open(folder / "nodes.jsonl.gz", "wt", encoding="utf-8") as f:
            f.write(lines)
        with gzip.open(folder / "edges.csv.gz", "wt") as f:
            f.write(edges)
    else:
        (folder / "nodes.jsonl").write_text(lines)
        (folder / "edges.csv").write_text(edges)
    (folder / "classes.json").write_text(json.dumps({"classes": list(classes)}))
    return folder


NODES = [{"id": 2, "text": "c", "label": 0}, {"id": 0, "text": "a", "label": 1}, {"id": 1, "text": "b", "label": 0}]


@pytest.mark.shared_data
@pytest.mark.parametrize("name,n,e,c", [("cora", 2708, 10556, 7), ("citeseer", 3186, 8450, 6)])
def test_real_tags(shared_data, name, n, e, c):
    data = load_tag(name, root=shared_data / "tag")
    assert data.num_nodes == n and len(data.text) == n and data.y.shape == (n,)
    assert data.edge_index.size(1) == e and len(data.class_names) == c == tag_info(name).option("num_classes")
    assert is_undirected(data.edge_index) and not contains_self_loops(data.edge_index)
    assert int(data.y.max()) == c - 1 and all(isinstance(t, str) and t for t in data.text[:50])
    assert torch.equal(data.node_id, torch.arange(n))
    if name == "cora":
        # class sizes documented in shared/data/README.md
        assert dict(zip(data.class_names, data.y.bincount().tolist()))["Neural_Networks"] == 818


@pytest.mark.shared_data
def test_citeseer_directed_option(shared_data):
    directed = load_tag("citeseer", root=shared_data / "tag", symmetrize=False)
    assert directed.edge_index.size(1) < 4278 and not is_undirected(directed.edge_index)


def test_order_by_id_and_symmetrise(tmp_path):
    _write(tmp_path / "toy", NODES, edges="src,dst\n2,0\n2,0\n1,1\n0,1\n", gz=False)
    data = load_tag("toy", root=tmp_path)
    assert data.text == ["a", "b", "c"] and data.y.tolist() == [1, 0, 0] and data.name == "toy"
    assert sorted(map(tuple, data.edge_index.t().tolist())) == [(0, 1), (0, 2), (1, 0), (2, 0)]
    assert data.class_names == ["a", "b"]
    # the dataset folder itself also works as root; names are tried as given, then in lower case
    assert load_tag("toy", root=tmp_path / "toy").num_nodes == 3
    assert load_tag("TOY", root=tmp_path).num_nodes == 3
    _write(tmp_path / "CamelCase", NODES)
    assert load_tag("CamelCase", root=tmp_path).name == "camelcase"


def test_non_contiguous_ids(tmp_path):
    nodes = [{"id": 10, "text": "x", "label": 0}, {"id": 7, "text": "y", "label": 1}]
    _write(tmp_path / "t", nodes, edges="src,dst\n10,7\n")
    data = load_tag("t", root=tmp_path)
    assert data.node_id.tolist() == [7, 10] and data.text == ["y", "x"]
    assert data.edge_index.tolist() == [[0, 1], [1, 0]]


def test_env_root_and_missing(tmp_path, monkeypatch):
    _write(tmp_path / "tag" / "mine", NODES)
    monkeypatch.setenv("GRAPHREP_DATA", str(tmp_path))
    assert load_tag("mine").num_nodes == 3
    with pytest.raises(FileNotFoundError, match=r"pubmed.*nodes\.jsonl\.gz.*XiaoxinHe/TAPE"):
        load_tag("pubmed")
    monkeypatch.delenv("GRAPHREP_DATA")
    with pytest.raises(FileNotFoundError, match="GRAPHREP_DATA is not set.*ogb"):
        load_tag("ogbn-arxiv")
    assert tag_info("WikiCS").option("num_classes") == 10 and tag_info("mine") is None


@pytest.mark.parametrize("nodes,edges,classes,match", [
    (NODES, "source,dst\n0,1\n", ("a", "b"), r"edges\.csv\.gz:1: .*missing \['src'\]"),
    (NODES, "src,dst\n0,1\n1,9\n", ("a", "b"), r"edges\.csv\.gz:3: dst id 9 out of range"),
    (NODES, "src,dst\n0,1\nx,2\n", ("a", "b"), r"edges\.csv\.gz:3: column 'src' must hold integer"),
    (NODES, "", ("a", "b"), r"edges\.csv\.gz: empty file"),
    (NODES, "src,dst\n", ("a",), r"nodes\.jsonl\.gz:2: label 1 out of range \[0, 1\)"),
    ([], "src,dst\n", ("a",), r"nodes\.jsonl\.gz: empty file"),
    (NODES[:1] + [{"id": 1, "label": 0}], "src,dst\n", ("a", "b"), r"nodes\.jsonl\.gz:2: missing key\(s\) \['text'\]"),
    (NODES[:1] + ["{not json\n"], "src,dst\n", ("a", "b"), r"nodes\.jsonl\.gz:2: invalid JSON"),
    (NODES + [{"id": 0, "text": "d", "label": 0}], "src,dst\n", ("a", "b"), r"nodes\.jsonl\.gz:4: duplicate node id 0"),
])
def test_malformed_inputs(tmp_path, nodes, edges, classes, match):
    _write(tmp_path / "bad", nodes, edges=edges, classes=classes)
    with pytest.raises(ValueError, match=match):
        load_tag("bad", root=tmp_path)


def test_bad_classes_and_missing_edges(tmp_path):
    folder = _write(tmp_path / "c", NODES)
    (folder / "classes.json").write_text("")
    with pytest.raises(ValueError, match=r"classes\.json: empty file"):
        load_tag("c", root=tmp_path)
    (folder / "classes.json").write_text(json.dumps({"0": "a", "2": "b"}))
    with pytest.raises(ValueError, match="exactly 0..1"):
        load_tag("c", root=tmp_path)
    (folder / "classes.json").write_text(json.dumps({"1": "b", "0": "a"}))
    assert load_tag("c", root=tmp_path).class_names == ["a", "b"]
    (folder / "edges.csv.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"edges\.csv\.gz not found"):
        load_tag("c", root=tmp_path)
