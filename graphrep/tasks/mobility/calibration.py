r"""Calibration of TrajMoE's exploration gate on the validation split (``explore_gate``; never on test).

The model ranks venues by the mixture :math:`p(v) = (1 - \pi)\,p_{ret}(v) + \pi\,p_{new}(v)`,
:math:`\pi = \sigma(g)`. Over two disjoint venue sets the top :math:`k` of :math:`p` is the list with the most expected
hits, but only if :math:`\pi` is right: trained on the training windows, the gate under-predicts novelty on later
check-ins. The calibration is an affine map of the gate logit, :math:`g \leftarrow a g + s`, stored in the model's
config (``gate_scale``, ``gate_shift``), so that every later use (evaluation, ``mobility evaluate``, a zero-shot
transfer) ranks with it:

- :func:`fit_platt`: :math:`(a, s)` minimising the binary cross-entropy of :math:`\sigma(a g + s)` against "the target
  is new to the user" over the validation targets (Platt scaling; at the optimum the mean predicted :math:`\pi`
  equals the validation share of new targets).
- ``rule="acc5"`` (:func:`calibrate_gate`): then the shift :math:`s` on a grid that maximises validation Acc@5 on all
  targets (the expected-hit objective the ranking is for, measured instead of assumed).
- ``rule="popularity"``: then the smallest shift on the grid at which the validation Acc@5 on targets new to the user
  exceeds popularity's on the same targets, plus ``margin`` (an operating point bought with Acc@5 on returns; the
  largest shift if none does).
- ``rule="acc1"``: then the shift on a wider grid (:data:`FIRST_SHIFTS`), with "never new" (:math:`s = -\infty`:
  the user's best-scored visited venue wherever the user has one), that maximises validation Acc@1 (ties to the shift
  nearest Platt's).
- ``rule="two-stage"``: two maps, since Acc@1 reads only the first position and Acc@5 positions 1-5. Position 1 is
  the venue the mixture ranks first under the ``acc1`` map :math:`(a, s_1)`; positions 2, 3, ... follow the mixture
  under a list map :math:`(a, s_2)` (``first_gate_scale``, ``first_gate_shift`` and ``gate_scale``, ``gate_shift`` in
  the config; :func:`~graphrep.models.trajmoe.first_pick_scores`). :math:`s_2` is the smallest shift on the grid
  (:data:`SHIFTS`, from Platt's) at which the validation new-venue Acc@5 of this two-stage list beats popularity's
  with 95% confidence: over the :math:`n` validation targets new to the user, with the paired differences
  :math:`x_i = [\mathrm{rank}_i \le 5] - [\mathrm{rank}^{pop}_i \le 5] \in \{-1, 0, 1\}`, their mean
  :math:`\bar x` and sample standard deviation :math:`\hat\sigma`, the lower end of the one-sided normal interval
  :math:`\bar x - z_{0.95}\, \hat\sigma / \sqrt{n}` (:math:`z_{0.95} = 1.645`) must be :math:`> 0`
  (:func:`confident_gain`); if no shift reaches it, the shift with the highest lower end (reported:
  ``confident`` false). No margin is chosen by hand: the bar is the validation sample's own uncertainty.

A shift moves only whether a venue of one path outranks one of the other: with :math:`r` the return path's restricted
log-probabilities and :math:`n` the exploration path's, a return target :math:`t` has rank
:math:`1 + \#\{v \in S: r_v > r_t\} + \#\{v \notin S: n_v > r_t - g\}` and a new target
:math:`1 + \#\{v \notin S: n_v > n_t\} + \#\{v \in S: r_v > n_t + g\}`, since
:math:`\log\sigma(g) - \log\sigma(-g) = g`. :func:`gate_summary` keeps, per target, its path's value, its rank inside
its path, its path's best value and the other path's top ``depth`` values, from which :func:`shifted_ranks` gives
exact ranks up to ``depth`` for any :math:`(a, s)` without rescoring. The two-stage rank (:func:`two_stage_ranks`):
with :math:`d_1 = a_1 g + s_1` the first pick is the exploration path's best venue if
:math:`\max_{v \notin S} n_v + d_1 > \max_{v \in S} r_v`, else the return path's best; a target that is the first
pick has rank 1; otherwise its rank under :math:`d_2 = a g + s_2`, plus 1 when the first pick is the other path's best
and ranks below the target under :math:`d_2` (the pick moved above it). Rows the gate does not touch keep their rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from graphrep.data.errors import InvalidInputError

from .baselines import history_counts
from .exploration import novel_targets

__all__ = ["GateSummary", "gate_summary", "shifted_ranks", "two_stage_ranks", "confident_gain", "fit_platt",
           "calibrate_gate", "RULES"]

RULES = ("platt", "acc5", "popularity", "acc1", "two-stage")
_DEPTH = 10


@dataclass
class GateSummary:
    """Per scored target (``[M]`` each; ``other`` ``[M, depth]``): ``g`` the raw gate logit, ``is_new`` the label
    (new to the user, :func:`~graphrep.tasks.mobility.exploration.novel_targets`), ``on_new_path`` whether the target is
    outside the user's visited set (the exploration path's venue), ``value`` its log-probability inside its own path,
    ``inner`` the number of venues of its path scored above it, ``other`` the other path's highest log-probabilities
    (descending, ``-inf`` padded), ``fixed`` the rows the gate does not touch (no history, or nothing left unvisited)
    with their plain rank ``fixed_rank``, ``top`` the best log-probability inside the target's own path (``None``
    in summaries made without it: :func:`two_stage_ranks` needs it)."""

    g: torch.Tensor
    is_new: torch.Tensor
    on_new_path: torch.Tensor
    value: torch.Tensor
    inner: torch.Tensor
    other: torch.Tensor
    fixed: torch.Tensor
    fixed_rank: torch.Tensor
    top: torch.Tensor | None = None


@torch.no_grad()
def gate_summary(model, data, part: str = "valid", batch_size: int = 32, depth: int = _DEPTH) -> GateSummary:
    """Score ``data.windows[part]`` with the model's *raw* gate (its calibration set aside) -> :class:`GateSummary`."""
    c = model.config
    if not c.explore_gate:
        raise InvalidInputError("gate calibration needs TrajMoE(explore_gate=True)")
    saved = (c.gate_scale, c.gate_shift, c.first_gate_scale, c.first_gate_shift)
    c.gate_scale, c.gate_shift, c.first_gate_scale, c.first_gate_shift = 1.0, 0.0, None, None
    model.eval()
    windows, parts = data.windows[part], []
    try:
        for s in range(0, len(windows), batch_size):
            batch = windows.batch(torch.arange(s, min(s + batch_size, len(windows))))
            logp, targets = model(data.features, batch, data.graph, data.markov, users=data.user_visits)
            visited = history_counts(batch, logp.size(1))[0] > 0
            parts.append(_summarise(logp.float(), targets, visited, model.last_gate.float(), depth))
    finally:
        c.gate_scale, c.gate_shift, c.first_gate_scale, c.first_gate_shift = saved
    out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    rows = windows.target_rows[windows.targets >= 0].numpy()
    out["is_new"] = torch.from_numpy(novel_targets(data.checkins.user, data.checkins.venue)[rows])
    return GateSummary(**out)


