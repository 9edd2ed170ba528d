"""Shipped pre-trained encoders: loaded offline by name with the sha256 checked, equal to the stored weights, and
fine-tuned from on a tiny slice (`finetune --from pretrained:NAME` builds the same model)."""

import json
import shutil

import pytest
import torch

from graphrep.data import ChecksumError, InvalidInputError, load_dataset
from graphrep.nn.molecule import GINEncoder
from graphrep.nn.molecule.pretrained import (WEIGHTS_DIR, export_encoder, pretrained_card, pretrained_names,
                                             pretrained_state)
from graphrep.tasks.molecules.experiment import build_model, fit_seed
from graphrep.tasks.molecules.pretraining import finetune_config

SHIPPED = "attrmask-moses"


def test_the_shipped_encoder_loads_by_name_with_its_card():
    assert SHIPPED in pretrained_names()
    card = pretrained_card("pretrained:" + SHIPPED)
    assert card["method"] == "attrmask" and card["corpus"]["name"] == "moses" and card["molecules_seen"] > 0
    assert card["encoder"] == {"features": "pretrain", "num_layers": 5, "hidden": 300, "dropout": 0.0, "jk": "last",
                               "pooling": "mean"}
    assert card["bytes"] < 5_000_000  # fp16: small enough for the wheel
    encoder = GINEncoder.from_pretrained(SHIPPED, dropout=0.1)
    stored = torch.load(WEIGHTS_DIR / card["file"], weights_only=True)
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, stored[key].to(value.dtype)), key
    assert encoder.dropout.p == 0.1


def test_a_corrupted_or_unknown_encoder_is_refused(tmp_path):
    for suffix in (".pt", ".json"):
        shutil.copy(WEIGHTS_DIR / f"{SHIPPED}{suffix}", tmp_path / f"{SHIPPED}{suffix}")
    raw = bytearray((tmp_path / f"{SHIPPED}.pt").read_bytes())
    raw[-100] ^= 0xFF
    (tmp_path / f"{SHIPPED}.pt").write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="does not match its card"):
        GINEncoder.from_pretrained(SHIPPED, directory=tmp_path)
    with pytest.raises(InvalidInputError, match=f"no pre-trained encoder 'nope'.*{SHIPPED}"):
        pretrained_state("nope")


def test_export_round_trip_gives_the_same_encoder(tmp_path):
    torch.manual_seed(0)
    config = {"features": "pretrain", "num_layers": 2, "hidden": 16, "dropout": 0.0, "jk": "last", "pooling": "mean"}
    source = GINEncoder(**config)
    card = export_encoder(source.state_dict(), config, "toy", tmp_path, dtype=torch.float32, method="attrmask")
    assert json.loads((tmp_path / "toy.json").read_text())["sha256"] == card["sha256"]
    loaded = GINEncoder.from_pretrained("toy", dropout=0.0, directory=tmp_path)
    for key, value in source.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_finetune_from_the_shipped_encoder_on_a_tiny_slice(tmp_path):
    ds = load_dataset("chembl2321810", features="pretrain")
    split = {"train": torch.arange(0, 64), "valid": torch.arange(64, 96), "test": torch.arange(96, 128)}
    config = finetune_config("pretrained:" + SHIPPED, epochs=1, seeds=[0], out_dir=str(tmp_path), progress=False,
                             baseline=False)
    assert (config.features, config.layers, config.hidden) == ("pretrain", 5, 300)
    model = build_model(config, ds, split, 0)
    shipped = GINEncoder.from_pretrained(SHIPPED).state_dict()
    assert all(torch.equal(v, shipped[k]) for k, v in model.encoder.state_dict().items())
    run = fit_seed(config, ds, split, 0, tmp_path)
    assert run["test"]["rmse"] > 0 and torch.isfinite(torch.tensor(run["test"]["rmse"]))
