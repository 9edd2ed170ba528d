"""Next-location prediction: city preparation, training, evaluation, transfer between cities, and the count baselines.

A plain PyTorch loop on the shared engine (:class:`graphrep.train.engine.Engine`, Lightning Fabric: devices,
precision, DDP, checkpoints with the run signature, exact resume, SIGINT/SIGTERM), not the Trainer: one model trains in
seconds on a CPU, most of the time sits in the venue-scoring matmul, and the transfer protocol (train on one city,
fine-tune or evaluate on another with the same weights) needs nothing a Trainer adds. Under ``--strategy ddp`` each
global batch of ``batch_size`` windows is split between the processes (:meth:`Engine.shard`) and DDP averages their
gradients; every process scores the whole validation set, so that all take the same early-stopping decision; the
expert utilisation is that of rank 0's share. Each epoch: every training window once in a seeded random order, then the validation metrics and
the expert utilisation of that epoch; the weights of the epoch with the best validation MRR are kept and scored on test
(with ``keep_initial``, as for fine-tuning a transferred model, the starting weights compete too: ``best_epoch = -1``).

Metrics (:func:`graphrep.train.metrics.ranking_metrics`) rank the target among all the city's venues.
Baselines on the same targets (:mod:`graphrep.tasks.mobility.baselines`): ``popularity``, ``user_frequency``,
``markov`` and the ``user_transition`` rule; popularity and Markov counts come from the same training rows as the venue
features.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from graphrep.data.errors import GraphrepError, InvalidInputError
from graphrep.data.mobility import (CITY_LAYOUTS, CheckIns, chronological_split, load_checkins, trajectory_ids,
                             venue_features)
from graphrep.data.mobility.sequences import Windows, build_windows, spatial_priors
from graphrep.data.mobility.transitions import gnn_edges, training_transition_graph
from graphrep.models.trajmoe import TrajMoE, TrajMoEConfig
from graphrep.train.checkpoint import read_checkpoint, refuse_past_total, tensor_digest
from graphrep.train.engine import Engine, LoopCheckpoint
from graphrep.train.metrics import ranking_metrics, target_ranks
from graphrep.train.selection import BestEpoch

from .baselines import BASELINES, baseline_scores, history_counts
from .exploration import slate_ranks

__all__ = ["CityData", "prepare_city", "TrainSettings", "train_model", "evaluate_model", "baseline_metrics",
           "save_model", "load_model", "BASELINES", "resolve_city", "run_signature"]


def resolve_city(city: str, root: str | Path | None = None) -> tuple[Path, str]:
    """``nyc``/``tky`` -> (``<root>/mobility/<folder>``, city name); any other value is a folder or TSMC2014 file."""
    import os

    if city.lower() in CITY_LAYOUTS:
        base = Path(root or os.environ.get("GRAPHREP_DATA") or "../shared/data")
        folder = CITY_LAYOUTS[city.lower()][0]
        path = base / "mobility" / folder
        if not path.exists() and (base / folder).exists():
            path = base / folder
        if not path.exists():
            raise GraphrepError(f"check-ins of {city!r} not found at {path} (pass --root, the folder holding "
                                f"mobility/{folder}, or set GRAPHREP_DATA)")
        return path, city.lower()
    path = Path(city)
    if not path.exists():
        raise GraphrepError(f"--city/--to {city!r}: neither a known city ({', '.join(CITY_LAYOUTS)}) nor an existing "
                            "folder or TSMC2014 file")
    return path, path.stem.split(".")[0]


@dataclass
class CityData:
    """A city ready for training: check-ins, split, venue features (``[V, F]``), windows per split, and the venue
    transition graph of the same training rows as the features (``graph``: ``(edge_index, edge_weight)`` for
    ``TrajMoE(transition_gnn=True)``), their transition counts (``markov`` ``[V, V]``) and hour-of-week visit counts
    (``visits`` ``[V, 168]``, with which training leaves each target's own visit out of its venue's features), and
    which venues each user visited in them (``user_visits`` ``[U, V]`` 0/1, for ``TrajMoE(covisit=True)``)."""

    name: str
    checkins: CheckIns
    split: np.ndarray
    features: torch.Tensor
    train_counts: torch.Tensor
    train_users: np.ndarray
    windows: dict[str, Windows] = field(default_factory=dict)
    markov: torch.Tensor | None = None
    graph: tuple[torch.Tensor, torch.Tensor] | None = None
    visits: torch.Tensor | None = None
    user_visits: torch.Tensor | None = None

    def describe(self) -> dict:
        return {"city": self.name, "checkins": len(self.checkins), "users": self.checkins.num_users,
                "venues": self.checkins.num_venues, "train_users": int(len(self.train_users)),
                "targets": {k: w.num_targets for k, w in self.windows.items()},
                "graph_edges": int(self.graph[0].size(1)) if self.graph is not None else None,
                "skipped": dict(self.checkins.skipped.counts)}


def prepare_city(city: str, root: str | Path | None = None, fraction: float = 1.0, seed: int = 0,
                 length: int = 64, max_gap_hours: float = 72.0, embed_categories=None,
                 checkins: CheckIns | None = None, feature_users: str = "train",
                 split: np.ndarray | None = None) -> CityData:
    """Load, split and featurise a city; windows for train (only a seeded ``fraction`` of the users), valid and test
    (all users). Venue features, the transition graph and the Markov counts come from the training rows of the
    selected users (``feature_users="train"``) or of every user (``"all"``, e.g. for zero-shot evaluation); never from
    valid/test rows. ``split`` (``[N]`` 0/1/2, chronological per user) replaces the per-user 80/10/10 split, e.g.
    with a released split (:func:`graphrep.data.mobility.llmmob.load_llmmob`)."""
    if not 0 < fraction <= 1:
        raise InvalidInputError(f"fraction must be in (0, 1], got {fraction}")
    if checkins is None:
        path, name = resolve_city(city, root)
        checkins = load_checkins(path, city=name)
    split = chronological_split(checkins) if split is None else np.asarray(split, dtype=np.int64)
    traj = trajectory_ids(checkins, max_gap_hours)
    rng = np.random.default_rng(seed)
    n_users = checkins.num_users
    k = max(1, int(round(fraction * n_users)))
    users = np.sort(rng.permutation(n_users)[:k]) if k < n_users else np.arange(n_users)
    train_rows = (split == 0) & np.isin(checkins.user, users)
    mask = train_rows if feature_users == "train" else split == 0
    planar = bool(np.all(np.abs(checkins.venue_lat) <= 90)) and checkins.city not in ("fsq_nyc", "fsq_tky", "geolife")
    vf = venue_features(checkins, mask, embed_categories=embed_categories, planar=planar)
    priors = spatial_priors(checkins, vf.xy.numpy(), traj)
    data = CityData(checkins.city, checkins, split, vf.matrix(), vf.train_counts, users,
                    graph=gnn_edges(training_transition_graph(checkins, mask, traj)), visits=vf.visits)
    data.windows["train"] = build_windows(checkins, split, 0, priors, length, length, users=users)
    data.windows["valid"] = build_windows(checkins, split, 1, priors, length, length // 2)
    data.windows["test"] = build_windows(checkins, split, 2, priors, length, length // 2)
    nv = checkins.num_venues
    same_user = np.r_[checkins.user[1:] == checkins.user[:-1]]
    pair = mask[:-1] & mask[1:] & same_user
    m = np.zeros((nv, nv), dtype=np.float32)
    np.add.at(m, (checkins.venue[:-1][pair], checkins.venue[1:][pair]), 1.0)
    data.markov = torch.from_numpy(m)
    seen = np.zeros((checkins.num_users, nv), dtype=np.float32)
    seen[checkins.user[mask], checkins.venue[mask]] = 1.0
    data.user_visits = torch.from_numpy(seen)
    if data.windows["train"].num_targets == 0:
        raise InvalidInputError(f"{checkins.city}: no training targets with fraction={fraction}")
    return data


@dataclass
class TrainSettings:
    epochs: int = 10
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    #: stop after this many epochs without a better validation MRR (0: never stop early; the best epoch is still kept)
    patience: int = 4
    log: bool = False
    #: score the initial weights on validation too, and keep them if no epoch beats them (fine-tuning a transferred
    #: model on a few users must not end worse, on validation, than the model it started from)
    keep_initial: bool = False


def _batch_indices(n: int, batch_size: int, generator: torch.Generator | None = None):
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for s in range(0, n, batch_size):
        yield order[s:s + batch_size]


def _batches(windows: Windows, batch_size: int, generator: torch.Generator | None = None):
    for index in _batch_indices(len(windows), batch_size, generator):
        yield windows.batch(index)


def _on(device: torch.device, obj):
    """``obj`` (a tensor, or a dict/tuple of them) on ``device``; itself when already there."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _on(device, v) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(_on(device, v) for v in obj)
    return obj


