"""Random forest on Morgan fingerprints: the baseline measured beside every molecule result.

One forest per task, trained on the task's labelled training molecules. A classification task whose training labels
have a single class predicts that class's constant probability.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from ..data.molecules.fingerprints import morgan_fingerprints
from .metrics import evaluate


def fingerprint_forest(smiles: list[str], y: np.ndarray, split: dict, task_type: str, seed: int = 0,
                       n_estimators: int = 500, n_jobs: int = -1,
                       return_predictions: bool = False) -> dict[str, dict[str, float]]:
    """Fit on ``split["train"]``; return ``{"valid": metrics, "test": metrics}``, and with ``return_predictions``
    also ``"predictions": {"valid": [n_valid, T], "test": [n_test, T]}`` (probabilities or values, nested lists).

    Shapes: ``y`` [n, T] float with NaN for missing labels; ``split`` values are index tensors/arrays.
    """
    fps = morgan_fingerprints(smiles)
    y = np.asarray(y, dtype=np.float64).reshape(len(smiles), -1)
    train = np.asarray(split["train"])
    preds = {part: np.zeros((len(split[part]), y.shape[1])) for part in ("valid", "test")}
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
            for part in preds:
                preds[part][:, t] = model.predict_proba(fps[np.asarray(split[part])])[:, positive]
        else:
            model = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
            model.fit(fps[labelled], target)
            for part in preds:
                preds[part][:, t] = model.predict(fps[np.asarray(split[part])])
    out = {part: evaluate(task_type, y[np.asarray(split[part])], preds[part]) for part in preds}
    if return_predictions:
        out["predictions"] = {part: pred.tolist() for part, pred in preds.items()}
    return out
