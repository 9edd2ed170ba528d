"""What every graphrep training loop hands to Lightning: the pass-through settings and one way to build the Trainer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar


@dataclass
class LightningSettings:
    """Lightning's ``accelerator``/``devices``/``strategy``/``num_nodes``/``precision``, and whether to show progress."""

    accelerator: str = "cpu"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    progress: bool = True


def quiet_lightning() -> None:
    """Keep Lightning's per-run banners (accelerator, checkpoint restore, tips) out of the output; warnings stay."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_trainer(settings: LightningSettings, epochs: int, root_dir: Path, callbacks: list[Callback],
                  **trainer_kwargs) -> L.Trainer:
    """A deterministic Trainer without logger or model summary; a progress bar when ``settings.progress``."""
    quiet_lightning()
    callbacks = list(callbacks) + ([TQDMProgressBar(leave=False)] if settings.progress else [])
    return L.Trainer(
        max_epochs=epochs, accelerator=settings.accelerator, devices=settings.devices, strategy=settings.strategy,
        num_nodes=settings.num_nodes, precision=settings.precision, callbacks=callbacks, logger=False,
        default_root_dir=str(root_dir), enable_progress_bar=settings.progress, enable_model_summary=False,
        deterministic=True, log_every_n_steps=1, **trainer_kwargs)
