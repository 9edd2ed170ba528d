"""Self-supervised pre-training loop: corpus -> method module -> Lightning trainer -> checkpoints + throughput.

``run_pretraining(PretrainConfig(method="dsla", corpus="zinc-sample", ...))`` loads the corpus with the pretrain-gnns
features, builds the method's module (:data:`graphrep.models.PRETRAINING_METHODS`), and trains it with Lightning
(progress bar, DDP through ``devices``/``strategy``, ``last.ckpt`` after every epoch for ``resume``, and a kept
``epoch<N>.ckpt`` every ``checkpoint_every`` epochs). The batch
order is a seeded permutation per (seed, epoch) and each step's perturbations come from a generator seeded by
(seed, epoch, batch, rank), so a resumed run equals an uninterrupted one.

The checkpoints hold ``encoder.*`` weights and a ``pretraining`` entry with the encoder's configuration:
``graphrep finetune --from CKPT`` (:func:`finetune_config`) builds the same encoder and loads them.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch_geometric.loader import DataLoader

from graphrep.data import load_corpus
from graphrep.data.errors import CheckpointError, InvalidInputError
from graphrep.data.molecules.resident import ResidentBatches
from graphrep.models import DEFAULT_ENCODER, PRETRAINING_METHODS
from graphrep.nn.molecule.pretrained import PREFIX as PRETRAINED_PREFIX
from graphrep.nn.molecule.pretrained import export_encoder, pretrained_card
from graphrep.tasks.molecules.experiment import TrainConfig
from graphrep.train.checkpoint import (SIGNATURE_KEY, RunSignature, check_signature, check_signature_dict,
                                       read_checkpoint)
from graphrep.train.sampling import EpochSeededSampler, NoSingletonBatchSampler
from graphrep.train.trainer import LightningSettings, build_trainer


@dataclass
class PretrainConfig(LightningSettings):
    method: str = "dsla"
    corpus: str = "zinc-sample"
    root: str | None = None
    limit: int | None = None
    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-3
    layers: int = 5
    hidden: int = 300
    seed: int = 0
    out_dir: str = "runs/pretrain"
    method_options: dict = field(default_factory=dict)
    resume: str | None = None
    num_workers: int = 0
    checkpoint_every: int = 10
    #: split each pass over the corpus into this many Lightning epochs, each ending in ``last.ckpt``: a long pass over a
    #: large corpus (``moses``) then resumes after an interruption losing at most one chunk
    chunks: int = 1
    #: keep the corpus on the training device and cut batches there (:class:`ResidentBatches`): for a GPU, where a
    #: DataLoader building ``Data`` objects one by one would leave it idle; needs a sharded corpus (``moses``)
    resident: bool = False
    #: stop after this wall-clock time (Lightning's ``max_time``, "DD:HH:MM:SS"), ending with the epoch in progress;
    #: with ``chunks`` the run stops within one chunk of it and keeps every finished chunk
    max_time: str | None = None
    #: processes that featurise a streamed corpus's shards the first time it is read
    featurise_workers: int = 1

    def encoder_kwargs(self) -> dict:
        return {**DEFAULT_ENCODER, "num_layers": self.layers, "hidden": self.hidden}


class Throughput(Callback):
    """Per-epoch wall-clock, molecules seen (before perturbation/augmentation) and molecules per second.

    Saved in checkpoints, so a resumed run keeps the earlier epochs' rows.
    """

    def __init__(self):
        self.rows: list[dict[str, float]] = []
        self._start = 0.0
        self._molecules = 0

    def state_dict(self) -> dict:
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = list(state_dict["rows"])

    def on_train_epoch_start(self, trainer, pl_module):
        self._start, self._molecules = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._molecules += int(batch.num_graphs)

    def on_train_epoch_end(self, trainer, pl_module):
        seconds = time.perf_counter() - self._start
        row = {"epoch": trainer.current_epoch, "seconds": seconds, "molecules": self._molecules * trainer.world_size,
               "molecules_per_s": self._molecules * trainer.world_size / max(seconds, 1e-9)}
        row.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")})
        self.rows = [r for r in self.rows if r["epoch"] != trainer.current_epoch] + [row]


def build_pretraining_model(config: PretrainConfig, corpus):
    if config.method not in PRETRAINING_METHODS:
        raise InvalidInputError(f"unknown pre-training method {config.method!r} "
                                f"(choose from {', '.join(sorted(PRETRAINING_METHODS))})")
    cls = PRETRAINING_METHODS[config.method]
    return cls.from_corpus(corpus, encoder=config.encoder_kwargs(), lr=config.lr, seed=config.seed,
                           **config.method_options)


class ChunkedPassSampler(EpochSeededSampler):
    """Lightning epoch ``e`` yields chunk ``e % chunks`` of the seeded permutation of pass ``e // chunks``: ``chunks``
    consecutive epochs visit every index once. With ``chunks=1`` it is :class:`EpochSeededSampler`."""

    def __init__(self, n: int, seed: int = 0, chunks: int = 1):
        super().__init__(n, seed)
        self.chunks = chunks

    def _bounds(self) -> tuple[int, int]:
        c = self.epoch % self.chunks
        return c * self.n // self.chunks, (c + 1) * self.n // self.chunks

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch // self.chunks)
        lo, hi = self._bounds()
        return iter(torch.randperm(self.n, generator=generator)[lo:hi].tolist())

    def __len__(self) -> int:
        lo, hi = self._bounds()
        return hi - lo


def corpus_loader(corpus, batch_size: int, seed: int, num_workers: int = 0, chunks: int = 1) -> DataLoader:
    """Shuffled batches of the corpus, in an order that depends only on (seed, epoch) (see
    :class:`ChunkedPassSampler`); never a lone-graph batch."""
    if batch_size < 1:
        raise InvalidInputError(f"batch size must be >= 1, got {batch_size}")
    if not 1 <= chunks <= len(corpus):
        raise InvalidInputError(f"chunks must be between 1 and the corpus size ({len(corpus)}), got {chunks}")
    batches = NoSingletonBatchSampler(ChunkedPassSampler(len(corpus), seed, chunks), batch_size, drop_last=False)
    return DataLoader(corpus, batch_sampler=batches, num_workers=num_workers,
                      generator=torch.Generator().manual_seed(seed))


def resident_batches(corpus, config: PretrainConfig) -> ResidentBatches:
    """The batches of :func:`corpus_loader`'s order, cut on the training device (:class:`ResidentBatches`)."""
    if config.batch_size < 1:
        raise InvalidInputError(f"batch size must be >= 1, got {config.batch_size}")
    if not 1 <= config.chunks <= len(corpus):
        raise InvalidInputError(f"chunks must be between 1 and the corpus size ({len(corpus)}), got {config.chunks}")
    if str(config.devices) not in ("1", "auto") or config.num_nodes != 1:
        raise InvalidInputError("resident batches train on one device (every process would see every batch); "
                                "use the DataLoader path for several devices")
    cuda = config.accelerator in ("cuda", "gpu") or (config.accelerator == "auto" and torch.cuda.is_available())
    sampler = NoSingletonBatchSampler(ChunkedPassSampler(len(corpus), config.seed, config.chunks), config.batch_size,
                                      drop_last=False)
    return ResidentBatches(corpus, sampler, "cuda" if cuda else "cpu")


