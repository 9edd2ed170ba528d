"""Pre-training loop: pre-train then fine-tune end to end on a few hundred molecules, exact resume, and the checkpoint
round trip into the foundation's GraphPredictor."""

import json

import pytest
import torch

from graphrep.data import InvalidInputError, load_corpus, load_dataset
from graphrep.models import PRETRAINING_METHODS
from graphrep.tasks.molecules.experiment import build_model, fit_seed, load_encoder_weights
from graphrep.tasks.molecules.graph_prediction import GraphPredictor
from graphrep.tasks.molecules.pretraining import PretrainConfig, finetune_config, pretrained_encoder, run_pretraining


@pytest.fixture(scope="module")
def corpus():
    return load_corpus("nci-first-5k", limit=300)  # shipped inside RDKit: offline


def config(out, method="dsla", epochs=1, resume=None, checkpoint_every=10):
    return PretrainConfig(method=method, epochs=epochs, batch_size=64, layers=2, hidden=16, out_dir=str(out),
                          progress=False, resume=resume, checkpoint_every=checkpoint_every)


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(PRETRAINING_METHODS))
def test_pretrain_then_finetune_end_to_end(method, corpus, tmp_path, rescore):
    summary = run_pretraining(config(tmp_path / "pre", method, epochs=2), corpus=corpus)
    assert [r["epoch"] for r in summary["epochs"]] == [0, 1]
    assert all(r["molecules"] == 300 and r["molecules_per_s"] > 0 for r in summary["epochs"])
    assert all(torch.isfinite(torch.tensor(r["train/loss"])) for r in summary["epochs"])
    assert json.loads((tmp_path / "pre" / "pretraining.json").read_text())["corpus"]["molecules"] == 300
    ckpt = summary["checkpoint"]
    assert pretrained_encoder(ckpt)["hidden"] == 16

    dataset = load_dataset("chembl2321810", features="pretrain")
    split = {"train": torch.arange(0, 64), "valid": torch.arange(64, 96), "test": torch.arange(96, 128)}
    fine = finetune_config(ckpt, dataset="chembl2321810", epochs=1, seeds=[0], out_dir=str(tmp_path / "ft"),
                           progress=False, baseline=False)
    assert (fine.features, fine.layers, fine.hidden, fine.dropout, fine.batch_size) == ("pretrain", 2, 16, 0.5, 32)
    model = build_model(fine, dataset, split, seed=0)  # starts from the pre-trained encoder
    pre = {k.split("encoder.", 1)[1]: v for k, v in weights(ckpt).items() if k.startswith("encoder.")}
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, pre[key]), key
    run = fit_seed(fine, dataset, split, 0, tmp_path / "ft")
    assert len(run["history"]) == 1 and run["test"] == pytest.approx(rescore(run["checkpoint"], dataset, split["test"]))


@pytest.mark.slow
def test_resume_equals_uninterrupted(corpus, tmp_path):
    straight = run_pretraining(config(tmp_path / "a", epochs=2, checkpoint_every=2), corpus=corpus)
    assert sorted(p.name for p in (tmp_path / "a/checkpoints").iterdir()) == ["epoch1.ckpt", "last.ckpt"]
    run_pretraining(config(tmp_path / "b", epochs=1), corpus=corpus)
    resumed = run_pretraining(config(tmp_path / "b", epochs=2, resume=str(tmp_path / "b/checkpoints/last.ckpt")),
                              corpus=corpus)
    a, b = weights(tmp_path / "a/checkpoints/last.ckpt"), weights(tmp_path / "b/checkpoints/last.ckpt")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert [r["train/loss"] for r in straight["epochs"]] == [r["train/loss"] for r in resumed["epochs"]]


def test_checkpoint_round_trip_into_graph_predictor(corpus, tmp_path):
    model = PRETRAINING_METHODS["attrmask"].from_corpus(corpus, encoder={"num_layers": 2, "hidden": 16})
    path = tmp_path / "state.pt"
    torch.save({"state_dict": model.state_dict(), "pretraining": {"method": "attrmask",
                                                                   "encoder": model.encoder_config}}, path)
    predictor = GraphPredictor(1, "classification", encoder={**model.encoder_config, "dropout": 0.5})
    load_encoder_weights(predictor, str(path))
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(predictor.encoder.state_dict()[key], value), key
    assert pretrained_encoder(str(path))["num_layers"] == 2


def test_finetune_config_refuses_a_different_encoder(tmp_path, corpus):
    model = PRETRAINING_METHODS["graphcl"].from_corpus(corpus, encoder={"num_layers": 2, "hidden": 16})
    path = tmp_path / "state.pt"
    torch.save({"state_dict": model.state_dict(), "pretraining": {"encoder": model.encoder_config}}, path)
    with pytest.raises(InvalidInputError, match="fixes hidden"):
        finetune_config(str(path), hidden=300)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "plain.pt")
    with pytest.raises(InvalidInputError, match="not a graphrep pre-training checkpoint"):
        finetune_config(str(tmp_path / "plain.pt"))
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        finetune_config(str(tmp_path / "missing.ckpt"))


def test_bad_pretraining_settings(corpus, tmp_path):
    with pytest.raises(InvalidInputError, match="unknown pre-training method"):
        run_pretraining(config(tmp_path, method="contextpred"), corpus=corpus)
    with pytest.raises(InvalidInputError, match="epochs"):
        run_pretraining(config(tmp_path, epochs=0), corpus=corpus)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        run_pretraining(config(tmp_path, resume=str(tmp_path / "nope.ckpt")), corpus=corpus)


def test_a_corpus_with_single_atoms_and_no_bonds_trains(tmp_path):
    from graphrep.data import MoleculeDataset
    from graphrep.data.molecules.tables import MoleculeTable
    import numpy as np

    smiles = ["C", "[Na+].[Cl-]", "O", "CCO", "c1ccccc1", "CC(=O)O", "N", "[Cl-]"] * 4
    table = MoleculeTable(smiles, np.zeros((len(smiles), 0)), [], list(range(len(smiles))), "inline")
    odd = MoleculeDataset(table, "odd", "none", features="pretrain")
    for method in sorted(PRETRAINING_METHODS):
        summary = run_pretraining(config(tmp_path / method, method, epochs=1), corpus=odd)
        assert torch.isfinite(torch.tensor(summary["epochs"][0]["train/loss"]))
    with pytest.raises(InvalidInputError, match="no bonds"):  # D-SLA needs bonds to type the added ones
        run_pretraining(config(tmp_path / "x", "dsla"), corpus=MoleculeDataset(
            MoleculeTable(["C", "O"], np.zeros((2, 0)), [], [1, 2], "inline"), "atoms", "none", features="pretrain"))


def test_chunked_passes_visit_every_molecule_once_per_pass():
    from graphrep.tasks.molecules.pretraining import ChunkedPassSampler

    sampler = ChunkedPassSampler(23, seed=3, chunks=4)
    passes = []
    for p in range(2):
        seen = []
        for c in range(4):
            sampler.set_epoch(p * 4 + c)
            chunk = list(sampler)
            assert len(chunk) == len(sampler) in (5, 6)
            seen += chunk
        assert sorted(seen) == list(range(23))
        passes.append(seen)
    assert passes[0] != passes[1]  # a new permutation each pass
    sampler.set_epoch(1)
    assert list(sampler) == passes[0][5:11]  # a chunk is a fixed function of (seed, epoch): resumable
