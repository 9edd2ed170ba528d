"""Training and evaluation on non-graph data seen as graphs: images (digits), documents (TAG node texts), trajectories.

One plain PyTorch loop (:func:`fit`) serves every model here, graph or not (the image classifiers, the token-graph
classifiers, the next-venue model): the benchmark trains dozens of small models of a few seconds each, where a Lightning
``Trainer`` per run would cost more than the run. The loop, and :func:`graphcl_pretrain` (GraphCL's augmentations and
NT-Xent, :func:`graphrep.models.graphcl.graphcl_loss`, on unlabelled graphs), run on the shared engine
(:class:`graphrep.train.engine.Engine`, Lightning Fabric): device placement, precision, DDP, checkpoints with the run
signature, exact resume, SIGINT/SIGTERM. Under ``--strategy ddp`` every global batch is split between the processes
(:meth:`Engine.shard`) and DDP averages their gradients; every process scores the whole validation and test sets, so
all take the same model-selection decision. Every epoch reseeds its own order, augmentations and dropout from
``(seed, epoch)``, so a run resumed from an epoch-end checkpoint continues exactly as an uninterrupted one.

Selection is on validation accuracy; the test score is read at the best validation epoch. Splits are stratified
60/20/20 with a fixed split seed, the same for every model and training seed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from graphrep.data.errors import GraphrepError
from graphrep.data.modalities import TokenGraphBuilder, images_to_patch_graphs, read_visits, transition_graph
from graphrep.models.graphcl import graphcl_loss
from graphrep.models.modality import GraphEncoder
from graphrep.objectives import ProjectionHead
from graphrep.train.baselines import markov_scores
from graphrep.train.checkpoint import refuse_past_total, tensor_digest
from graphrep.train.engine import Engine, LoopCheckpoint
from graphrep.train.metrics import macro_f1

__all__ = ["Split", "stratified_split", "load_digits_images", "DocumentGraphs", "prepare_documents",
           "TrajectoryData", "prepare_trajectories", "fit", "graphcl_pretrain", "markov_next_venue", "batches",
           "patch_graph_batcher", "graph_list_batcher", "PhaseCheckpoint", "run_signature"]


@dataclass
class Split:
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def stratified_split(labels: np.ndarray, seed: int = 0, fractions=(0.6, 0.2, 0.2)) -> Split:
    """Stratified train/valid/test indices (fractions of each class, sorted indices)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    train, rest = train_test_split(idx, train_size=fractions[0], stratify=labels, random_state=seed)
    valid, test = train_test_split(rest, train_size=fractions[1] / (fractions[1] + fractions[2]),
                                   stratify=labels[rest], random_state=seed)
    return Split(np.sort(train), np.sort(valid), np.sort(test))


def load_digits_images() -> tuple[Tensor, Tensor]:
    """scikit-learn's bundled digits: images ``[1797, 1, 8, 8]`` scaled to [0, 1], labels ``[1797]``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.from_numpy(d.images / 16.0).float().unsqueeze(1), torch.from_numpy(d.target).long()


def batches(n: int, batch_size: int, shuffle: bool, generator: torch.Generator | None = None) -> Iterator[Tensor]:
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]


@dataclass
class DocumentGraphs:
    """Token graphs of a TAG's documents, their labels, the fitted builder and the split."""

    graphs: list[Data]
    labels: np.ndarray
    texts: list[str]
    builder: TokenGraphBuilder
    split: Split
    num_classes: int


def prepare_documents(dataset: str = "cora", root=None, tokenizer: str | Callable = "whitespace", window: int = 3,
                      max_tokens: int | None = 128, split_seed: int = 0, limit: int | None = None) -> DocumentGraphs:
    """Node texts and labels of a text-attributed graph (edges ignored) as token graphs; PMI from the train split."""
    from graphrep.data.tag import load_tag

    tag = load_tag(dataset, root=root)
    texts, labels = list(tag.text), tag.y.numpy()
    if limit:
        keep = np.random.default_rng(split_seed).permutation(len(texts))[:limit]
        texts, labels = [texts[i] for i in sorted(keep)], labels[np.sort(keep)]
    split = stratified_split(labels, split_seed)
    builder = TokenGraphBuilder(tokenizer, window=window, max_tokens=max_tokens).fit([texts[i] for i in split.train])
    graphs = [builder(t, int(labels[i]), f"{dataset} node {i}") for i, t in enumerate(texts)]
    return DocumentGraphs(graphs, labels, texts, builder, split, int(labels.max()) + 1)


