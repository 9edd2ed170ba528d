r"""Technology normalisation for transfer across designs: what moves with the technology is taken out of the features
and the labels, so that a model trained on some technologies meets no new scale on another.

- :func:`relative_features`: per design and from its own inputs only (no labels, so it applies to an evaluation
  design as well), the technology-scale feature columns (cell area, pin and sink capacitance, the design's mean cell
  area and routing pitch, :data:`RELATIVE_COLUMNS`) minus their mean over the design's nodes where the value is known.
  A design constant becomes 0: the model can no longer tell designs apart by it, which with a dozen training designs
  is a way to memorise each design's mean rather than learn the physics (the technology's scale stays in the label
  prior, :func:`.training.area_prior_offset`).
- :func:`technology_offsets`: per-technology label means from the training designs only.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from graphrep.data.circuits.graph import INSTANCE_FEATURES, NET_FEATURES, PIN_FEATURES

from .training import CircuitInputs

#: (node type, feature column, the flag column that says the value is known): the columns :func:`relative_features`
#: centres per design
RELATIVE_COLUMNS = (("instance", "log_area_um2", "has_area"), ("pin", "log_cap_ff", "has_cap"),
                    ("net", "log_sink_cap_ff", "has_sink_cap"), ("net", "log_mean_cell_area_um2", "has_cell_area"),
                    ("net", "min_pitch_um", "has_pitch"))
_BLOCKS = {"instance": INSTANCE_FEATURES, "pin": PIN_FEATURES, "net": NET_FEATURES}


def _block_start(kind: str) -> int:
    """First column of ``kind``'s block in the homogeneous ``x`` (:func:`graphrep.data.circuits.graph.homogeneous`:
    3 type one-hot columns, then the instance, pin and net blocks)."""
    start = 3
    for k in ("instance", "pin", "net"):
        if k == kind:
            return start
        start += len(_BLOCKS[k])
    raise KeyError(kind)


def _centre(x: torch.Tensor, rows: torch.Tensor, col: int, flag: int) -> torch.Tensor:
    """``x`` with column ``col`` minus its mean over ``rows`` whose ``flag`` column is set (those rows only)."""
    known = rows[x[rows, flag] > 0.5]
    if known.numel() == 0:
        return x
    x = x.clone()
    x[known, col] -= x[known, col].mean()
    return x


def relative_features(inputs: CircuitInputs) -> CircuitInputs:
    r"""``inputs`` with each :data:`RELATIVE_COLUMNS` feature centred on the design: :math:`x_{ic} - \bar x_c`,
    :math:`\bar x_c` the mean over the design's nodes of that type whose flag column is 1 (rows with the flag 0 keep
    their 0). Uses the design's own features only. Shapes unchanged: ``x`` [N, F], ``net_x`` [M, F_net]."""
    if inputs.x.size(1) != 3 + sum(len(b) for b in _BLOCKS.values()) or inputs.net_x.size(1) != len(NET_FEATURES):
        raise ValueError(f"design {inputs.name}: features of width {inputs.x.size(1)}/{inputs.net_x.size(1)} are not "
                         "those of graphrep.data.circuits.graph (cannot find the technology columns)")
    x, net_x = inputs.x, inputs.net_x
    type_of = inputs.x[:, :3].argmax(1)
    for kind, name, flag in RELATIVE_COLUMNS:
        start, names = _block_start(kind), _BLOCKS[kind]
        rows = (type_of == ("instance", "pin", "net").index(kind)).nonzero().squeeze(1)
        x = _centre(x, rows, start + names.index(name), start + names.index(flag))
        if kind == "net":
            net_x = _centre(net_x, torch.arange(net_x.size(0)), names.index(name), names.index(flag))
    return dataclasses.replace(inputs, x=x, net_x=net_x)


def technology_offsets(train: dict[str, CircuitInputs], technology: dict[str, str | None], task: str = "total-cap"
                       ) -> dict[str, float]:
    r"""Per-technology label offsets from the training designs only: for every design ``d`` of ``technology``,
    :math:`\delta_d = m_{t(d)} - m`, where :math:`\bar y_e` is training design ``e``'s mean label relative to its own
    prior (:math:`y - o_e`, :func:`area_prior_offset`), :math:`m_t` the mean of :math:`\bar y_e` over the training
    designs of technology ``t`` and :math:`m` its mean over every training design (each design counts once, whatever
    its size). A design whose technology is ``None`` or has no training design gets 0 (the fallback: the union's
    own standardisation). Adding :math:`\delta_d` to a design's ``prior_offset`` makes a model learn labels relative
    to its technology's mean; no statistic is taken from a design outside ``train``."""
    means: dict[str, list[float]] = {}
    for name, d in train.items():
        y = d.target(task)[0]
        if y.numel() and technology.get(name) is not None:
            means.setdefault(technology[name], []).append(float(y.double().mean()) - (d.prior_offset or 0.0))
    if not means:
        return {name: 0.0 for name in technology}
    overall = float(np.mean([v for vs in means.values() for v in vs]))
    per_tech = {t: float(np.mean(vs)) - overall for t, vs in means.items()}
    return {name: per_tech.get(t, 0.0) if t is not None else 0.0 for name, t in technology.items()}


