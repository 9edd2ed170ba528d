"""TAG loader: real Cora/CiteSeer, root resolution, and errors that name the file and line."""

import gzip
import json

import pytest
import torch
from torch_geometric.utils import contains_self_loops, is_undirected

from graphrep.data.errors import GraphrepError
from graphrep.data.tag import load_tag, strip_labels, tag_info, tag_prompts, title_only


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


# every shared TAG beyond Cora/CiteSeer: sizes after symmetrising (README: reciprocal pairs counted once), class
# sizes from the README
SHARED_TAGS = [("dblp", 14376, 431326, [5011, 2224, 4478, 2663]),
               ("webkb_cornell", 191, 2 * (292 - 18), [83, 17, 42, 17, 32]),
               ("webkb_texas", 187, 2 * (310 - 30), [34, 18, 103, 31, 1]),
               ("webkb_washington", 229, 2 * (394 - 29), [21, 66, 106, 27, 9]),
               ("webkb_wisconsin", 265, 2 * (510 - 51), [22, 35, 76, 122, 10])]


@pytest.mark.parametrize("name,n,e,sizes", SHARED_TAGS)
def test_every_shared_tag_loads_with_its_card(shared_data, name, n, e, sizes):
    data = load_tag(name, root=shared_data / "tag")
    card = tag_info(name)
    assert data.num_nodes == n == card.rows and data.edge_index.size(1) == e
    assert torch.bincount(data.y).tolist() == sizes and len(data.class_names) == card.option("num_classes")
    assert is_undirected(data.edge_index) and not contains_self_loops(data.edge_index)
    if name == "webkb_texas":
        assert data.class_names[4] == "staff"  # the one-node class (README)


@pytest.mark.parametrize("name", ["cora", "citeseer", "dblp", "webkb_cornell", "webkb_texas", "webkb_washington",
                                  "webkb_wisconsin"])
def test_every_shared_tag_card_has_a_prompt_and_five_paraphrases(name):
    prompts = tag_prompts(name)
    assert prompts[0] == tag_info(name).option("prompt") and len(set(prompts)) >= 5
    assert all(p.count("{}") == 1 for p in prompts)
    expected = "web page" if name.startswith("webkb") else "paper"
    assert expected in prompts[0]
    assert tag_prompts("no-such-tag") == []


def test_title_only_and_strip_labels(tmp_path):
    assert title_only(["A title. : An abstract : more", "no separator"]) == ["A title.", "no separator"]
    data = load_tag("x", root=_write(tmp_path / "x", NODES))
    bare = strip_labels(data)
    assert "y" not in bare and data.y is not None  # the original keeps its labels
    assert bare.text == data.text and torch.equal(bare.edge_index, data.edge_index) and bare.class_names == ["a", "b"]
    with pytest.raises(AttributeError):
        bare.y.sum()


def test_bad_utf8_and_truncated_gzip_name_file_and_line(tmp_path):
    folder = _write(tmp_path / "t", NODES)
    good = gzip.decompress((folder / "nodes.jsonl.gz").read_bytes())
    bad = good.replace(b'"text": "b"', b'"text": "\xff"')
    (folder / "nodes.jsonl.gz").write_bytes(gzip.compress(bad))
    with pytest.raises(GraphrepError, match=r"nodes.jsonl.gz:3: not valid UTF-8"):
        load_tag("t", root=tmp_path)
    (folder / "nodes.jsonl.gz").write_bytes(gzip.compress(good * 200)[:-40])
    with pytest.raises(GraphrepError, match=r"nodes.jsonl.gz:\d+: the gzip stream is truncated"):
        load_tag("t", root=tmp_path)


def test_one_class_is_warned(tmp_path):
    nodes = [{"id": 0, "text": "a", "label": 0}, {"id": 1, "text": "b", "label": 0}]
    with pytest.warns(UserWarning, match="only one class"):
        load_tag("t", root=_write(tmp_path / "t", nodes, classes=("only",)))


@pytest.mark.parametrize("edges", ["src,dst\n10,7\n 7 ,3\n3,10\n3,3\n", " src , dst \n3,7\n7,10\n",
                                   "dst,src,w\n3,7,0.5\n10,3,1\n", "src,dst\n3,7\n99999999999999999999,3\n",
                                   "src,dst\n3.0,7\n7,10\n", "src,dst\n"])
def test_integer_fast_path_of_read_edges_matches_the_string_path(tmp_path, monkeypatch, edges):
    """read_edges parses plain integer files as int64 (O(E) memory); the string path it replaced gives the same
    indices, or the same error, on the same file."""
    import numpy as np

    _fast_path_matches_string_path(tmp_path, monkeypatch, edges, np.array([10, 3, 7]))


def _fast_path_matches_string_path(tmp_path, monkeypatch, edges, ids):
    import graphrep.data.tag as tag

    path = tmp_path / "edges.csv"
    path.write_text(edges)

    def run():
        try:
            return tag.read_edges(path, ids).tolist()
        except ValueError as e:
            return str(e)

    fast = run()
    monkeypatch.setattr(tag, "_read_int_edges", lambda *a: None)
    assert fast == run()


@pytest.mark.parametrize("edges", ["src,dst\n0,2\n 2 ,1\n1,1\n", "src,dst\n0,2\n3,1\n", "src,dst\n0,-1\n"])
def test_integer_fast_path_with_ids_0_to_n_matches_the_string_path(tmp_path, monkeypatch, edges):
    """Node ids 0..N-1 are their own positions (no search); ids outside them fall back to the string path's error."""
    import numpy as np

    _fast_path_matches_string_path(tmp_path, monkeypatch, edges, np.arange(3))


@pytest.mark.parametrize("symmetrize", [True, False])
def test_coalesced_edges_equal_pyg_remove_self_loops_then_to_undirected(symmetrize):
    """load_tag's in-place symmetrise and deduplicate (one sorted key per edge) gives PyG's edge_index exactly."""
    import numpy as np
    from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

    import graphrep.data.tag as tag

    rng = np.random.default_rng(0)
    for n, m in [(1, 0), (4, 3), (30, 200), (500, 3000)]:
        e = rng.integers(0, n, (2, m))  # duplicates, reverse pairs and self-loops
        t, _ = remove_self_loops(torch.from_numpy(e))
        ref = to_undirected(t, num_nodes=n) if symmetrize else coalesce(t, num_nodes=n)
        assert torch.equal(torch.from_numpy(tag._coalesced(e, n, symmetrize)), ref), (n, m)
