r"""Training and evaluating capacitance models across circuit designs (a plain full-batch loop on the shared engine).

Why a plain loop rather than the Trainer: each design is one small graph (1.5K-6K nodes) trained full-batch, and the
benchmark trains about two hundred such models; the Trainer's per-fit setup and per-step hooks would cost more than
the steps themselves on a 2-core CPU. The loop runs on :class:`graphrep.train.engine.Engine` (Lightning Fabric), which
gives it devices, precision, DDP, checkpoints with the run signature, exact resume and SIGINT/SIGTERM handling.
Under ``--strategy ddp`` every process takes the same full-batch step on the one training design (DDP averages equal
gradients): the result is the single-process one, the extra processes add no speed for a graph this small.

Tasks (labels from :func:`graphrep.data.circuits.graph.build_graph`, on the scaled capacitance axis
:math:`\mathrm{clip}(\log_{10}(C/C_\mathrm{ref})/6, 0, 1)`):

- ``total-cap`` / ``ground-cap``: per-net regression of ``y_total`` / ``y_ground`` (MAE, R², Spearman ρ);
- ``ground-bucket``: 5-class ground capacitance (accuracy, macro-F1);
- ``coupling``: regression of the coupling capacitance of known coupled pairs (:math:`C > 0`);
- ``link``: coupled-or-not for net pairs, negatives sampled among nearby nets (sharing an instance) (ROC-AUC).

Methods: ``gnn-mse`` (MSE / cross entropy), ``gnn-bmse`` (Balanced MSE GAI / balanced softmax, fitted on the training
design's labels), ``circuitgcl`` (:class:`graphrep.models.CircuitGCL` pre-training on unlabelled graphs, then ``gnn-bmse``
fine-tuning from the pre-trained online encoder). Its pre-training set (``TransferConfig.pretrain``,
:func:`pretrain_designs`): ``inductive`` the training designs only (default; the result does not depend on ``--eval``),
``transductive`` the evaluation designs' unlabelled graphs too. Every step is seeded (weights, Balanced MSE's GMM, link
negatives, the validation split) and the designs are visited in a fixed order, so a seed gives the same numbers
twice in one environment. Model selection (``TransferConfig.val_fraction``, ``patience``): a seeded share of the
training labels is held out and the epoch with the lowest validation loss is kept, with early stopping; the evaluation
designs are never looked at before the selected model predicts them. Links use binary cross entropy in
every method (the pairs are sampled 1:1).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, mean_absolute_error, r2_score, roc_auc_score
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrep.data.errors import InvalidInputError
from graphrep.models.circuitgcl import CircuitEncoder, CircuitGCL, CircuitHead
from graphrep.objectives.balanced import BalancedMSE, BalancedSoftmaxLoss
from graphrep.objectives.tail import TailWeights, tail_weighted_mse
from graphrep.ops import CSR
from graphrep.train.checkpoint import refuse_past_total, tensor_digest
from graphrep.train.engine import Engine, LoopCheckpoint, rng_state, set_rng_state
from graphrep.train.metrics import macro_f1
from graphrep.train.selection import BestEpoch

TASKS = {"total-cap": "regression", "ground-cap": "regression", "ground-bucket": "classification",
         "coupling": "pair-regression", "link": "link"}
METHODS = ("gnn-mse", "gnn-bmse", "circuitgcl")
PRETRAIN_SETS = ("inductive", "transductive")
NUM_BUCKETS = 5


@dataclass
class TransferConfig:
    task: str = "total-cap"
    method: str = "circuitgcl"
    epochs: int = 300
    pretrain_epochs: int = 100
    hidden: int = 64
    layers: int = 4
    lr: float = 1e-2
    weight_decay: float = 1e-5
    dropout: float = 0.0
    bmse_mode: str = "gai"
    #: Balanced MSE's initial noise sigma, as a fraction of the training labels' std. The balancing term's weight
    #: grows with sigma^2: at sigma = std it spread the predictions to 2.6x the label std (in-sample R^2 -2.6 on
    #: gcd_sky130hd after 60 epochs, measured); small sigma tends to plain MSE.
    noise_sigma_scale: float = 0.1
    area_prior: bool = True
    #: CircuitGCL's pre-training set: ``"inductive"`` the training design(s) only (the result does not depend on
    #: which designs are evaluated), ``"transductive"`` also the evaluation designs' unlabelled graphs
    pretrain: str = "inductive"
    #: model selection: this share of the training labels (nets, or pairs for the pair tasks; seeded by ``seed``) is
    #: held out of the loss, and the epoch with the lowest validation loss is kept (:func:`holdout_split`,
    #: :class:`graphrep.train.selection.BestEpoch`). 0: no validation, the last epoch is kept (what the
    #: leave-one-design-out benchmark did before selection was added: whole seeds ended on a bad last epoch).
    #: Evaluation designs are never used for it.
    val_fraction: float = 0.2
    #: stop after this many epochs without a better validation loss (0: run every epoch, still select the best)
    patience: int = 20
    #: regression targets standardised by the training labels' mean and std (predictions mapped back)
    standardize: bool = True
    #: gradient-norm clipping per step (0: none, the default: with standardised targets and model selection no seed
    #: diverged in the leave-one-design-out trials, and a clip of 1 slowed 60-epoch training down; kept as a knob)
    grad_clip: float = 0.0
    #: tail-weighted MSE for ``gnn-mse`` regressions (:mod:`graphrep.objectives.tail`): labels at or above the
    #: training labels' 80th percentile weigh ``1 + tail_weight`` (weights normalised to mean 1); 0: plain MSE
    tail_weight: float = 0.0
    seed: int = 0

    def check(self) -> None:
        if self.task not in TASKS:
            raise InvalidInputError(f"unknown task {self.task!r} (known: {', '.join(TASKS)})")
        if self.method not in METHODS:
            raise InvalidInputError(f"unknown method {self.method!r} (known: {', '.join(METHODS)})")
        if self.pretrain not in PRETRAIN_SETS:
            raise InvalidInputError(f"unknown pre-training set {self.pretrain!r} (known: {', '.join(PRETRAIN_SETS)})")
        if not 0.0 <= self.val_fraction < 1.0:
            raise InvalidInputError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.patience < 0 or self.grad_clip < 0 or self.tail_weight < 0:
            raise InvalidInputError(f"patience, grad_clip and tail_weight must be >= 0, got {self.patience}, "
                                    f"{self.grad_clip}, {self.tail_weight}")


@dataclass
class CircuitInputs:
    """One design's tensors. ``x`` [N, F] and ``csr`` are the homogeneous graph; ``net_index`` [M] its net nodes;
    ``net_x`` [M, F_net]; labels per net [M] with ``mask``; ``pairs`` [2, P] coupled pairs with :math:`C > 0` and
    ``pair_y`` [P]; ``link_pairs`` [2, L] with ``link_y`` [L] (1 coupled, 0 sampled nearby non-coupled)."""

    name: str
    x: Tensor
    csr: CSR
    net_index: Tensor
    net_x: Tensor
    degree: Tensor
    y_total: Tensor
    y_ground: Tensor
    bucket: Tensor
    mask: Tensor
    pairs: Tensor
    pair_y: Tensor
    link_pairs: Tensor
    link_y: Tensor
    prior_offset: float | None = None

    def to(self, device: torch.device) -> "CircuitInputs":
        """The same design with its tensors on ``device`` (itself on the CPU, which keeps the CSR's caches)."""
        if torch.device(device).type == "cpu":
            return self
        import dataclasses

        moved = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        moved = {k: v.to(device) if isinstance(v, (Tensor, CSR)) else v for k, v in moved.items()}
        return CircuitInputs(**moved)

    def digest(self) -> str:
        """Checksum of the design's graph, features and labels (for run signatures)."""
        return tensor_digest(self.x, self.csr.rowptr, self.csr.col, self.net_x, self.y_total, self.y_ground,
                             self.mask, self.pairs, self.pair_y, self.link_pairs, self.link_y)

    def target(self, task: str) -> tuple[Tensor, Tensor | None]:
        """(labels, index): per-net labels over the labelled nets, or per-pair labels and their pairs."""
        if task == "total-cap":
            return self.y_total[self.mask], None
        if task == "ground-cap":
            return self.y_ground[self.mask], None
        if task == "ground-bucket":
            return self.bucket[self.mask], None
        if task == "coupling":
            return self.pair_y, self.pairs
        return self.link_y, self.link_pairs


def area_prior_offset(data: HeteroData) -> float | None:
    r"""The technology prior on the scaled-capacitance axis: :math:`\tfrac12 \log_{10}(\bar A / 1\,\mu m^2) / D`,
    :math:`\bar A` the design's mean cell area from Liberty or LEF; ``None`` when no library gives areas, and then
    a model uses its training design's offset (it assumes the same technology scale). Wire length scales with the cell
    pitch :math:`\propto \sqrt{\bar A}` and wire capacitance per micron varies little between nodes, so regression
    targets are learnt relative to this offset (``TransferConfig.area_prior``): it is a design constant, which no
    model trained on one design could learn from its features."""
    from graphrep.data.circuits.graph import NET_FEATURES

    x = data["net"].x
    if x.size(0) == 0 or x[0, NET_FEATURES.index("has_cell_area")] < 0.5:
        return None
    log_area = float(x[0, NET_FEATURES.index("log_mean_cell_area_um2")])
    return 0.5 * log_area / math.log(10) / float(getattr(data, "label_decades", 6.0))


def uses_prior(task: str, enabled: bool) -> bool:
    """Whether ``task``'s labels are learnt relative to :func:`area_prior_offset` (capacitance regressions only)."""
    return enabled and TASKS[task] in ("regression", "pair-regression")


def nearby_pairs(data: HeteroData) -> set[tuple[int, int]]:
    """Net pairs ``(a, b)``, ``a < b``, that share an instance (two hops through a cell)."""
    pin_net = data["pin", "on", "net"].edge_index
    inst_pin = data["instance", "has", "pin"].edge_index
    net_of_pin = torch.empty(data["pin"].num_nodes, dtype=torch.long)
    net_of_pin[pin_net[0]] = pin_net[1]
    by_inst: dict[int, set[int]] = {}
    for i, p in inst_pin.t().tolist():
        by_inst.setdefault(i, set()).add(int(net_of_pin[p]))
    out: set[tuple[int, int]] = set()
    for nets in by_inst.values():
        s = sorted(nets)
        out.update((s[i], s[j]) for i in range(len(s)) for j in range(i + 1, len(s)))
    return out


def prepare(data: HeteroData, seed: int = 0) -> CircuitInputs:
    """Tensors of one circuit graph; link negatives drawn (seeded) among nearby non-coupled pairs, topped up with
    random non-coupled pairs, as many as the positives."""
    from graphrep.data.circuits.graph import homogeneous

    h = homogeneous(data)
    net = data["net"]
    m = net.num_nodes
    net_index = torch.arange(h.net_offset, h.net_offset + m)
    degree = torch.bincount(data["pin", "on", "net"].edge_index[1], minlength=m).float()
    ci, cap = data.coupling_index, data.coupling_cap
    positive = cap > 0
    pairs, pair_y = ci[:, positive], data.coupling_y[positive]
    listed = {tuple(p) for p in ci.t().tolist()}
    gen = np.random.default_rng(seed)
    candidates = sorted(nearby_pairs(data) - listed)
    n_pos = pairs.size(1)
    chosen = [candidates[k] for k in gen.permutation(len(candidates))[:n_pos]]
    tries = 0
    while len(chosen) < n_pos and tries < 100 * n_pos + 100:
        a, b = sorted(gen.integers(0, m, 2).tolist())
        tries += 1
        if a != b and (a, b) not in listed and (a, b) not in chosen:
            chosen.append((a, b))
    neg = torch.tensor(chosen, dtype=torch.long).reshape(-1, 2).t()
    return CircuitInputs(prior_offset=area_prior_offset(data),
        name=str(getattr(data, "design", "design")), x=h.x, csr=CSR.from_edge_index(h.edge_index, (h.num_nodes,) * 2),
        net_index=net_index, net_x=net.x, degree=degree, y_total=net.y_total, y_ground=net.y_ground,
        bucket=net.ground_bucket, mask=net.label_mask, pairs=pairs, pair_y=pair_y,
        link_pairs=torch.cat([pairs, neg], 1), link_y=torch.cat([torch.ones(n_pos), torch.zeros(neg.size(1))]))


def union_inputs(parts: list[CircuitInputs], relative_to_prior: bool = True, name: str | None = None) -> CircuitInputs:
    r"""Several designs as one disjoint graph, to train one model on all of them full-batch.

    Node, net and pair indices are offset per design; the CSR is rebuilt over the concatenated edges. With
    ``relative_to_prior`` the capacitance labels (``y_total``, ``y_ground``, ``pair_y``) are stored relative to each
    design's own technology prior, :math:`y - o_d` (:func:`area_prior_offset`, 0 where a design has none), and the
    union's ``prior_offset`` is 0: a model trained on it predicts :math:`y - o` and :func:`predict` adds the evaluation
    design's own :math:`o`. Without it the labels are unchanged (for models that use no prior, as ``pin-count``)."""
    xs, edges, net_index, pairs, link_pairs = [], [], [], [], []
    node_off = net_off = 0
    shift = [(p.prior_offset or 0.0) if relative_to_prior else 0.0 for p in parts]
    for p in parts:
        edges.append(p.csr.edge_index() + node_off)
        net_index.append(p.net_index + node_off)
        pairs.append(p.pairs + net_off)
        link_pairs.append(p.link_pairs + net_off)
        node_off += p.x.size(0)
        net_off += p.net_x.size(0)
        xs.append(p.x)

    def cat(field: str, shifted: bool = False) -> Tensor:
        return torch.cat([getattr(p, field) - o if shifted else getattr(p, field) for p, o in zip(parts, shift)])

    return CircuitInputs(
        name=name or "+".join(p.name for p in parts), x=torch.cat(xs),
        csr=CSR.from_edge_index(torch.cat(edges, 1), (node_off, node_off)), net_index=torch.cat(net_index),
        net_x=cat("net_x"), degree=cat("degree"), y_total=cat("y_total", True), y_ground=cat("y_ground", True),
        bucket=cat("bucket"), mask=cat("mask"), pairs=torch.cat(pairs, 1), pair_y=cat("pair_y", True),
        link_pairs=torch.cat(link_pairs, 1), link_y=cat("link_y"), prior_offset=0.0 if relative_to_prior else None)


def subsample_nets(inputs: CircuitInputs, fraction: float, hops: int, seed: int = 0) -> CircuitInputs:
    r"""A random ``fraction`` of the design's labelled nets (seeded) with the part of the graph they see: the nodes
    within ``hops`` in-edges of them (:func:`torch_geometric.utils.k_hop_subgraph`) and the edges among those nodes.

    With ``hops`` equal to the encoder's layer count, a model's outputs on the kept nets are those it gives on the
    whole graph (each layer aggregates in-neighbours only, and every in-neighbour a kept net depends on is kept), so
    this cuts a large training design's cost without changing what is learnt from the nets kept. Nets inside the
    neighbourhood but not drawn stay as unlabelled nodes (``mask`` False); pairs are kept where both nets are."""
    from torch_geometric.utils import k_hop_subgraph

    labelled = inputs.mask.nonzero().squeeze(1)
    gen = torch.Generator().manual_seed(seed)
    take = max(1, int(round(fraction * labelled.numel())))
    chosen = labelled[torch.randperm(labelled.numel(), generator=gen)[:take]]
    n = inputs.x.size(0)
    subset, _, _, _ = k_hop_subgraph(inputs.net_index[chosen], hops, inputs.csr.edge_index(), num_nodes=n)
    node_new = torch.full((n,), -1, dtype=torch.long)
    node_new[subset] = torch.arange(subset.numel())
    edges = node_new[inputs.csr.edge_index()]
    edges = edges[:, (edges >= 0).all(0)]
    nets = (node_new[inputs.net_index] >= 0).nonzero().squeeze(1)
    net_new = torch.full((inputs.net_x.size(0),), -1, dtype=torch.long)
    net_new[nets] = torch.arange(nets.numel())
    mask = torch.zeros_like(inputs.mask)
    mask[chosen] = True

    def pairs_of(p: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        keep = (net_new[p] >= 0).all(0)
        return net_new[p[:, keep]], y[keep]

    pairs, pair_y = pairs_of(inputs.pairs, inputs.pair_y)
    link_pairs, link_y = pairs_of(inputs.link_pairs, inputs.link_y)
    return CircuitInputs(
        name=inputs.name, x=inputs.x[subset], csr=CSR.from_edge_index(edges, (subset.numel(),) * 2),
        net_index=node_new[inputs.net_index[nets]], net_x=inputs.net_x[nets], degree=inputs.degree[nets],
        y_total=inputs.y_total[nets], y_ground=inputs.y_ground[nets], bucket=inputs.bucket[nets], mask=mask[nets],
        pairs=pairs, pair_y=pair_y, link_pairs=link_pairs, link_y=link_y, prior_offset=inputs.prior_offset)


def cap_labelled_nets(inputs: CircuitInputs, max_nets: int | None, hops: int) -> CircuitInputs:
    """The design itself when it has at most ``max_nets`` labelled nets (or ``max_nets`` is None), else
    :func:`subsample_nets` of that many (seed 0: the same nets for every model seed)."""
    n = int(inputs.mask.sum())
    if max_nets is None or n <= max_nets:
        return inputs
    return subsample_nets(inputs, max_nets / n, hops, seed=0)


def training_set(designs: list[CircuitInputs], max_nets: int | None, hops: int,
                 relative_to_prior: bool = True) -> CircuitInputs:
    """What one model trains on when given several designs: each capped (:func:`cap_labelled_nets`), then joined
    (:func:`union_inputs`); a single design is only capped."""
    parts = [cap_labelled_nets(d, max_nets, hops) for d in designs]
    return union_inputs(parts, relative_to_prior) if len(parts) > 1 else parts[0]


def _labelled_nets(inputs: CircuitInputs) -> Tensor:
    return inputs.net_index[inputs.mask]


def build_head(inputs: CircuitInputs, cfg: TransferConfig, encoder_state: dict | None = None) -> CircuitHead:
    encoder = CircuitEncoder(inputs.x.size(1), cfg.hidden, cfg.layers, cfg.dropout)
    if encoder_state is not None:
        encoder.load_state_dict(encoder_state)
    kind = "pair" if TASKS[cfg.task] in ("pair-regression", "link") else "net"
    out_dim = NUM_BUCKETS if cfg.task == "ground-bucket" else 1
    return CircuitHead(encoder, inputs.net_x.size(1), kind, out_dim, cfg.dropout)


def _forward(model: CircuitHead, inputs: CircuitInputs, task: str) -> Tensor:
    """Raw outputs: [M_labelled] regression, [M_labelled, C] logits, or [P] pair outputs."""
    if TASKS[task] in ("pair-regression", "link"):
        _, pairs = inputs.target(task)
        return model(inputs.x, inputs.csr, inputs.net_index, inputs.net_x, pairs)
    sel = inputs.mask
    out = model(inputs.x, inputs.csr, inputs.net_index[sel], inputs.net_x[sel])
    return out if task == "ground-bucket" else out.squeeze(-1)


def make_loss(y: Tensor, cfg: TransferConfig):
    """The training criterion for ``cfg.task`` and ``cfg.method`` (see the module docstring); ``y`` are the labels it
    trains on, as the model regresses them (relative to the prior and standardised: :func:`training_targets`)."""
    balanced = cfg.method in ("gnn-bmse", "circuitgcl")
    kind = TASKS[cfg.task]
    if kind == "link":
        return lambda out, y: F.binary_cross_entropy_with_logits(out, y)
    if kind == "classification":
        return BalancedSoftmaxLoss(y, NUM_BUCKETS) if balanced else (lambda out, y: F.cross_entropy(out, y))
    if balanced:
        return BalancedMSE(y, mode=cfg.bmse_mode, init_noise_sigma=cfg.noise_sigma_scale * max(float(y.std()), 1e-2),
                           seed=cfg.seed)
    if cfg.tail_weight > 0:
        return tail_weighted_mse(TailWeights(y, cfg.tail_weight))
    return lambda out, y: F.mse_loss(out, y)


def validation_loss(out: Tensor, y: Tensor, task: str) -> float:
    """The selection criterion, the same for every method (Balanced MSE is selected by plain MSE, the error that R²
    reports): MSE (regressions), cross entropy (buckets), binary cross entropy (links)."""
    kind = TASKS[task]
    if kind == "link":
        return float(F.binary_cross_entropy_with_logits(out.float(), y.float()))
    if kind == "classification":
        return float(F.cross_entropy(out.float(), y))
    return float(F.mse_loss(out.float(), y.float()))


def holdout_split(inputs: CircuitInputs, task: str, fraction: float, seed: int = 0
                  ) -> tuple[CircuitInputs, CircuitInputs | None]:
    """(train, validation): a seeded ``fraction`` of ``task``'s labelled items moved out of the training view into a
    validation view of the same graph (nets: the label masks split; pairs: the pair lists split). The graph and every
    feature are shared: the validation nets stay in the graph as unlabelled nodes, as any net of an evaluation design
    is. ``(inputs, None)`` when ``fraction`` is 0 or too few items leave at least 2 to train on and 1 to validate."""
    import dataclasses

    if fraction <= 0:
        return inputs, None
    gen = torch.Generator().manual_seed(int(seed))
    if TASKS[task] in ("pair-regression", "link"):
        names = ("pairs", "pair_y") if task == "coupling" else ("link_pairs", "link_y")
        pairs, y = getattr(inputs, names[0]), getattr(inputs, names[1])
        n = pairs.size(1)
        k = int(round(fraction * n))
        if k < 1 or n - k < 2:
            return inputs, None
        perm = torch.randperm(n, generator=gen)
        val, keep = perm[:k].sort().values, perm[k:].sort().values
        return (dataclasses.replace(inputs, **{names[0]: pairs[:, keep], names[1]: y[keep]}),
                dataclasses.replace(inputs, **{names[0]: pairs[:, val], names[1]: y[val]}))
    labelled = inputs.mask.nonzero().squeeze(1)
    n = labelled.numel()
    k = int(round(fraction * n))
    if k < 1 or n - k < 2:
        return inputs, None
    val_mask = torch.zeros_like(inputs.mask)
    val_mask[labelled[torch.randperm(n, generator=gen)[:k]]] = True
    return dataclasses.replace(inputs, mask=inputs.mask & ~val_mask), dataclasses.replace(inputs, mask=val_mask)


def training_targets(inputs: CircuitInputs, cfg: TransferConfig, scale: tuple[float, float] | None = None
                     ) -> tuple[Tensor, tuple[float, float]]:
    """``inputs``' labels for ``cfg.task`` as the model regresses them, and the (mean, std) used: relative to the
    design's prior (:func:`uses_prior`), then standardised (``cfg.standardize``, regressions only) by ``scale`` or,
    when ``scale`` is None, by these labels' own mean and std (the training labels)."""
    y, _ = inputs.target(cfg.task)
    if uses_prior(cfg.task, cfg.area_prior):
        y = y - (inputs.prior_offset or 0.0)
    if not (cfg.standardize and TASKS[cfg.task] in ("regression", "pair-regression")):
        return y, (0.0, 1.0)
    if scale is None:
        scale = (float(y.mean()), max(float(y.std()), 1e-6) if y.numel() > 1 else 1.0)
    return (y - scale[0]) / scale[1], scale


class _Objective(torch.nn.Module):
    """The head and (when it has parameters, as Balanced MSE does) the criterion, as one module whose forward is the
    training loss: what the engine wraps, so that DDP averages the criterion's gradients too."""

    def __init__(self, head: CircuitHead, criterion, task: str):
        super().__init__()
        self.head, self.task = head, task
        if isinstance(criterion, torch.nn.Module):
            self.criterion = criterion
        else:
            self._criterion = criterion

    def forward(self, inputs: CircuitInputs, y: Tensor) -> Tensor:
        criterion = self.criterion if "criterion" in self._modules else self._criterion
        return criterion(_forward(self.head, inputs, self.task), y)


def _loop_state(phase: str, epoch: int, module: torch.nn.Module, opt, selection: BestEpoch | None = None) -> dict:
    state = {"phase": phase, "epoch": epoch, "model": module.state_dict(), "optimizer": opt.state_dict(),
             "rng": rng_state()}
    if selection is not None:
        state["selection"] = selection.state_dict()
    return state


def _restore(resumed: dict | None, phase: str, module: torch.nn.Module, opt, total: int) -> int:
    """Load ``resumed`` (a loop state of ``phase``) into module and optimiser; the epoch to continue from. A state
    already past ``total`` epochs is refused: the run would report ``total`` epochs for a model trained longer."""
    if resumed is None or resumed.get("phase") != phase:
        return 0
    refuse_past_total(resumed["epoch"], total, phase, "--pretrain-epochs" if phase == "pretrain" else "--epochs")
    module.load_state_dict(resumed["model"])
    opt.load_state_dict(resumed["optimizer"])
    set_rng_state(resumed["rng"])
    return int(resumed["epoch"])


def pretrain_designs(train_names: list[str], eval_names: list[str], cfg: TransferConfig) -> list[str]:
    """The designs CircuitGCL pre-trains on (labels unused), in a fixed order: the training designs, then (transductive
    only) the evaluation designs not among them."""
    names = list(train_names) + (list(eval_names) if cfg.pretrain == "transductive" else [])
    return list(dict.fromkeys(names))


def pretrain_encoder(graphs: list[CircuitInputs], cfg: TransferConfig, engine: Engine | None = None,
                     checkpoint: LoopCheckpoint | None = None, resumed: dict | None = None) -> dict:
    """CircuitGCL pre-training on unlabelled graphs (labels unused); returns the online encoder's state.

    ``checkpoint`` (optional) receives the loop state every ``checkpoint.every`` epochs and on interrupt;
    ``resumed`` (a ``"pretrain"`` loop state) continues from its epoch."""
    engine = engine or Engine()
    torch.manual_seed(cfg.seed)
    model = CircuitGCL(graphs[0].x.size(1), cfg.hidden, cfg.layers)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    start = _restore(resumed, "pretrain", model, opt, cfg.pretrain_epochs)
    wrapped, opt = engine.setup(model, opt)
    wrapped.mark_forward_method("pretrain_loss")
    graphs = [g.to(engine.device) for g in graphs]
    with engine.interruptible():
        for epoch in range(start, cfg.pretrain_epochs):
            for g in graphs:
                opt.zero_grad()
                loss, _ = wrapped.pretrain_loss(g.x, g.csr)
                engine.backward(loss)
                opt.step()
                model.update_target()
            if checkpoint is not None and checkpoint.due(epoch):
                checkpoint.save(_loop_state("pretrain", epoch + 1, model, opt))
            engine.check_interrupt(checkpoint, lambda: _loop_state("pretrain", epoch + 1, model, opt))
    return {k: v.detach().cpu().clone() for k, v in model.online.state_dict().items()}


def train_model(train: CircuitInputs, cfg: TransferConfig, encoder_state: dict | None = None,
                engine: Engine | None = None, checkpoint: LoopCheckpoint | None = None,
                resumed: dict | None = None, val: CircuitInputs | None = None) -> CircuitHead:
    """Full-batch training on one design's labelled nets (or pairs), at most ``cfg.epochs`` steps, keeping the
    epoch with the lowest validation loss.

    Validation: ``val`` when given (labelled items the training never sees, e.g. other training designs), else a
    ``cfg.val_fraction`` share of ``train``'s own labels (:func:`holdout_split`, seeded by ``cfg.seed``); after each
    step the validation loss (:func:`validation_loss`) is measured, the best epoch's weights are kept and the loop
    stops after ``cfg.patience`` epochs without improvement (:class:`~graphrep.train.selection.BestEpoch`). Without
    validation (``val_fraction`` 0 or too few labels) the last epoch is kept. Regression targets are relative to the
    prior and standardised by the training labels (:func:`training_targets`); gradients are clipped to
    ``cfg.grad_clip``. The model carries ``selection`` (best epoch, its validation loss, epochs run).

    ``engine``: devices, precision, DDP (default: one CPU process); ``checkpoint`` receives the loop state every
    ``checkpoint.every`` steps and on interrupt; ``resumed`` (a ``"train"`` loop state) continues from its step. The
    model is returned in eval mode, on the engine's device."""
    cfg.check()
    engine = engine or Engine()
    if val is None:
        train, val = holdout_split(train, cfg.task, cfg.val_fraction, cfg.seed)
    torch.manual_seed(cfg.seed)
    model = build_head(train, cfg, encoder_state)
    y, scale = training_targets(train, cfg)
    if y.numel() < 2:
        raise InvalidInputError(f"design {train.name}: fewer than 2 labels for task {cfg.task}")
    model.prior_offset = train.prior_offset or 0.0
    model.target_scale = scale
    criterion = make_loss(y, cfg)
    params = list(model.parameters()) + (list(criterion.parameters()) if isinstance(criterion, torch.nn.Module) else [])
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    objective = _Objective(model, criterion, cfg.task)
    start = _restore(resumed, "train", objective, opt, cfg.epochs)
    selection = BestEpoch(cfg.patience) if val is not None else None
    if selection is not None and resumed is not None and resumed.get("phase") == "train" and "selection" in resumed:
        selection.load_state_dict(resumed["selection"])
    wrapped, opt = engine.setup(objective, opt)
    train, y = train.to(engine.device), y.to(engine.device)
    if val is not None:
        val_y = training_targets(val, cfg, scale)[0].to(engine.device)
        val = val.to(engine.device)
    model.train()
    with engine.interruptible():
        for epoch in range(start, cfg.epochs):
            if selection is not None and selection.stop:
                break
            opt.zero_grad()
            loss = wrapped(train, y)
            engine.backward(loss)
            if cfg.grad_clip > 0:
                engine.clip_gradients(wrapped, opt, cfg.grad_clip)
            opt.step()
            if selection is not None:
                model.eval()
                with torch.no_grad():
                    selection.update(epoch, validation_loss(_forward(model, val, cfg.task), val_y, cfg.task), objective)
                model.train()
            if checkpoint is not None and (checkpoint.due(epoch) or (selection is not None and selection.stop)):
                checkpoint.save(_loop_state("train", epoch + 1, objective, opt, selection))
            engine.check_interrupt(checkpoint, lambda: _loop_state("train", epoch + 1, objective, opt, selection))
    if selection is not None:
        selection.restore(objective)
        model.selection = selection.summary()
    else:
        model.selection = {"best_epoch": cfg.epochs - 1, "best_val": float("nan"), "epochs_run": cfg.epochs}
    model.eval()
    return model


#: the share of items, largest true capacitance first, that the large-net metrics look at
LARGE_FRACTION = 0.2


def large_net_metrics(y_true: np.ndarray, y_pred: np.ndarray, fraction: float = LARGE_FRACTION,
                      decades: float = 6.0) -> dict[str, float]:
    r"""Metrics on the nets that set timing: the top ``fraction`` of items by true label (``k = ceil(fraction n)``,
    ties broken by a stable sort on the label).

    - ``r2_top20``, ``spearman_top20``: R² and Spearman ρ over those ``k`` items;
    - ``mae_top20_decades``: their mean absolute error in decades of capacitance, :math:`D \cdot |\hat y - y|` (the
      labels are :math:`\log_{10}(C / C_\mathrm{ref}) / D`);
    - ``recall_top20``: :math:`|\mathrm{top}_k(y) \cap \mathrm{top}_k(\hat y)| / k`, how many of the true largest nets
      the model also ranks among its ``k`` largest (chance: ``fraction``)."""
    n = len(y_true)
    k = max(1, int(math.ceil(fraction * n)))
    true_top = np.argsort(-y_true, kind="stable")[:k]
    pred_top = np.argsort(-y_pred, kind="stable")[:k]
    yt, yp = y_true[true_top], y_pred[true_top]
    r2 = float(r2_score(yt, yp)) if k > 1 and np.std(yt) > 0 else float("nan")
    rho = float(spearmanr(yt, yp).statistic) if k > 1 and np.std(yp) > 0 and np.std(yt) > 0 else 0.0
    return {"r2_top20": r2, "mae_top20_decades": float(decades * np.mean(np.abs(yp - yt))), "spearman_top20": rho,
            "recall_top20": len(set(true_top.tolist()) & set(pred_top.tolist())) / k}


def metrics(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, R², Spearman ρ and the large-net metrics (:func:`large_net_metrics`) (regression); accuracy, macro-F1
    (buckets; ``y_pred`` class ids); ROC-AUC (links)."""
    kind = TASKS[task]
    if kind in ("regression", "pair-regression"):
        rho = spearmanr(y_true, y_pred).statistic if np.std(y_pred) > 0 else 0.0
        return {"mae": float(mean_absolute_error(y_true, y_pred)), "r2": float(r2_score(y_true, y_pred)),
                "spearman": float(rho), **large_net_metrics(np.asarray(y_true), np.asarray(y_pred))}
    if kind == "classification":
        return {"accuracy": float(accuracy_score(y_true, y_pred)),
                "macro_f1": macro_f1(y_true, y_pred, labels=range(NUM_BUCKETS))}
    return {"roc_auc": float(roc_auc_score(y_true, y_pred)) if len(set(y_true.tolist())) == 2 else float("nan")}


def ensemble_metrics(task: str, y_true: np.ndarray, predictions: list[np.ndarray]) -> dict[str, float]:
    r""":func:`metrics` of the seed ensemble: the mean of several models' predictions on one design,
    :math:`\bar y_i = \tfrac1K \sum_k \hat y_{k,i}` (equal weights, fixed in advance; regressions only: a mean of
    class ids is no class). Shapes: ``predictions`` K arrays [M] -> metrics of the [M] mean."""
    if TASKS[task] not in ("regression", "pair-regression"):
        raise InvalidInputError(f"an ensemble mean is defined for the regression tasks, not {task!r}")
    if not predictions:
        raise InvalidInputError("an ensemble needs at least one model's predictions")
    return metrics(task, y_true, np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in predictions]), axis=0))


@torch.no_grad()
def predict(model: CircuitHead, inputs: CircuitInputs, task: str,
            area_prior: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(true, predicted) on one design: scaled capacitances, class ids, or link scores."""
    inputs = inputs.to(next(model.parameters()).device)
    out = _forward(model, inputs, task)
    y, _ = inputs.target(task)
    if task == "ground-bucket":
        out = out.argmax(-1)
    elif TASKS[task] != "link":
        mean, std = getattr(model, "target_scale", (0.0, 1.0))
        out = out * std + mean
    if task != "ground-bucket" and uses_prior(task, area_prior):
        out = out + (inputs.prior_offset if inputs.prior_offset is not None else model.prior_offset)
    return y.cpu().numpy(), out.float().cpu().numpy()


def load_graphs(names: list[str], root=None, placement: bool = False) -> dict:
    """Registered design names or folders -> their circuit graphs (``HeteroData``), in order; a name ending in
    ``@transistor`` (``gcd_sky130hd@transistor``) gives the design's transistor-level graph
    (:func:`graphrep.data.circuits.transistor.transistor_graph`)."""
    from graphrep.data.circuits.dataset import load_design
    from graphrep.data.circuits.graph import build_graph
    from graphrep.data.circuits.transistor import split_level, transistor_graph

    out = {}
    for n in names:
        design, level = split_level(str(n))
        build = transistor_graph if level == "transistor" else build_graph
        out[n] = build(load_design(design, root=root), placement=placement)[0]
    return out


def scatter_plot(path: Path, title: str, y_true: np.ndarray, y_pred: np.ndarray, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4))
    if task == "ground-bucket":
        jitter = np.random.default_rng(0).uniform(-0.2, 0.2, (2, len(y_true)))
        ax.scatter(y_true + jitter[0], y_pred + jitter[1], s=5, alpha=0.4)
    else:
        ax.scatter(y_true, y_pred, s=5, alpha=0.4)
        if task != "link":
            lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="prediction = truth")
            ax.legend(fontsize=7, loc="upper left")
    unit = {"ground-bucket": "class (0-4, jittered)", "link": "coupled pair (0/1)"}.get(
        task, "scaled: clip(log10(C / 1 aF) / 6, 0, 1)")  # the label scale of the circuit graphs
    ax.set_xlabel(f"true, {unit}", fontsize=8)
    ax.set_ylabel(f"predicted, {unit}" if task != "link" else "predicted score", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_signature(train_name: str, cfg: TransferConfig, inputs: dict[str, CircuitInputs]) -> dict:
    """What a checkpoint must share with a run to continue it: the config (seed included), the training design and
    the checksums of the designs the training sees (all of them for CircuitGCL's pre-training). The epoch counts are
    not part of it: a resumed run may be given more (or fewer) epochs."""
    seen = ({n: inputs[n] for n in pretrain_designs([train_name], list(inputs), cfg)} if cfg.method == "circuitgcl"
            else {train_name: inputs[train_name]})
    config = {k: v for k, v in asdict(cfg).items() if k not in ("epochs", "pretrain_epochs")}
    return {"command": "circuit train", "train": train_name, "config": config,
            "designs": {name: x.digest() for name, x in seen.items()}}


def fit_seed(train_name: str, inputs: dict[str, CircuitInputs], cfg: TransferConfig, engine: Engine | None = None,
             checkpoint_path: Path | None = None, resume: str | None = None, checkpoint_every: int = 50
             ) -> CircuitHead:
    """Pre-train (CircuitGCL) and train one seed on the engine, with checkpoints at ``checkpoint_path`` (every
    ``checkpoint_every`` steps and on interrupt) and resume from ``resume`` (a checkpoint of the same run)."""
    engine = engine or Engine()
    checkpoint = LoopCheckpoint(engine, checkpoint_path, run_signature(train_name, cfg, inputs), checkpoint_every,
                                resume=resume)
    resumed = checkpoint.resumed_state()
    state = None
    if cfg.method == "circuitgcl" and (resumed is None or resumed.get("phase") == "pretrain"):
        state = pretrain_encoder([inputs[n] for n in pretrain_designs([train_name], list(inputs), cfg)], cfg, engine,
                                 checkpoint, resumed)
    return train_model(inputs[train_name], cfg, state, engine, checkpoint, resumed)


def _mean_metrics(runs: list[dict]) -> dict:
    """Per design and metric, the mean over the seeds' runs."""
    return {name: {m: float(np.mean([r["eval"][name][m] for r in runs])) for m in runs[0]["eval"][name]}
            for name in runs[0]["eval"]}


def run_cli_training(train_name: str | list[str], eval_names: list[str], cfg: TransferConfig, out_dir, root=None,
                     seeds: list[int] | None = None, engine: Engine | None = None, resume: str | None = None,
                     checkpoint_every: int = 50, max_train_nets: int | None = None) -> dict:
    """``graphrep circuit train``: train on one design (or several, joined by :func:`training_set`, each capped at
    ``max_train_nets`` labelled nets), evaluate on each of ``eval_names``, per seed (default ``[cfg.seed]``); writes
    ``metrics.json`` (``runs``: per seed; ``eval``: the mean over seeds; ``ensemble``: the metrics of the seeds'
    mean prediction, :func:`ensemble_metrics`, for regressions with several seeds) and ``scatter_<design>.png``
    (first seed) into ``out_dir``, a checkpoint per seed in ``out_dir/checkpoints``; returns the metrics."""
    from dataclasses import replace

    cfg.check()
    engine = engine or Engine()
    seeds = list(seeds) if seeds is not None else [cfg.seed]
    start = time.perf_counter()
    out = Path(out_dir)
    train_names = [train_name] if isinstance(train_name, str) else list(dict.fromkeys(train_name))
    joined = len(train_names) > 1 or max_train_nets is not None
    # a training set made of several (or capped) designs gets its own name, so that it never replaces an eval design
    train_name = "+".join(train_names) + (f"[max {max_train_nets} nets]" if max_train_nets is not None else "") \
        if joined else train_names[0]
    graphs = load_graphs(list(dict.fromkeys([*train_names, *eval_names])), root=root)
    runs, predictions, truth = [], {n: [] for n in eval_names}, {}
    for seed in seeds:
        seed_cfg = replace(cfg, seed=seed)
        prepared = {n: prepare(g, seed=seed) for n, g in graphs.items()}
        inputs = {train_name: training_set([prepared[n] for n in train_names], max_train_nets, cfg.layers)
                  if joined else prepared[train_name], **{n: prepared[n] for n in eval_names}}
        for name, data in inputs.items():  # before any training: a design without labels cannot be scored
            labels = data.target(cfg.task)[0].numel()
            if labels < 2:
                what = "coupled net pairs" if cfg.task == "coupling" else "labelled nets"
                raise InvalidInputError(f"design {name}: {labels} {what} for task {cfg.task} (at least 2 needed to "
                                        f"{'train' if name == train_name else 'evaluate'}); choose another design "
                                        "or task")
        try:
            model = fit_seed(train_name, inputs, seed_cfg, engine, out / "checkpoints" / f"seed{seed}.pt",
                             resume=resume, checkpoint_every=checkpoint_every)
        except KeyboardInterrupt as exc:
            if hasattr(exc, "resume_flags"):
                exc.resume_flags["--seeds"] = str(seed)
            raise
        run = {"seed": seed, "selection": getattr(model, "selection", None), "eval": {}}
        with engine.autocast():
            for name in eval_names:
                y, p = predict(model, inputs[name], cfg.task, cfg.area_prior)
                run["eval"][name] = metrics(cfg.task, y, p)
                truth[name] = y
                predictions[name].append(p)
                if seed == seeds[0] and engine.is_global_zero:
                    scatter_plot(out / f"scatter_{Path(name).name}.png",
                                 f"{cfg.method} {cfg.task}: {train_name} -> {name}", y, p, cfg.task)
        runs.append(run)
    results = {"config": asdict(replace(cfg, seed=seeds[0])), "seeds": seeds, "train": train_name,
               "train_designs": train_names, "max_train_nets": max_train_nets,
               "pretrain_designs": pretrain_designs([train_name], eval_names, cfg) if cfg.method == "circuitgcl"
               else [],
               "eval": _mean_metrics(runs), "runs": runs,
               # the seeds' models averaged (regressions, two seeds or more): more accurate on unseen designs than
               # the mean single seed, since their errors differ from seed to seed
               "ensemble": ({name: ensemble_metrics(cfg.task, truth[name], predictions[name]) for name in eval_names}
                            if len(seeds) > 1 and TASKS[cfg.task] in ("regression", "pair-regression") else {}),
               "engine": {"accelerator": engine.settings.accelerator, "devices": engine.settings.devices,
                          "strategy": engine.settings.strategy, "num_nodes": engine.settings.num_nodes,
                          "precision": engine.settings.precision, "world_size": engine.world_size}}
    results["wall_seconds"] = time.perf_counter() - start
    if engine.is_global_zero:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(results, indent=1))
    return results