def shift_by_technology(designs: dict[str, CircuitInputs], train: list[str], technology: dict[str, str | None],
                        task: str = "total-cap", shrink: float = 1.0) -> dict[str, CircuitInputs]:
    r"""``designs`` with each ``prior_offset`` :math:`o_d` moved to :math:`o_d + \lambda \delta_d`, :math:`\delta_d` the
    per-technology offset of :func:`technology_offsets` for ``task`` taken from the ``train`` designs only (an
    evaluation design of a technology with training designs gets its technology's offset, of another one 0) and
    :math:`\lambda` = ``shrink`` in [0, 1] (1: the whole offset; less pulls an offset estimated from one to four
    designs toward 0). A design without a prior (``None``) counts as 0. Features and labels are unchanged;
    :func:`.training.union_inputs` and :func:`.training.predict` then learn and predict labels relative to it."""
    missing = [n for n in train if n not in designs]
    if missing:
        raise KeyError(f"training designs not among the designs: {', '.join(missing)}")
    if not 0.0 <= shrink <= 1.0:
        raise ValueError(f"shrink must be in [0, 1], got {shrink}")
    shift = technology_offsets({n: designs[n] for n in train}, {n: technology.get(n) for n in designs}, task)
    return {n: dataclasses.replace(p, prior_offset=(p.prior_offset or 0.0) + shrink * shift[n])
            for n, p in designs.items()}


def size_offsets(train: dict[str, CircuitInputs], scale: dict[str, float], task: str = "total-cap"
                 ) -> dict[str, float]:
    r"""A label offset linear in a design-size scale :math:`s_d` (e.g. :math:`\log_{10}` of the design's instances,
    :data:`.context.WIRELOAD_FEATURES`), fitted on the training designs only: with :math:`r_e = \bar y_e - o_e` the
    training design's mean label relative to its ``prior_offset`` (each design counts once), the least-squares slope
    :math:`b = \sum_e (s_e - \bar s)(r_e - \bar r) / \sum_e (s_e - \bar s)^2` and :math:`\delta_d = b\,(s_d -
    \bar s)` for every design of ``scale`` (:math:`\bar s`, :math:`\bar r`: means over the training designs). Rent's
    rule in small: the average wire of a placed design grows with its size, :math:`\bar L \propto I^{p - 1/2}`, which a
    net's own features cannot say. Fewer than two training designs with labels, or one size among them: all 0."""
    missing = [n for n in train if n not in scale]
    if missing:
        raise KeyError(f"training designs without a size scale: {', '.join(missing)}")
    bad = [n for n, v in scale.items() if not np.isfinite(v)]
    if bad:
        raise ValueError(f"size scale not finite for: {', '.join(bad)}")
    pts = [(scale[n], float(d.target(task)[0].double().mean()) - (d.prior_offset or 0.0))
           for n, d in train.items() if d.target(task)[0].numel()]
    s, r = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    if len(pts) < 2 or np.ptp(s) == 0:
        return {n: 0.0 for n in scale}
    b = float(((s - s.mean()) * (r - r.mean())).sum() / ((s - s.mean()) ** 2).sum())
    return {n: b * (v - float(s.mean())) for n, v in scale.items()}


def shift_by_size(designs: dict[str, CircuitInputs], train: list[str], scale: dict[str, float],
                  task: str = "total-cap") -> dict[str, CircuitInputs]:
    r"""``designs`` with each ``prior_offset`` :math:`o_d` moved to :math:`o_d + \delta_d`, :math:`\delta_d` of
    :func:`size_offsets` fitted on the ``train`` designs only (after :func:`shift_by_technology`, it fits the size
    trend left within the technologies). Features and labels are unchanged."""
    missing = [n for n in train if n not in designs]
    if missing:
        raise KeyError(f"training designs not among the designs: {', '.join(missing)}")
    shift = size_offsets({n: designs[n] for n in train}, {n: scale[n] for n in designs}, task)
    return {n: dataclasses.replace(p, prior_offset=(p.prior_offset or 0.0) + shift[n]) for n, p in designs.items()}
