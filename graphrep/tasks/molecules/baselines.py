"""Random forest on Morgan fingerprints: the baseline measured beside every molecule result.

One forest per task, trained on the task's labelled training molecules. A classification task whose training labels
have a single class predicts that class's constant probability. :func:`out_of_fold_forest` gives every training
molecule a prediction from a forest that did not see it (K-fold), the base of a stacked model.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.model_selection import KFold

from graphrep.data.molecules.fingerprints import morgan_fingerprints
from graphrep.train.metrics import evaluate


def forest_predictions(fps: np.ndarray, y: np.ndarray, train, parts: dict, task_type: str, seed: int = 0,
                       n_estimators: int = 500, n_jobs: int = -1) -> dict[str, np.ndarray]:
    """Fit one forest per task on the labelled rows of ``train``; return ``{part: [len(index), T]}`` predictions
    (probability of class 1, or values) for each ``parts[part]`` index.

    Shapes: ``fps`` [n, bits]; ``y`` [n, T] float with NaN for missing labels.
    """
    train = np.asarray(train)
    preds = {part: np.zeros((len(index), y.shape[1])) for part, index in parts.items()}
    for t in range(y.shape[1]):
        labelled = train[~np.isnan(y[train, t])]
        target = y[labelled, t]
        if task_type == "classification":
            if len(np.unique(target)) < 2:
                for part in preds:
                    preds[part][:, t] = target.mean() if target.size else 0.5
                continue
            model = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs,
                                           class_weight="balanced")
            model.fit(fps[labelled], target.astype(int))
            positive = list(model.classes_).index(1)
            for part, index in parts.items():
                preds[part][:, t] = model.predict_proba(fps[np.asarray(index)])[:, positive]
        else:
            model = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
            model.fit(fps[labelled], target)
            for part, index in parts.items():
                preds[part][:, t] = model.predict(fps[np.asarray(index)])
    return preds


def fingerprint_forest(smiles: list[str], y: np.ndarray, split: dict, task_type: str, seed: int = 0,
                       n_estimators: int = 500, n_jobs: int = -1,
                       return_predictions: bool = False) -> dict[str, dict[str, float]]:
    """Fit on ``split["train"]``; return ``{"valid": metrics, "test": metrics}``, and with ``return_predictions``
    also ``"predictions": {"valid": [n_valid, T], "test": [n_test, T]}`` (probabilities or values, nested lists).

    Shapes: ``y`` [n, T] float with NaN for missing labels; ``split`` values are index tensors/arrays.
    """
    y = np.asarray(y, dtype=np.float64).reshape(len(smiles), -1)
    parts = {part: np.asarray(split[part]) for part in ("valid", "test")}
    preds = forest_predictions(morgan_fingerprints(smiles), y, split["train"], parts, task_type, seed, n_estimators,
                               n_jobs)
    out = {part: evaluate(task_type, y[parts[part]], preds[part]) for part in preds}
    if return_predictions:
        out["predictions"] = {part: pred.tolist() for part, pred in preds.items()}
    return out


def out_of_fold_forest(smiles: list[str], y: np.ndarray, train, task_type: str, seed: int = 0,
                       n_estimators: int = 500, folds: int = 5, n_jobs: int = -1) -> np.ndarray:
    """Forest predictions [n, T] for every molecule: a training molecule's from the forest fit on the other
    ``folds - 1`` folds of ``train`` (shuffled K-fold with ``seed``), every other molecule's from the forest fit on all
    of ``train``."""
    fps = morgan_fingerprints(smiles)
    y = np.asarray(y, dtype=np.float64).reshape(len(smiles), -1)
    train = np.asarray(train)
    rest = np.setdiff1d(np.arange(len(smiles)), train)
    out = np.zeros_like(y)
    out[rest] = forest_predictions(fps, y, train, {"rest": rest}, task_type, seed, n_estimators, n_jobs)["rest"]
    for fit, held in KFold(folds, shuffle=True, random_state=seed).split(train):
        out[train[held]] = forest_predictions(fps, y, train[fit], {"held": train[held]}, task_type, seed,
                                              n_estimators, n_jobs)["held"]
    return out