@dataclass
class TrajectoryData:
    """Next-venue samples: histories ``[n, L]`` (venue ids, -1 padding), targets ``[n]`` (-1: venue not in training),
    per part; the transition graph of the training visits; venue count ``V``."""

    history: dict[str, Tensor]
    target: dict[str, Tensor]
    graph: Data
    num_venues: int
    info: dict = field(default_factory=dict)


def prepare_trajectories(folder, history: int = 10, max_gap_min: int | None = None) -> TrajectoryData:
    """Per-user chronological visits of an LLM-Mob folder (train/valid/test parts, read by
    :func:`graphrep.data.modalities.read_visits`) -> next-venue samples and the training transition graph.

    Venues get ids from the training part only; a visit elsewhere to a venue never seen in training is kept as
    ``<unk>`` in histories and counted as a miss when it is the target (``info`` counts them). A sample's history may
    reach back into earlier parts (the model sees the user's past, never the future).
    """
    parts = read_visits(folder)
    venues = np.unique(parts["train"][:, 1])
    vid = {int(v): i for i, v in enumerate(venues)}
    V = len(venues)
    rows = []
    for k, part in enumerate(("train", "valid", "test")):
        a = parts[part]
        rows.append(np.column_stack([a, np.full(len(a), k)]))
    allv = np.concatenate(rows)
    allv = allv[np.lexsort((allv[:, 2], allv[:, 0]))]  # by user, then time (stable: file order for ties)
    mapped = np.array([vid.get(int(v), V) for v in allv[:, 1]], dtype=np.int64)  # V = <unk>
    hist, tgt = {p: [] for p in ("train", "valid", "test")}, {p: [] for p in ("train", "valid", "test")}
    trajectories = []
    users, starts = np.unique(allv[:, 0], return_index=True)
    bounds = list(starts) + [len(allv)]
    unseen = {"valid": 0, "test": 0}
    for u in range(len(users)):
        lo, hi = bounds[u], bounds[u + 1]
        seq, part, t = mapped[lo:hi], allv[lo:hi, 3], allv[lo:hi, 2]
        train_pos = np.nonzero(part == 0)[0]
        if len(train_pos):
            trajectories.append(list(zip(seq[train_pos].tolist(), t[train_pos].tolist())))
        for i in range(1, hi - lo):
            name = ("train", "valid", "test")[part[i]]
            h = seq[max(0, i - history):i]
            h = np.where(h == V, -1, h)
            hist[name].append(np.pad(h, (history - len(h), 0), constant_values=-1))
            tgt[name].append(seq[i] if seq[i] < V else -1)
            if seq[i] == V:
                unseen[name] += 1
    graph = transition_graph(trajectories, num_venues=V, skip_short=True)
    info = {"venues": V, "users": int(len(users)), "train_transitions": int(graph.edge_weight.sum()),
            "graph_edges": int(graph.edge_index.size(1)), "users_skipped_short_train": int(graph.skipped_short),
            "targets_unseen_in_training": unseen,
            "samples": {p: len(tgt[p]) for p in tgt}}
    return TrajectoryData({p: torch.from_numpy(np.stack(hist[p])) for p in hist},
                          {p: torch.as_tensor(np.asarray(tgt[p]), dtype=torch.long) for p in tgt}, graph, V, info)


def markov_next_venue(data: TrajectoryData, part: str = "test", k: int = 5) -> dict:
    """First-order Markov baseline (:func:`graphrep.train.baselines.markov_scores`): next venues ranked by training
    transition count from the last venue, then by training popularity. Returns acc@1 and acc@k."""
    V, g = data.num_venues, data.graph
    counts = torch.zeros(V, V)
    counts[g.edge_index[0], g.edge_index[1]] = g.edge_weight
    pop = torch.bincount(data.target["train"][data.target["train"] >= 0], minlength=V).float()
    return _topk_scores(markov_scores(counts, data.history[part][:, -1], pop), data.target[part], k)


