"""`graphrep modality train`: each kind end to end on small inputs (metrics.json + curves.png), and one-line errors."""

import gzip
import json

import pytest

from graphrep.cli import main


def _write_tag(root, name="tiny"):
    d = root / "tag" / name
    d.mkdir(parents=True)
    topics = [["graph", "node", "edge", "walk"], ["protein", "fold", "amino", "chain"]]
    rows = [{"id": i, "text": " ".join(topics[i % 2][(i + k) % 4] for k in range(5)), "label": i % 2}
            for i in range(20)]
    with gzip.open(d / "nodes.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    with gzip.open(d / "edges.csv.gz", "wt") as f:
        f.write("src,dst\n0,1\n")
    (d / "classes.json").write_text(json.dumps({"classes": ["graphs", "proteins"]}))


def _write_mobility(root):
    d = root / "mobility" / "toy"
    d.mkdir(parents=True)
    for part, days in (("train", range(0, 6)), ("valid", range(6, 8)), ("test", range(8, 10))):
        lines = ["id,user_id,location_id,latitude,longitude,start_day,start_min,weekday"]
        for user in range(3):
            for day in days:
                for k, venue in enumerate((10 + user, 20, 30 + user)):
                    lines.append(f"0,{user},{venue},0,0,{day},{60 * k},{(day + 3) % 7}")
        (d / f"{part}.csv").write_text("\n".join(lines) + "\n")


def _check(out, names):
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["summary"]) == set(names)
    assert (out / "curves.png").stat().st_size > 0
    return m


@pytest.mark.slow
def test_image_kind(tmp_path, capsys):
    out = tmp_path / "img"
    assert main(["modality", "train", "--kind", "image", "--epochs", "1", "--seeds", "0", "--hidden", "8",
                 "--out", str(out)]) == 0
    _check(out, ["graph", "mlp on pixels"])
    assert "image gin" in capsys.readouterr().out


def test_text_kind(tmp_path):
    _write_tag(tmp_path)
    out = tmp_path / "txt"
    assert main(["modality", "train", "--kind", "text", "--root", str(tmp_path), "--dataset", "tiny", "--epochs", "2",
                 "--seeds", "0", "--hidden", "8", "--window", "2", "--pretrain-epochs", "1", "--out", str(out)]) == 0
    m = _check(out, ["graph", "tf-idf + logistic regression"])
    assert m["token_graph_stats"]["documents"] == 20 and m["runs"]["graph"][0]["pretrain_losses"]


def test_trajectory_kind(tmp_path):
    _write_mobility(tmp_path)
    out = tmp_path / "traj"
    assert main(["modality", "train", "--kind", "trajectory", "--root", str(tmp_path), "--dataset", "toy",
                 "--epochs", "2", "--seeds", "0", "--hidden", "8", "--out", str(out)]) == 0
    m = _check(out, ["graph", "gru without graph", "markov"])
    # every user walks own -> 20 -> own: 6 days x 3 users x 2 within-day transitions + 5 day-to-day each
    assert m["data"]["train_transitions"] == 3 * (6 * 3 - 1)
    assert m["runs"]["markov"][0]["test_acc"] > 0.5


@pytest.mark.parametrize("argv,message", [
    (["--kind", "text", "--root", "/nonexistent/x"], "not found"),
    (["--kind", "trajectory", "--root", "/nonexistent/x"], "trajectory data 'fsq_nyc' not found"),
    (["--kind", "image", "--patch-size", "3"], "not divisible"),
    (["--kind", "image", "--epochs", "0"], "epochs must be >= 1"),
    (["--kind", "image", "--tokenizer", "encoder"], "--tokenizer with --kind image: --tokenizer applies to --kind text"),
    (["--kind", "image", "--dataset", "cora"], "--dataset applies to --kind text or trajectory only"),
    (["--kind", "text", "--history", "5"], "--history with --kind text"),
    (["--kind", "trajectory", "--patch-size", "2"], "--patch-size applies to --kind image only"),
    (["--kind", "trajectory", "--window", "3"], "--window with --kind trajectory"),
])
def test_bad_input_is_one_line(argv, message, capsys, tmp_path):
    assert main(["modality", "train", *argv, "--seeds", "0", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphrep: error:") and message in err and "\n" not in err