def pretraining_signature(config: PretrainConfig, corpus) -> dict:
    """What a checkpoint must share with a pre-training run to be resumed by it (written under
    :data:`~graphrep.train.checkpoint.SIGNATURE_KEY`): method, corpus (name, size, subset), encoder, optimisation."""
    return {"kind": "pretrain", "method": config.method, "corpus": str(corpus.name), "molecules": len(corpus),
            "limit": config.limit, "encoder": dict(config.encoder_kwargs()), "lr": config.lr,
            "batch_size": config.batch_size, "seed": config.seed, "chunks": config.chunks,
            "method_options": dict(config.method_options)}


def check_resumable(path: str, signature: dict | None = None) -> None:
    """Refuse ``path`` as a pre-training run to resume (:class:`CheckpointError`, one line): it must hold the
    ``pretraining`` entry (a `graphrep train` checkpoint does not), and, given ``signature``, match it — by its run
    signature, or for a checkpoint written before signatures, by its method and encoder."""
    state = read_checkpoint(path)
    info = state.get("pretraining")
    if not isinstance(info, dict):
        kind = "a `graphrep train` checkpoint" if SIGNATURE_KEY in state else "not a pre-training checkpoint"
        raise CheckpointError(f"{path}: {kind} (no 'pretraining' entry); pretrain --resume continues a "
                              "`graphrep pretrain` run from its checkpoints/last.ckpt")
    if signature is None:
        return
    if SIGNATURE_KEY in state:
        check_signature(path, signature)
    else:
        check_signature_dict(path, {"method": info.get("method"), "encoder": info.get("encoder")},
                             {"method": signature["method"], "encoder": signature["encoder"]})