def _topk_scores(scores: Tensor, target: Tensor, k: int) -> dict:
    top = scores.topk(k, dim=1).indices
    hit = top == target[:, None]
    return {"acc": float(hit[:, 0].float().mean()), f"acc@{k}": float(hit.any(1).float().mean())}


class PhaseCheckpoint:
    """The checkpoint of one seed's run, which trains in named phases (``"pretrain"``, ``"graph"``, ``"baseline"``).

    Wraps a :class:`~graphrep.train.engine.LoopCheckpoint`; every saved state holds the current ``phase``, its loop
    state, and ``done``: the results of the phases already finished, so that a resumed run skips them.
    """

    def __init__(self, checkpoint: LoopCheckpoint | None):
        self.checkpoint = checkpoint
        resumed = checkpoint.resumed_state() if checkpoint is not None else None
        self.resumed = resumed
        self.done: dict = dict(resumed.get("done", {})) if resumed else {}

    def state(self, phase: str) -> dict | None:
        """The saved loop state of ``phase`` when the run resumes inside it."""
        return self.resumed if self.resumed is not None and self.resumed.get("phase") == phase else None

    def save(self, phase: str, state: dict) -> None:
        if self.checkpoint is not None:
            self.checkpoint.save({"phase": phase, "done": self.done, **state})

    def finish(self, phase: str, result: dict) -> dict:
        self.done[phase] = result
        return result


def _epoch_seeds(seed: int, epoch: int) -> torch.Generator:
    """Reseed dropout for ``epoch`` and return its generator for batch order and augmentations."""
    torch.manual_seed(seed * 7919 + epoch)
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def _restore(module: nn.Module, opt, state: dict | None, loop: dict) -> None:
    if state is None:
        return
    module.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    loop.update({k: state[k] for k in loop if k in state})


