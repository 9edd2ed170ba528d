"""Fine-tuning recipes beside the plain GIN: a hybrid readout on fixed molecule features, weight averaging (EMA), an
ensemble of the seeds' models, and stacking on the fingerprint forest.

* ``readout``: ``"graph"`` (the GIN's linear head), or ``"ecfp"``, ``"rdkit"``, ``"ecfp+rdkit"``: the pooled graph
  embedding concatenated with ECFP4 counts and/or RDKit 2D descriptors (:mod:`graphrep.data.molecules.descriptors`,
  computed once per dataset and cached), standardised with the training split's statistics, into a two-layer MLP
  (:class:`~graphrep.nn.molecule.HybridHead`).
* ``ema``: decay of an exponential moving average of the weights (and BatchNorm statistics), evaluated and
  checkpointed in place of the raw weights (Lightning's :class:`WeightAveraging`); 0 turns it off.
* :func:`ensemble_scores`: the seeds' best checkpoints, their predictions averaged (probabilities for
  classification), scored on a split part.
* ``stack`` (:func:`attach_forest_base`): a regressor that learns the residual of the fingerprint forest's
  out-of-fold predictions and predicts ``forest + graph model``.
"""

from __future__ import annotations

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, WeightAveraging
from lightning.pytorch.trainer.states import TrainerFn
from torch.optim.swa_utils import get_ema_multi_avg_fn
from torch_geometric.loader import DataLoader

from graphrep.data.errors import InvalidInputError
from graphrep.data.molecules.descriptors import FEATURE_KINDS, molecule_features
from graphrep.tasks.molecules.baselines import out_of_fold_forest
from graphrep.train.metrics import evaluate, task_kind

READOUTS = ("graph", "ecfp", "rdkit", "ecfp+rdkit")


def readout_kinds(readout: str) -> tuple[str, ...]:
    """``"ecfp+rdkit"`` -> ``("ecfp", "rdkit")``; ``"graph"`` -> ``()``."""
    if readout not in READOUTS:
        raise InvalidInputError(f"unknown readout {readout!r} (choose from {', '.join(READOUTS)})")
    return () if readout == "graph" else tuple(k for k in readout.split("+") if k in FEATURE_KINDS)


def attach_molecule_features(dataset, readout: str) -> None:
    """Store the readout's molecule features on each graph of an in-memory dataset as ``extra`` [1, F] (batches
    concatenate them to [B, F]). No-op for ``readout="graph"``."""
    kinds = readout_kinds(readout)
    if kinds:
        attach_per_molecule(dataset, "extra", torch.from_numpy(molecule_features(dataset.smiles, kinds)))


def attach_per_molecule(dataset, name: str, values: torch.Tensor) -> None:
    """Store ``values`` [n, F] on the graphs of an in-memory dataset: graph ``i`` gets ``values[i:i + 1]`` as
    ``name`` [1, F], so a batch of B graphs carries [B, F]."""
    dataset._data[name] = values
    dataset.slices[name] = torch.arange(len(dataset) + 1)
    dataset._data_list = None  # graphs read before this point were cached without ``name``


def attach_forest_base(dataset, train_index, seed: int = 0, n_estimators: int = 500, folds: int = 5) -> np.ndarray:
    """Attach the base of a stacked regressor as ``base`` [1, T] per graph: out-of-fold fingerprint-forest
    predictions for the training molecules, the full training forest's for the others (no molecule's base saw its
    own label); return them [n, T]."""
    if task_kind(dataset.task_type) != "regression":
        raise InvalidInputError(f"dataset {dataset.name!r}: --stack learns the residual of a regression forest; this "
                                f"is a {dataset.task_type} task")
    base = out_of_fold_forest(dataset.smiles, dataset.y.double().numpy(), np.asarray(train_index), "regression",
                              seed=seed, n_estimators=n_estimators, folds=folds)
    attach_per_molecule(dataset, "base", torch.from_numpy(base).float())
    return base


def readout_spec(readout: str, dataset, train_index, hidden: int = 300, dropout: float = 0.2) -> dict | None:
    """The :class:`HybridHead` arguments for ``readout`` (feature count, the training split's mean and std per
    column; std 1 for constant columns), or ``None`` for the plain linear head."""
    if not readout_kinds(readout):
        return None
    train = dataset._data.extra[torch.as_tensor(train_index)].double()
    std = train.std(0, unbiased=False)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    return {"feature_dim": train.size(1), "hidden": hidden, "dropout": dropout,
            "mean": train.mean(0).float().tolist(), "std": std.float().tolist()}


class EMAWeights(WeightAveraging):
    """Lightning's EMA weight averaging, except that a checkpoint loaded to test or predict keeps its averaged
    weights: Lightning's callback would put the raw training weights back (it restores them for resuming a fit), so
    the test at the best validation epoch would score other weights than the validation that selected it."""

    def __init__(self, decay: float):
        super().__init__(multi_avg_fn=get_ema_multi_avg_fn(decay))

    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)


def weight_averaging(ema: float) -> list[Callback]:
    """``[EMAWeights(ema)]``, or ``[]`` when ``ema`` is 0."""
    if ema == 0:
        return []
    if not 0 < ema < 1:
        raise InvalidInputError(f"ema decay must be in (0, 1) or 0 (off), got {ema}")
    return [EMAWeights(ema)]


@torch.no_grad()
def predict(model, dataset, index, batch_size: int = 256) -> np.ndarray:
    """Predictions [n, T] on ``dataset[index]`` in eval mode: probabilities (classification) or values on the
    original scale (regression)."""
    model.eval()
    out = [model.predict_original_scale(batch) for batch in DataLoader(dataset[torch.as_tensor(index)],
                                                                       batch_size=batch_size)]
    pred = torch.cat(out).float()
    return (torch.sigmoid(pred) if model.hparams.task_type == "classification" else pred).numpy()


def ensemble_predictions(checkpoints: list[str], dataset, split: dict,
                         parts=("valid", "test")) -> tuple[str, dict[str, np.ndarray]]:
    """``(task_type, {part: [n_part, T]})``: the predictions of the models in ``checkpoints``, averaged."""
    from graphrep.tasks.molecules.graph_prediction import GraphPredictor

    if not checkpoints:
        raise InvalidInputError("an ensemble needs at least one checkpoint")
    models = [GraphPredictor.load_from_checkpoint(path, map_location="cpu", weights_only=False) for path in checkpoints]
    preds = {part: np.mean([predict(m, dataset, np.asarray(split[part])) for m in models], axis=0) for part in parts}
    return models[0].hparams.task_type, preds


def ensemble_scores(checkpoints: list[str], dataset, split: dict, parts=("valid", "test")) -> dict[str, dict]:
    """Average the predictions of the models in ``checkpoints`` and score them on each of ``parts``."""
    task_type, preds = ensemble_predictions(checkpoints, dataset, split, parts)
    return {part: evaluate(task_type, dataset.y[torch.as_tensor(np.asarray(split[part]))].float().numpy(), pred)
            for part, pred in preds.items()}
