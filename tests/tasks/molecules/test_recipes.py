"""Fine-tuning recipes: molecule features against RDKit, the hybrid head's formula, EMA weights tested as selected, the
ensemble of one model equal to that model, the cosine learning-rate schedule step by step, the forest's returned
predictions equal to the ones it scored, out-of-fold forest predictions fold by fold, the stacked model's formula."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from rdkit import Chem
from rdkit.Chem import Descriptors, rdFingerprintGenerator
from sklearn.model_selection import KFold
from torch_geometric.loader import DataLoader

from graphrep.data import InvalidInputError, load_dataset
from graphrep.data.molecules.descriptors import molecule_features
from graphrep.nn.molecule import HybridHead
from graphrep.data.molecules.fingerprints import morgan_fingerprints
from graphrep.tasks.molecules.baselines import fingerprint_forest, forest_predictions, out_of_fold_forest
from graphrep.train.datamodule import GraphDataModule
from graphrep.tasks.molecules.experiment import TrainConfig, fit_seed
from graphrep.tasks.molecules.graph_prediction import GraphPredictor
from graphrep.tasks.molecules.recipes import (attach_forest_base, attach_molecule_features, ensemble_scores, readout_kinds,
                                    readout_spec, weight_averaging)
from graphrep.train.trainer import build_trainer

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "[Na+].[Cl-]"]


def test_molecule_features_match_rdkit_and_are_cached(tmp_path):
    feats = molecule_features(SMILES, ("ecfp", "rdkit"), cache=tmp_path)
    assert feats.shape == (4, 2048 + len(Descriptors._descList)) and feats.dtype == np.float32
    counts = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048).GetCountFingerprintAsNumPy(
        Chem.MolFromSmiles(SMILES[2]))
    np.testing.assert_allclose(feats[2, :2048], np.log1p(counts), rtol=1e-6)
    names = [n for n, _ in Descriptors._descList]
    weight = Descriptors.MolWt(Chem.MolFromSmiles(SMILES[1]))
    np.testing.assert_allclose(feats[1, 2048 + names.index("MolWt")], np.log1p(weight), rtol=1e-6)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    np.testing.assert_array_equal(molecule_features(SMILES, ("ecfp", "rdkit"), cache=tmp_path), feats)
    assert molecule_features(SMILES, ("rdkit",), cache=False).shape == (4, len(names))
    with pytest.raises(InvalidInputError, match="readout features"):
        molecule_features(SMILES, ("maccs",), cache=False)


def test_hybrid_head_is_an_mlp_on_the_standardised_concatenation():
    torch.manual_seed(0)
    head = HybridHead(3, 2, 1, hidden=5, dropout=0.0, mean=[1.0, -2.0], std=[2.0, 4.0])
    h, f = torch.randn(4, 3), torch.randn(4, 2)
    z = torch.cat([h, (f - torch.tensor([1.0, -2.0])) / torch.tensor([2.0, 4.0])], dim=1)
    lin1, lin2 = head.mlp[0], head.mlp[3]
    expected = lin2(torch.relu(lin1(z)))
    torch.testing.assert_close(head(h, f), expected)


def test_readout_names_and_ema_range():
    assert readout_kinds("graph") == () and readout_kinds("ecfp+rdkit") == ("ecfp", "rdkit")
    with pytest.raises(InvalidInputError, match="unknown readout"):
        readout_kinds("ecfp+maccs")
    with pytest.raises(InvalidInputError, match="ema decay"):
        weight_averaging(1.5)
    assert weight_averaging(0.0) == []


@pytest.fixture(scope="module")
def small():
    ds = load_dataset("chembl2321810")
    attach_molecule_features(ds, "ecfp")
    split = {"train": torch.arange(0, 96), "valid": torch.arange(96, 128), "test": torch.arange(128, 160)}
    return ds, split


def test_readout_spec_standardises_with_the_training_split(small):
    ds, split = small
    spec = readout_spec("ecfp", ds, split["train"])
    train = np.log1p(np.stack([rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
                               .GetCountFingerprintAsNumPy(Chem.MolFromSmiles(ds.smiles[i])) for i in range(96)]))
    np.testing.assert_allclose(spec["mean"], train.mean(0), atol=1e-5)
    std = train.std(0)
    np.testing.assert_allclose(spec["std"], np.where(std > 1e-6, std, 1.0), atol=1e-5)
    assert ds[5].extra.shape == (1, 2048)


def test_hybrid_ema_run_tests_the_weights_it_selected_and_ensemble_of_one_equals_it(tmp_path, small):
    ds, split = small
    config = TrainConfig(epochs=2, layers=2, hidden=32, batch_size=16, seeds=[0], out_dir=str(tmp_path),
                         progress=False, baseline=False, readout="ecfp", ema=0.8)
    from graphrep.tasks.molecules.experiment import build_model

    assert isinstance(build_model(config, ds, split, 0).head, HybridHead)
    run = fit_seed(config, ds, split, 0, tmp_path)
    ens = ensemble_scores([run["checkpoint"]], ds, split)
    assert ens["valid"]["rmse"] == pytest.approx(run["valid"]["rmse"], rel=1e-5)  # EMA weights were validated
    assert ens["test"]["rmse"] == pytest.approx(run["test"]["rmse"], rel=1e-5)  # ... and are the ones tested


def test_last_checkpoint_and_history_cover_every_epoch_when_validation_stops_improving(tmp_path, small):
    ds, split = small
    # lr 0: every epoch validates the same, so the best checkpoint stays at epoch 0
    config = TrainConfig(epochs=3, layers=1, hidden=8, batch_size=32, seeds=[0], out_dir=str(tmp_path), lr=0.0,
                         progress=False, baseline=False)
    run = fit_seed(config, ds, split, 0, tmp_path)
    assert run["best_epoch"] == 0 and [r["epoch"] for r in run["history"]] == [0, 1, 2]
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert last["epoch"] == 2 and best["epoch"] == 0


class _LearningRates(Callback):
    def __init__(self):
        self.seen = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_schedule_cosine_decays_the_learning_rate_per_step_to_zero(tmp_path, small, schedule):
    ds, split = small
    config = TrainConfig(epochs=2, layers=1, hidden=8, batch_size=32, seeds=[0], out_dir=str(tmp_path), lr=0.01,
                         progress=False, baseline=False, schedule=schedule, weight_decay=0.1)
    from graphrep.tasks.molecules.experiment import build_model

    model = build_model(config, ds, split, 0)
    rates = _LearningRates()
    trainer = build_trainer(config, 2, tmp_path, [rates], enable_checkpointing=False, limit_val_batches=0)
    trainer.fit(model, datamodule=GraphDataModule(ds, split, batch_size=32))
    steps = 2 * 3  # 96 training molecules in batches of 32, two epochs
    expected = [0.01 * (1 + np.cos(np.pi * t / steps)) / 2 if schedule == "cosine" else 0.01 for t in range(steps)]
    np.testing.assert_allclose(rates.seen, expected, rtol=1e-6)
    assert trainer.optimizers[0].param_groups[0]["weight_decay"] == 0.1


def test_an_unknown_schedule_is_refused(tmp_path):
    from graphrep.data.errors import UserInputError
    from graphrep.tasks.molecules.validation import validate_config

    with pytest.raises(UserInputError, match="--schedule 'linear'"):
        validate_config(TrainConfig(schedule="linear", out_dir=str(tmp_path)))


def test_forest_predictions_are_the_ones_scored(small):
    ds, split = small
    out = fingerprint_forest(ds.smiles, ds.y.numpy(), split, "regression", n_estimators=5, return_predictions=True)
    true = ds.y[split["test"]].numpy()
    assert out["test"]["rmse"] == pytest.approx(np.sqrt(np.mean((np.asarray(out["predictions"]["test"]) - true) ** 2)))


def test_out_of_fold_forest_predicts_each_training_molecule_from_a_forest_that_did_not_see_it(small):
    ds, split = small
    y = ds.y.double().numpy()
    train = split["train"].numpy()
    base = out_of_fold_forest(ds.smiles, y, train, "regression", seed=3, n_estimators=5, folds=4)
    fps = morgan_fingerprints(ds.smiles)
    for fit, held in KFold(4, shuffle=True, random_state=3).split(train):  # the reference: each fold by hand
        ref = forest_predictions(fps, y, train[fit], {"h": train[held]}, "regression", seed=3, n_estimators=5)["h"]
        np.testing.assert_allclose(base[train[held]], ref)
    rest = np.concatenate([split["valid"].numpy(), split["test"].numpy()])
    ref = forest_predictions(fps, y, train, {"r": rest}, "regression", seed=3, n_estimators=5)["r"]
    np.testing.assert_allclose(base[rest], ref)


def test_stacked_model_predicts_base_plus_its_output_and_learns_the_residual(small):
    ds, split = small
    base = attach_forest_base(ds, split["train"], n_estimators=5)
    model = GraphPredictor(1, "regression", encoder={"num_layers": 1, "hidden": 8}, target_mean=[0.5],
                           target_std=[2.0], stack=True).eval()
    batch = next(iter(DataLoader(ds[split["test"]], batch_size=32)))
    out = model(batch)
    expected = out * 2.0 + 0.5 + torch.from_numpy(base[split["test"][:32].numpy()]).float()
    torch.testing.assert_close(model.predict_original_scale(batch), expected)
    residual = (batch.y - batch.base - 0.5) / 2.0
    torch.testing.assert_close(model._loss(out, batch), ((out - residual) ** 2).mean())
    plain = GraphPredictor(1, "regression", encoder={"num_layers": 1, "hidden": 8}, target_mean=[0.5],
                           target_std=[2.0]).eval()
    plain.load_state_dict(model.state_dict())
    torch.testing.assert_close(plain.predict_original_scale(batch), out * 2.0 + 0.5)  # without stack: no base
    with pytest.raises(InvalidInputError, match="--stack"):
        attach_forest_base(SimpleNamespace(task_type="classification", name="bbbp"), split["train"])