def fit(model: nn.Module, make_batch: Callable[[Tensor], tuple[object, Tensor]], split: Split, *, epochs: int,
        lr: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 64, seed: int = 0,
        eval_every: int = 1, topk: int | None = None, engine: Engine | None = None,
        checkpoint: PhaseCheckpoint | None = None, phase: str = "fit") -> dict:
    """Train ``model`` with cross-entropy, pick the epoch with the best validation accuracy, report its test scores.

    ``make_batch(indices)`` returns ``(model input, labels)`` for those example indices (labels < 0 count as misses
    and are left out of the loss). ``engine``: devices, precision, DDP (default one CPU process); ``checkpoint``
    receives the loop state (as ``phase``) after every epoch and continues from it when resuming. Returns
    ``{"test_acc", "test_macro_f1", "valid_acc", "best_epoch", "train_seconds", "curve": [(epoch, train loss, valid
    acc)], "parameters"}`` (``test_acc@k`` with ``topk``). The model stays on the engine's device.
    """
    engine = engine or Engine()
    torch.manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    loop = {"epoch": 0, "best": {"valid_acc": -1.0}, "curve": [], "train_seconds": 0.0}
    _restore(model, opt, checkpoint.state(phase) if checkpoint is not None else None, loop)
    refuse_past_total(loop["epoch"], epochs, phase)
    wrapped, opt = engine.setup(model, opt)
    train_index = torch.as_tensor(split.train)
    with engine.interruptible():
        for epoch in range(loop["epoch"] + 1, epochs + 1):
            gen = _epoch_seeds(seed, epoch)
            start = time.perf_counter()
            model.train()
            total, count = 0.0, 0
            for idx in batches(len(split.train), batch_size, True, gen):
                engine.check_interrupt(checkpoint.checkpoint if checkpoint is not None else None)
                inputs, y = make_batch(train_index[engine.shard(idx)])
                inputs, y = engine.to_device(inputs), y.to(engine.device)
                keep = y >= 0
                logits = wrapped(inputs)
                # a share with no scored target still takes part (DDP averages every process's gradients)
                loss = F.cross_entropy(logits[keep], y[keep]) if bool(keep.any()) else logits.sum() * 0.0
                opt.zero_grad()
                engine.backward(loss)
                opt.step()
                total, count = total + float(loss.detach()) * int(keep.sum()), count + int(keep.sum())
            total, count = engine.sum_over_processes(total), engine.sum_over_processes(count)
            loop["train_seconds"] += time.perf_counter() - start
            loop["epoch"] = epoch
            if epoch % eval_every == 0 or epoch == epochs:
                valid = _evaluate(model, make_batch, split.valid, batch_size, topk, engine)
                loop["curve"].append((epoch, total / max(count, 1), valid["acc"]))
                if valid["acc"] > loop["best"]["valid_acc"]:
                    loop["best"] = {"valid_acc": valid["acc"], "best_epoch": epoch,
                                    "test": _evaluate(model, make_batch, split.test, batch_size, topk, engine)}
            if checkpoint is not None:
                checkpoint.save(phase, {**loop, "model": model.state_dict(), "optimizer": opt.state_dict()})
    best = loop["best"]
    if "test" not in best:  # no epoch (epochs = 0, or a resumed run already past them): score the model as it is
        best = {"valid_acc": _evaluate(model, make_batch, split.valid, batch_size, topk, engine)["acc"],
                "best_epoch": loop["epoch"], "test": _evaluate(model, make_batch, split.test, batch_size, topk, engine)}
    test = best["test"]
    out = {"test_acc": test["acc"], "test_macro_f1": test["macro_f1"], "valid_acc": best["valid_acc"],
           "best_epoch": best["best_epoch"], "train_seconds": loop["train_seconds"],
           "curve": [tuple(c) for c in loop["curve"]],
           "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    if topk:
        out[f"test_acc@{topk}"] = test[f"acc@{topk}"]
    return out


@torch.no_grad()
def _evaluate(model: nn.Module, make_batch, indices: np.ndarray, batch_size: int, topk: int | None,
              engine: Engine | None = None) -> dict:
    """Accuracy and macro-F1 (or acc@k with ``topk``) of the unwrapped ``model`` over ``indices`` (every process
    scores all of them)."""
    engine = engine or Engine()
    model.eval()
    preds, trues, hits = [], [], []
    with engine.autocast():
        for idx in batches(len(indices), max(batch_size, 256), False):
            inputs, y = make_batch(torch.as_tensor(indices)[idx])
            logits = model(engine.to_device(inputs)).float().cpu()
            preds.append(logits.argmax(1))
            trues.append(y)
            if topk:
                hits.append((logits.topk(topk, dim=1).indices == y[:, None]).any(1))
    pred, true = torch.cat(preds).numpy(), torch.cat(trues).numpy()
    out = {"acc": float((pred == true).mean()), "macro_f1": macro_f1(true, pred) if not topk else float("nan")}
    if topk:
        out[f"acc@{topk}"] = float(torch.cat(hits).float().mean())
    return out


def graphcl_pretrain(encoder: GraphEncoder, make_graphs: Callable[[Tensor], Batch], num_graphs: int, *,
                     epochs: int, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                     augmentations: Sequence[str] = ("dropN", "subgraph"), ratio: float = 0.2,
                     temperature: float = 0.1, engine: Engine | None = None,
                     checkpoint: PhaseCheckpoint | None = None, phase: str = "pretrain") -> dict:
    """GraphCL (You et al. 2020) on unlabelled graphs: two augmented views per graph, a projection head, NT-Xent
    (:func:`graphrep.models.graphcl.graphcl_loss`). ``make_graphs(indices)`` gives the ``Batch`` of those graphs.
    Under DDP each process contrasts its share of the batch (its negatives are the graphs of that share).

    Returns ``{"losses": per-epoch mean, "seconds"}``; the encoder's weights are updated in place.
    """
    if len(augmentations) != 2:
        raise GraphrepError(f"GraphCL takes two augmentations, got {augmentations!r}")
    engine = engine or Engine()
    torch.manual_seed(seed)
    # a copy trains (its DDP wrapper and hooks stay with it); the weights go back to ``encoder`` at the end
    model = nn.ModuleDict({"encoder": copy.deepcopy(encoder), "head": ProjectionHead(encoder.out_dim)})
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loop = {"epoch": 0, "losses": [], "seconds": 0.0}
    _restore(model, opt, checkpoint.state(phase) if checkpoint is not None else None, loop)
    refuse_past_total(loop["epoch"], epochs, phase, "--pretrain-epochs")
    objective = _GraphCLObjective(model, tuple(augmentations), ratio, temperature)
    wrapped, opt = engine.setup(objective, opt)
    with engine.interruptible():
        for epoch in range(loop["epoch"] + 1, epochs + 1):
            gen = _epoch_seeds(seed, epoch)
            # the augmentations draw on the batch's device, from a generator of this (seed, epoch, rank)
            aug = torch.Generator(device=engine.device).manual_seed(seed * 1_000_003 + epoch + 7 * engine.rank)
            start = time.perf_counter()
            model.train()
            total, steps = 0.0, 0
            for idx in batches(num_graphs, batch_size, True, gen):
                engine.check_interrupt(checkpoint.checkpoint if checkpoint is not None else None)
                share = engine.shard(idx)
                if len(share) < 2:  # NT-Xent needs negatives; every process sees the same sizes and skips together
                    continue
                loss = wrapped(engine.to_device(make_graphs(share)), aug)
                opt.zero_grad()
                engine.backward(loss)
                opt.step()
                total, steps = total + float(loss.detach()), steps + 1
            loop["losses"].append(engine.sum_over_processes(total) / max(engine.sum_over_processes(steps), 1))
            loop["seconds"] += time.perf_counter() - start
            loop["epoch"] = epoch
            if checkpoint is not None:
                checkpoint.save(phase, {**loop, "model": model.state_dict(), "optimizer": opt.state_dict()})
    encoder.load_state_dict({k: v.to(p.device) for (k, v), p in
                             zip(model["encoder"].state_dict().items(), encoder.state_dict().values())})
    return {"losses": list(loop["losses"]), "seconds": loop["seconds"]}


class _GraphCLObjective(nn.Module):
    """Encoder + projection head whose forward is the GraphCL loss: what the engine wraps for DDP."""

    def __init__(self, parts: nn.ModuleDict, augmentations, ratio: float, temperature: float):
        super().__init__()
        self.parts, self.augmentations, self.ratio, self.temperature = parts, augmentations, ratio, temperature

    def forward(self, batch: Batch, generator: torch.Generator) -> Tensor:
        return graphcl_loss(self.parts["encoder"], self.parts["head"], batch, self.augmentations, self.ratio,
                            self.temperature, generator)


def patch_graph_batcher(images: Tensor, labels: Tensor, patch_size: int, pos_dim: int = 8):
    """``make_batch`` for :func:`fit` / :func:`graphcl_pretrain` over images turned into patch graphs per batch."""
    def make(idx: Tensor):
        return images_to_patch_graphs(images[idx], patch_size, pos_dim, labels[idx]), labels[idx]
    return make


def graph_list_batcher(graphs: Sequence[Data], labels: np.ndarray):
    """``make_batch`` over a list of prepared graphs."""
    y = torch.as_tensor(labels, dtype=torch.long)

    def make(idx: Tensor):
        return Batch.from_data_list([graphs[int(i)] for i in idx]), y[idx]
    return make


# ---------------------------------------------------------------------------------------------------------------------
# One configured run per modality (what `graphrep modality train` calls)

KINDS = ("image", "text", "trajectory")


@dataclass
class ModalityConfig:
    """A graph model on one modality, over ``seeds``, with the modality's plain baseline in the same run.

    image: scikit-learn digits as ``patch_size`` patch graphs (baseline: MLP on pixels); text: ``dataset``'s node
    texts as token graphs (``tokenizer`` ``"whitespace"`` with learned embeddings, or ``"encoder"``: the sentence
    encoder's word pieces with its frozen input embeddings; baseline: TF-IDF + logistic regression); trajectory:
    ``root/mobility/<dataset>`` next-venue prediction with a GRU whose venue embeddings pass through the transition-graph
    GNN (baseline: the same GRU without the graph, and the first-order Markov ranking).
    """

    kind: str = "image"
    root: str | None = None
    dataset: str | None = None
    conv: str = "gin"
    knn: int | None = None
    hidden: int = 64
    layers: int = 2
    epochs: int = 30
    lr: float = 3e-3
    batch_size: int = 64
    dropout: float = 0.1
    seeds: Sequence[int] = (0, 1, 2)
    pretrain_epochs: int = 0
    patch_size: int = 2
    tokenizer: str = "whitespace"
    window: int = 3
    max_tokens: int = 128
    history: int = 10

    def __post_init__(self):
        if self.kind not in KINDS:
            raise GraphrepError(f"--kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("hidden", "layers", "epochs", "batch_size", "patch_size", "window", "max_tokens", "history"):
            if getattr(self, name) < 1:
                raise GraphrepError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.pretrain_epochs < 0:
            raise GraphrepError(f"pretrain_epochs must be >= 0, got {self.pretrain_epochs}")
        if self.knn is not None and self.knn < 1:
            raise GraphrepError(f"knn must be >= 1, got {self.knn}")
        if self.knn is not None and self.conv in ("euclidean", "hyperbolic"):
            raise GraphrepError(f"--conv {self.conv} with --knn {self.knn}: the geometry experts propagate on the "
                                "input graph; --knn works with gin, gcn, sage or gat")
        if self.tokenizer not in ("whitespace", "encoder"):
            raise GraphrepError(f"tokenizer must be 'whitespace' or 'encoder', got {self.tokenizer!r}")
        if not self.seeds:
            raise GraphrepError("give at least one seed")


def _summary(runs: list[dict], key: str = "test_acc") -> dict:
    vals = np.array([r[key] for r in runs], dtype=float)
    return {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
            "train_seconds": float(np.mean([r.get("train_seconds", 0.0) for r in runs]))}


def image_task(patch_size: int = 2, pos_dim: int = 8):
    """Digits, their split, ``make_batch`` for patch graphs, and the patch-graph input size."""
    images, labels = load_digits_images()
    split = stratified_split(labels.numpy())
    make = patch_graph_batcher(images, labels, patch_size, pos_dim)
    return images, labels, split, make, images.size(1) * patch_size ** 2 + pos_dim


def text_encoder_args(docs: DocumentGraphs, tokenizer: str) -> dict:
    """GraphEncoder input arguments for token graphs: learned ids, or the encoder's frozen input embeddings."""
    if tokenizer == "encoder":
        from graphrep.data.modalities import encoder_token_embeddings

        return {"embedding": encoder_token_embeddings(docs.builder.vocab), "freeze_embedding": True}
    return {"num_embeddings": len(docs.builder.vocab)}


def trajectory_task(folder, history: int = 10):
    """Next-venue data, one concatenated index space over train/valid/test, ``make_batch``, split."""
    data = prepare_trajectories(folder, history)
    parts = ("train", "valid", "test")
    H = torch.cat([data.history[p] for p in parts])
    Y = torch.cat([data.target[p] for p in parts])
    n = np.cumsum([0] + [len(data.target[p]) for p in parts])
    split = Split(np.arange(n[0], n[1]), np.arange(n[1], n[2]), np.arange(n[2], n[3]))
    return data, split, (lambda idx: (H[idx], Y[idx]))


def transition_weights(graph: Data) -> Data:
    """The transition graph as the venue GCN reads it, with mobility's one weighting
    (:func:`graphrep.data.mobility.transitions.gnn_edges`): both directions merged, ``log(1 + count)`` (raw counts let
    hub venues swamp GCN sums), self-transitions dropped."""
    from graphrep.data.mobility.transitions import gnn_edges

    edge_index, edge_weight = gnn_edges(graph)
    return Data(edge_index=edge_index, edge_weight=edge_weight, num_nodes=graph.num_nodes)


def run_signature(config: "ModalityConfig", seed: int, data_digest: str) -> dict:
    """What a checkpoint must share with a run to continue it: the config but the epoch counts and seed list, the
    seed, and the checksum of the prepared data (images or token graphs' labels and split, or trajectories)."""
    skip = ("epochs", "pretrain_epochs", "seeds", "root")
    return {"command": "modality train", "seed": seed, "data": data_digest,
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(config).items() if k not in skip}}


def run_modality(config: ModalityConfig, engine: Engine | None = None, out_dir=None, resume=None) -> dict:
    """Train the configured graph model on every seed, and the baseline; returns per-seed runs and summaries.

    ``engine``: devices, precision, DDP (default one CPU process). With ``out_dir``, each seed's run writes its
    checkpoint to ``out_dir/checkpoints/seed<N>.pt`` after every epoch of each phase (GraphCL pre-training, the graph
    model, the trained baseline); ``resume`` (a checkpoint of one seed's run) continues that run.
    """
    from pathlib import Path

    from graphrep.models.modality import GraphClassifier, MLPClassifier, NextVenueModel

    c = config
    engine = engine or Engine()
    out: dict = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(c).items()}, "runs": {}}

    def phases(seed: int, digest: str) -> PhaseCheckpoint:
        path = Path(out_dir) / "checkpoints" / f"seed{seed}.pt" if out_dir is not None else None
        return PhaseCheckpoint(LoopCheckpoint(engine, path, run_signature(c, seed, digest), resume=resume))

    def trained(ckpt: PhaseCheckpoint, phase: str, train) -> dict:
        """``train()``'s result, or the one the resumed checkpoint holds for a finished phase."""
        if phase in ckpt.done:
            return ckpt.done[phase]
        return ckpt.finish(phase, train())

    def interrupted_seed(seed: int):
        return _SeedFlag(seed)

    if c.kind == "image":
        images, labels, split, make, in_dim = image_task(c.patch_size)
        digest = tensor_digest(images, labels, split.train, split.valid, split.test)
        graph_runs, base_runs = [], []
        for seed in c.seeds:
            with interrupted_seed(seed):
                ckpt = phases(seed, digest)
                torch.manual_seed(seed)
                model = GraphClassifier(10, in_channels=in_dim, conv=c.conv, knn=c.knn, hidden=c.hidden,
                                        layers=c.layers, dropout=c.dropout)
                pre = _maybe_pretrain(model.encoder, lambda i: make(torch.as_tensor(split.train)[i])[0],
                                      len(split.train), c, seed, engine, ckpt)
                graph_runs.append(trained(ckpt, "graph", lambda: {**fit(
                    model, make, split, epochs=c.epochs, lr=c.lr, batch_size=c.batch_size, seed=seed,
                    engine=engine, checkpoint=ckpt, phase="graph"), **pre}))
                torch.manual_seed(seed)
                mlp = MLPClassifier(images[0].numel(), c.hidden, 10, c.dropout)
                base_runs.append(trained(ckpt, "baseline", lambda: fit(
                    mlp, lambda i: (images[i], labels[i]), split, epochs=c.epochs, lr=c.lr, batch_size=c.batch_size,
                    seed=seed, engine=engine, checkpoint=ckpt, phase="baseline")))
        out["runs"] = {"graph": graph_runs, "mlp on pixels": base_runs}
    elif c.kind == "text":
        docs = prepare_documents(c.dataset or "cora", root=_tag_root(c.root), window=c.window,
                                 max_tokens=c.max_tokens,
                                 tokenizer=_tokenizer(c.tokenizer))
        digest = tensor_digest(np.frombuffer("\n".join(docs.texts).encode(), dtype=np.uint8), docs.labels,
                               docs.split.train, docs.split.valid, docs.split.test)
        make = graph_list_batcher(docs.graphs, docs.labels)
        enc_args = text_encoder_args(docs, c.tokenizer)
        graph_runs = []
        for seed in c.seeds:
            with interrupted_seed(seed):
                ckpt = phases(seed, digest)
                torch.manual_seed(seed)
                model = GraphClassifier(docs.num_classes, conv=c.conv, knn=c.knn, hidden=c.hidden, layers=c.layers,
                                        dropout=c.dropout, **enc_args)
                pre = _maybe_pretrain(model.encoder, lambda i: Batch.from_data_list(
                    [docs.graphs[int(j)] for j in torch.as_tensor(docs.split.train)[i]]), len(docs.split.train), c,
                    seed, engine, ckpt)
                graph_runs.append(trained(ckpt, "graph", lambda: {**fit(
                    model, make, docs.split, epochs=c.epochs, lr=c.lr, batch_size=c.batch_size, seed=seed,
                    engine=engine, checkpoint=ckpt, phase="graph"), **pre}))
        out["runs"] = {"graph": graph_runs, "tf-idf + logistic regression": [tfidf_logreg(docs)]}
        out["token_graph_stats"] = dict(docs.builder.stats)
    else:
        folder = _mobility_folder(c.root, c.dataset or "fsq_nyc")
        data, split, make = trajectory_task(folder, c.history)
        digest = tensor_digest(*(data.history[p] for p in ("train", "valid", "test")),
                               *(data.target[p] for p in ("train", "valid", "test")))
        graph_runs, base_runs = [], []
        for seed in c.seeds:
            with interrupted_seed(seed):
                ckpt = phases(seed, digest)
                for runs, graph, phase in ((graph_runs, transition_weights(data.graph), "graph"),
                                           (base_runs, None, "baseline")):
                    torch.manual_seed(seed)
                    model = NextVenueModel(data.num_venues, c.hidden, graph=graph, conv=c.conv, layers=c.layers,
                                           dropout=c.dropout)
                    runs.append(trained(ckpt, phase, lambda: fit(
                        model, make, split, epochs=c.epochs, lr=c.lr, batch_size=c.batch_size, seed=seed, topk=5,
                        engine=engine, checkpoint=ckpt, phase=phase)))
        markov = markov_next_venue(data, "test")
        out["runs"] = {"graph": graph_runs, "gru without graph": base_runs,
                       "markov": [{"test_acc": markov["acc"], "test_acc@5": markov["acc@5"]}]}
        out["data"] = data.info
    out["summary"] = {name: _summary(runs) for name, runs in out["runs"].items()}
    s = engine.settings
    out["engine"] = {"accelerator": s.accelerator, "devices": s.devices, "strategy": s.strategy,
                     "num_nodes": s.num_nodes, "precision": s.precision, "world_size": engine.world_size}
    return out


