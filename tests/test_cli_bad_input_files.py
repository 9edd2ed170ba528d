"""User files that are torch-loaded or read as text, bad in ways a user meets: a truncated or pickled `model.pt`, a
pickled `pytorch_model.bin` in a `--text-model` folder, a `train` checkpoint given to `pretrain --resume`, a check-in
CSV with one non-UTF-8 row. Each is one line naming the file, exit 2; nothing pickled runs; torch's advice to reload
with `weights_only=False` is never repeated (issue 21)."""

import argparse
import gzip
import shutil
import sys
from pathlib import Path

import pytest
import torch

from graphrep.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent / "tasks" / "mobility"))
from test_mobility_training import write_city  # noqa: E402

RAN = []


class Payload:
    """Unpickling it would run code (records that it did)."""

    def __reduce__(self):
        return (RAN.append, ("unpickled",))


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.startswith("graphrep:")]
    assert len(lines) == 1 and lines[0].startswith("graphrep: error: ") and "Traceback" not in err, err
    assert "weights_only=False" not in err and "will likely succeed" not in err
    return lines[0]


@pytest.fixture()
def city(tmp_path):
    return write_city(tmp_path / "city", users=4, per_user=20)


def _pickled(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": {}, "state_dict": {}, "extra": Payload()}, path)
    return path


def _truncated(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": {}, "state_dict": {"w": torch.ones(100)}, "extra": "{}"}, path)
    path.write_bytes(path.read_bytes()[:200])
    return path


@pytest.mark.parametrize("make,message", [(_pickled, "pickled Python objects"), (_truncated, "truncated")])
@pytest.mark.parametrize("command", ["transfer", "evaluate"])
def test_mobility_model_file_is_refused_without_running_it(tmp_path, capsys, city, make, message, command):
    model = make(tmp_path / "run" / "model.pt")
    argv = (["mobility", "transfer", "--from", str(model.parent), "--to", str(city), "--out", str(tmp_path / "t")]
            if command == "transfer" else ["mobility", "evaluate", "--model", str(model), "--city", str(city)])
    RAN.clear()
    assert main([*argv, "--window", "8", "--epochs", "1", "--quiet"] if command == "transfer"
                else [*argv, "--window", "8"]) == 2
    line = _error(capsys)
    assert str(model) in line and message in line and RAN == []


def test_pickled_weights_in_a_text_model_folder_are_refused(tmp_path, capsys):
    from graphrep.data.text import bundled_model_path

    folder = tmp_path / "text-model"
    shutil.copytree(bundled_model_path(), folder)
    (folder / "model.safetensors").unlink()
    torch.save({"embeddings.word_embeddings.weight": torch.zeros(2, 2), "x": argparse.Namespace(a=1)},
               folder / "pytorch_model.bin")
    tag = tmp_path / "tag"
    for name in ("src", "dst"):
        d = tag / name
        d.mkdir(parents=True)
        with gzip.open(d / "nodes.jsonl.gz", "wt") as f:
            f.writelines(f'{{"id": {i}, "text": "t {i}", "label": {i % 2}}}\n' for i in range(6))
        with gzip.open(d / "edges.csv.gz", "wt") as f:
            f.write("src,dst\n0,1\n")
        (d / "classes.json").write_text('["a", "b"]')
    assert main(["tag", "zero-shot", "--train", "src", "--eval", "dst", "--root", str(tag), "--out",
                 str(tmp_path / "out"), "--epochs", "1", "--hidden", "8", "--text-model", str(folder),
                 "--cache-dir", str(tmp_path / "cache")]) == 2
    line = _error(capsys)
    assert str(folder) in line and "pickled Python objects" in line and "argparse.Namespace" in line


@pytest.mark.slow
def test_pretrain_resume_refuses_a_train_checkpoint_and_another_encoder(tmp_path, capsys):
    tiny = ["--layers", "1", "--hidden", "8", "--batch-size", "16", "--no-progress"]
    assert main(["train", "--epochs", "1", "--rf-trees", "5", "--seeds", "0", "--out", str(tmp_path / "tr"),
                 *tiny]) == 0
    pretrain = ["pretrain", "--data", "nci-first-5k", "--limit", "40", "--epochs", "1"]
    assert main([*pretrain, *tiny, "--resume", str(tmp_path / "tr" / "seed0" / "checkpoints" / "last.ckpt"),
                 "--out", str(tmp_path / "pt")]) == 2
    assert "a `graphrep train` checkpoint" in _error(capsys)
    assert main([*pretrain, *tiny, "--out", str(tmp_path / "pt")]) == 0
    last = tmp_path / "pt" / "checkpoints" / "last.ckpt"
    capsys.readouterr()
    wider = [*tiny[:2], "--hidden", "16", *tiny[4:]]
    assert main([*pretrain, *wider, "--resume", str(last), "--out", str(tmp_path / "pt")]) == 2
    assert "belongs to another run: encoder.hidden 8 in the checkpoint, 16 now" in _error(capsys)


def test_one_non_utf8_checkin_row_names_its_line(tmp_path, capsys):
    city = write_city(tmp_path / "city", users=4, per_user=20)
    path = city / "filtered_TKY_val.csv.gz"
    lines = gzip.decompress(path.read_bytes()).split(b"\n")
    lines[5] = lines[5].replace(b"Home", b"Caf\xe9").replace(b"Office", b"Caf\xe9")
    path.write_bytes(gzip.compress(b"\n".join(lines)))
    assert main(["mobility", "train", "--city", str(city), "--out", str(tmp_path / "run"), "--window", "8"]) == 2
    line = _error(capsys)
    assert f"{path}:6: not valid UTF-8" in line


def test_truncated_checkin_gz_is_one_line(tmp_path, capsys):
    city = write_city(tmp_path / "city", users=4, per_user=20)
    path = city / "filtered_TKY_val.csv.gz"
    path.write_bytes(path.read_bytes()[:-30])
    assert main(["mobility", "train", "--city", str(city), "--out", str(tmp_path / "run"), "--window", "8"]) == 2
    assert f"{path}: the gzip stream is truncated" in _error(capsys)
