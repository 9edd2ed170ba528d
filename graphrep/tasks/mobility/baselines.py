r"""Rule baselines for next-location prediction, scored on the same windows (same targets) as the models.

All rank every venue of the city for each scored position of a :meth:`~graphrep.data.mobility.sequences.Windows.batch`;
"the user's history" is every earlier check-in of the same user (training rows and already-observed rows of the
evaluated split), as the models see it. ``popularity`` is the city's training visit count of each venue (from the
rows the venue features use).

- ``popularity``: :math:`s_v = \mathrm{pop}_v`.
- ``user_frequency``: the user's visit count of :math:`v`, ties broken by popularity.
- ``markov``: first-order transition counts :math:`M_{uv}` from the training rows, ties (and unseen previous venues)
  broken by popularity (:func:`graphrep.train.baselines.markov_scores`, shared with the modalities application).
- ``user_transition``: the user's own past moves from the current venue to :math:`v`, ties broken by the user's own
  visit count of :math:`v`, then by popularity (the strongest rule without learning).

Lexicographic orders are scored exactly in float64 (:func:`lexicographic`). Ties left after the last key count in
the target's favour (:func:`graphrep.train.metrics.target_ranks`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphrep.data.errors import InvalidInputError
from graphrep.data.mobility.sequences import scored_history
from graphrep.train.baselines import markov_scores

__all__ = ["BASELINES", "BASELINE_NAMES", "lexicographic", "user_transition_scores", "baseline_scores",
           "history_counts"]

BASELINES = ("popularity", "user_frequency", "markov", "user_transition")
#: names for tables
BASELINE_NAMES = {"popularity": "popularity", "user_frequency": "user frequency", "markov": "first-order Markov",
                  "user_transition": "user-transition rule"}


def lexicographic(*keys: Tensor) -> Tensor:
    r"""Scores that order rows of candidates by ``keys[0]``, then ``keys[1]``, ... (non-negative integer counts, the
    last key any non-negative value). With :math:`B = 1 + \max` over the integer keys and the last key scaled into
    :math:`[0, 1)`, :math:`s = \sum_i k_i B^{n-1-i}` is exact in float64 while :math:`B^{n-1} < 2^{52}`.

    Shapes: every key broadcastable to ``[M, V]`` -> ``[M, V]`` float64.
    """
    *ints, last = [k.double() for k in keys]
    last = last / (last.max() + 1.0) if last.numel() else last
    base = 1.0 + max([float(k.max()) if k.numel() else 0.0 for k in ints] + [0.0])
    if base ** len(ints) >= 2.0 ** 52:
        raise ValueError(f"counts up to {base - 1:.0f} are too large for an exact lexicographic score")
    score = torch.zeros(torch.broadcast_shapes(*(k.shape for k in keys)), dtype=torch.float64)
    for k in ints:
        score = score * base + k
    return score * base + last


def user_transition_scores(transitions: Tensor, counts: Tensor, popularity: Tensor) -> Tensor:
    """The user-transition rule: own moves from the current venue, then own visit counts, then popularity.
    Shapes: transitions, counts ``[M, V]``; popularity ``[V]`` -> ``[M, V]`` float64."""
    return lexicographic(transitions, counts, popularity)


def history_counts(batch: dict[str, Tensor], num_venues: int) -> tuple[Tensor, Tensor]:
    """The user's visit counts and own moves from the current venue, over all venues, at each scored position.
    Shapes: -> (counts ``[M, V]``, transitions ``[M, V]``)."""
    phi, cand = scored_history(batch)
    zeros = torch.zeros(phi.size(0), num_venues)
    counts = zeros.scatter_add(1, cand, torch.expm1(phi[..., 0]).round())
    trans = zeros.scatter_add(1, cand, torch.expm1(phi[..., 5]).round())
    return counts, trans


def baseline_scores(name: str, batch: dict[str, Tensor], popularity: Tensor,
                    markov: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Scores of baseline ``name`` (module docstring) at the scored positions of ``batch``.

    Shapes: popularity ``[V]`` training visit counts; markov ``[V, V]`` training transition counts (``markov`` only)
    -> (scores ``[M, V]``, targets ``[M]``).
    """
    if name not in BASELINES:
        raise InvalidInputError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
    scored = batch["targets"] >= 0
    targets = batch["targets"][scored]
    pop = popularity.float()
    if name == "popularity":
        return pop.expand(len(targets), -1), targets
    if name == "markov":
        if markov is None:
            raise ValueError("the markov baseline needs the training transition counts")
        return markov_scores(markov, batch["inputs"][scored], pop), targets
    counts, trans = history_counts(batch, pop.numel())
    if name == "user_frequency":
        return lexicographic(counts, pop), targets
    return user_transition_scores(trans, counts, pop), targets
