"""Training and evaluation on non-graph data seen as graphs: images (digits), documents (TAG node texts), trajectories.

One plain PyTorch loop (:func:`fit`) serves every model here, graph or not: the benchmark trains dozens of small models
of a few seconds each, where a Lightning ``Trainer`` per run would cost more than the run. Selection is on validation
accuracy; the test score is read at the best validation epoch. :func:`graphcl_pretrain` pre-trains any
:class:`~graphrep.models.modality.GraphEncoder` with GraphCL's augmentations and NT-Xent on unlabelled graphs.

Splits are stratified 60/20/20 with a fixed split seed, the same for every model and training seed.
"""

from __future__ import annotations

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
from graphrep.data.transforms import augment
from graphrep.models.modality import GraphEncoder
from graphrep.objectives import ProjectionHead, nt_xent
from graphrep.train.baselines import markov_scores

__all__ = ["Split", "stratified_split", "load_digits_images", "DocumentGraphs", "prepare_documents",
           "TrajectoryData", "prepare_trajectories", "fit", "graphcl_pretrain", "markov_next_venue", "batches",
           "patch_graph_batcher", "graph_list_batcher"]


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


def _macro_f1(pred: np.ndarray, true: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(true, pred, average="macro"))


def fit(model: nn.Module, make_batch: Callable[[Tensor], tuple[object, Tensor]], split: Split, *, epochs: int,
        lr: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 64, seed: int = 0,
        eval_every: int = 1, topk: int | None = None) -> dict:
    """Train ``model`` with cross-entropy, pick the epoch with the best validation accuracy, report its test scores.

    ``make_batch(indices)`` returns ``(model input, labels)`` for those example indices (labels < 0 count as misses
    and are left out of the loss). Returns ``{"test_acc", "test_macro_f1", "valid_acc", "best_epoch",
    "train_seconds", "curve": [(epoch, train loss, valid acc)], "parameters"}`` (``test_acc@k`` with ``topk``).
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    best = {"valid_acc": -1.0}
    curve = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        total, count = 0.0, 0
        for idx in batches(len(split.train), batch_size, True, gen):
            inputs, y = make_batch(torch.as_tensor(split.train)[idx])
            keep = y >= 0
            if not bool(keep.any()):
                continue
            loss = F.cross_entropy(model(inputs)[keep], y[keep])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + loss.item() * int(keep.sum()), count + int(keep.sum())
        if epoch % eval_every and epoch != epochs:
            continue
        valid = _evaluate(model, make_batch, split.valid, batch_size, topk)
        curve.append((epoch, total / max(count, 1), valid["acc"]))
        if valid["acc"] > best["valid_acc"]:
            best = {"valid_acc": valid["acc"], "best_epoch": epoch,
                    "test": _evaluate(model, make_batch, split.test, batch_size, topk)}
    seconds = time.perf_counter() - start
    test = best["test"]
    out = {"test_acc": test["acc"], "test_macro_f1": test["macro_f1"], "valid_acc": best["valid_acc"],
           "best_epoch": best["best_epoch"], "train_seconds": seconds, "curve": curve,
           "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    if topk:
        out[f"test_acc@{topk}"] = test[f"acc@{topk}"]
    return out


@torch.no_grad()
def _evaluate(model: nn.Module, make_batch, indices: np.ndarray, batch_size: int, topk: int | None) -> dict:
    model.eval()
    preds, trues, hits = [], [], []
    for idx in batches(len(indices), max(batch_size, 256), False):
        inputs, y = make_batch(torch.as_tensor(indices)[idx])
        logits = model(inputs)
        preds.append(logits.argmax(1))
        trues.append(y)
        if topk:
            hits.append((logits.topk(topk, dim=1).indices == y[:, None]).any(1))
    pred, true = torch.cat(preds).numpy(), torch.cat(trues).numpy()
    out = {"acc": float((pred == true).mean()), "macro_f1": _macro_f1(pred, true) if not topk else float("nan")}
    if topk:
        out[f"acc@{topk}"] = float(torch.cat(hits).float().mean())
    return out


def _stash_weights(batch: Batch) -> Batch:
    """Carry ``edge_weight`` through the augmentations (they keep ``edge_attr`` aligned with the kept edges)."""
    w = getattr(batch, "edge_weight", None)
    if w is not None:
        batch = batch.clone()
        batch.edge_attr = w.view(-1, 1)
    return batch


def _restore_weights(view: Batch) -> Batch:
    if getattr(view, "edge_attr", None) is not None:
        view.edge_weight = view.edge_attr.view(-1)
    return view


def graphcl_pretrain(encoder: GraphEncoder, make_graphs: Callable[[Tensor], Batch], num_graphs: int, *,
                     epochs: int, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                     augmentations: Sequence[str] = ("dropN", "subgraph"), ratio: float = 0.2,
                     temperature: float = 0.1) -> dict:
    """GraphCL (You et al. 2020) on unlabelled graphs: two augmented views per graph, a projection head, NT-Xent
    (:func:`graphrep.objectives.nt_xent`). ``make_graphs(indices)`` gives the ``Batch`` of those graphs.

    Returns ``{"losses": per-epoch mean, "seconds"}``; the encoder's weights are updated in place.
    """
    if len(augmentations) != 2:
        raise GraphrepError(f"GraphCL takes two augmentations, got {augmentations!r}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    head = ProjectionHead(encoder.out_dim)
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=lr)
    losses, start = [], time.perf_counter()
    encoder.train()
    for _ in range(epochs):
        total, steps = 0.0, 0
        for idx in batches(num_graphs, batch_size, True, gen):
            if len(idx) < 2:
                continue
            batch = _stash_weights(make_graphs(idx))
            v1 = _restore_weights(augment(batch, augmentations[0], ratio, generator=gen))
            v2 = _restore_weights(augment(batch, augmentations[1], ratio, generator=gen))
            loss = nt_xent(head(encoder(v1)), head(encoder(v2)), temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, steps = total + loss.item(), steps + 1
        losses.append(total / max(steps, 1))
    return {"losses": losses, "seconds": time.perf_counter() - start}


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
    """The transition graph with ``log(1 + count)`` edge weights (raw counts let hub venues swamp GCN sums)."""
    g = Data(edge_index=graph.edge_index, edge_weight=torch.log1p(graph.edge_weight), num_nodes=graph.num_nodes)
    return g


def run_modality(config: ModalityConfig) -> dict:
    """Train the configured graph model on every seed, and the baseline; returns per-seed runs and summaries."""
    from graphrep.models.modality import GraphClassifier, MLPClassifier, NextVenueModel

    c = config
    out: dict = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(c).items()}, "runs": {}}
    if c.kind == "image":
        images, labels, split, make, in_dim = image_task(c.patch_size)
        graph_runs, base_runs = [], []
        for seed in c.seeds:
            torch.manual_seed(seed)
            model = GraphClassifier(10, in_channels=in_dim, conv=c.conv, knn=c.knn, hidden=c.hidden,
                                    layers=c.layers, dropout=c.dropout)
            pre = _maybe_pretrain(model.encoder, lambda i: make(torch.as_tensor(split.train)[i])[0],
                                  len(split.train), c, seed)
            graph_runs.append({**fit(model, make, split, epochs=c.epochs, lr=c.lr, batch_size=c.batch_size,
                                     seed=seed), **pre})
            torch.manual_seed(seed)
            mlp = MLPClassifier(images[0].numel(), c.hidden, 10, c.dropout)
            base_runs.append(fit(mlp, lambda i: (images[i], labels[i]), split, epochs=c.epochs, lr=c.lr,
                                 batch_size=c.batch_size, seed=seed))
        out["runs"] = {"graph": graph_runs, "mlp on pixels": base_runs}
    elif c.kind == "text":
        docs = prepare_documents(c.dataset or "cora", root=_tag_root(c.root), window=c.window,
                                 max_tokens=c.max_tokens,
                                 tokenizer=_tokenizer(c.tokenizer))
        make = graph_list_batcher(docs.graphs, docs.labels)
        enc_args = text_encoder_args(docs, c.tokenizer)
        graph_runs = []
        for seed in c.seeds:
            torch.manual_seed(seed)
            model = GraphClassifier(docs.num_classes, conv=c.conv, knn=c.knn, hidden=c.hidden, layers=c.layers,
                                    dropout=c.dropout, **enc_args)
            pre = _maybe_pretrain(model.encoder, lambda i: Batch.from_data_list(
                [docs.graphs[int(j)] for j in torch.as_tensor(docs.split.train)[i]]), len(docs.split.train), c, seed)
            graph_runs.append({**fit(model, make, docs.split, epochs=c.epochs, lr=c.lr, batch_size=c.batch_size,
                                     seed=seed), **pre})
        out["runs"] = {"graph": graph_runs, "tf-idf + logistic regression": [tfidf_logreg(docs)]}
        out["token_graph_stats"] = dict(docs.builder.stats)
    else:
        folder = _mobility_folder(c.root, c.dataset or "fsq_nyc")
        data, split, make = trajectory_task(folder, c.history)
        graph_runs, base_runs = [], []
        for seed in c.seeds:
            for runs, graph in ((graph_runs, transition_weights(data.graph)), (base_runs, None)):
                torch.manual_seed(seed)
                model = NextVenueModel(data.num_venues, c.hidden, graph=graph, conv=c.conv, layers=c.layers,
                                       dropout=c.dropout)
                runs.append(fit(model, make, split, epochs=c.epochs, lr=c.lr, batch_size=c.batch_size, seed=seed,
                                topk=5))
        markov = markov_next_venue(data, "test")
        out["runs"] = {"graph": graph_runs, "gru without graph": base_runs,
                       "markov": [{"test_acc": markov["acc"], "test_acc@5": markov["acc@5"]}]}
        out["data"] = data.info
    out["summary"] = {name: _summary(runs) for name, runs in out["runs"].items()}
    return out


def _maybe_pretrain(encoder, make_graphs, n: int, c: ModalityConfig, seed: int) -> dict:
    if not c.pretrain_epochs:
        return {}
    res = graphcl_pretrain(encoder, make_graphs, n, epochs=c.pretrain_epochs, seed=seed)
    return {"pretrain_losses": res["losses"], "pretrain_seconds": res["seconds"]}


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
    return {"test_acc": float((pred == docs.labels[s.test]).mean()), "test_macro_f1": _macro_f1(pred, docs.labels[s.test]),
            "valid_acc": best[0], "C": best[2], "train_seconds": time.perf_counter() - start}
