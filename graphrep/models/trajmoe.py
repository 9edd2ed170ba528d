r"""TrajMoE: next-location prediction with a city-agnostic location encoder and a spatially-routed MoE transformer.

For a user's window of check-ins :math:`(v_1, t_1), \dots, (v_L, t_L)`:

.. math::
    x_p = e_{v_p} + T[\mathrm{how}(t_p)] + P[p], \qquad e = \mathrm{LocationEncoder}(\text{venue features}),

(``transition_gnn=True``: the location encoder adds ``gnn_layers`` residual GCN layers over the city's venue transition
graph, passed to ``forward`` as ``graph=(edge_index, edge_weight)``; see :mod:`graphrep.nn.location`),

then ``layers`` pre-norm causal transformer blocks
:math:`h \leftarrow h + \mathrm{Attn}(\mathrm{LN}(h))`, :math:`h \leftarrow h + \mathrm{FFN}(\mathrm{LN}(h), s_p)` whose
FFN is a :class:`~graphrep.nn.moe.MoEFeedForward` routed on :math:`[\mathrm{LN}(h_p);\ s_p]`, :math:`s_p` the 4 spatial
priors of :mod:`graphrep.data.mobility.sequences` (distance from the previous venue, radius of gyration, visit entropy,
time gap). ``backbone="dense"`` swaps in a dense FFN with the same active parameters
(hidden ``(top_k + num_shared) * expert_hidden``); ``backbone="gru"`` replaces the blocks by a GRU.

Scores of every venue :math:`v` of the city (the output layer is the location encoder again, so it transfers):

.. math::
    z_{pv} = \tau\, \cos(W_q h_p, e_v) + \textstyle\sum_{j=1}^{6} a_j(h_p)\, \phi_{pvj},

with :math:`\phi_{pv}` the user's history of :math:`v` (:func:`~graphrep.data.mobility.sequences.history_features`:
visit count, share, is-current, recency, own transitions from the current venue) and :math:`a(h) = W_a h + b_a`:
a learned, context-dependent copy of the
user's own history (``use_history=False`` drops it). Loss: cross-entropy over the city's venues
+ ``aux_weight`` x the load-balancing loss averaged over MoE layers.

Two options make the non-copy path informed (both off by default, on in the benchmark's TrajMoE rows):

- ``target_time=True``: the prediction is asked for a known time :math:`t^*` (the target check-in's, as LLM-Mob's
  prompt and GETNext/STHGCN give it). The query reads
  :math:`h^*_p = h_p + T^*[\mathrm{how}(t^*)] + w_g \log(1 + \Delta^*_p)` (:math:`\Delta^*` the hours from the
  last check-in to :math:`t^*`), and the history gets a 7th feature, :math:`\log(1 + c^{t^*}_v)`, the user's
  earlier visits of :math:`v` at the same day type and within an hour of :math:`t^*`
  (:func:`~graphrep.data.mobility.sequences.slot_counts`).
- ``global_scores=True``: every venue of the city gets city-wide evidence, weighted by the context,
  :math:`\sum_j b_j(h^*_p)\,\psi_{pvj}` with :math:`b(h) = W_b h + b_b` and
  :math:`\psi_{pv} = [\log(1 + M_{u_p v}),\ \log(1 + M_{u_p v}) / \log(2 + \sum_w M_{u_p w}),\
  \ell_v,\ \log(1 + 10\, d(u_p, v))]` (:math:`M` the city's training transition counts, all users, passed to
  ``forward`` as ``transitions``; :math:`u_p` the current venue; :math:`\ell_v` the log-popularity feature;
  :math:`d` the distance in the per-city normalised coordinates), plus, with ``target_time``, the venue's share of
  training visits in :math:`t^*`'s hour of week. These are the first-order Markov rule of all users, popularity and
  proximity: the signals that rank venues the user has never visited. In training, each target's own move is left
  out of :math:`M` (the counts come from the training rows, so it is always there; a test target's never is).
- ``covisit=True`` (with ``global_scores`` or ``new_scores``): :math:`\psi` gains item-item collaborative filtering
  from the user's visited set :math:`S_p`, :math:`\log(1 + s_{pv}) - \max_w \log(1 + s_{pw})`,
  :math:`s_{pv} = \sum_{w \in S_p} C^{-u}_{wv}`, :math:`C^{-u}_{wv}` the number of *other* users who visited both
  :math:`w` and :math:`v` in training (the row's maximum subtracted: no ranking within a row changes, but the level
  that the gate's path evidence reads no longer grows with a city's users and co-visits, which a transferred gate
  would take for a likelier exploration) (:func:`covisit_scores`; ``forward``
  then needs ``users``, the ``[U, V]`` training visits per user and venue). With ``new_scores``, :math:`b'` then starts
  at the rule :math:`2\ell_v + 1.5 \log(1 + \sum_{w \in S_p} C^{-u}_{wv}) - 2.5 \log(1 + 10 d) + \log(1 + M_{u_p v})`
  instead of popularity alone (weights picked on the validation split's new targets). The user's own visits are left out always,
  so that a training target the user visits again later in training never lends its venue evidence that no test
  target has. On the validation split's new targets, ranked among the unvisited venues, this signal alone beats
  popularity in both cities and on LLM-Mob's split (``benchmarks/mobility_exploration_signals.py``).
- ``explore_gate=True``: a return and an exploration path. With :math:`S_p` the venues the user has visited so far,
  :math:`g_p = w^\top [h^*_p;\ \log(1 + n_p);\ |S_p| / n_p] + b` (:math:`n_p` earlier check-ins, :math:`|S_p|/n_p`
  the user's rate of new venues so far),

  .. math::
      \log p(v) = \begin{cases} \log\sigma(-g_p) + z_{pv} - \log\sum_{w \in S_p} e^{z_{pw}} & v \in S_p \\
      \log\sigma(g_p) + z_{pv} - \log\sum_{w \notin S_p} e^{z_{pw}} & v \notin S_p \end{cases}

  (one softmax where the user has no history yet): the model says how likely a new venue is, apart from which one.
- ``new_scores=True`` (with ``explore_gate``): the returners-and-explorers decomposition with an exploration path of
  its own, :math:`p(v) = (1 - \pi_p)\, p_{ret}(v) + \pi_p\, p_{new}(v)`, :math:`\pi_p = \sigma(g_p)`, where
  :math:`p_{ret}` is the softmax of :math:`z` restricted to :math:`S_p` (as above) and :math:`p_{new}` the softmax
  restricted to the unvisited venues of separate scores

  .. math::
      z^{new}_{pv} = \tau'\cos(W'_q h^*_p, e_v) + \textstyle\sum_j b'_j(h^*_p)\, \psi_{pv j}

  (:math:`\psi` the city-wide features above: all users' moves from the current venue, popularity, distance, hour
  share; ``transitions`` needed). :math:`W'_q` starts at zero and :math:`b'` at the popularity weight alone, so
  :math:`p_{new}` starts as city-wide popularity among the unvisited venues and learns from the new targets only.
  The gate reads four exploration signals, :math:`g_p = w^\top [h^*_p;\ \log(1 + n_p);\ |S_p| / n_p;\ r_p;\
  f_p] + b`, :math:`r_p` the share of first visits among the user's last 10 check-ins in the window and :math:`f_p`
  whether the current check-in is a first visit; a position without history gets :math:`p_{new}` over every venue.
  The loss is the mixture's likelihood: per target,
  :math:`-\log(1 - \pi_p) - \log p_{ret}(v)` for a return and :math:`-\log \pi_p - \log p_{new}(v)` for a new
  venue, i.e. a BCE on the gate plus each path's restricted cross-entropy.
- ``gate_evidence=True`` (with ``new_scores``): the gate also reads what the two paths see,
  :math:`\mathrm{LSE}_{v \notin S_p} z^{new}_{pv} - \mathrm{LSE}_{v \in S_p} z_{pv}` and
  :math:`\max_{v \notin S_p} z^{new}_{pv} - \max_{v \in S_p} z_{pv}` (:func:`path_evidence`, detached: the gate
  learns from them, the paths are trained as before): an exploration is likelier when an unvisited venue scores well
  against the user's own places.
- ``gate_scale``, ``gate_shift``: the calibration :math:`g \leftarrow a g + s` of the gate logit, identity in
  training, fitted afterwards on the validation split by :func:`graphrep.tasks.mobility.calibration.calibrate_gate`
  (the ranking by the mixture is the expected-hit-optimal top :math:`k` only when :math:`\pi_p` is right).
  ``first_gate_scale``, ``first_gate_shift`` (evaluation only): a second map :math:`g \leftarrow a_1 g + s_1` for the
  first position of the ranking, the venue the mixture ranks first under it; the later positions follow the mixture
  under :math:`(a, s)` (:func:`first_pick_scores`; the two-stage ranking of ``calibrate_gate(rule="two-stage")``).

In training with ``visits`` (the city's hour-of-week training visit counts, ``[V, 168]``), the target venue's
popularity and hour histogram leave the target's own visit out, in its embedding (not with ``transition_gnn``) and in
the city-wide scores (:func:`~graphrep.data.mobility.features.leave_visit_out`): otherwise a venue seen once in
training matches the target's hour exactly, which no test target can.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.mobility.features import HOURS_PER_WEEK, hour_of_week, leave_visit_out
from ..data.mobility.sequences import NUM_HISTORY_FEATURES, NUM_PRIORS, scored_history, slot_counts
from ..nn.location import LocationEncoder
from ..nn.moe import FeedForward, MoEFeedForward

__all__ = ["TrajMoEConfig", "TrajMoE", "BACKBONES", "first_pick_scores"]

BACKBONES = ("moe", "dense", "gru")
NUM_CITY_FEATURES = 4  # the city-wide psi without the target-time hour share
_LOG_POP = 2  # psi's log-popularity column
_RECENT = 10  # check-ins in the gate's recent rate of first visits
#: with covisit, the exploration path's starting weights on psi (columns: Markov counts, their normalised form,
#: log-popularity, log-distance, [hour share], co-visitation): chosen among a few settings on the validation split's new
#: targets ranked among the unvisited venues (NYC, TKY and LLM-Mob's split; never test), the rule
#: 2 log-pop + 1.5 log(1 + co-visits) - 2.5 log(1 + 10 d) + log(1 + M) starts above popularity in all three
_COVISIT_START = {0: 1.0, _LOG_POP: 2.0, 3: -2.5, -1: 1.5}


@dataclass
class TrajMoEConfig:
    """Architecture of :class:`TrajMoE` (saved with checkpoints)."""

    category_dim: int = 384
    other_dim: int = 1 + 2 + HOURS_PER_WEEK
    dim: int = 64
    layers: int = 2
    heads: int = 4
    backbone: str = "moe"
    num_experts: int = 4
    top_k: int = 1
    num_shared: int = 1
    expert_hidden: int = 128
    use_priors: bool = True
    use_history: bool = True
    max_len: int = 64
    dropout: float = 0.1  # on the input embeddings and the residual branches (CPU dropout masks are slow elsewhere)
    aux_weight: float = 0.01
    transition_gnn: bool = False
    gnn_layers: int = 1
    target_time: bool = False
    global_scores: bool = False
    explore_gate: bool = False
    new_scores: bool = False
    #: (with new_scores) the gate also reads the two paths' evidence: log-sum-exp and max of the exploration
    #: scores over the unvisited venues minus those of the return scores over the visited ones (detached)
    gate_evidence: bool = False
    #: (with global_scores or new_scores) psi gains the user's co-visitation evidence,
    #: log(1 + sum_{w in S_p} C^{-u}_{wv}) minus its row maximum (module docstring); forward then needs users=[U, V]
    #: training visits
    covisit: bool = False
    #: calibration of the gate's logit, g <- gate_scale * g + gate_shift (identity by default; set after training by
    #: :func:`graphrep.tasks.mobility.calibration.calibrate_gate` from the validation split, never from test)
    gate_scale: float = 1.0
    gate_shift: float = 0.0
    #: a second map of the gate's logit for the first position of the ranking only (two-stage ranking, evaluation
    #: only; ``None``: one map for every position): position 1 is the venue the mixture ranks first with
    #: g <- first_gate_scale * g + first_gate_shift (``-inf``: never a new venue), the others follow the mixture with
    #: gate_scale, gate_shift (set by calibrate_gate(rule="two-stage"))
    first_gate_scale: float | None = None
    first_gate_shift: float | None = None

    def __post_init__(self):
        from graphrep.data.errors import InvalidInputError  # a ValueError: bad settings are the caller's input

        if self.backbone not in BACKBONES:
            raise InvalidInputError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.dim % self.heads:
            raise InvalidInputError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.backbone == "moe" and not 1 <= self.top_k <= self.num_experts:
            raise InvalidInputError(f"top_k ({self.top_k}) must be in 1..num_experts ({self.num_experts})")
        if self.explore_gate and not self.use_history:
            raise InvalidInputError("explore_gate needs use_history (the gate splits visited from unvisited venues)")
        if self.gate_evidence and not self.new_scores:
            raise InvalidInputError("gate_evidence needs new_scores (it compares the two paths' scores)")
        if self.new_scores and not self.explore_gate:
            raise InvalidInputError("new_scores needs explore_gate (they score the gate's exploration path)")
        if not self.explore_gate and (self.gate_scale != 1.0 or self.gate_shift != 0.0):
            raise InvalidInputError("gate_scale/gate_shift calibrate explore_gate's logit; set explore_gate=True")
        if (self.first_gate_scale is None) != (self.first_gate_shift is None):
            raise InvalidInputError("first_gate_scale and first_gate_shift go together (both set, or neither)")
        if self.first_gate_shift is not None:
            if not self.explore_gate:
                raise InvalidInputError("first_gate_scale/first_gate_shift rank position 1 with a second map of "
                                        "explore_gate's logit; set explore_gate=True")
            if math.isnan(self.first_gate_shift) or self.first_gate_shift == math.inf \
                    or not math.isfinite(self.first_gate_scale):
                raise InvalidInputError("first_gate_scale must be finite and first_gate_shift finite or -inf (never a "
                                        f"new venue first), got {self.first_gate_scale}, {self.first_gate_shift}")
        if self.covisit and not (self.global_scores or self.new_scores):
            raise InvalidInputError("covisit adds a column to the city-wide scores; set global_scores or new_scores")
        if self.transition_gnn and self.gnn_layers < 1:
            raise InvalidInputError(f"gnn_layers must be >= 1 with transition_gnn, got {self.gnn_layers}")


class _Block(nn.Module):
    def __init__(self, c: TrajMoEConfig):
        super().__init__()
        self.heads = c.heads
        self.ln1, self.ln2 = nn.LayerNorm(c.dim), nn.LayerNorm(c.dim)
        self.qkv, self.proj = nn.Linear(c.dim, 3 * c.dim), nn.Linear(c.dim, c.dim)
        self.drop = nn.Dropout(c.dropout)
        self.use_priors = c.use_priors and c.backbone == "moe"
        if c.backbone == "moe":
            self.ffn = MoEFeedForward(c.dim, c.expert_hidden, c.num_experts, c.top_k, c.num_shared,
                                      router_extra=NUM_PRIORS if c.use_priors else 0)
        else:
            self.ffn = FeedForward(c.dim, (c.top_k + c.num_shared) * c.expert_hidden)

    def forward(self, h: Tensor, priors: Tensor) -> Tensor:
        b, n, d = h.shape
        q, k, v = self.qkv(self.ln1(h)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.drop(self.proj(a.transpose(1, 2).reshape(b, n, d)))
        x = self.ln2(h)
        y = self.ffn(x, priors) if isinstance(self.ffn, MoEFeedForward) and self.use_priors else self.ffn(x)
        return h + self.drop(y)


class TrajMoE(nn.Module):
    """Next-location model (formulas in the module docstring).

    ``forward(venue_features, batch, graph=None, transitions=None, visits=None)`` takes the city's venue feature
    matrix ``[V, F]``, a batch from :meth:`graphrep.data.mobility.sequences.Windows.batch`, for ``transition_gnn``
    the venue graph ``(edge_index [2, E], edge_weight [E] or None)`` (ignored otherwise), for ``global_scores`` the
    training transition counts ``[V, V]``, and optionally the hour-of-week visit counts ``[V, 168]`` (training
    leaves each target's own visit out), for ``covisit`` the training visits per user and venue ``users [U, V]``; it
    returns ``(logits [M, V], targets [M])`` over the ``M`` scored positions
    (log-probabilities with ``explore_gate``), and sets ``self.aux_loss``.
    """

    def __init__(self, config: TrajMoEConfig | None = None, **overrides):
        super().__init__()
        c = config or TrajMoEConfig()
        if overrides:
            c = TrajMoEConfig(**{**asdict(c), **overrides})
        self.config = c
        self.location = LocationEncoder(c.category_dim, c.other_dim, out_dim=c.dim, hidden=2 * c.dim,
                                        graph_layers=c.gnn_layers if c.transition_gnn else 0)
        self.time = nn.Embedding(HOURS_PER_WEEK, c.dim)
        self.pos = nn.Embedding(c.max_len, c.dim)
        self.drop = nn.Dropout(c.dropout)
        if c.backbone == "gru":
            self.gru = nn.GRU(c.dim, c.dim, num_layers=c.layers, batch_first=True,
                              dropout=c.dropout if c.layers > 1 else 0.0)
            self.blocks = nn.ModuleList()
        else:
            self.blocks = nn.ModuleList(_Block(c) for _ in range(c.layers))
        self.ln = nn.LayerNorm(c.dim)
        self.query = nn.Linear(c.dim, c.dim)
        self.log_scale = nn.Parameter(torch.tensor(2.3))  # tau = e^2.3 ~ 10 at start
        self.history = nn.Linear(c.dim, NUM_HISTORY_FEATURES + int(c.target_time)) if c.use_history else None
        if c.target_time:
            self.target_time = nn.Embedding(HOURS_PER_WEEK, c.dim)
            self.target_gap = nn.Linear(1, c.dim, bias=False)
        psi_width = NUM_CITY_FEATURES + int(c.target_time) + int(c.covisit)
        self.globals = nn.Linear(c.dim, psi_width) if c.global_scores else None
        if self.globals is not None:  # start as the model without them: random weights on raw counts are noise
            nn.init.zeros_(self.globals.weight)
            nn.init.zeros_(self.globals.bias)
        extra = 2 + 2 * int(c.new_scores) + 2 * int(c.gate_evidence)
        self.gate = nn.Linear(c.dim + extra, 1) if c.explore_gate else None
        if c.new_scores:
            self.new_query = nn.Linear(c.dim, c.dim)
            nn.init.zeros_(self.new_query.weight)  # cos(0, e) = 0: no embedding term at the start
            nn.init.zeros_(self.new_query.bias)
            self.new_log_scale = nn.Parameter(torch.tensor(2.3))
            self.new_globals = nn.Linear(c.dim, psi_width)
            nn.init.zeros_(self.new_globals.weight)
            nn.init.zeros_(self.new_globals.bias)
            with torch.no_grad():  # p_new starts in popularity's order: (1 + visits)^(7 / log(1 + max visits))
                self.new_globals.bias[_LOG_POP] = 7.0
                if c.covisit:  # or as the rule _COVISIT_START
                    for j, w in _COVISIT_START.items():
                        self.new_globals.bias[j] = w
        if self.gate is not None:  # start at P(new) = 0.2, about the share of new targets in both cities
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, -1.386)
        self.aux_loss = torch.zeros(())

    @property
    def moe_layers(self) -> list[MoEFeedForward]:
        return [b.ffn for b in self.blocks if isinstance(b.ffn, MoEFeedForward)]

    def encode_venues(self, venue_features: Tensor, graph: tuple[Tensor, Tensor | None] | None = None) -> Tensor:
        """Venue embeddings ``[V, dim]`` (``graph`` used only with ``transition_gnn``)."""
        if not self.config.transition_gnn:
            return self.location(venue_features)
        if graph is None:
            raise ValueError("TrajMoE(transition_gnn=True) needs graph=(edge_index, edge_weight) of the city's venues")
        return self.location(venue_features, *graph)

    def hidden(self, emb: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """Final hidden states ``[B, L, dim]``."""
        inputs, times = batch["inputs"], batch["times"]
        n = inputs.size(1)
        if n > self.config.max_len:
            raise ValueError(f"windows of {n} check-ins exceed max_len={self.config.max_len}")
        x = emb[inputs] + self.time(hour_of_week(times)) + self.pos(torch.arange(n, device=inputs.device))
        h = self.drop(x)
        if self.config.backbone == "gru":
            h = self.gru(h)[0]
        for block in self.blocks:
            h = block(h, batch["priors"])
        return self.ln(h)

    def forward(self, venue_features: Tensor, batch: dict[str, Tensor],
                graph: tuple[Tensor, Tensor | None] | None = None,
                transitions: Tensor | None = None, visits: Tensor | None = None,
                users: Tensor | None = None) -> tuple[Tensor, Tensor]:
        c = self.config
        emb = self.encode_venues(venue_features, graph)
        h = self.hidden(emb, batch)
        scored = batch["targets"] >= 0
        hs = h[scored]
        if c.target_time:
            if "target_times" not in batch:
                raise ValueError("TrajMoE(target_time=True) needs batch['target_times'] (Windows built with them)")
            t_star = batch["target_times"][scored]
            gap = (t_star - batch["times"][scored]).clamp_min(0).float() / 60.0
            hs = hs + self.target_time(hour_of_week(t_star)) + self.target_gap(torch.log1p(gap)[:, None])
        query = torch.exp(self.log_scale) * F.normalize(self.query(hs), dim=-1)
        logits = query @ F.normalize(emb, dim=-1).T
        targets = batch["targets"][scored]
        held = held_emb = None  # the target venues' feature rows (embeddings) without the target's own visit
        if self.training and visits is not None and "target_times" in batch:
            held = leave_visit_out(venue_features[targets], targets, hour_of_week(batch["target_times"][scored]),
                                   visits, c.category_dim)
            if not c.transition_gnn:  # the GCN mixes venues: no per-row recomputation there
                held_emb = F.normalize(self.location(held), dim=-1)
                logits = logits.scatter(1, targets[:, None], (query * held_emb).sum(-1, keepdim=True))
        if self.history is not None:
            phi, cand = scored_history(batch)
            if c.target_time:
                phi = torch.cat([phi, torch.log1p(slot_counts(batch))[..., None]], dim=-1)
            logits = logits.scatter_add(1, cand, torch.einsum("mkj,mj->mk", phi, self.history(hs)))
        psi = None
        if self.globals is not None or c.new_scores:
            psi = self._city_features(venue_features, batch, scored, transitions, held)
            if c.covisit:
                if users is None:
                    raise ValueError("TrajMoE(covisit=True) needs users=[U, V] training visits per user and venue")
                cov = torch.log1p(covisit_scores(batch, users))
                psi.append(cov - cov.amax(1, keepdim=True))  # 0 at the row's best: no city-wide level
        if self.globals is not None:
            w = self.globals(hs)  # [M, J]
            logits = logits + sum(w[:, j:j + 1] * p for j, p in enumerate(psi))
        if self.gate is not None:
            new = self._new_scores(emb, hs, psi, targets, held_emb) if c.new_scores else None
            logits = self._explore_mixture(logits, phi, cand, hs, new, batch)
        moe = self.moe_layers
        self.aux_loss = torch.stack([m.aux_loss for m in moe]).mean() if moe else logits.new_zeros(())
        return logits, targets

    def _city_features(self, venue_features: Tensor, batch: dict[str, Tensor], scored: Tensor,
                       transitions: Tensor | None, held: Tensor | None = None) -> list[Tensor]:
        r"""The city-wide features :math:`\psi_{pvj}` of the module docstring. Shapes: -> ``J`` tensors ``[M, V]``."""
        if transitions is None:
            raise ValueError("TrajMoE(global_scores=True or new_scores=True) needs transitions=[V, V] training "
                             "transition counts")
        c = self.config
        current = batch["inputs"][scored]
        counts = transitions[current].float()
        degree = counts.sum(1)
        if self.training:  # leave one out: a training target's own move is in the counts, never a test target's
            targets = batch["targets"][scored]
            own = counts.gather(1, targets[:, None]).clamp_max(1.0)
            counts = counts.scatter_add(1, targets[:, None], -own)
            degree = degree - own[:, 0]
        row = torch.log1p(counts)
        out_degree = torch.log(2.0 + degree)
        coords = venue_features[:, c.category_dim:c.category_dim + 2]
        log_pop = venue_features[:, c.category_dim + 4]  # log(1 + visits) / log(1 + max visits)
        dist = torch.log1p(10.0 * torch.cdist(coords[current], coords))
        psi = [row, row / out_degree[:, None], log_pop.expand_as(row), dist]
        if c.target_time:
            hours = venue_features[:, c.category_dim + 5:c.category_dim + 5 + HOURS_PER_WEEK]
            how = hour_of_week(batch["target_times"][scored])
            psi.append(hours.T[how])
        if held is not None:  # the target's popularity and hour share without its own visit
            targets = batch["targets"][scored][:, None]
            psi[2] = psi[2].scatter(1, targets, held[:, c.category_dim + 4:c.category_dim + 5])
            if c.target_time:
                psi[4] = psi[4].scatter(1, targets, held.gather(1, c.category_dim + 5 + how[:, None]))
        return psi

    def _new_scores(self, emb: Tensor, hs: Tensor, psi: list[Tensor], targets: Tensor,
                    held_emb: Tensor | None = None) -> Tensor:
        r"""The exploration path's scores :math:`z^{new}` (module docstring), the targets' embedding term from
        ``held_emb`` (normalised, their own visit left out) when given. Shapes: -> ``[M, V]``."""
        query = torch.exp(self.new_log_scale) * F.normalize(self.new_query(hs), dim=-1)
        cos = query @ F.normalize(emb, dim=-1).T
        if held_emb is not None:
            cos = cos.scatter(1, targets[:, None], (query * held_emb).sum(-1, keepdim=True))
        w = self.new_globals(hs)  # [M, J]
        return cos + sum(w[:, j:j + 1] * p for j, p in enumerate(psi))

    def _explore_mixture(self, z: Tensor, phi: Tensor, cand: Tensor, hs: Tensor, z_new: Tensor | None = None,
                         batch: dict[str, Tensor] | None = None) -> Tensor:
        r"""Log-probabilities of the two-path mixture (module docstring): ``z [M, V]`` scores, ``phi [M, K, J]`` the
        history features over candidates ``cand [M, K]``; ``z_new [M, V]`` the exploration path's own scores
        (``new_scores``; ``None``: ``z`` for both paths), then ``batch`` gives the gate its recent first visits.
        Shapes: -> ``[M, V]`` (each row log-sums to 0)."""
        counts = torch.expm1(phi[..., 0]).clamp_min(0.0)
        seen = (counts > 0.5).float()
        visited = torch.zeros_like(z).scatter_add(1, cand, seen) > 0  # pads (venue 0, count 0) add nothing
        n = counts.sum(1)
        explore = [torch.log1p(n), seen.sum(1) / n.clamp_min(1.0)]  # history size, novelty rate
        if z_new is not None:
            explore += list(first_visits(batch, _RECENT))
        if self.config.gate_evidence:
            explore += path_evidence(z.detach(), z_new.detach(), visited)
        x = torch.cat([hs, torch.stack(explore, dim=1)], dim=1)
        g = self.gate_logit(x)  # [M]: logit of P(new venue)
        self.last_gate = g.detach()  # read by graphrep.tasks.mobility.calibration
        z_new = z if z_new is None else z_new
        logp = gated_log_probs(z, z_new, visited, g, n > 0)
        c = self.config
        if c.first_gate_shift is None or self.training:
            return logp
        first = c.first_gate_scale * self.gate(x)[:, 0] + c.first_gate_shift
        return first_pick_scores(logp, gated_log_probs(z, z_new, visited, first, n > 0))

    def gate_logit(self, inputs: Tensor) -> Tensor:
        r"""The calibrated gate logit :math:`g = a (w^\top x + b_0) + s` (``a``, ``s`` the config's ``gate_scale``,
        ``gate_shift``). Shapes: ``[M, dim + 2 or 4]`` -> ``[M]``."""
        c = self.config
        return c.gate_scale * self.gate(inputs)[:, 0] + c.gate_shift

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(logits, targets) + self.config.aux_weight * self.aux_loss

    def utilisation(self) -> list[list[float]]:
        """Per MoE layer, the fraction of routed assignments per expert since the last ``reset_utilisation``."""
        return [m.utilisation().tolist() for m in self.moe_layers]

    def reset_utilisation(self) -> None:
        for m in self.moe_layers:
            m.reset_stats()

    def active_parameters(self) -> int:
        """Parameters one token uses (routed experts counted ``top_k`` times, not ``num_experts``)."""
        total = sum(p.numel() for p in self.parameters())
        for m in self.moe_layers:
            total -= sum(p.numel() for p in m.parameters())
            total += m.active_parameters
        return total


def gated_log_probs(z_ret: Tensor, z_new: Tensor, visited: Tensor, g: Tensor, has_history: Tensor) -> Tensor:
    r"""Log of :math:`p(v) = (1 - \sigma(g))\,\mathrm{softmax}_{S}(z^{ret})_v + \sigma(g)\,
    \mathrm{softmax}_{\bar S}(z^{new})_v`, each softmax restricted to its set (:math:`S` the ``visited`` venues, no
    mass outside it); a row without history (``has_history`` false) is ``log_softmax(z_new)``, and a row whose
    unvisited set is empty puts all the mass on the visited venues.

    Shapes: z_ret, z_new, visited (bool) ``[M, V]``; g, has_history ``[M]`` -> ``[M, V]`` (rows log-sum to 0).
    """
    neg = torch.finfo(z_ret.dtype).min
    g = g[:, None]
    everything = visited.all(1, keepdim=True)  # nothing left to explore
    ret = z_ret - torch.logsumexp(z_ret.masked_fill(~visited, neg), 1, keepdim=True)
    ret = ret + torch.where(everything, torch.zeros_like(g), F.logsigmoid(-g))
    new = z_new - torch.logsumexp(z_new.masked_fill(visited, neg), 1, keepdim=True) + F.logsigmoid(g)
    mixed = torch.where(visited, ret, new)
    return torch.where(has_history[:, None], mixed, F.log_softmax(z_new, 1))


def first_pick_scores(logp: Tensor, logp_first: Tensor) -> Tensor:
    r"""Scores of the two-stage ranking: position 1 is :math:`\arg\max_v` ``logp_first`` (the mixture under the
    first-position map of the gate), every later position follows ``logp`` (the mixture under the list map). The
    first pick's score is raised to the row's maximum of ``logp`` + 1, the others keep theirs: a ranking, no longer a
    distribution (evaluation only). Since a gate map moves only one path against the other, the first pick is the best
    venue of one of the two paths, and ``logp`` ranks it first already where both maps pick the same path.

    Shapes: logp, logp_first ``[M, V]`` -> ``[M, V]``.
    """
    pick = logp_first.argmax(1, keepdim=True)
    return logp.scatter(1, pick, logp.amax(1, keepdim=True) + 1.0)


def covisit_scores(batch: dict[str, Tensor], users: Tensor) -> Tensor:
    r"""Item-item co-visitation of every venue with the user's visited set, the user's own visits left out:
    :math:`s_{pv} = \sum_{w \in S_p} C^{-u}_{wv}`, :math:`C^{-u} = \sum_{u' \ne u} b_{u'} b_{u'}^\top` (:math:`b_{u'}`
    the 0/1 row of venues user :math:`u'` visited in training, :math:`S_p` the venues the user visited up to and
    including position :math:`p`, visits before the window counted, :math:`u` the window's user). Computed through the
    users, :math:`s_p = \sum_{u' \ne u} |S_p \cap T_{u'}|\, b_{u'}`, so that no ``[V, V]`` matrix is built and the
    user's own row drops out exactly: the scores do not depend on ``users[u]``, in training (where the user's later
    training visits, the targets among them, are in ``users[u]``) as in evaluation.

    Shapes: a :meth:`~graphrep.data.mobility.sequences.Windows.batch`, users ``[U, V]`` (nonzero = visited) ->
    ``[M, V]`` over the scored positions.
    """
    local, mask, cand = batch["local"], batch["mask"].float(), batch["candidates"]
    onehot = F.one_hot(local, cand.size(1)).float() * mask[..., None]
    seen = ((batch["base_counts"][:, None, :] + onehot.cumsum(1)) > 0.5).float()  # [B, L, K]: in S_p
    b = (users > 0).to(seen.dtype)
    overlap = torch.einsum("blk,bku->blu", seen, b.T[cand])  # [B, L, U]: |S_p & T_u'|
    own = batch["user"][:, None, None].expand(-1, overlap.size(1), 1)
    overlap = overlap.scatter(2, own, 0.0)  # leave the user's own visits out
    return overlap[batch["targets"] >= 0] @ b


def path_evidence(z_ret: Tensor, z_new: Tensor, visited: Tensor) -> list[Tensor]:
    r"""The gate's evidence from the two paths' raw scores: :math:`\mathrm{LSE}_{v \notin S} z^{new}_v -
    \mathrm{LSE}_{v \in S} z^{ret}_v` and :math:`\max_{v \notin S} z^{new}_v - \max_{v \in S} z^{ret}_v` (0 where a set
    is empty). Shapes: ``[M, V]`` (visited bool) -> two ``[M]``."""
    ok = (visited.any(1) & ~visited.all(1))
    lo = torch.finfo(z_ret.dtype).min
    r, n = z_ret.masked_fill(~visited, lo), z_new.masked_fill(visited, lo)
    lse = torch.where(ok, torch.logsumexp(n, 1) - torch.logsumexp(r, 1), torch.zeros_like(ok, dtype=z_ret.dtype))
    top = torch.where(ok, n.max(1).values - r.max(1).values, torch.zeros_like(ok, dtype=z_ret.dtype))
    return [lse, top]


def first_visits(batch: dict[str, Tensor], recent: int = _RECENT) -> tuple[Tensor, Tensor]:
    r"""Per scored position :math:`p`: the share of first visits (a venue the user had not visited before, visits
    before the window counted) among the window's last ``recent`` check-ins up to :math:`p`, and whether the check-in
    at :math:`p` itself is a first visit.

    Shapes: a :meth:`~graphrep.data.mobility.sequences.Windows.batch` -> (``[M]``, ``[M]``) float32.
    """
    local, mask = batch["local"], batch["mask"].float()
    k = batch["candidates"].size(1)
    onehot = F.one_hot(local, k).float() * mask[..., None]
    counts = batch["base_counts"][:, None, :] + onehot.cumsum(1)  # [B, L, K], visits up to and including q
    first = (counts.gather(2, local[..., None])[..., 0] < 1.5).float() * mask  # [B, L]
    cum, seen = F.pad(first.cumsum(1), (recent, 0)), F.pad(mask.cumsum(1), (recent, 0))
    rate = (cum[:, recent:] - cum[:, :-recent]) / (seen[:, recent:] - seen[:, :-recent]).clamp_min(1.0)
    scored = batch["targets"] >= 0
    return rate[scored], first[scored]
