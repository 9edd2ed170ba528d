"""Metrics with OGB's Evaluator conventions.

- ROC-AUC: per task over the labelled entries (NaN = missing), averaged over the tasks that have both classes; an error
  if no task has both (as ``ogb.graphproppred.Evaluator`` raises).
- RMSE: per task over labelled entries, averaged over tasks (OGB's ``rmse``).
- R^2: per task ``1 - SS_res / SS_tot`` over labelled entries, averaged over tasks with non-constant targets.
- macro-F1: the unweighted mean over classes of ``F1_c``, as scikit-learn's ``f1_score(average="macro")``.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from graphrep.data.errors import InvalidInputError


def _as_2d(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(-1, 1) if a.ndim == 1 else a


def roc_auc(y_true, y_score) -> float:
    """Mean ROC-AUC over tasks with both classes present. Shapes: [n, T] (or [n])."""
    y_true, y_score = _as_2d(y_true), _as_2d(y_score)
    scores = []
    for t in range(y_true.shape[1]):
        labelled = ~np.isnan(y_true[:, t])
        column = y_true[labelled, t]
        if (column == 1).any() and (column == 0).any():
            scores.append(roc_auc_score(column, y_score[labelled, t]))
    if not scores:
        raise InvalidInputError("ROC-AUC undefined: no task has both positive and negative labels in this split")
    return float(np.mean(scores))


def rmse(y_true, y_pred) -> float:
    """Mean over tasks of the RMSE over labelled entries."""
    y_true, y_pred = _as_2d(y_true), _as_2d(y_pred)
    per_task = []
    for t in range(y_true.shape[1]):
        labelled = ~np.isnan(y_true[:, t])
        if labelled.any():
            per_task.append(np.sqrt(np.mean((y_true[labelled, t] - y_pred[labelled, t]) ** 2)))
    if not per_task:
        raise InvalidInputError("RMSE undefined: no labelled entry")
    return float(np.mean(per_task))


def r2(y_true, y_pred) -> float:
    """Mean over tasks of the coefficient of determination over labelled entries."""
    y_true, y_pred = _as_2d(y_true), _as_2d(y_pred)
    per_task = []
    for t in range(y_true.shape[1]):
        labelled = ~np.isnan(y_true[:, t])
        truth, pred = y_true[labelled, t], y_pred[labelled, t]
        ss_tot = np.sum((truth - truth.mean()) ** 2) if truth.size else 0.0
        if ss_tot > 0:
            per_task.append(1.0 - np.sum((truth - pred) ** 2) / ss_tot)
    if not per_task:
        raise InvalidInputError("R^2 undefined: targets are constant or missing")
    return float(np.mean(per_task))


def macro_f1(y_true, y_pred, labels=None) -> float:
    """Unweighted mean over classes of ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)`` (``sklearn.metrics.f1_score`` with
    ``average="macro"``, ``zero_division=0``).

    Classes are ``labels`` if given, else those present in ``y_true`` or ``y_pred``; a class with no true and no
    predicted sample scores 0. Swapping ``y_true`` and ``y_pred`` swaps ``FP_c`` and ``FN_c``: the score is the same.
    Shapes: ``y_true``, ``y_pred`` [n] integer class ids (numpy arrays, tensors or sequences).
    """
    y_true = np.asarray(_numpy(y_true)).reshape(-1).astype(np.int64)
    y_pred = np.asarray(_numpy(y_pred)).reshape(-1).astype(np.int64)
    if y_true.size != y_pred.size:
        raise InvalidInputError(f"predictions ({y_pred.size}) and labels ({y_true.size}) differ in length")
    if y_true.size == 0:
        raise InvalidInputError("no labels to score")
    classes = np.unique(np.asarray(list(labels), dtype=np.int64)) if labels is not None else np.union1d(y_true, y_pred)
    is_true, is_pred = y_true[:, None] == classes, y_pred[:, None] == classes  # [n, C]
    tp = (is_true & is_pred).sum(0)
    denom = is_true.sum(0) + is_pred.sum(0)  # 2 TP + FP + FN
    return float(np.mean(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)))


def _numpy(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else a


def task_kind(task_type: str) -> str:
    """``"classification"`` / ``"regression"`` / ``"none"`` from a graphrep or OGB task type (``"binary
    classification"``)."""
    return "classification" if "classification" in task_type else task_type


def evaluate(task_type: str, y_true, y_pred) -> dict[str, float]:
    """All metrics of a task type: ``{"roc_auc"}`` for classification (``y_pred`` = scores or logits),
    ``{"rmse", "r2"}`` for regression."""
    if task_type == "classification":
        return {"roc_auc": roc_auc(y_true, y_pred)}
    if task_type == "regression":
        return {"rmse": rmse(y_true, y_pred), "r2": r2(y_true, y_pred)}
    raise InvalidInputError(f"no metrics for task type {task_type!r}")


def selection_metric(task_type: str) -> tuple[str, str]:
    """The metric used for model selection on validation, and whether to maximise (``"max"``) or minimise it."""
    return ("roc_auc", "max") if task_type == "classification" else ("rmse", "min")


def ogb_evaluate(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``ogb.graphproppred.Evaluator(name)`` on [n, T] arrays; returns ``{"ogb_<metric>": value}``."""
    from ogb.graphproppred import Evaluator  # reads its metric table from the installed package: works offline

    evaluator = Evaluator(name)
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    try:
        result = evaluator.eval({"y_true": y_true, "y_pred": y_pred})
    except RuntimeError as exc:  # e.g. no task with both classes
        raise InvalidInputError(f"OGB Evaluator({name}): {exc}") from None
    return {f"ogb_{k}": float(v) for k, v in result.items()}


def target_ranks(scores, targets):
    """1-based rank of each target among the candidates: ``1 + #{v : s_v > s_target}`` (ties counted in the target's
    favour; callers break ties first). A NaN score is the worst score: a NaN target ranks last (``V``), a NaN
    candidate outranks nothing (a plain ``>`` is false for NaN, so a model with NaN weights would otherwise rank
    every target first). Shapes: scores ``[M, V]`` (torch), targets ``[M]`` -> ``[M]`` int64."""
    target_score = scores.gather(1, targets[:, None])
    ranks = 1 + (scores > target_score).sum(1)
    return ranks.masked_fill(target_score[:, 0].isnan(), scores.size(1))


def ranking_metrics(ranks) -> dict[str, float]:
    r"""Next-item metrics from 1-based target ranks: Acc@k = share with rank <= k (k = 1, 5, 10),
    MRR = mean :math:`1/r`, NDCG@5 = mean :math:`[r \le 5] / \log_2(r + 1)` (one relevant item)."""
    r = np.asarray(ranks, dtype=np.float64)
    if r.size == 0:
        raise InvalidInputError("no targets to score")
    return {"acc@1": float((r <= 1).mean()), "acc@5": float((r <= 5).mean()), "acc@10": float((r <= 10).mean()),
            "mrr": float((1.0 / r).mean()), "ndcg@5": float(np.where(r <= 5, 1.0 / np.log2(r + 1), 0.0).mean())}
