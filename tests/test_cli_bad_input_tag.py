"""`graphrep tag zero-shot` on a malformed TAG folder: one line naming the file (and line), exit 2, never an
"internal error" (issue 21)."""

import gzip
import json

import pytest

from graphrep.cli import main

GOOD = [{"id": i, "text": f"text {i}", "label": i % 2} for i in range(6)]


def _write(folder, nodes=None, edges="src,dst\n0,1\n1,2\n", classes='{"classes": ["a", "b"]}'):
    folder.mkdir(parents=True)
    with gzip.open(folder / "nodes.jsonl.gz", "wt") as f:
        f.write(nodes if nodes is not None else "".join(json.dumps(r) + "\n" for r in GOOD))
    with gzip.open(folder / "edges.csv.gz", "wt") as f:
        f.write(edges)
    (folder / "classes.json").write_text(classes)


def _jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


CASES = {
    "edge id out of range": (dict(edges="src,dst\n0,99\n"), "edges.csv.gz:2", "99"),
    "negative edge id": (dict(edges="src,dst\n-1,2\n"), "edges.csv.gz:2", "-1"),
    "non-integer edge id": (dict(edges="src,dst\n1.5,2\n"), "edges.csv.gz:2", "1.5"),
    "empty classes.json": (dict(classes=""), "classes.json", "empty"),
    "label outside the classes": (dict(nodes=_jsonl(GOOD[:5] + [{"id": 5, "text": "x", "label": 7}])),
                                  "nodes.jsonl.gz:6", "label 7"),
    "line cut mid-JSON": (dict(nodes=_jsonl(GOOD) + '{"id": 6, "te'), "nodes.jsonl.gz:7", "JSON"),
    "no labels": (dict(nodes=_jsonl([{"id": i, "text": "t"} for i in range(6)])), "nodes.jsonl.gz:1", "label"),
    "duplicate node id": (dict(nodes=_jsonl(GOOD + [{"id": 0, "text": "x", "label": 0}])), "nodes.jsonl.gz:7",
                          "duplicate node id 0"),
    # zero-shot could not tell these apart, or would score a trivial 100%: they used to run and exit 0
    "a class named twice": (dict(classes='["course", " Course"]'), "classes.json", "repeats label 0"),
    "one class": (dict(nodes=_jsonl([{"id": i, "text": "t", "label": 0} for i in range(4)]), classes='["a"]'),
                  "TAG dst", "at least 2 classes"),
    "no text at all": (dict(nodes=_jsonl([{"id": i, "text": " ", "label": i % 2} for i in range(4)])), "TAG dst",
                       "every node text is empty"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_tag_is_one_user_error_line(tmp_path, capsys, case):
    files, where, what = CASES[case]
    _write(tmp_path / "tag" / "src")
    _write(tmp_path / "tag" / "dst", **files)
    rc = main(["tag", "zero-shot", "--train", "src", "--eval", "dst", "--root", str(tmp_path / "tag"),
               "--out", str(tmp_path / "out"), "--epochs", "1", "--hidden", "8",
               "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert err.startswith("graphrep: error: ") and "\n" not in err
    assert where in err and what in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("template, what", [("{} and {}", "exactly one '{}'"), ("about {} }", "Single '}'"),
                                            ("about {name}", "found {name}")])
def test_a_template_str_format_cannot_fill_once_is_refused_up_front(tmp_path, capsys, template, what):
    rc = main(["tag", "zero-shot", "--train", "src", "--eval", "dst", "--root", str(tmp_path / "nowhere"),
               "--out", str(tmp_path / "out"), "--template", template])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("graphrep: error: --template ") and what in err and "\n" not in err, err
    assert not (tmp_path / "out").exists()