@torch.no_grad()
def evaluate_model(model: TrajMoE, data: CityData, part: str = "test", batch_size: int = 32,
                   explore_slots: int = 0) -> dict[str, float]:
    """Ranking metrics of ``model`` on ``data.windows[part]`` (on the model's device); with ``explore_slots``, of the
    list that keeps the last ``explore_slots`` of the top 5 for venues the user has not visited
    (:func:`~graphrep.tasks.mobility.exploration.slate_ranks`)."""
    model.eval()
    device = next(model.parameters()).device
    features, graph, transitions = _on(device, data.features), _on(device, data.graph), _on(device, data.markov)
    users = _on(device, data.user_visits)
    ranks = []
    for batch in _batches(data.windows[part], batch_size):
        logits, targets = model(features, _on(device, batch), graph, transitions, users=users)
        if explore_slots:  # the slate is built on the CPU, where the user's history counts are
            visited = history_counts(batch, logits.size(1))[0] > 0
            ranks.append(slate_ranks(logits.float().cpu(), targets.cpu(), visited, explore_slots))
        else:  # ranked where the scores are: only [M] ranks cross to the CPU
            ranks.append(target_ranks(logits.float(), targets).cpu())
    return ranking_metrics(torch.cat(ranks).numpy())


def run_signature(model: TrajMoE, data: CityData, settings: "TrainSettings") -> dict:
    """What a checkpoint must share with a run to continue it: the architecture, the starting weights (seeded, or the
    transferred source's), the training settings but the epoch count, and the city's check-ins, split and training users."""
    c = data.checkins
    return {"command": "mobility", "city": data.name, "model": asdict(model.config),
            "initial_weights": tensor_digest(*model.state_dict().values()),
            "settings": {k: v for k, v in asdict(settings).items() if k not in ("log", "epochs")},
            "data": tensor_digest(np.asarray(c.user), np.asarray(c.venue), np.asarray(data.split),
                                  np.asarray(data.train_users), data.features)}


