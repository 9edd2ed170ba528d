"""Graph-level prediction (multi-task classification or regression) as a LightningModule.

Classification: masked BCE on logits; metric ROC-AUC (OGB convention). Regression: targets standardised with the train
split's mean/std, masked MSE; metrics RMSE and R^2 on the original scale. A stacked regressor (``stack=True``) learns
the residual ``y - base`` of a per-molecule base prediction (``batch.base`` [B, T], e.g. out-of-fold forest
predictions) and predicts ``base + output``, so its metrics are those of the stacked prediction. Adam at a constant
learning rate, or cosine decay to 0 over the run (``schedule="cosine"``). At the start of every training epoch the
global RNG is reseeded from (seed, epoch, rank), so dropout masks do not depend on history and a run resumed from a
checkpoint continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn

from graphrep.nn.molecule import GINEncoder, HybridHead
from graphrep.objectives import masked_bce, masked_mse
from graphrep.train.metrics import evaluate, ogb_evaluate, selection_metric

SCHEDULES = ("constant", "cosine")


class GraphPredictor(L.LightningModule):
    """Encoder (built from ``encoder`` kwargs, a :class:`GINEncoder` by default) + linear head to ``num_tasks`` outputs.

    ``ogb_evaluator``: an OGB dataset name; validation and test then also log ``ogb_<metric>`` from OGB's Evaluator.
    """

    def __init__(self, num_tasks: int, task_type: str, encoder: dict | None = None, lr: float = 1e-3,
                 weight_decay: float = 0.0, seed: int = 0, target_mean: list[float] | None = None,
                 target_std: list[float] | None = None, ogb_evaluator: str | None = None, readout: dict | None = None,
                 schedule: str = "constant", stack: bool = False):
        super().__init__()
        if task_type not in ("classification", "regression"):
            raise ValueError(f"task_type must be classification or regression, got {task_type!r}")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        if stack and task_type != "regression":
            raise ValueError("a stacked model (graph model on a base prediction's residual) needs a regression task")
        self.save_hyperparameters()
        self.encoder = GINEncoder(**(encoder or {}))
        # readout: HybridHead arguments (graph embedding + molecule features ``batch.extra``; tasks.recipes)
        self.head = (nn.Linear(self.encoder.out_dim, num_tasks) if readout is None
                     else HybridHead(self.encoder.out_dim, out_dim=num_tasks, **readout))
        self.register_buffer("target_mean", torch.tensor(target_mean or [0.0] * num_tasks, dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(target_std or [1.0] * num_tasks, dtype=torch.float32))
        self.metric_name, self.metric_mode = selection_metric(task_type)
        self._outputs: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {"valid": [], "test": []}

    def forward(self, batch) -> torch.Tensor:
        """Raw outputs [B, T]: logits (classification) or standardised predictions (regression)."""
        h = self.encoder(batch)
        return self.head(h) if self.hparams.get("readout") is None else self.head(h, batch.extra)

    def _base(self, batch) -> torch.Tensor | float:
        """The base prediction [B, T] a stacked model corrects (``batch.base``), else 0."""
        return batch.base if self.hparams.get("stack") else 0.0

    def predict_original_scale(self, batch) -> torch.Tensor:
        """Logits (classification), or ``out * std + mean (+ base)`` on the labels' scale (regression)."""
        out = self(batch)
        if self.hparams.task_type == "classification":
            return out
        return out * self.target_std + self.target_mean + self._base(batch)

    def _loss(self, out: torch.Tensor, batch) -> torch.Tensor:
        if self.hparams.task_type == "classification":
            return masked_bce(out, batch.y)
        return masked_mse(out, (batch.y - self._base(batch) - self.target_mean) / self.target_std)

    def on_train_epoch_start(self) -> None:
        torch.manual_seed(self.hparams.seed * 1_000_003 + self.current_epoch * 7919 + self.global_rank)

    def training_step(self, batch, batch_idx):
        loss = self._loss(self(batch), batch)
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=batch.num_graphs, sync_dist=True)
        return loss

    def _eval_step(self, batch, part: str) -> None:
        self._outputs[part].append((self.predict_original_scale(batch).detach(), batch.y))

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch, "valid")

    def test_step(self, batch, batch_idx):
        self._eval_step(batch, "test")

    def _eval_epoch_end(self, part: str) -> None:
        outputs, self._outputs[part] = self._outputs[part], []
        if not outputs:
            return
        pred = torch.cat([p for p, _ in outputs])
        true = torch.cat([t for _, t in outputs])
        if self.trainer.world_size > 1:  # every rank scores the full split
            pred = self.all_gather(pred).flatten(0, 1)
            true = self.all_gather(true).flatten(0, 1)
        true, pred = true.float().cpu().numpy(), pred.float().cpu().numpy()
        scores = evaluate(self.hparams.task_type, true, pred)
        if self.hparams.get("ogb_evaluator"):  # OGB's own Evaluator beside ours, on the same predictions
            scores.update(ogb_evaluate(self.hparams.ogb_evaluator, true, pred))
        for name, value in scores.items():
            self.log(f"{part}/{name}", value, sync_dist=False, rank_zero_only=False)

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("valid")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def configure_optimizers(self):
        """Adam; with ``schedule="cosine"`` the learning rate follows ``lr_t = lr (1 + cos(pi t / T)) / 2`` over the
        run's ``T`` optimizer steps (stepped per batch), so the last epochs take small steps and the weights settle."""
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        if self.hparams.get("schedule", "constant") == "constant":
            return optimizer
        steps = max(int(self.trainer.estimated_stepping_batches), 1)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def target_statistics(y: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-task mean and std over labelled (non-NaN) entries; std 1 where a task has < 2 labels or no spread."""
    y = y.double().numpy()
    mean = np.nanmean(np.where(np.isnan(y).all(0, keepdims=True), 0.0, y), axis=0)
    std = np.nanstd(np.where(np.isnan(y).all(0, keepdims=True), 1.0, y), axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return mean.tolist(), std.tolist()
