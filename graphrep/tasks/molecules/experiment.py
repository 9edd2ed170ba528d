"""Train and evaluate a graph predictor on a molecule dataset over several seeds, beside the fingerprint baseline.

``run_experiment(TrainConfig(...))`` loads the dataset, splits it (scaffold split is deterministic, so seeds vary only
the initialisation and batch order; a random split also varies with the seed), then per seed fits the model with
Lightning (model selection on the validation metric, test at the best validation epoch) and the random forest on the
same split, and returns per-seed and aggregated (mean, sample std) results.

``config.dataset`` is a registered name or the path of your own ``.csv``/``.sdf``/``.smi`` file (``smiles_column``,
``label_columns``, ``task``). :func:`validate_config` checks every setting before any work; every checkpoint carries a
run signature (:mod:`.checkpoint`), and ``resume`` refuses a checkpoint of another run.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from graphrep.data import load_dataset, random_split, scaffold_split
from graphrep.data.errors import InvalidInputError
from graphrep.nn.molecule.pretrained import PREFIX as PRETRAINED_PREFIX
from graphrep.nn.molecule.pretrained import pretrained_state
from graphrep.tasks.molecules.baselines import fingerprint_forest
from graphrep.train.checkpoint import (RunSignature, check_signature, compact_checkpoint, read_checkpoint,
                                       run_signature)
from graphrep.train.datamodule import GraphDataModule
from graphrep.tasks.molecules.graph_prediction import GraphPredictor, target_statistics
from graphrep.train.metrics import evaluate, task_kind
from graphrep.tasks.molecules.recipes import attach_forest_base, attach_molecule_features, ensemble_predictions, readout_spec, weight_averaging
from graphrep.train.report import write_report
from graphrep.train.trainer import LightningSettings, TrainingInterrupted, build_trainer
from graphrep.tasks.molecules.validation import check_labels, validate_config

log = logging.getLogger(__name__)


@dataclass
class TrainConfig(LightningSettings):
    dataset: str = "chembl2321810"
    root: str | None = None
    features: str = "ogb"
    split: str = "scaffold"
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    layers: int = 5
    hidden: int = 300
    dropout: float = 0.5
    pooling: str = "mean"
    jk: str = "last"
    seeds: list[int] = field(default_factory=lambda: [0])
    out_dir: str = "runs/default"
    baseline: bool = True
    rf_trees: int = 500
    resume: str | None = None
    encoder_checkpoint: str | None = None
    # your own file (``dataset`` is its path): see graphrep.data.load_dataset
    smiles_column: str | None = None
    label_columns: list[str] | None = None
    task: str | None = None
    overwrite: bool = False  # write into a non-empty out_dir
    readout: str = "graph"  # or ecfp / rdkit / ecfp+rdkit: hybrid readout (tasks.recipes)
    ema: float = 0.0  # EMA decay of the weights, evaluated and checkpointed (0: off)
    schedule: str = "constant"  # learning rate: constant, or cosine decay to 0 over the run
    ensemble: bool = False  # also score the average of the seeds' best models
    stack: bool = False  # regression: learn the residual of the fingerprint forest's out-of-fold predictions
    keep_predictions: bool = False  # also return the labels and the forest's and ensemble's valid/test predictions
    #: "resume": best.ckpt and last.ckpt with optimiser state (``--resume`` continues a run); "best": only best.ckpt,
    #: compacted to its fp16 weights once scored (:func:`~graphrep.train.checkpoint.compact_checkpoint`, about 1/8
    #: of the disk). Not weights-only during the run: testing from such a checkpoint loses EMA's averaged weights.
    checkpoints: str = "resume"

    def encoder_kwargs(self) -> dict:
        return {"features": self.features, "num_layers": self.layers, "hidden": self.hidden,
                "dropout": self.dropout, "jk": self.jk, "pooling": self.pooling}


class History(Callback):
    """Per-epoch train loss and validation metrics, for the learning-curve plot."""

    def __init__(self):
        self.rows: list[dict[str, float]] = []

    # Saved in checkpoints, so a resumed run continues the same history.
    def state_dict(self) -> dict:
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = list(state_dict["rows"])

    # Runs after the epoch's validation, once the module has logged its validation metrics. A run resumed from an
    # end-of-epoch checkpoint replays that epoch's end, which replaces its row rather than adding one.
    def on_train_epoch_end(self, trainer, pl_module):
        self.rows = [r for r in self.rows if r["epoch"] != trainer.current_epoch]
        row = {"epoch": trainer.current_epoch}
        row.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("valid/", "train/"))})
        self.rows.append(row)


def dataset_split(config: TrainConfig, dataset, seed: int) -> dict[str, torch.Tensor]:
    """The dataset's official split when it has one (OGB's ``get_idx_split()``), else :func:`make_split`."""
    if hasattr(dataset, "get_idx_split"):
        split = dataset.get_idx_split()
        return {k: torch.as_tensor(split[k], dtype=torch.long) for k in ("train", "valid", "test")}
    return make_split(config, dataset.smiles, seed)


def make_split(config: TrainConfig, smiles: list[str], seed: int) -> dict[str, torch.Tensor]:
    if config.split == "scaffold":
        return scaffold_split(smiles)
    if config.split == "random":
        return random_split(len(smiles), seed=seed)
    raise InvalidInputError(f"unknown split {config.split!r} (use scaffold or random)")


def build_model(config: TrainConfig, dataset, split, seed: int) -> GraphPredictor:
    task_type = task_kind(dataset.task_type)
    if task_type not in ("classification", "regression"):
        raise InvalidInputError(f"dataset {dataset.name!r} has no labels (task type {dataset.task_type!r}); "
                                "use it for pre-training, not for `graphrep train`")
    mean = std = None
    if task_type == "regression":
        base = dataset._data.base[split["train"]] if config.stack else 0.0
        mean, std = target_statistics(dataset.y[split["train"]].float() - base)
    model = GraphPredictor(dataset.num_tasks, task_type, encoder=config.encoder_kwargs(), lr=config.lr,
                           weight_decay=config.weight_decay, seed=seed, target_mean=mean, target_std=std,
                           ogb_evaluator=getattr(dataset, "ogb_evaluator", None),
                           readout=readout_spec(config.readout, dataset, split["train"]), schedule=config.schedule,
                           stack=config.stack)
    if config.encoder_checkpoint:
        load_encoder_weights(model, config.encoder_checkpoint)
    return model


def load_encoder_weights(model: GraphPredictor, path: str) -> None:
    """Copy ``encoder.*`` weights from a Lightning checkpoint or a plain state dict (``weights_only`` loading)."""
    if path.startswith(PRETRAINED_PREFIX):  # a shipped encoder, sha256-checked
        model.encoder.load_state_dict(pretrained_state(path)[1])
        return
    state = read_checkpoint(path)
    state = state.get("state_dict", state)
    encoder_state = {k.split("encoder.", 1)[1]: v for k, v in state.items() if "encoder." in k}
    if not encoder_state:
        raise InvalidInputError(f"{path}: no encoder weights (keys containing 'encoder.')")
    try:
        missing, unexpected = model.encoder.load_state_dict(encoder_state, strict=False)
    except RuntimeError as exc:  # shape mismatch: another width or depth
        raise InvalidInputError(f"{path}: encoder weights do not fit this encoder ("
                                f"{str(exc).splitlines()[-1].strip()})") from None
    if missing:
        raise InvalidInputError(f"{path}: encoder weights do not fit this encoder; missing {', '.join(missing[:5])}")


def make_trainer(config: TrainConfig, seed_dir: Path, metric: str, mode: str, history: History,
                 signature: dict | None = None) -> L.Trainer:
    resumable = config.checkpoints == "resume"
    checkpoint = ModelCheckpoint(dirpath=seed_dir / "checkpoints", filename="best", monitor=f"valid/{metric}",
                                 mode=mode, save_top_k=1, enable_version_counter=False)
    # Lightning 2.6 writes save_last only in an epoch that also saved a top-k checkpoint (a better validation); a
    # monitor-less top-1 named "last" is rewritten after every epoch, so --resume continues from the newest epoch
    last = [ModelCheckpoint(dirpath=seed_dir / "checkpoints", filename="last", save_top_k=1,
                            enable_version_counter=False)] if resumable else []
    callbacks = [history, checkpoint, *last, *weight_averaging(config.ema)]
    callbacks += [RunSignature(signature)] if signature is not None else []
    return build_trainer(config, config.epochs, seed_dir, callbacks, num_sanity_val_steps=0)


def fit_seed(config: TrainConfig, dataset, split, seed: int, seed_dir: Path) -> dict:
    """Fit one seed; return its best-validation and test metrics, history and timing."""
    L.seed_everything(seed, workers=True, verbose=False)
    model = build_model(config, dataset, split, seed)
    history = History()
    signature = run_signature(dataset, split, model.hparams, config.batch_size)
    if config.resume:
        check_signature(config.resume, signature)
    trainer = make_trainer(config, seed_dir, model.metric_name, model.metric_mode, history, signature)
    datamodule = GraphDataModule(dataset, split, batch_size=config.batch_size, seed=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*deterministic.*")
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=config.resume)
            fit_seconds = time.perf_counter() - start
            rows = list(history.rows)  # testing from a checkpoint restores the callbacks' state saved in it
            checkpoint = trainer.checkpoint_callback
            best_path = checkpoint.best_model_path or None
            tested = trainer.test(model, datamodule=datamodule, ckpt_path=best_path, verbose=False)
        except TrainingInterrupted as exc:
            exc.resume_args = f"--seeds {seed} --out {config.out_dir}"
            exc.resume_flags = {"--seeds": str(seed), "--out": str(config.out_dir)}
            raise
    test = {k.split("/", 1)[1]: float(v) for k, v in tested[0].items() if k.startswith("test/")}
    valid_key = f"valid/{model.metric_name}"
    history.rows = rows
    best_row = max(history.rows, key=lambda r: r.get(valid_key, -np.inf) * (1 if model.metric_mode == "max" else -1),
                   default={})
    return {"seed": seed, "best_epoch": best_row.get("epoch"), "valid": {
        k.split("/", 1)[1]: v for k, v in best_row.items() if k.startswith("valid/")}, "test": test,
        "fit_seconds": fit_seconds, "history": history.rows, "checkpoint": best_path,
        "is_global_zero": trainer.is_global_zero}


def summarise(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0, "n": int(arr.size)}


def run_experiment(config: TrainConfig) -> dict:
    """All seeds of the GIN and (if ``config.baseline``) the fingerprint forest; writes the checkpoints and the report
    (``results.json``, ``results.md``, ``learning_curve.png`` under ``out_dir``,
    :func:`graphrep.train.report.write_report`: the same files as ``graphrep train``) and returns the results."""
    start = time.perf_counter()
    validate_config(config)
    dataset = load_dataset(config.dataset, root=config.root, features=config.features,
                           smiles_column=config.smiles_column, label_columns=config.label_columns, task_type=config.task)
    attach_molecule_features(dataset, config.readout)
    if config.stack:  # one base for all seeds: each molecule's forest prediction is from a forest that did not see it
        attach_forest_base(dataset, dataset_split(config, dataset, config.seeds[0])["train"], seed=config.seeds[0],
                           n_estimators=config.rf_trees)
    out_dir = Path(config.out_dir)
    results: dict = {"config": asdict(config), "dataset": {"name": dataset.name, "molecules": len(dataset),
                     "skipped": len(dataset.skipped), "tasks": dataset.num_tasks,
                     "task_type": task_kind(dataset.task_type),
                     "split_source": "ogb" if hasattr(dataset, "get_idx_split") else config.split},
                     "gin": [], "random_forest": []}
    for seed in config.seeds:
        split = dataset_split(config, dataset, seed)
        results["dataset"]["split_sizes"] = {k: len(v) for k, v in split.items()}
        if seed == config.seeds[0] or config.split == "random":  # a scaffold split is the same for every seed
            check_labels(dataset, split)
        run = fit_seed(config, dataset, split, seed, out_dir / f"seed{seed}")
        results["gin"].append(run)
        if config.baseline:
            start = time.perf_counter()
            forest = fingerprint_forest(dataset.smiles, dataset.y.float().numpy(), split,
                                        task_kind(dataset.task_type), seed=seed, n_estimators=config.rf_trees,
                                        return_predictions=config.keep_predictions)
            forest.update(seed=seed, fit_seconds=time.perf_counter() - start)
            results["random_forest"].append(forest)
    if config.keep_predictions:
        results["labels"] = {part: dataset.y[split[part]].float().tolist() for part in ("valid", "test")}
    if config.ensemble and len(results["gin"]) > 1 and results["dataset"]["split_source"] != "random":
        task_type, preds = ensemble_predictions([r["checkpoint"] for r in results["gin"]], dataset, split)
        results["ensemble"] = {part: evaluate(task_type, dataset.y[split[part]].float().numpy(), pred)
                               for part, pred in preds.items()}
        if config.keep_predictions:
            results["ensemble_predictions"] = {part: pred.tolist() for part, pred in preds.items()}
    results["summary"] = {
        model: {part: {m: summarise([r[part][m] for r in runs]) for m in runs[0][part]} for part in ("valid", "test")}
        for model, runs in (("gin", results["gin"]), ("random_forest", results["random_forest"])) if runs
    }
    if config.checkpoints == "best" and results["gin"][-1]["is_global_zero"]:  # scored: keep the weights for use only
        for run in results["gin"]:
            if run["checkpoint"]:
                compact_checkpoint(run["checkpoint"])
    if "ensemble" in results:  # one model: no spread
        results["summary"]["ensemble"] = {part: {m: {"mean": v, "std": 0.0, "n": 1} for m, v in scores.items()}
                                          for part, scores in results["ensemble"].items()}
    results["wall_seconds"] = time.perf_counter() - start
    if results["gin"][-1]["is_global_zero"]:
        write_report(results, out_dir)
    return results
