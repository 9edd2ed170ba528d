r"""Label-free adaptation of zero-shot class scores to the target graph (its texts and edges, never its labels).

Every function here takes node embeddings ``X [N, d]``, the target's ``edge_index`` and class-prompt embeddings
``T [C, d]``; none takes labels. The evaluated labels enter only at the scorer
(:func:`graphrep.tasks.tag.zero_shot.accuracy` / :func:`~graphrep.tasks.tag.zero_shot.macro_f1`).

1. **Feature homophily** (:func:`feature_homophily`): how well a node's neighbours predict its own embedding, an
   :math:`R^2` against the graph mean,

   .. math::
       \hat h = 1 - \frac{\sum_i \|x_i - \bar x_{N(i)}\|^2}{\sum_i \|x_i - \bar x\|^2},

   over nodes with at least one neighbour (:math:`\bar x_{N(i)}` the neighbours' mean, :math:`\bar x` the graph
   mean). Neighbours predict better than the mean (:math:`\hat h > 0`) on homophilous graphs, worse
   (:math:`\hat h \le 0`) on heterophilous ones (measured values in the README's TAG section).
2. **Propagation** (:func:`propagate_scores`): when :math:`\hat h > 0`, the features are first smoothed
   (:math:`\hat A^2 X`, ZeroG), then personalised-PageRank smoothing of the zero-shot class probabilities
   :math:`P^0 = \mathrm{softmax}(\cos(X, T)/\tau)` (Zhou et al. 2004; APPNP),

   .. math::
       P^{t+1} = (1 - \alpha) P^0 + \alpha \hat A P^t, \qquad \alpha = \mathrm{clip}(\hat h / h_0, 0, \alpha_{max}),

   with :math:`\hat A = D^{-1/2}(A + I)D^{-1/2}`; a heterophilous graph (:math:`\hat h \le 0`) gets :math:`\alpha = 0`
   and keeps its text-only scores.
3. **Pseudo-label self-training** (:func:`self_train`): the nodes whose confidence :math:`\max_c P_{ic}` is at least
   ``threshold`` (at least ``min_per_class`` per predicted class, the most confident ones) become labelled with their
   predicted class; a softmax-regression head on ``features`` is fit to them (balanced cross-entropy, L2), and its
   probabilities, averaged with the prior scores, label every node; repeated ``rounds`` times.

Centring (subtracting the graph's mean embedding before the cosine argmax) is applied by default only when
:math:`\hat h > 0`: on the shared TAGs it adds 1-4 points on the homophilous citation graphs and costs 5-9 points
on the heterophilous WebKB pages (measured, README), so the label-free homophily estimate decides it as well.

Self-supervised alignment on the target (train GraphShaper on the target's own texts and edges) is
:func:`graphrep.tasks.tag.alignment.train_alignment` with the target graph (``target_epochs`` of
:func:`graphrep.tasks.tag.alignment.run_transfer`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from graphrep.tasks.tag.zero_shot import cosine_scores, normalized_adjacency, propagate, symmetric_adjacency

__all__ = ["feature_homophily", "propagation_alpha", "propagate_scores", "self_train", "AdaptationConfig",
           "adapt_scores", "ADAPTATIONS", "structure_estimate", "signed_propagation", "refine_prototypes",
           "choose_threshold", "source_threshold", "score_propagation", "choose_route", "source_route", "text_probs",
           "knn_adjacency"]

ADAPTATIONS = ("none", "propagate", "self-train", "propagate + self-train")


def feature_homophily(x: torch.Tensor, edge_index: torch.Tensor) -> float:
    r""":math:`\hat h` of the module docstring, label-free; ``nan`` when no node has a neighbour.

    Shapes: x ``[N, d]`` (any embedding; rows are L2-normalised first), edge_index ``[2, E]`` (read as undirected).
    """
    emb = x.detach().float().cpu()
    n = emb.size(0)
    a = symmetric_adjacency(edge_index, n)
    deg = torch.from_numpy(np.diff(a.indptr).astype(np.float32))
    has = deg > 0
    if not has.any():
        return float("nan")
    denom = _norms(emb)
    # the normalised rows' mean, and A N(x) as (A with column j scaled by 1/|x_j|) @ x: no normalised copy of x
    mean = sum(_normalised(emb, denom, r).sum(0) for r in range(0, n, _rows(emb))) / n
    a.data = (1.0 / denom.numpy())[a.indices].astype(np.float32)
    xn = emb.numpy()
    resid = total = torch.zeros(())
    for r in range(0, n, _rows(emb)):  # row blocks: no [N, d] temporary besides x (issue 26)
        xs, hs = _normalised(emb, denom, r), has[r:r + _rows(emb)]
        # the neighbours' mean of these rows, A[rows] @ x through the CSR (the same sums as the whole product)
        nbr = torch.from_numpy(np.asarray(a[r:r + _rows(emb)] @ xn)).div_(deg[r:r + _rows(emb)].clamp_min(1)
                                                                          .unsqueeze(1))
        resid = resid + nbr.sub_(xs)[hs].pow_(2).sum()
        total = total + (xs - mean)[hs].pow_(2).sum()
    return float(1 - resid / total.clamp_min(1e-12))


_ROWS = 1 << 16  # at most this many rows at once, and at most 2^22 values (:func:`_rows`)
_VALUES = 1 << 23  # values in one column block of the streamed features (:class:`_Streamed`)


def _rows(x: torch.Tensor) -> int:
    return max(1, min(_ROWS, (1 << 22) // max(x.size(1), 1)))


def _norms(x: torch.Tensor) -> torch.Tensor:
    """``[N]`` row norms as :func:`torch.nn.functional.normalize` divides by them (clamped at 1e-12), in row blocks."""
    out = torch.empty(x.size(0), dtype=torch.float32)
    for r in range(0, x.size(0), _rows(x)):
        out[r:r + _rows(x)] = x[r:r + _rows(x)].float().norm(dim=-1).clamp_min(1e-12)
    return out


def _normalised(x: torch.Tensor, denom: torch.Tensor, r: int) -> torch.Tensor:
    """Rows ``r .. r + _rows(x)`` of ``F.normalize(x)``."""
    return x[r:r + _rows(x)].float() / denom[r:r + _rows(x)].unsqueeze(1)


def propagation_alpha(homophily: float, scale: float = 0.2, max_alpha: float = 0.9) -> float:
    r""":math:`\alpha = \mathrm{clip}(\hat h / h_0, 0, \alpha_{max})` with :math:`h_0` = ``scale`` (0 for NaN)."""
    if homophily != homophily:  # nan: no edges
        return 0.0
    return float(min(max(homophily / scale, 0.0), max_alpha))


def _probs(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    return torch.softmax(scores.float() / temperature, dim=-1)


def text_probs(x: torch.Tensor, class_emb: torch.Tensor, temperature: float) -> torch.Tensor:
    r""":math:`\mathrm{softmax}(\cos(x, t) / \tau)`, the zero-shot class probabilities of the texts alone.
    Shapes: x ``[N, d]``, class_emb ``[C, d]`` -> ``[N, C]``."""
    return _probs(cosine_scores(x, class_emb), temperature)


def propagate_scores(probs: torch.Tensor, edge_index: torch.Tensor, alpha: float, steps: int = 10,
                     adj: torch.Tensor | None = None) -> torch.Tensor:
    r""":math:`P^{t+1} = (1-\alpha) P^0 + \alpha \hat A P^t` for ``steps`` rounds (module docstring).

    ``adj``: :math:`\hat A` when the caller has it already (:func:`~graphrep.tasks.tag.zero_shot.normalized_adjacency`
    of ``edge_index``), else it is built here.

    Shapes: probs ``[N, C]`` -> ``[N, C]`` (rows stay distributions: :math:`\hat A` is not stochastic, so they are
    renormalised at the end).
    """
    if not 0 <= alpha < 1:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    if alpha == 0 or steps == 0:
        return probs
    adj = normalized_adjacency(edge_index, probs.size(0)) if adj is None else adj
    p = probs
    for _ in range(steps):
        p = (1 - alpha) * probs + alpha * propagate(p, edge_index, 1, adj)
    return p / p.sum(-1, keepdim=True).clamp_min(1e-12)


def _select(probs: torch.Tensor, threshold: float, min_per_class: int) -> torch.Tensor:
    """Indices of the pseudo-labelled nodes (module docstring, step 3)."""
    conf, pred = probs.max(-1)
    chosen = conf >= threshold
    for c in pred.unique():
        members = (pred == c).nonzero().flatten()
        top = members[conf[members].argsort(descending=True)[:min_per_class]]
        chosen[top] = True
    return chosen.nonzero().flatten()


def self_train(features: torch.Tensor, probs: torch.Tensor, threshold: float = 0.5, min_per_class: int = 5,
               rounds: int = 2, epochs: int = 50, lr: float = 0.1, weight_decay: float = 1e-3,
               prior_weight: float = 0.5, max_train: int = 2000, seed: int = 0) -> torch.Tensor:
    r"""Pseudo-label self-training (module docstring, step 3); returns the final probabilities ``[N, C]``.

    Args:
        features: ``[N, F]`` inputs of the softmax-regression head (e.g. centred text embeddings, or text and
            propagated text side by side). probs: ``[N, C]`` prior zero-shot probabilities.
        threshold: confidence a node needs to be pseudo-labelled. min_per_class: at least this many (the most
            confident) per predicted class. prior_weight: weight of the prior in the final average.
    """
    if not 0 <= prior_weight <= 1:
        raise ValueError(f"prior_weight must be in [0, 1], got {prior_weight}")
    feats = features.detach().float()
    feats = (feats - feats.mean(0)).div_(feats.std(0).clamp_min(1e-6))
    return _self_train(feats.size(1), feats.__getitem__, lambda lin: lin(feats), probs, threshold, min_per_class,
                       rounds, epochs, lr, weight_decay, prior_weight, max_train, seed)


def _self_train(dim: int, rows, logits, probs: torch.Tensor, threshold: float, min_per_class: int, rounds: int,
                epochs: int, lr: float, weight_decay: float, prior_weight: float, max_train: int,
                seed: int) -> torch.Tensor:
    """:func:`self_train` on standardised features given as ``rows(idx) -> [len(idx), dim]`` and
    ``logits(linear) -> [N, C]`` (the head applied to every node), so that they need not be one tensor."""
    gen = torch.Generator().manual_seed(seed)
    n_cls = probs.size(1)
    current = probs
    for _ in range(rounds):
        idx = _select(current, threshold, min_per_class)
        if idx.numel() > max_train:
            idx = idx[torch.randperm(idx.numel(), generator=gen)[:max_train]]
        target = current[idx].argmax(-1)
        counts = torch.bincount(target, minlength=n_cls).float()
        weight = torch.where(counts > 0, counts.sum() / (n_cls * counts.clamp_min(1)), torch.zeros_like(counts))
        lin = torch.nn.Linear(dim, n_cls)
        with torch.no_grad():
            lin.weight.normal_(0, 0.01, generator=gen)
            lin.bias.zero_()
        opt = torch.optim.Adam(lin.parameters(), lr=lr, weight_decay=weight_decay)
        x_idx = rows(idx)
        with torch.enable_grad():  # callers may run under no_grad (predictions)
            for _ in range(epochs):
                loss = F.cross_entropy(lin(x_idx), target, weight=weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            current = prior_weight * probs + (1 - prior_weight) * torch.softmax(logits(lin), -1)
    return current


@dataclass
class AdaptationConfig:
    """Settings of :func:`adapt_scores` (defaults are the benchmark's)."""

    temperature: float = 0.05  # softmax temperature on cosine scores (CLIP's 1/100 is 0.01)
    homophily_scale: float = 0.2
    feature_hops: int = 2
    max_alpha: float = 0.9
    steps: int = 10
    threshold: float = 0.5
    min_per_class: int = 5
    rounds: int = 2
    prior_weight: float = 0.5
    center: bool | None = None  # None: centre when the graph is homophilous (feature homophily > 0)
    alpha: float | None = None  # None: clip(h / homophily_scale, 0, max_alpha); else this alpha (e.g. from sources)


class _Streamed:
    r"""The features :math:`Z = \hat A^k N(X) - \mathbf 1 m^\top` of :func:`adapt_scores` (:math:`N` row
    normalisation, :math:`m` the column means of :math:`\hat A^k N(X)` when centring, else 0), never held as one
    [N, d] tensor (issue 26): one pass over column blocks of ``x`` (each propagated by
    :func:`~graphrep.tasks.tag.zero_shot.propagate`) gives the row norms and the column means and standard
    deviations; products :math:`Z W^\top` propagate the [N, C] :math:`N(X) W^\top` instead (:math:`\hat A^k` is
    linear); rows :math:`Z_I` gather the sparse rows of :math:`\hat A` that reach :math:`I`."""

    def __init__(self, x: torch.Tensor, hops: int, adj: torch.Tensor | None, center: bool):
        self.x, self.hops, self.adj = x, hops, adj
        self.xf = x.float() if hops else None  # x itself when float32; rows() multiplies sparse rows by it
        n, d = x.shape
        self.denom = _norms(x)
        self.mean, self.sq = torch.zeros(d), torch.zeros(n)
        self.fmean, self.fstd = torch.empty(d), torch.empty(d)  # of Z's columns, as self_train standardises
        cols = max(1, min(d, _VALUES // max(n, 1)))
        for c in range(0, d, cols):
            block = self._propagated(x[:, c:c + cols].float() / self.denom.unsqueeze(1))
            if center:
                self.mean[c:c + cols] = block.mean(0)
                block = block.sub_(self.mean[c:c + cols])
            self.sq += block.pow(2).sum(1)
            self.fmean[c:c + cols], self.fstd[c:c + cols] = block.mean(0), block.std(0)
        if hops:  # the row pointers of adj (coalesced: sorted by row), for rows()
            self.crow = torch.searchsorted(adj.indices()[0], torch.arange(n + 1))

    def _propagated(self, z: torch.Tensor) -> torch.Tensor:
        return propagate(z, None, self.hops, self.adj) if self.hops else z

    def products(self, w: torch.Tensor) -> torch.Tensor:
        """:math:`Z w^\top`, ``[N, C]`` for ``w`` ``[C, d]``."""
        n = self.x.size(0)
        z = torch.empty(n, w.size(0))
        for r in range(0, n, _rows(self.x)):
            z[r:r + _rows(self.x)] = _normalised(self.x, self.denom, r) @ w.t()
        return self._propagated(z) - self.mean @ w.t()

    def cosine(self, class_emb: torch.Tensor) -> torch.Tensor:
        r""":math:`\cos(Z_i, t_c)`, as :func:`~graphrep.tasks.tag.zero_shot.zero_shot_predict` scores ``Z``."""
        t = F.normalize(class_emb.float(), dim=-1)
        return self.products(t) / self.sq.sqrt().clamp_min(1e-12).unsqueeze(1)

    def rows(self, idx: torch.Tensor, hops: int | None = None) -> torch.Tensor:
        r""":math:`Z_I` (``hops``: of :math:`\hat A^{hops} N(X)` without the centring, for the recursion)."""
        top = hops is None
        hops = self.hops if top else hops
        if hops == 0:
            out = self.x[idx].float() / self.denom[idx].unsqueeze(1)
        else:  # (A^h N(X))_I = A_{I,J} (A^{h-1} N(X))_J, J the columns of the rows I, in chunks of rows
            ind, val = self.adj.indices()[1], self.adj.values()
            out = torch.empty(idx.numel(), self.x.size(1))
            for r in range(0, idx.numel(), 256):
                i = idx[r:r + 256]
                start, count = self.crow[i], self.crow[i + 1] - self.crow[i]
                pos = torch.repeat_interleave(start - torch.cumsum(count, 0) + count, count) + \
                    torch.arange(int(count.sum()))
                at = torch.repeat_interleave(torch.arange(i.numel()), count)
                if hops == 1:  # A_{I,:} N(X) = (A_{I,:} with column j scaled by 1/|x_j|) X: no gathered copy of X
                    part = torch.sparse_coo_tensor(torch.stack([at, ind[pos]]), val[pos] / self.denom[ind[pos]],
                                                   (i.numel(), self.x.size(0)), check_invariants=False)
                    out[r:r + 256] = torch.sparse.mm(part, self.xf)
                else:
                    cols, inv = torch.unique(ind[pos], return_inverse=True)
                    part = torch.sparse_coo_tensor(torch.stack([at, inv]), val[pos], (i.numel(), cols.numel()), check_invariants=False)
                    out[r:r + 256] = torch.sparse.mm(part, self.rows(cols, hops - 1))
        return out - self.mean if top else out


def adapt_scores(node_emb: torch.Tensor, class_emb: torch.Tensor, edge_index: torch.Tensor,
                 method: str = "propagate + self-train", config: AdaptationConfig | None = None,
                 seed: int = 0, text_emb: torch.Tensor | None = None) -> dict:
    """Zero-shot predictions of ``node_emb`` against ``class_emb``, adapted label-free by ``method``
    (one of :data:`ADAPTATIONS`).

    ``text_emb``: the nodes' own text embeddings, from which the homophily is estimated (default ``node_emb``);
    give them when ``node_emb`` comes from a graph model, whose outputs are already smoothed over the graph and so
    look homophilous on any graph.

    Memory: ``node_emb`` is read in blocks and never copied whole; beside the adjacency, the buffers are [N, C] and
    [N, b] for a column block of ``b`` features (:class:`_Streamed`).

    Returns ``{"pred" [N], "probs" [N, C], "homophily", "alpha", "pseudo_labelled"}``; takes no labels.
    """
    if method not in ADAPTATIONS:
        raise ValueError(f"unknown adaptation {method!r}; choose from {ADAPTATIONS}")
    cfg = config or AdaptationConfig()
    if node_emb.dim() != 2 or class_emb.dim() != 2 or node_emb.size(1) != class_emb.size(1):
        raise ValueError(f"node and class embeddings must be [N, d] and [C, d] with the same d, got "
                         f"{tuple(node_emb.shape)} and {tuple(class_emb.shape)}")
    device = node_emb.device
    x = node_emb.detach().cpu()
    h = feature_homophily(x if text_emb is None else text_emb, edge_index)
    alpha = propagation_alpha(h, cfg.homophily_scale, cfg.max_alpha) if cfg.alpha is None else float(cfg.alpha)
    out = {"homophily": h, "alpha": alpha, "pseudo_labelled": 0}
    adj = normalized_adjacency(edge_index, x.size(0)) if "propagate" in method and alpha > 0 else None
    # features first (ZeroG), then the class scores; one adjacency for both
    z = _Streamed(x, cfg.feature_hops if adj is not None else 0, adj,
                  bool(cfg.center if cfg.center is not None else h > 0))
    probs = _probs(z.cosine(class_emb.detach().cpu()), cfg.temperature)
    if "propagate" in method:
        probs = propagate_scores(probs, edge_index, alpha, cfg.steps, adj)
    if "self-train" in method:  # on Z standardised per column, as self_train(Z, ...) does
        out["pseudo_labelled"] = int(_select(probs, cfg.threshold, cfg.min_per_class).numel())
        scale = z.fstd.clamp_min(1e-6)
        probs = _self_train(x.size(1), lambda idx: (z.rows(idx) - z.fmean).div_(scale),
                            lambda lin: z.products(lin.weight / scale) + (lin.bias - (z.fmean / scale) @
                                                                           lin.weight.t()),
                            probs, cfg.threshold, cfg.min_per_class, cfg.rounds, 50, 0.1, 1e-3, cfg.prior_weight,
                            2000, seed)
    out["probs"] = probs.to(device)
    out["pred"] = out["probs"].argmax(-1)
    return out


# --- structure estimate, signed propagation, prototypes, thresholds (issue 24) ----------------------------------------
def _walk(edge_index: torch.Tensor, n: int):
    """Row-stochastic one-step walk without self-loops over the undirected graph, and each node's return mass."""
    ei = edge_index[:, edge_index[0] != edge_index[1]]
    ei = torch.cat([ei, ei.flip(0)], 1).unique(dim=1) if ei.numel() else ei
    deg = torch.zeros(n).index_add_(0, ei[1], torch.ones(ei.size(1))) if ei.numel() else torch.zeros(n)
    inv = 1.0 / deg.clamp_min(1)

    def step(v: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(v).index_add_(0, ei[1], v[ei[0]]) * inv.unsqueeze(1)

    back = torch.zeros(n).index_add_(0, ei[1], inv[ei[0]]) * inv if ei.numel() else torch.zeros(n)
    return step, back


def structure_estimate(x: torch.Tensor, edge_index: torch.Tensor, class_emb: torch.Tensor,
                       temperature: float = 0.05) -> dict:
    r"""Label-free structure estimate from zero-shot class probabilities :math:`P = \mathrm{softmax}(\cos(X, T)/\tau)`,
    centred over nodes (:math:`Q = P - \bar P`), with the random walk :math:`W = D^{-1}A` (no self-loops):

    .. math::
        a_1 = \frac{\sum_i \langle Q_i, (W Q)_i\rangle}{\sum_i \|Q_i\|^2}, \qquad
        a_2 = \frac{\sum_i \langle Q_i, (W^2 Q)_i\rangle - \sum_i r_i \|Q_i\|^2}{\sum_i \|Q_i\|^2}, \qquad
        \hat s = a_2 / a_1,

    with :math:`r_i = (W^2)_{ii}` the walks that return to :math:`i`. :math:`a_1` is a soft adjusted homophily of the
    predicted classes: if the predictions are right with a quality factor :math:`q` and class agreement decays by
    :math:`h` per hop, :math:`a_1 \approx q h` and :math:`a_2 \approx q h^2`, so :math:`\hat s \approx h` no longer
    depends on how good the texts are (on Cora: 0.64, with 20% random edges added 0.58, titles only 0.63; the feature
    homophily of :func:`feature_homophily` read 0.178, 0.176 and 0.007).

    Shapes: x ``[N, d]``, edge_index ``[2, E]``, class_emb ``[C, d]``.
    Returns ``{"agreement": a_1, "structure": s_hat}`` (``nan`` without edges or when :math:`a_1 = 0`).
    """
    n = x.size(0)
    p = text_probs(x, class_emb, temperature)
    q = p - p.mean(0, keepdim=True)
    step, back = _walk(edge_index, n)
    total = q.pow(2).sum()
    if edge_index.numel() == 0 or float(total) == 0:
        return {"agreement": float("nan"), "structure": float("nan")}
    q1 = step(q)
    a1 = float((q * q1).sum() / total)
    a2 = float(((q * step(q1)).sum() - (back * q.pow(2).sum(-1)).sum()) / total)
    return {"agreement": a1, "structure": a2 / a1 if a1 != 0 else float("nan")}


def signed_propagation(probs: torch.Tensor, edge_index: torch.Tensor, homophily: float,
                       eps: float = 1e-6) -> torch.Tensor:
    r"""One step of belief propagation with a compatibility set by a homophily estimate (LLM-BP's training-free
    approximation, Wang et al. 2025): with :math:`H = h I + (1 - h)\frac{1}{C}\mathbf 1\mathbf 1^\top`,

    .. math::
        \log \tilde P_i = \log P_i + \frac{1}{|N(i)|}\sum_{j \in N(i)} \log (P_j H^\top)

    renormalised. :math:`h > 0` pulls a node toward its neighbours' classes, :math:`h < 0` pushes it away (sign and
    strength from the estimate), :math:`h = 0` leaves :math:`P`. Messages are averaged rather than summed, so hubs do
    not drown their own text.

    Shapes: probs ``[N, C]`` -> ``[N, C]``.
    """
    if not -1 <= homophily <= 1:
        raise ValueError(f"homophily must be in [-1, 1], got {homophily}")
    c = probs.size(1)
    comp = homophily * torch.eye(c) + (1 - homophily) / c * torch.ones(c, c)
    msg = (probs.float() @ comp.t()).clamp_min(eps).log()
    step, _ = _walk(edge_index, probs.size(0))
    logp = probs.float().clamp_min(eps).log() + step(msg)
    return torch.softmax(logp, dim=-1)


def refine_prototypes(x: torch.Tensor, class_emb: torch.Tensor, rounds: int = 3, top: float = 0.2,
                      prompt_weight: float = 0.5) -> torch.Tensor:
    r"""Class prototypes made robust to the wording of class names, label-free: for ``rounds`` rounds, assign every
    node to its nearest prototype by cosine, take the ``top`` fraction most confident nodes of each class (margin
    between the best and second-best cosine) and set

    .. math::
        t_c \leftarrow \mathrm{normalize}\big(\lambda\, t^0_c + (1 - \lambda)\, \mathrm{normalize}(\mathrm{mean}_{i \in
        S_c} x_i)\big),

    :math:`\lambda` = ``prompt_weight``, :math:`t^0` the prompt embeddings. A class name worded differently moves
    :math:`t^0_c`, but the confident nodes it attracts are mostly the same papers, so their mean moves less.

    Shapes: x ``[N, d]`` (e.g. centred, propagated node embeddings), class_emb ``[C, d]`` -> ``[C, d]``.
    """
    if not 0 < top <= 1:
        raise ValueError(f"top must be in (0, 1], got {top}")
    xn = F.normalize(x.float(), dim=-1)
    t0 = F.normalize(class_emb.float(), dim=-1)
    t = t0
    for _ in range(rounds):
        s = xn @ t.t()
        best = s.topk(min(2, s.size(1)), dim=-1).values
        margin = best[:, 0] - (best[:, 1] if best.size(1) > 1 else 0)
        pred = s.argmax(-1)
        new = []
        for c in range(t.size(0)):
            members = (pred == c).nonzero().flatten()
            if members.numel() == 0:
                new.append(t[c])
                continue
            k = max(1, int(round(top * members.numel())))
            chosen = members[margin[members].topk(k).indices]
            new.append(F.normalize(prompt_weight * t0[c] + (1 - prompt_weight)
                                   * F.normalize(xn[chosen].mean(0), dim=0), dim=0))
        t = torch.stack(new)
    return t


def choose_threshold(values: list[float], gains: list[float], candidates: list[float] | None = None,
                     midpoint: str = "arithmetic") -> float:
    r"""A decision threshold chosen on *source* graphs only: graph :math:`g` has an estimate ``values[g]`` and the
    accuracy gain ``gains[g]`` (scored with its own labels) of acting (e.g. centring and propagating) over not acting;
    acting when the estimate exceeds :math:`t` earns :math:`\sum_g [v_g > t]\, \mathrm{gain}_g`. Returns the
    :math:`t` maximising it among ``candidates`` (default: midpoints between sorted values, and below/above all),
    the smallest on ties. Called with every graph but the target (leave-one-graph-out), so nothing of the target,
    its labels nor its graph, enters the threshold. ``midpoint="geometric"`` puts the default candidates at
    :math:`\sqrt{ab}` between positive neighbours :math:`a < b` (arithmetic where either is <= 0): for an estimate
    that is a product, such as the agreement :math:`a_1 \approx q h` of :func:`structure_estimate`, the middle of a
    gap is its middle on a log scale.
    """
    if midpoint not in ("arithmetic", "geometric"):
        raise ValueError(f"midpoint must be 'arithmetic' or 'geometric', got {midpoint!r}")
    if len(values) != len(gains) or not values:
        raise ValueError(f"need one gain per source value, got {len(values)} values and {len(gains)} gains")
    v = sorted(values)
    if candidates is None:
        mid = ((lambda a, b: (a * b) ** 0.5 if a > 0 and b > 0 else (a + b) / 2) if midpoint == "geometric"
               else (lambda a, b: (a + b) / 2))
        candidates = [v[0] - 1.0] + [mid(a, b) for a, b in zip(v[:-1], v[1:])] + [v[-1] + 1.0]
    earned = [sum(g for x, g in zip(values, gains) if x > t) for t in candidates]
    best = max(earned)
    return min(t for t, e in zip(candidates, earned) if e == best)


def source_threshold(graphs: dict, target: str, estimate, gain) -> float:
    """:func:`choose_threshold` over every graph of ``graphs`` (name -> graph) except ``target``:
    ``estimate(graph) -> float`` is label-free, ``gain(graph) -> float`` may read that source graph's labels. Neither
    is ever called on the target, so its labels and its graph cannot move the threshold (leave-one-graph-out)."""
    names = [n for n in graphs if n != target]
    if not names:
        raise ValueError(f"no source graph besides the target {target!r}")
    return choose_threshold([float(estimate(graphs[n])) for n in names], [float(gain(graphs[n])) for n in names])


# --- homophily-routed score propagation (issue 24, round 3) -------------------------------------------------------------
def knn_adjacency(x: torch.Tensor, k: int = 10, block: int = 2048) -> torch.Tensor:
    r""":math:`\hat K = D^{-1/2}(K + I)D^{-1/2}` (:func:`~graphrep.tasks.tag.zero_shot.normalized_adjacency`) of the
    text-similarity graph: each node linked to its ``k`` nearest other nodes by cosine of ``x``, made undirected.
    Label-free (the texts only); cosine rows are computed ``block`` at a time, so memory is ``[block, N]``.

    Shapes: x ``[N, d]`` -> sparse ``[N, N]``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = x.size(0)
    k = min(k, n - 1)
    if k < 1:
        return normalized_adjacency(torch.empty(2, 0, dtype=torch.long), n)
    xn = F.normalize(x.detach().float().cpu(), dim=-1)
    nbrs = []
    for r in range(0, n, block):
        s = xn[r:r + block] @ xn.t()
        s[torch.arange(s.size(0)), torch.arange(r, r + s.size(0))] = -float("inf")  # no self-match
        nbrs.append(s.topk(k, dim=-1).indices)
    edge_index = torch.stack([torch.arange(n).repeat_interleave(k), torch.cat(nbrs).flatten()])
    return normalized_adjacency(edge_index, n)  # read as undirected


def score_propagation(x: torch.Tensor, class_emb: torch.Tensor, edge_index: torch.Tensor, alpha: float = 0.9,
                      temperature: float = 0.05, steps: int = 10, adj: torch.Tensor | None = None,
                      knn_weight: float = 0.0, knn: int = 10, knn_adj: torch.Tensor | None = None) -> torch.Tensor:
    r"""Zero-shot class probabilities of the raw text embeddings, smoothed over the graph (APPNP on the scores,
    :func:`propagate_scores`), after removing each class's mean score over the nodes:

    .. math::
        S = \cos(X, T), \qquad P^0 = \mathrm{softmax}\big((S - \mathbf 1 \bar S)/\tau\big), \qquad
        P^{t+1} = (1 - \alpha) P^0 + \alpha \big((1 - \beta)\hat A + \beta \hat K\big) P^t,

    :math:`\bar S` the per-class mean of :math:`S` over nodes (a class prompt that is close to every text, e.g. a
    generic wording, stops attracting every node). :math:`\beta` = ``knn_weight`` mixes in the text-similarity graph
    :math:`\hat K` of :func:`knn_adjacency` (``knn`` neighbours; ``knn_adj`` when the caller has it): semantic
    neighbours join the cited ones (label-free; 0 keeps the graph alone). The features are not propagated first: on
    the shared citation graphs smoothing the scores of the unsmoothed texts is better than either alone or both
    (measured, docs guide).

    Shapes: x ``[N, d]``, class_emb ``[C, d]``, edge_index ``[2, E]`` -> ``[N, C]`` (rows sum to 1).
    """
    if not 0 <= knn_weight <= 1:
        raise ValueError(f"knn_weight must be in [0, 1], got {knn_weight}")
    s = cosine_scores(x, class_emb)
    probs = _probs(s - s.mean(0, keepdim=True), temperature)
    if knn_weight > 0 and alpha > 0:
        adj = normalized_adjacency(edge_index, x.size(0)) if adj is None else adj
        knn_adj = knn_adjacency(x, knn) if knn_adj is None else knn_adj
        adj = ((1 - knn_weight) * adj + knn_weight * knn_adj).coalesce()
    return propagate_scores(probs, edge_index, alpha, steps, adj)


def choose_route(values: list[float], gains: dict, midpoint: str = "arithmetic") -> tuple:
    r"""Which action, and above which estimate, chosen on *source* graphs: ``gains[option][g]`` is the accuracy gain
    of acting with ``option`` (e.g. score propagation with some :math:`\alpha`) over not acting on source :math:`g`,
    whose label-free estimate is ``values[g]``. For each option the threshold is :func:`choose_threshold`; the option
    that earns most over the sources wins (the first listed on ties). Returns ``(option, threshold)``; ``midpoint``
    as in :func:`choose_threshold`."""
    if not gains:
        raise ValueError("no option to choose from")
    best = None
    for option, g in gains.items():
        t = choose_threshold(values, g, midpoint=midpoint)
        earned = sum(x for v, x in zip(values, g) if v > t)
        if best is None or earned > best[2]:
            best = (option, t, earned)
    return best[0], best[1]


def source_route(graphs: dict, target: str, estimate, gains: dict, midpoint: str = "arithmetic") -> tuple:
    """:func:`choose_route` over every graph of ``graphs`` except ``target`` (leave-one-graph-out): ``estimate(graph)``
    is label-free, ``gains[option](graph)`` may read that *source* graph's labels; neither is called on the target."""
    names = [n for n in graphs if n != target]
    if not names:
        raise ValueError(f"no source graph besides the target {target!r}")
    values = [float(estimate(graphs[n])) for n in names]
    return choose_route(values, {o: [float(fn(graphs[n])) for n in names] for o, fn in gains.items()}, midpoint)
