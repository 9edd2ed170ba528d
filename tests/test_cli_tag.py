"""`graphrep tag zero-shot`: offline end-to-end on a tiny TAG in the shared layout, and one-line errors."""

import csv
import gzip
import json

import pytest

from graphrep.cli import main


def _write_tag(folder, name, topics):
    d = folder / name
    d.mkdir(parents=True)
    rows, edges = [], []
    for c, topic in enumerate(topics):
        for i in range(6):
            rows.append({"id": len(rows), "text": f"a study of {topic} number {i}", "label": c})
        base = 6 * c
        edges += [(base + i, base + (i + 1) % 6) for i in range(6)]
    with gzip.open(d / "nodes.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    with gzip.open(d / "edges.csv.gz", "wt") as f:
        f.write("src,dst\n" + "".join(f"{a},{b}\n" for a, b in edges))
    (d / "classes.json").write_text(json.dumps({"classes": topics}))


@pytest.mark.slow
def test_tag_zero_shot_writes_metrics_and_predictions(tmp_path, capsys):
    _write_tag(tmp_path / "tag", "src", ["graph theory", "protein folding"])
    _write_tag(tmp_path / "tag", "dst", ["astronomy", "cooking", "music"])
    out = tmp_path / "run"
    argv = ["tag", "zero-shot", "--train", "src", "--eval", "dst", "--root", str(tmp_path / "tag"), "--out", str(out),
            "--epochs", "3", "--hidden", "8", "--cache-dir", str(tmp_path / "cache"), "--hard-negatives"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "zero-shot on dst" in printed and "propagation k=2" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["train"] == "src" and m["eval"] == "dst" and 0 <= m["accuracy"] <= 1
    assert m["config"]["epochs"] == 3 and m["config"]["hard_negatives"]["num_mix"] == 8
    assert set(m["mean_gate_weights"]) == {"euclidean", "hyperbolic", "spherical"}
    with open(out / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 18 and {r["label_name"] for r in rows} == {"astronomy", "cooking", "music"}
    acc = sum(r["label"] == r["pred"] for r in rows) / 18
    assert acc == pytest.approx(m["accuracy"])
    assert abs(sum(float(rows[0][f"weight_{k}"]) for k in ("euclidean", "hyperbolic", "spherical")) - 1) < 1e-5


def test_tag_zero_shot_errors_are_one_line(tmp_path, capsys):
    assert main(["tag", "zero-shot", "--train", "cora", "--eval", "citeseer", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphrep: error:") and "nodes.jsonl.gz" in err and "\n" not in err
    with pytest.raises(SystemExit):
        main(["tag", "zero-shot", "--train", "cora", "--eval", "citeseer", "--variant", "mixture"])