class _SeedFlag:
    """Within: an interrupt's resume command names this seed alone (``--seeds N``)."""

    def __init__(self, seed: int):
        self.seed = seed

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, KeyboardInterrupt) and hasattr(exc, "resume_flags"):
            exc.resume_flags["--seeds"] = str(self.seed)
        return False


def _maybe_pretrain(encoder, make_graphs, n: int, c: ModalityConfig, seed: int, engine: Engine | None = None,
                    checkpoint: PhaseCheckpoint | None = None) -> dict:
    """GraphCL pre-training of ``encoder`` when ``c.pretrain_epochs``; skipped when the resumed run is past it (the
    later phase's saved weights hold the pre-trained encoder)."""
    if not c.pretrain_epochs:
        return {}
    if checkpoint is not None and "pretrain" in checkpoint.done:
        return checkpoint.done["pretrain"]
    res = graphcl_pretrain(encoder, make_graphs, n, epochs=c.pretrain_epochs, seed=seed, engine=engine,
                           checkpoint=checkpoint)
    result = {"pretrain_losses": res["losses"], "pretrain_seconds": res["seconds"]}
    return checkpoint.finish("pretrain", result) if checkpoint is not None else result


def _tokenizer(name: str):
    if name == "encoder":
        from graphrep.data.modalities import encoder_tokenizer

        return encoder_tokenizer()
    return name


