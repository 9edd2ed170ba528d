r"""Baselines that more than one application needs (one copy each).

- :func:`markov_scores`: the first-order Markov next-location rule. With training transition counts :math:`M_{uv}`
  and training popularity :math:`p_v`, the score of venue :math:`v` after venue :math:`u` is

  .. math:: s_v = M_{uv} + \frac{p_v}{1 + \sum_w p_w},

  i.e. venues ranked by their transition count from :math:`u`, ties (and an unknown previous venue, :math:`u < 0`)
  broken by popularity. The second term is below 1, so for integer counts the order is exactly lexicographic
  (computed in float64).
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["markov_scores"]


def markov_scores(counts: Tensor, previous: Tensor, popularity: Tensor) -> Tensor:
    """First-order Markov scores (module docstring).

    Shapes: counts ``[V, V]`` (row: previous venue, column: next venue; integer-valued), previous ``[M]`` venue
    indices (``< 0``: unknown, scored by popularity alone), popularity ``[V]`` -> ``[M, V]`` float64.
    """
    counts, pop = counts.double(), popularity.double()
    known = previous >= 0
    rows = counts[previous.clamp_min(0)] * known[:, None]
    return rows + pop / (1.0 + pop.sum())
