"""Checks of a training run's settings and labels, made before any work, with one-line errors naming the argument.

:func:`validate_config` needs no data (arguments, files, checkpoints, ``out_dir``, the machine); :func:`check_labels`
runs once the dataset and split exist, before training.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from graphrep.data import is_molecule_file
from graphrep.data.errors import CheckpointError, UserInputError
from graphrep.data.registry import get_card
from graphrep.nn.molecule.pretrained import PREFIX as PRETRAINED_PREFIX
from graphrep.nn.molecule.pretrained import pretrained_state
from graphrep.train.checkpoint import read_checkpoint
from graphrep.train.outdir import check_out_dir
from graphrep.train.trainer import check_lightning_settings

log = logging.getLogger(__name__)


def _at_least(minimum: float, **values) -> None:
    for name, value in values.items():
        if value is None or not value >= minimum:  # `not >=` also catches NaN
            raise UserInputError(f"--{name.replace('_', '-')} must be >= {minimum:g}, got {value}")


def validate_config(config) -> None:
    """Every check of a :class:`~graphrep.tasks.molecules.experiment.TrainConfig` that needs no data; raises
    :class:`UserInputError` naming the argument (as its ``--flag``)."""
    if not config.seeds:
        raise UserInputError("--seeds: give at least one seed")
    if len(set(config.seeds)) != len(config.seeds) or min(config.seeds) < 0:
        raise UserInputError(f"--seeds must be distinct non-negative integers, got {','.join(map(str, config.seeds))}")
    if config.resume and len(config.seeds) != 1:
        raise UserInputError("--resume continues one run: give exactly one seed")
    _at_least(1, epochs=config.epochs, batch_size=config.batch_size, layers=config.layers, hidden=config.hidden)
    _at_least(0, weight_decay=config.weight_decay, dropout=config.dropout)
    if not (0 < config.lr < float("inf")):
        raise UserInputError(f"--lr must be a positive number, got {config.lr}")
    if config.dropout >= 1:
        raise UserInputError(f"--dropout must be in [0, 1), got {config.dropout}")
    if config.baseline or config.stack:
        _at_least(1, rf_trees=config.rf_trees)
    for name, value, allowed in (("split", config.split, ("scaffold", "random")),
                                 ("features", config.features, ("ogb", "pretrain")),
                                 ("task", config.task, (None, "classification", "regression")),
                                 ("schedule", config.schedule, ("constant", "cosine")),
                                 ("checkpoints", config.checkpoints, ("resume", "best"))):
        if value not in allowed:
            raise UserInputError(f"--{name} {value!r}: use one of {', '.join(a for a in allowed if a)}")
    if is_molecule_file(config.dataset):
        if not Path(config.dataset).is_file():
            raise UserInputError(f"--data {config.dataset}: no such file")
    else:
        file_options = [f"--{k.replace('_', '-')}" for k in ("smiles_column", "label_columns", "task")
                        if getattr(config, k) is not None]
        if file_options:
            raise UserInputError(f"{', '.join(file_options)} apply to your own file (--data PATH.csv), not to the "
                                 f"registered dataset {config.dataset!r}")
        card = get_card(config.dataset)
        if card.kind not in ("molecules", "ogb") or card.task_type == "none":
            raise UserInputError(f"--data {card.name}: a {card.kind} dataset without graph labels ({card.task_type}); "
                                 "`graphrep train` predicts molecule properties" + (
                                     " (text-attributed graphs: `graphrep tag zero-shot`)" if card.kind == "tag" else ""))
    if config.resume and "optimizer_states" not in read_checkpoint(config.resume):
        raise CheckpointError(f"--resume {config.resume}: holds the weights only (a checkpoint kept for use, as the "
                              "main job keeps them), not a run's state to continue; resume from a `graphrep train` "
                              "run's last.ckpt, or use it with --from")
    if config.encoder_checkpoint and config.encoder_checkpoint.startswith(PRETRAINED_PREFIX):
        pretrained_state(config.encoder_checkpoint)  # a shipped encoder: known name, sha256 checked
    elif config.encoder_checkpoint:
        read_checkpoint(config.encoder_checkpoint)
    check_lightning_settings(config)
    check_out_dir(config.out_dir, config.overwrite or bool(config.resume))


def check_labels(dataset, split: dict[str, torch.Tensor]) -> None:
    """Refuse a classification split whose valid or test part has no task with both classes (ROC-AUC undefined);
    warn, naming them, about tasks with one class (or, for regression, one value) in the training part."""
    y = dataset.y.float().numpy()
    names = list(getattr(dataset, "task_names", None) or range(y.shape[1]))
    classification = "classification" in dataset.task_type
    for part in ("train", "valid", "test"):
        labels = y[np.asarray(split[part])]
        degenerate = [str(names[t]) for t in range(y.shape[1])
                      if np.unique(labels[~np.isnan(labels[:, t]), t]).size < 2]
        if classification and part != "train" and len(degenerate) == y.shape[1]:
            raise UserInputError(f"dataset {dataset.name!r}: no task has both classes in the {part} split "
                                 f"({len(labels)} molecules), so ROC-AUC is undefined; use more data or --split random")
        if degenerate and part == "train":
            what = "one class" if classification else "one value"
            log.warning("%s: %d of %d task(s) have %s in the training split (%s%s); %s", dataset.name,
                        len(degenerate), y.shape[1], what, ", ".join(degenerate[:5]), ", ..." * (len(degenerate) > 5),
                        "their scores are trivial or undefined" if classification else "nothing to learn there")