def _tag_root(root):
    from pathlib import Path

    if root is None:
        return None
    return Path(root) / "tag" if (Path(root) / "tag").is_dir() else Path(root)


def _mobility_folder(root, dataset: str):
    import os
    from pathlib import Path

    base = Path(root) if root else Path(os.environ.get("GRAPHREP_DATA", "."))
    for folder in (base / "mobility" / dataset, base / dataset):
        if folder.is_dir():
            return folder
    raise GraphrepError(f"trajectory data {dataset!r} not found: looked in {base / 'mobility' / dataset} and "
                        f"{base / dataset} (give --root, the folder holding mobility/)")


def tfidf_logreg(docs: DocumentGraphs, features=None) -> dict:
    """TF-IDF (or given ``features`` [n, d]) + logistic regression on the same split; C picked on validation."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    s = docs.split
    start = time.perf_counter()
    if features is None:
        vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
        Xtr = vec.fit_transform([docs.texts[i] for i in s.train])
        Xva, Xte = (vec.transform([docs.texts[i] for i in idx]) for idx in (s.valid, s.test))
    else:
        Xtr, Xva, Xte = features[s.train], features[s.valid], features[s.test]
    best = None
    for C in (0.1, 1.0, 10.0, 100.0):
        clf = LogisticRegression(C=C, max_iter=2000).fit(Xtr, docs.labels[s.train])
        acc = float((clf.predict(Xva) == docs.labels[s.valid]).mean())
        if best is None or acc > best[0]:
            best = (acc, clf, C)
    pred = best[1].predict(Xte)
    return {"test_acc": float((pred == docs.labels[s.test]).mean()), "test_macro_f1": macro_f1(docs.labels[s.test], pred),
            "valid_acc": best[0], "C": best[2], "train_seconds": time.perf_counter() - start}