def train_model(model: TrajMoE, data: CityData, settings: TrainSettings, engine: Engine | None = None,
                checkpoint: LoopCheckpoint | None = None) -> dict:
    """Train on ``data``'s training windows, select the epoch by validation MRR; returns the history and timings.

    The model ends with the selected weights (``best_epoch``; -1: the initial weights, with ``keep_initial``), on the
    engine's device. ``history`` rows: epoch, loss, valid metrics, expert utilisation, seconds. ``engine``: devices,
    precision, DDP (default: one CPU process). ``checkpoint`` (signature from :func:`run_signature`) receives the loop
    state after every epoch; when it was made with ``resume``, training continues from the saved epoch (exactly:
    every epoch reseeds its own order and dropout). An interrupt stops at the next batch and names the newest
    checkpoint (the end of the last complete epoch).
    """
    engine = engine or Engine()
    torch.manual_seed(settings.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    wrapped, opt = engine.setup(model, opt)
    selection = BestEpoch(settings.patience)  # on -MRR: lower is better
    loop = {"epoch": 0, "history": [], "train_seconds": 0.0, "tokens": 0, "initial": None, "done": False}
    resumed = checkpoint.resumed_state() if checkpoint is not None else None
    if resumed is not None:
        model.load_state_dict(resumed.pop("model"))
        opt.load_state_dict(resumed.pop("optimizer"))
        selection.load_state_dict(resumed.pop("selection"))
        loop.update(resumed)
        refuse_past_total(loop["epoch"], settings.epochs, "training")
    else:
        loop["initial"] = evaluate_model(model, data, "valid") if settings.keep_initial else None
        if loop["initial"] is not None:
            selection.update(-1, -loop["initial"]["mrr"], model)  # the starting weights compete as epoch -1
            if settings.log:
                print(f"  initial weights: valid acc@1 {loop['initial']['acc@1']:.4f} "
                      f"mrr {loop['initial']['mrr']:.4f}", flush=True)
    device = engine.device
    features, graph, transitions = _on(device, data.features), _on(device, data.graph), _on(device, data.markov)
    visits, users = _on(device, data.visits), _on(device, data.user_visits)
    windows = data.windows["train"]
    with engine.interruptible():
        for epoch in range(loop["epoch"], settings.epochs if not loop["done"] else loop["epoch"]):
            gen = torch.Generator().manual_seed(settings.seed * 1_000_003 + epoch)
            torch.manual_seed(settings.seed * 7919 + epoch)
            model.train()
            model.reset_utilisation()
            start, total, count = time.perf_counter(), 0.0, 0
            for index in _batch_indices(len(windows), settings.batch_size, gen):
                engine.check_interrupt(checkpoint)
                logits, targets = wrapped(features, _on(device, windows.batch(engine.shard(index))), graph,
                                          transitions, visits, users)
                loss = model.loss(logits, targets)
                opt.zero_grad(set_to_none=True)
                engine.backward(loss)
                engine.clip_gradients(wrapped, opt, 1.0)
                opt.step()
                total += float(loss.detach()) * len(targets)
                count += len(targets)
            total, count = engine.sum_over_processes(total), int(engine.sum_over_processes(count))
            seconds = time.perf_counter() - start
            loop["train_seconds"] += seconds
            loop["tokens"] += count
            util = model.utilisation()
            valid = evaluate_model(model, data, "valid")
            loop["history"].append({"epoch": epoch, "loss": total / max(count, 1), "valid": valid,
                                    "utilisation": util, "seconds": seconds})
            if settings.log:
                shares = " | ".join(" ".join(f"{u:.2f}" for u in layer) for layer in util)
                print(f"  epoch {epoch}: loss {total / max(count, 1):.4f} valid acc@1 {valid['acc@1']:.4f} "
                      f"mrr {valid['mrr']:.4f} ({seconds:.1f} s){'; expert shares ' + shares if util else ''}",
                      flush=True)
            selection.update(epoch, -valid["mrr"], model)
            loop["epoch"] = epoch + 1
            loop["done"] = selection.stop
            if checkpoint is not None:
                checkpoint.save({**loop, "selection": selection.state_dict(), "model": model.state_dict(),
                                 "optimizer": opt.state_dict()})
            if loop["done"]:
                break
    selection.restore(model)
    history, initial = loop["history"], loop["initial"]
    train_seconds = loop["train_seconds"]
    return {"history": history, "best_epoch": selection.best_epoch, "initial_valid": initial,
            "train_seconds": train_seconds,
            "tokens_per_s": loop["tokens"] / train_seconds if train_seconds else 0.0}


@torch.no_grad()
def baseline_metrics(data: CityData, name: str, part: str = "test", batch_size: int = 32) -> dict[str, float]:
    """Metrics of a rule baseline (:mod:`graphrep.tasks.mobility.baselines`) on ``data.windows[part]``."""
    if name not in BASELINES:
        raise InvalidInputError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
    ranks = [target_ranks(*baseline_scores(name, batch, data.train_counts, data.markov))
             for batch in _batches(data.windows[part], batch_size)]
    return ranking_metrics(torch.cat(ranks).numpy())


def save_model(model: TrajMoE, path: str | Path, extra: dict | None = None) -> Path:
    """Write ``model.pt`` (state dict + config, loadable with ``weights_only=True``) under folder ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.cpu() for k, v in model.state_dict().items()}
    torch.save({"config": asdict(model.config), "state_dict": state, "extra": json.dumps(extra or {})},
               path / "model.pt")
    return path / "model.pt"


def load_model(path: str | Path) -> tuple[TrajMoE, dict]:
    """A model saved by :func:`save_model` (a folder or the ``model.pt`` file) and its extra information."""
    path = Path(path)
    file = path / "model.pt" if path.is_dir() else path
    if not file.is_file():
        raise GraphrepError(f"{file}: no trained mobility model here (expected model.pt from `graphrep mobility train`)")
    blob = read_checkpoint(file)
    try:
        model = TrajMoE(TrajMoEConfig(**blob["config"]))
        model.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise GraphrepError(f"{file}: not a TrajMoE checkpoint ({e})") from None
    return model, json.loads(blob.get("extra", "{}"))


def plot_utilisation(history: list[dict], path: str | Path, title: str = "expert utilisation") -> Path | None:
    """Stacked share of routed assignments per expert, per epoch and MoE layer (``history`` from :func:`train_model`);
    ``None`` when the model has no MoE layer."""
    rows = [h["utilisation"] for h in history if h.get("utilisation")]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    util = np.asarray(rows)  # [epochs, layers, experts]
    layers, experts = util.shape[1], util.shape[2]
    fig, axes = plt.subplots(1, layers, figsize=(4 * layers, 3), squeeze=False)
    for layer in range(layers):
        ax, bottom = axes[0, layer], np.zeros(len(util))
        for e in range(experts):
            ax.bar(np.arange(len(util)), util[:, layer, e], bottom=bottom, label=f"expert {e}")
            bottom += util[:, layer, e]
        ax.axhline(1 / experts, color="k", lw=0.5, ls=":")  # the balanced share
        ax.set_xticks(np.arange(len(util)))
        ax.set_xlabel("epoch")
        ax.set_ylabel("share of assignments")
        ax.set_title(f"{title}: layer {layer}")
    axes[0, -1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