def run_pretraining(config: PretrainConfig, corpus=None) -> dict:
    """Pre-train; write checkpoints under ``<out_dir>/checkpoints`` and ``<out_dir>/pretraining.json``; return the
    summary (wall-clock, molecules/s per epoch, final losses, checkpoint path). ``corpus``: an already loaded dataset
    (else ``config.corpus`` is loaded)."""
    if config.epochs < 1:
        raise InvalidInputError(f"epochs must be >= 1, got {config.epochs}")
    if config.resume:
        check_resumable(config.resume)
    start = time.perf_counter()
    if corpus is None:
        corpus = load_corpus(config.corpus, root=config.root, features="pretrain", limit=config.limit,
                             seed=config.seed, workers=config.featurise_workers)
    load_seconds = time.perf_counter() - start
    L.seed_everything(config.seed, workers=True, verbose=False)
    model = build_pretraining_model(config, corpus)
    signature = pretraining_signature(config, corpus)
    if config.resume:
        check_resumable(config.resume, signature)
    out_dir = Path(config.out_dir)
    throughput = Throughput()
    if config.checkpoint_every < 1:
        raise InvalidInputError(f"checkpoint_every must be >= 1 epoch, got {config.checkpoint_every}")
    # last.ckpt after every epoch (for resume); a kept epoch<N>.ckpt every `checkpoint_every` epochs
    # Lightning writes save_last only beside a top-k save; with no monitor, top-1 named "last" is the newest epoch's
    last = ModelCheckpoint(dirpath=out_dir / "checkpoints", filename="last", save_top_k=1, enable_version_counter=False)
    kept = ModelCheckpoint(dirpath=out_dir / "checkpoints", filename="epoch{epoch}", auto_insert_metric_name=False,
                           save_top_k=-1, every_n_epochs=config.checkpoint_every)
    trainer = build_trainer(config, config.epochs * config.chunks, out_dir,
                            [throughput, last, kept, RunSignature(signature)],
                            reload_dataloaders_every_n_epochs=1 if config.chunks > 1 else 0,
                            max_time=config.max_time)
    loader = resident_batches(corpus, config) if config.resident else \
        corpus_loader(corpus, config.batch_size, config.seed, config.num_workers, config.chunks)
    fit_start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*deterministic.*")
        trainer.fit(model, train_dataloaders=loader, ckpt_path=config.resume)
    fit_seconds = time.perf_counter() - fit_start
    molecules = sum(r["molecules"] for r in throughput.rows)
    summary = {
        "config": asdict(config), "corpus": {"name": corpus.name, "molecules": len(corpus),
                                            "skipped": len(getattr(corpus, "skipped", []))},
        "load_seconds": load_seconds, "fit_seconds": fit_seconds, "epochs": throughput.rows,
        # a streamed corpus (moses): its shards' featurisation time and throughput
        "featurisation": {k: corpus.manifest.get(k) for k in ("molecules", "skipped", "seconds", "molecules_per_s")}
        if hasattr(corpus, "manifest") else None,
        "molecules_per_s": molecules / max(sum(r["seconds"] for r in throughput.rows), 1e-9),
        "skipped_batches": model.skipped_batches, "checkpoint": str(out_dir / "checkpoints" / "last.ckpt"),
        "is_global_zero": trainer.is_global_zero,
    }
    if trainer.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "pretraining.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def pretrained_encoder(path: str) -> dict:
    """The encoder configuration stored in a pre-training checkpoint (``weights_only`` loading), or of a shipped
    encoder named ``pretrained:NAME`` (:mod:`graphrep.nn.molecule.pretrained`)."""
    if path.startswith(PRETRAINED_PREFIX):
        return dict(pretrained_card(path)["encoder"])
    info = read_checkpoint(path).get("pretraining")
    if not info or "encoder" not in info:
        raise InvalidInputError(f"{path}: not a graphrep pre-training checkpoint (no 'pretraining' entry); "
                                "use `graphrep train --from` with matching --features/--layers/--hidden instead")
    return dict(info["encoder"])