def _summarise(logp: torch.Tensor, targets: torch.Tensor, visited: torch.Tensor, g: torch.Tensor,
               depth: int) -> dict[str, torch.Tensor]:
    """One batch of :func:`gate_summary` from the mixture's log-probabilities ``[M, V]`` and raw gate logits ``[M]``."""
    rows = torch.arange(len(targets))
    ninf = torch.tensor(float("-inf"))
    fixed = ~visited.any(1) | visited.all(1)  # the model's log_softmax(z_new) rows, and rows with nothing unvisited
    ret = torch.where(visited, logp - F.logsigmoid(-g)[:, None], ninf)  # each path's own log-probabilities
    new = torch.where(visited, ninf, logp - F.logsigmoid(g)[:, None])
    on_new = ~visited[rows, targets]
    own = torch.where(on_new[:, None], new, ret)
    other = torch.where(on_new[:, None], ret, new)
    value = own[rows, targets]
    inner = (own > value[:, None]).sum(1)
    top = other.topk(min(depth, other.size(1)), dim=1).values
    plain = 1 + (logp > logp[rows, targets][:, None]).sum(1)
    return {"g": g, "on_new_path": on_new, "value": value, "inner": inner, "other": top, "fixed": fixed,
            "fixed_rank": plain, "top": own.amax(1)}


