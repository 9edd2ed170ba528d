"""`graphrep tag zero-shot`: offline end-to-end on tiny TAGs in the shared layout (multi-source, leave-one-graph-out),
labels read only by the scorer, and one-line errors for every bad argument, checked before any work."""

import csv
import gzip
import json

import pytest

from graphrep.cli import main


def _write_tag(folder, name, topics, labels=None):
    d = folder / name
    d.mkdir(parents=True)
    rows, edges = [], []
    for c, topic in enumerate(topics):
        for i in range(6):
            rows.append({"id": len(rows), "text": f"a study of {topic} number {i}", "label": c})
        base = 6 * c
        edges += [(base + i, base + (i + 1) % 6) for i in range(6)]
    if labels is not None:
        for r, y in zip(rows, labels):
            r["label"] = y
    with gzip.open(d / "nodes.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    with gzip.open(d / "edges.csv.gz", "wt") as f:
        f.write("src,dst\n" + "".join(f"{a},{b}\n" for a, b in edges))
    (d / "classes.json").write_text(json.dumps({"classes": topics}))
    return d


def _argv(root, out, *extra, train="src,src2", eval="dst"):
    return ["tag", "zero-shot", "--train", train, "--eval", eval, "--root", str(root), "--out", str(out),
            "--hidden", "8", "--cache-dir", str(root.parent / "cache"), *extra]


def _predictions(out):
    with open(out / "predictions.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_tag_zero_shot_multi_source_writes_metrics_and_labels_reach_only_the_scorer(tmp_path, capsys):
    root = tmp_path / "tag"
    _write_tag(root, "src", ["graph theory", "protein folding"])
    _write_tag(root, "src2", ["poetry", "volcanoes"])
    _write_tag(root, "dst", ["astronomy", "cooking", "music"])
    out = tmp_path / "run"
    assert main(_argv(root, out, "--epochs", "3", "--hard-negatives", "--variant", "gated")) == 0
    printed = capsys.readouterr().out
    assert "trained on src, src2, zero-shot on dst" in printed and "propagation k=2" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["train"] == ["src", "src2"] and m["eval"] == "dst"
    # every text names its class: text-only zero-shot is exact, and neither training nor adaptation may lose that
    assert m["baselines"]["text only"]["accuracy"] == 1.0
    assert m["without_adaptation"]["accuracy"] == 1.0 and m["accuracy"] == 1.0 and m["macro_f1"] == 1.0
    assert m["config"]["epochs"] == 3 and m["config"]["hard_negatives"]["num_mix"] == 8
    assert m["templates"] == ["This paper is about {}."]
    assert set(m["mean_gate_weights"]) == {"euclidean", "hyperbolic", "spherical"}
    rows = _predictions(out)
    assert len(rows) == 18 and {r["label_name"] for r in rows} == {"astronomy", "cooking", "music"}
    assert sum(r["label"] == r["pred"] for r in rows) / 18 == pytest.approx(m["accuracy"])
    assert abs(sum(float(rows[0][f"weight_{k}"]) for k in ("euclidean", "hyperbolic", "spherical")) - 1) < 1e-5

    # the same graph with shuffled labels: identical predictions, only the score changes
    shuffled = [(i * 7) % 3 for i in range(18)]
    _write_tag(tmp_path / "tag2", "dst", ["astronomy", "cooking", "music"], labels=shuffled)
    for name in ("src", "src2"):
        _write_tag(tmp_path / "tag2", name, ["graph theory", "protein folding"] if name == "src"
                   else ["poetry", "volcanoes"])
    out2 = tmp_path / "run2"
    assert main(_argv(tmp_path / "tag2", out2, "--epochs", "3", "--hard-negatives", "--variant", "gated")) == 0
    rows2 = _predictions(out2)
    assert [r["pred"] for r in rows2] == [r["pred"] for r in rows]
    m2 = json.loads((out2 / "metrics.json").read_text())
    assert m2["accuracy"] == pytest.approx(sum(int(r["pred"]) == y for r, y in zip(rows, shuffled)) / 18)
    assert m2["accuracy"] < 0.5


@pytest.mark.slow
def test_zero_epochs_is_the_untrained_model_and_does_not_fail(tmp_path, capsys):
    root = tmp_path / "tag"
    _write_tag(root, "src", ["graph theory", "protein folding"])
    _write_tag(root, "dst", ["astronomy", "cooking", "music"])
    out = tmp_path / "run"
    assert main(_argv(root, out, "--epochs", "0", "--adaptation", "none", train="src")) == 0
    m = json.loads((out / "metrics.json").read_text())
    # untrained: the model is its skip path, i.e. the training-free propagation k=2 row
    assert m["final_loss"] is None
    assert m["accuracy"] == pytest.approx(m["baselines"]["propagation k=2"]["accuracy"])


def test_tag_zero_shot_errors_are_one_line_and_come_before_work(tmp_path, capsys):
    assert main(["tag", "zero-shot", "--train", "cora", "--eval", "citeseer", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphrep: error:") and "nodes.jsonl.gz" in err and "\n" not in err
    with pytest.raises(SystemExit):
        main(["tag", "zero-shot", "--train", "cora", "--eval", "citeseer", "--variant", "mixture"])
    capsys.readouterr()

    root = tmp_path / "tag"
    _write_tag(root, "src", ["graph theory", "protein folding"])
    _write_tag(root, "dst", ["astronomy", "cooking", "music"])
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [
        (["--epochs", "-1"], "--epochs must be >= 0"),
        (["--hidden", "0"], "--hidden must be >= 1"),
        (["--batch-size", "1"], "--batch-size"),
        (["--edge-drop", "1.5"], "--edge-drop"),
        (["--template", "no slot"], "--template"),
        (["--gate-scope", "graph"], "--gate-scope graph needs --variant routed"),
    ]
    for extra, message in cases:
        assert main(_argv(root, tmp_path / "o", *extra, train="src")) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert main(_argv(root, a_file, train="src")) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(_argv(root, tmp_path / "o", train="src,dst")) == 2
    assert "leaves the evaluated graph out" in capsys.readouterr().err
    assert main(_argv(root, tmp_path / "o", train="src,src")) == 2
    assert "twice" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "cache").exists()  # nothing was done


def test_truncated_and_badly_encoded_tag_files_are_one_line_naming_file_and_line(tmp_path, capsys):
    root = tmp_path / "tag"
    _write_tag(root, "src", ["graph theory", "protein folding"])
    d = _write_tag(root, "dst", ["astronomy", "cooking", "music"])
    raw = (d / "nodes.jsonl.gz").read_bytes()
    (d / "nodes.jsonl.gz").write_bytes(raw[: len(raw) // 2])
    assert main(_argv(root, tmp_path / "o", "--epochs", "0", train="src")) == 2
    err = capsys.readouterr().err.strip()
    assert "nodes.jsonl.gz:" in err and "truncated or corrupt" in err and "\n" not in err, err

    lines = [json.dumps({"id": 0, "text": "fine", "label": 0}).encode(),
             b'{"id": 1, "text": "caf\xe9", "label": 1}']
    with gzip.open(d / "nodes.jsonl.gz", "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    assert main(_argv(root, tmp_path / "o", "--epochs", "0", train="src")) == 2
    err = capsys.readouterr().err.strip()
    assert "nodes.jsonl.gz:2: not valid UTF-8" in err and "\n" not in err, err


def test_the_command_lists_the_library_variants_and_adaptations():
    # graphrep.commands.tag imports only the stdlib at module level, so it repeats these names; keep them in step
    from graphrep.commands import tag
    from graphrep.models.graphshaper import VARIANTS
    from graphrep.tasks.tag.alignment import TRANSFER_ADAPTATIONS

    assert sorted(tag.VARIANTS) == sorted(VARIANTS) and tag.ADAPTATIONS == TRANSFER_ADAPTATIONS


def test_class_descriptions_and_routed_variant(tmp_path, capsys):
    root = tmp_path / "tag"
    _write_tag(root, "src", ["graph theory", "protein folding"])
    _write_tag(root, "dst", ["astronomy", "cooking", "music"])
    desc = tmp_path / "desc.json"
    desc.write_text(json.dumps({"astronomy": ["stars", "planets"], "cooking": "recipes"}))
    assert main(_argv(root, tmp_path / "o", "--class-descriptions", str(desc), train="src")) == 2
    err = capsys.readouterr().err.strip()
    assert "desc.json" in err and "'music'" in err and "\n" not in err, err
    assert not (tmp_path / "o").exists()  # checked before any work
    desc.write_text(json.dumps({"astronomy": ["stars", "planets"], "cooking": "recipes", "music": "songs"}))
    assert main(_argv(root, tmp_path / "o", "--class-descriptions", str(desc), "--variant", "routed",
                      "--epochs", "2", train="src")) == 0
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["class_descriptions"].endswith("desc.json")
    assert set(m["mean_gate_weights"]) == {"text", "euclidean", "signed"}
    assert abs(sum(m["mean_gate_weights"].values()) - 1) < 1e-5


def test_route_alpha_threshold_and_text_fallback_come_from_the_training_graphs_only(tmp_path, monkeypatch):
    """The CLI's route (alpha, threshold on a1, low branch), the adaptation settings it decides and the routed
    model's text fallback are chosen on --train alone: the gains are never computed on the evaluated graph, and
    another labelling and other edges of the evaluated graph leave them unchanged."""
    from graphrep.tasks.tag import routing

    called = []
    real = routing.route_gain

    def spy(data, *a, **k):
        called.append(data.name)
        return real(data, *a, **k)

    monkeypatch.setattr(routing, "route_gain", spy)
    topics = ["astronomy", "cooking", "music"]
    _write_tag(tmp_path / "a", "src", ["graph theory", "protein folding"])
    _write_tag(tmp_path / "a", "src2", ["poetry", "volcanoes"])
    _write_tag(tmp_path / "a", "dst", topics)
    _write_tag(tmp_path / "b", "src", ["graph theory", "protein folding"])
    _write_tag(tmp_path / "b", "src2", ["poetry", "volcanoes"])
    d = _write_tag(tmp_path / "b", "dst", topics, labels=[(i * 7) % 3 for i in range(18)])
    with gzip.open(d / "edges.csv.gz", "wt") as f:  # other edges: across classes, not around each class
        f.write("src,dst\n" + "".join(f"{i},{(i + 6) % 18}\n" for i in range(18)))
    runs = {}
    for key in ("a", "b"):
        for adaptation in ("route", "propagate"):
            out = tmp_path / f"run-{key}-{adaptation}"
            assert main(_argv(tmp_path / key, out, "--epochs", "0", "--variant", "routed", "--adaptation",
                              adaptation)) == 0
            runs[key, adaptation] = json.loads((out / "metrics.json").read_text())
    assert called and set(called) == {"src", "src2"}  # every source, never the evaluated graph
    route = runs["a", "route"]["route"]
    assert set(route) == {"alpha", "knn_weight", "threshold", "low"}
    assert (route["alpha"], route["knn_weight"]) in routing.ROUTE_OPTIONS
    assert all(m["route"] == route for m in runs.values())
    assert all(m["text_fallback"] == route["threshold"] for m in runs.values())
    # the target's own a1 (its edges moved it) picks the branch; alpha and centring follow the sources' route
    a1 = {k: runs[k, "route"]["adaptation"]["agreement"] for k in ("a", "b")}
    assert a1["a"] != a1["b"]
    for k in ("a", "b"):
        act = a1[k] > route["threshold"]
        assert runs[k, "propagate"]["adaptation"]["alpha"] == (route["alpha"] if act else 0.0)
        knn = f", kNN weight {route['knn_weight']}" if route["knn_weight"] else ""
        assert runs[k, "route"]["adaptation"]["branch"] == (f"score propagation, alpha {route['alpha']}{knn}" if act
                                                            else route["low"])