def finetune_config(checkpoint: str, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` whose encoder matches the pre-trained one (features, layers, width, JK, pooling) and that
    loads its weights, with the fine-tuning defaults of the papers (dropout 0.5, batch 32, lr 1e-3); ``overrides``
    set any other field."""
    encoder = pretrained_encoder(checkpoint)
    base = {"features": encoder["features"], "layers": encoder["num_layers"], "hidden": encoder["hidden"],
            "jk": encoder["jk"], "pooling": encoder["pooling"], "dropout": 0.5, "batch_size": 32, "lr": 1e-3,
            "encoder_checkpoint": checkpoint}
    clash = {k for k in ("features", "layers", "hidden", "jk", "pooling") if k in overrides
             and overrides[k] is not None and overrides[k] != base[k]}
    if clash:
        raise InvalidInputError(f"{checkpoint}: the pre-trained encoder fixes {', '.join(sorted(clash))} "
                                f"({', '.join(f'{k}={base[k]}' for k in sorted(clash))})")
    return TrainConfig(**{**base, **{k: v for k, v in overrides.items() if v is not None}})


def export_pretrained(checkpoint: str, name: str, directory: str, corpus: dict, command: str,
                      dtype: torch.dtype = torch.float16) -> dict:
    """Write a pre-training checkpoint's encoder as a shippable ``<name>.pt`` + ``<name>.json`` card into
    ``directory`` (:func:`graphrep.nn.molecule.pretrained.export_encoder`): method and encoder from the checkpoint,
    Lightning epochs, molecules seen and pre-training seconds from its throughput rows, ``corpus`` (name, molecules,
    what subset) and the ``command`` that made it as given."""
    state = read_checkpoint(checkpoint)
    info = state.get("pretraining")
    if not info:
        raise InvalidInputError(f"{checkpoint}: not a graphrep pre-training checkpoint (no 'pretraining' entry)")
    encoder = {k.split("encoder.", 1)[1]: v for k, v in state["state_dict"].items() if k.startswith("encoder.")}
    rows = next((v["rows"] for k, v in state.get("callbacks", {}).items() if k.startswith("Throughput")), [])
    return export_encoder(encoder, info["encoder"], name, directory, dtype=dtype, method=info["method"],
                          corpus=corpus, lightning_epochs=len(rows),
                          molecules_seen=int(sum(r["molecules"] for r in rows)),
                          pretraining_seconds=round(sum(r["seconds"] for r in rows), 1),
                          final_loss=rows[-1].get("train/loss") if rows else None, command=command)