def shifted_ranks(s: GateSummary, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    """1-based ranks of the targets with the gate logit ``scale * g + shift`` (exact up to the summary's depth + 1;
    deeper ranks are lower bounds); ties count in the target's favour, as in
    :func:`~graphrep.train.metrics.target_ranks`. Shapes: -> ``[M]`` int64."""
    d = scale * s.g + shift
    # a new-path target faces the return path's r_v > n_t + d; a return target the new path's n_u > r_t - d
    threshold = torch.where(s.on_new_path, s.value + d, s.value - d)
    cross = (s.other > threshold[:, None]).sum(1)
    return torch.where(s.fixed, s.fixed_rank, 1 + s.inner + cross)


def two_stage_ranks(s: GateSummary, scale: float, shift: float, first_scale: float,
                    first_shift: float) -> torch.Tensor:
    """1-based ranks in the two-stage list (module docstring): position 1 the mixture's first venue with the gate
    logit ``first_scale * g + first_shift`` (``-inf``: the return path's best), the later positions the mixture's
    order with ``scale * g + shift``; exact up to the summary's depth (deeper ranks are lower bounds), ties as in
    :func:`shifted_ranks`. Shapes: -> ``[M]`` int64."""
    if s.top is None:
        raise InvalidInputError("two_stage_ranks needs a GateSummary with each path's best value (top)")
    listed = shifted_ranks(s, scale, shift)
    d1 = first_scale * s.g + first_shift
    other_top = s.other[:, 0]
    new_top = torch.where(s.on_new_path, s.top, other_top)
    ret_top = torch.where(s.on_new_path, other_top, s.top)
    pick_own = (new_top + d1 > ret_top) == s.on_new_path  # the first pick is the best venue of the target's path
    d2 = scale * s.g + shift
    threshold = torch.where(s.on_new_path, s.value + d2, s.value - d2)
    moved = ~pick_own & ~(other_top > threshold)  # the other path's best, below the target in the list, moved up
    ranks = torch.where(pick_own & (s.inner == 0), torch.ones_like(listed), listed + moved.long())
    return torch.where(s.fixed, s.fixed_rank, ranks)


#: one-sided 95% normal quantile of :func:`confident_gain`
Z95 = 1.6448536269514722


def confident_gain(hits: torch.Tensor, baseline_hits: torch.Tensor, z: float = Z95) -> dict[str, float]:
    r"""Paired comparison of two hit indicators on the same targets: mean of :math:`x_i = h_i - b_i`, its sample
    standard deviation :math:`\hat\sigma` and the lower end :math:`\bar x - z\,\hat\sigma/\sqrt{n}` of the one-sided
    normal interval (``-inf`` with fewer than 2 targets). Shapes: hits, baseline_hits ``[n]`` bool or 0/1."""
    x = hits.double() - baseline_hits.double()
    n = len(x)
    if n < 2:
        return {"n": n, "gain": float(x.mean()) if n else 0.0, "std": 0.0, "lower": -math.inf}
    mean, std = float(x.mean()), float(x.std())
    return {"n": n, "gain": mean, "std": std, "lower": mean - z * std / math.sqrt(n)}


def fit_platt(g: torch.Tensor, y: torch.Tensor, iters: int = 100) -> tuple[float, float]:
    r""":math:`(a, s)` minimising :math:`\mathrm{BCE}(\sigma(a g + s), y)` (Newton's method on the two parameters).
    Shapes: g ``[M]`` float, y ``[M]`` bool or 0/1."""
    x = torch.stack([g.double(), torch.ones_like(g, dtype=torch.float64)], 1)
    y = y.double()
    if not 0 < float(y.mean()) < 1:
        raise InvalidInputError("Platt scaling needs both new and returning targets")
    w = torch.tensor([1.0, 0.0], dtype=torch.float64)
    for _ in range(iters):
        p = torch.sigmoid(x @ w)
        grad = x.T @ (p - y)
        hess = (x * (p * (1 - p))[:, None]).T @ x + 1e-9 * torch.eye(2, dtype=torch.float64)
        step = torch.linalg.solve(hess, grad)
        w = w - step
        if float(step.abs().max()) < 1e-10:
            break
    return float(w[0]), float(w[1])


def _metrics(ranks: torch.Tensor, is_new: torch.Tensor) -> dict[str, float]:
    r = ranks.double()
    out = {"acc@1": float((r <= 1).double().mean()), "acc@5": float((r <= 5).double().mean())}
    if is_new.any():
        out["new/acc@5"] = float((r[is_new] <= 5).double().mean())
    return out


#: shifts tried by ``rule="acc5"``, ``"popularity"`` and the list map of ``"two-stage"``, added to the Platt shift
SHIFTS = tuple(x / 4 for x in range(-8, 17))
#: shifts tried by ``rule="acc1"`` and the first-position map of ``"two-stage"``: wider towards returns, and never new
FIRST_SHIFTS = (-math.inf,) + tuple(x / 4 for x in range(-24, 17))


def _best_acc1(s: GateSummary, scale: float, platt: float) -> float:
    """The shift (added to Platt's) of :data:`FIRST_SHIFTS` with the best Acc@1, ties to the one nearest 0."""
    score = {d: float((shifted_ranks(s, scale, platt + d) <= 1).double().mean()) for d in FIRST_SHIFTS}
    return max(FIRST_SHIFTS, key=lambda d: (score[d], -abs(d)))


def calibrate_gate(model, data, part: str = "valid", rule: str = "platt", batch_size: int = 32,
                   margin: float = 0.0) -> dict:
    """Fit the gate's calibration on ``data.windows[part]`` (validation: no test label is read) and store it in
    ``model.config`` (``gate_scale``, ``gate_shift``, and for ``"two-stage"`` ``first_gate_scale``,
    ``first_gate_shift``; any earlier calibration is replaced, not composed). ``rule``: one of :data:`RULES`
    (module docstring). Returns what was fitted, on which split and city, and the split's Acc@1, Acc@5 and new-venue
    Acc@5 without (``raw``) and with (``valid``) the calibration. ``margin`` (rule ``"popularity"`` only, a
    fraction: 0.02 = 2 points): the new-venue Acc@5 must exceed popularity's by more. ``"two-stage"`` also returns
    ``first_shift`` (``None`` for never new), ``first_never_new`` and the paired comparison with popularity on the
    validation new targets at the chosen list shift (``paired``: ``n``, ``gain``, ``std``, ``lower``) and
    ``confident``."""
    if margin and rule != "popularity":
        raise InvalidInputError(f"margin is a setting of rule 'popularity', not of {rule!r}")
    if rule not in RULES:
        raise InvalidInputError(f"unknown calibration rule {rule!r} (known: {', '.join(RULES)})")
    s = gate_summary(model, data, part, batch_size)
    active = ~s.fixed
    scale, shift = fit_platt(s.g[active], s.is_new[active])
    platt = shift
    first = None  # the first-position shift of "two-stage"
    ranks_of = lambda b: shifted_ranks(s, scale, b)  # noqa: E731
    extra = {}
    if rule == "acc5":  # the best validation Acc@5, ties to the shift nearest Platt's
        score = {d: _metrics(shifted_ranks(s, scale, platt + d), s.is_new)["acc@5"] for d in SHIFTS}
        shift = platt + max(SHIFTS, key=lambda d: (score[d], -abs(d)))
    elif rule == "acc1":
        shift = platt + _best_acc1(s, scale, platt)
    elif rule in ("popularity", "two-stage"):
        pop = _popularity_ranks(data, part, s)
        extra["popularity_new_acc@5"] = float((pop[s.is_new] <= 5).double().mean())
    if rule == "popularity":
        bar = extra["popularity_new_acc@5"] + margin
        above = [d for d in sorted(SHIFTS) if d >= 0
                 and _metrics(shifted_ranks(s, scale, platt + d), s.is_new).get("new/acc@5", 0.0) > bar]
        shift = platt + (above[0] if above else max(SHIFTS))
    elif rule == "two-stage":
        first = platt + _best_acc1(s, scale, platt)
        ranks_of = lambda b: two_stage_ranks(s, scale, b, scale, first)  # noqa: E731
        shift, paired, sure = _confident_shift(s, scale, platt, first, pop)
        never = first == -math.inf
        extra.update({"first_shift": None if never else first, "first_never_new": never, "paired": paired,
                      "confident": sure})
    c = model.config
    c.gate_scale, c.gate_shift = scale, shift
    c.first_gate_scale, c.first_gate_shift = (None, None) if first is None else (scale, first)
    p = lambda a, b: float(torch.sigmoid(a * s.g[active] + b).mean())  # noqa: E731
    return {"rule": rule, "part": part, "city": data.name, "scale": scale, "shift": shift, "platt_shift": platt,
            "targets": int(active.sum()), "new_share": float(s.is_new[active].double().mean()),
            "mean_p_new_raw": p(1.0, 0.0), "mean_p_new": p(scale, shift),
            "raw": _metrics(shifted_ranks(s), s.is_new), "valid": _metrics(ranks_of(shift), s.is_new), **extra}


def _confident_shift(s: GateSummary, scale: float, platt: float, first: float,
                     popularity: torch.Tensor) -> tuple[float, dict, bool]:
    """The list shift of ``"two-stage"`` (module docstring): the smallest ``platt + d``, ``d`` in :data:`SHIFTS`, at
    which the two-stage list (first position shift ``first``) beats ``popularity``'s ranks ``[M]`` on the new targets'
    Acc@5 with 95% confidence (:func:`confident_gain`), else the one with the highest lower end. Returns
    (shift, its paired comparison, whether it is confident)."""
    base = popularity[s.is_new] <= 5
    paired = {d: confident_gain(two_stage_ranks(s, scale, platt + d, scale, first)[s.is_new] <= 5, base)
              for d in sorted(SHIFTS)}
    sure = [d for d, c in paired.items() if c["lower"] > 0]
    d = sure[0] if sure else max(paired, key=lambda d: (paired[d]["lower"], -d))
    return platt + d, paired[d], bool(sure)


def _popularity_ranks(data, part: str, s: GateSummary) -> torch.Tensor:
    """Popularity's ranks of the same targets as ``s`` (same order), checked to be the same targets."""
    from .evaluation import baseline_ranks

    ranks, rows, _ = baseline_ranks(data, "popularity", part)
    novel = novel_targets(data.checkins.user, data.checkins.venue)[rows]
    if len(ranks) != len(s.g) or not (torch.from_numpy(novel) == s.is_new).all():
        raise RuntimeError(f"popularity scored {len(ranks)} targets, the gate summary {len(s.g)}: not the same targets")
    return torch.from_numpy(ranks)
