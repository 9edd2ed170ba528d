"""Reduced leave-one-design-out loop for total capacitance (issue 23): which change moves held-out R² toward 0.6.

The full benchmark (``circuit_transfer.py``) trains every row on three tasks and three seeds over 14 held-out designs
(44 min at 60 epochs on the shared 2-core CPU); this script trains only the total-capacitance rows that a trial
changes, on a few held-out designs that span the PDK families and one seed, with the benchmark's training sets
(:func:`graphrep.tasks.circuits.training.training_set`, at most ``--max-train-nets`` labelled nets per training design)
and model selection (a seeded 20% of the training union's labels). The held-out design is never used for training,
selection or any statistic.

Trials (``--trials``, comma-separated names of :data:`TRIALS`), each the benchmark's ``gbm`` or ``gnn-mse`` row
changed in one way: ``eN``/``hN`` epochs and hidden width; ``-tech`` labels also relative to the mean of the
training designs of the same PDK family (:func:`graphrep.tasks.circuits.normalise.technology_offsets`, training
designs only; an unseen family gets 0); ``-rel`` technology-scale feature columns centred per design
(:func:`graphrep.tasks.circuits.normalise.relative_features`, each design's own inputs); ``resid-*`` a GNN fitted to
the residual of a GBM (each training design's residual from a GBM fitted on the other training designs), its
prediction added to the GBM trained on all of them; ``-ctx`` the netlist-context net features appended to every
design's net features (:func:`graphrep.tasks.circuits.context.netlist_context`, each design's own graph, no labels);
``-loc`` (with ``-ctx``) also the locality columns (``netlist_context(..., locality=True)``: neighbours that two of
the net's instances share through other nets); ``-wl`` (with ``-ctx``) also the design-level wire-load columns
(``netlist_context(..., wireload=True)``: total cell area, nets, instances, die edge); ``-ant`` (with ``-ctx``) also
the antenna-diode columns (``netlist_context(..., antenna=True)``: the netlist's diodes on the net); ``-name`` the
net-name class columns (:func:`graphrep.tasks.circuits.context.name_class_columns`); ``-bal`` GBM sample weights that
make each training design weigh the same; ``-pinbase`` the GBM fitted to what the ``pin-count`` row's line in log
pins leaves (``BaselineModel(..., base="pin-count")``); ``-size`` labels
also relative to an offset linear in log10(instances) fitted on the training designs
(:func:`graphrep.tasks.circuits.normalise.shift_by_size`, after ``-tech``); ``-techhalf`` half the ``-tech``
offset (``shift_by_technology(..., shrink=0.5)``); ``-gcvK`` the GBM's boosting iterations chosen on held-out
training designs in K groups (:func:`graphrep.tasks.circuits.baselines.grouped_iterations`; its column "selected
epoch" is then the iteration count); ``-place`` (after ``-ctx``) the placement-free wire-length columns
(:func:`graphrep.tasks.circuits.placement.placement_columns`: HPWL, bounding box, Steiner and star estimates in a
rank-spread spectral embedding of the instance hypergraph, each design's own graph, no labels; ``-placefrac``
only its scale-free column ``place_hpwl_frac``; ``-bisect`` the same columns from recursive spectral bisection,
``placement_columns(..., method="bisection")``); ``-nK`` at most K
labelled nets per training design instead of ``--max-train-nets``. ``@k``: the trial with seed ``k``; ``a+b+...``
rows are means of trials' predictions (equal weights fixed in advance: ensembles over seeds, GNN with GBM).
Diagnostic column ``r2_centred``: R² after moving the predictions' mean onto the held-out design's true mean, i.e.
how much of the error is a per-design offset (an oracle, never a method).

Usage::

    PYTHONPATH=. python benchmarks/circuit_transfer_trials.py --trials gbm,mse-e60-h16,mse-e200-h16 --part p.json
    PYTHONPATH=. python benchmarks/circuit_transfer_trials.py --parts p1.json,p2.json   # report

Writes ``benchmarks/results/circuit_transfer_trials.{json,md}`` (report; ``--name`` another stem) or a part file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import r2_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from circuit_designs import DATA_ROOT, LIBRARY_DESIGNS, PDK  # noqa: E402

from graphrep.tasks.circuits.baselines import BaselineModel, grouped_iterations  # noqa: E402
from graphrep.tasks.circuits.training import (LARGE_FRACTION, TransferConfig, large_net_metrics,  # noqa: E402
                                             load_graphs, predict, prepare, train_model, training_set)

#: one PDK family each (sky130 twice: its largest and smallest design); the benchmark's 60-epoch rows measured these
DEFAULT_HELD = ["gcd_sky130hd", "video_sky130hd", "ay8913_sg13g2", "gcd_nangate45", "timers_gf180", "mockarray_asap7"]

#: trial name -> settings; ``kind`` gnn (gnn-mse), gbm or resid (GNN on the GBM's residual); ``norm``: "prior" (the
#: benchmark's: labels relative to the area prior, standardised by the training union), "tech" or "rel"
#: (:func:`with_technology`)
TRIALS = {
    "gbm": {"kind": "gbm", "norm": "prior"},
    "gbm-tech": {"kind": "gbm", "norm": "tech"},
    "mse-e60-h16": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "prior"},
    "mse-e200-h16": {"kind": "gnn", "epochs": 200, "hidden": 16, "norm": "prior"},
    "mse-e200-h32": {"kind": "gnn", "epochs": 200, "hidden": 32, "norm": "prior"},
    "mse-e60-h16-tech": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "tech"},
    "mse-e200-h16-tech": {"kind": "gnn", "epochs": 200, "hidden": 16, "norm": "tech"},
    "gbm-rel": {"kind": "gbm", "norm": "rel"},
    "mse-e60-h16-rel": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "rel"},
    "mse-e200-h16-rel": {"kind": "gnn", "epochs": 200, "hidden": 16, "norm": "rel"},
    "resid-e60-h16": {"kind": "resid", "epochs": 60, "hidden": 16, "norm": "prior"},
    "resid-e200-h16": {"kind": "resid", "epochs": 200, "hidden": 16, "norm": "prior"},
    # netlist-context net features (graphrep.tasks.circuits.context) and more labelled nets per training design
    "gbm-ctx": {"kind": "gbm", "norm": "ctx"},
    "gbm-tech-ctx": {"kind": "gbm", "norm": "tech+ctx"},
    "gbm-ctx-n4000": {"kind": "gbm", "norm": "ctx", "max_nets": 4000},
    "mse-e60-h16-ctx": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "ctx"},
    "mse-e200-h16-ctx": {"kind": "gnn", "epochs": 200, "hidden": 16, "norm": "ctx"},
    "gbm-tech-n4000": {"kind": "gbm", "norm": "tech", "max_nets": 4000},
    "gbm-tech-ctx-n4000": {"kind": "gbm", "norm": "tech+ctx", "max_nets": 4000},
    "mse-e200-h16-tech-ctx": {"kind": "gnn", "epochs": 200, "hidden": 16, "norm": "tech+ctx"},
    "mse-e200-h16-tech-n3000": {"kind": "gnn", "epochs": 200, "hidden": 16, "norm": "tech", "max_nets": 3000},
    "mse-e200-h16-tech-ctx-n3000": {"kind": "gnn", "epochs": 200, "hidden": 16, "norm": "tech+ctx",
                                    "max_nets": 3000},
    # the context features plus the locality columns (reconvergent neighbours; graphrep.tasks.circuits.context)
    "gbm-ctx-loc-n4000": {"kind": "gbm", "norm": "ctx+loc", "max_nets": 4000},
    "gbm-tech-ctx-loc-n4000": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000},
    # and the antenna-diode columns (a diode marks a long wire; graphrep.tasks.circuits.context)
    "gbm-tech-ctx-loc-ant-n4000": {"kind": "gbm", "norm": "tech+ctx+loc+ant", "max_nets": 4000},
    "gbm-ctx-loc-ant-n4000": {"kind": "gbm", "norm": "ctx+loc+ant", "max_nets": 4000},
    "mse-e60-h16-tech-ctx-loc-ant": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "tech+ctx+loc+ant"},
    # and the net-name classes (the flow's naming: synthesis _n_, resizer net<n>, clock tree clknet_)
    "gbm-tech-ctx-loc-ant-name-n4000": {"kind": "gbm", "norm": "tech+ctx+loc+ant+name", "max_nets": 4000},
    "gbm-ctx-loc-ant-name-n4000": {"kind": "gbm", "norm": "ctx+loc+ant+name", "max_nets": 4000},
    # each training design weighing the same (GBM sample weights 1 / its labelled nets, mean 1)
    "gbm-tech-ctx-loc-ant-n4000-bal": {"kind": "gbm", "norm": "tech+ctx+loc+ant", "max_nets": 4000, "balance": True},
    # the trees fitted to what the pin-count line leaves (BaselineModel base="pin-count"): the line's slope carries
    # past the largest nets the trees saw, where trees stay constant
    "gbm-tech-ctx-loc-ant-n4000-pinbase": {"kind": "gbm", "norm": "tech+ctx+loc+ant", "max_nets": 4000,
                                           "base": "pin-count"},
    # large nets: tail-weighted loss (graphrep.objectives.tail: labels at or above the training 80th percentile weigh
    # 1 + a, weights normalised to mean 1), and the locality columns / technology offsets for the GNN
    "gbm-tech-ctx-loc-n4000-tail1": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000, "tail": 1.0},
    "gbm-tech-ctx-loc-n4000-tail3": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000, "tail": 3.0},
    "mse-e60-h16-tail1": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "prior", "tail": 1.0},
    "mse-e60-h16-tail3": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "prior", "tail": 3.0},
    "mse-e60-h16-ctx-loc": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "ctx+loc"},
    "mse-e60-h16-tech-ctx-loc": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "tech+ctx+loc"},
    # design-level wire-load context (total cell area, net and instance counts, die edge; context.WIRELOAD_FEATURES)
    # and more labelled nets per training design for the GBM
    "gbm-tech-ctx-loc-wl-n4000": {"kind": "gbm", "norm": "tech+ctx+loc+wl", "max_nets": 4000},
    "gbm-ctx-loc-wl-n4000": {"kind": "gbm", "norm": "ctx+loc+wl", "max_nets": 4000},
    "gbm-tech-ctx-loc-n8000": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 8000},
    "gbm-tech-ctx-loc-n16000": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 16000},
    "mse-e60-h16-tech-ctx-loc-wl": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "tech+ctx+loc+wl"},
    # a label offset linear in log10(instances), fitted on the training designs (normalise.shift_by_size)
    "gbm-tech-size-ctx-loc-n4000": {"kind": "gbm", "norm": "tech+size+ctx+loc", "max_nets": 4000},
    "gbm-size-ctx-loc-n4000": {"kind": "gbm", "norm": "size+ctx+loc", "max_nets": 4000},
    "mse-e60-h16-tech-size-ctx-loc": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "tech+size+ctx+loc"},
    # boosting iterations chosen on held-out training designs (baselines.grouped_iterations: 3 or 13 groups)
    "gbm-tech-ctx-loc-n4000-gcv3": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000, "iterations": "grouped"},
    "gbm-tech-ctx-loc-n4000-gcv13": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000, "iterations": "grouped",
                                     "folds": 13},
    # random feature subsets per split (HistGradientBoosting max_features)
    "gbm-tech-ctx-loc-n4000-mf05": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000,
                                    "params": {"max_features": 0.5}},
    "gbm-tech-ctx-loc-n4000-mf03": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000,
                                    "params": {"max_features": 0.3}},
    # half the per-PDK offset (normalise.shift_by_technology shrink 0.5)
    "gbm-techhalf-ctx-loc-n4000": {"kind": "gbm", "norm": "techhalf+ctx+loc", "max_nets": 4000},
    "mse-e60-h16-techhalf-ctx-loc": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "techhalf+ctx+loc"},
    # GBM hyperparameters (BaselineModel params): larger leaves, shallower trees, slower learning, an L2 penalty
    "gbm-tech-ctx-loc-n4000-leaf200": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000,
                                       "params": {"min_samples_leaf": 200}},
    "gbm-tech-ctx-loc-n4000-d3": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000,
                                  "params": {"max_depth": 3}},
    "gbm-tech-ctx-loc-n4000-lr03": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000,
                                    "params": {"learning_rate": 0.03, "max_iter": 600}},
    "gbm-tech-ctx-loc-n4000-l2": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000,
                                  "params": {"l2_regularization": 10.0}},
    "gbm-tech-ctx-loc-n4000-it50": {"kind": "gbm", "norm": "tech+ctx+loc", "max_nets": 4000,
                                    "params": {"max_iter": 50, "early_stopping": False}},
    # a placement-free wire-length estimate: each net's HPWL in a spectral embedding of the instance hypergraph
    # (graphrep.tasks.circuits.placement), after the context and locality columns
    "gbm-tech-ctx-loc-place-n4000": {"kind": "gbm", "norm": "tech+ctx+loc+place", "max_nets": 4000},
    "gbm-ctx-loc-place-n4000": {"kind": "gbm", "norm": "ctx+loc+place", "max_nets": 4000},
    "mse-e60-h16-tech-ctx-loc-place": {"kind": "gnn", "epochs": 60, "hidden": 16, "norm": "tech+ctx+loc+place"},
    # only the scale-free column (HPWL as a share of the component's half-perimeter)
    "gbm-tech-ctx-loc-placefrac-n4000": {"kind": "gbm", "norm": "tech+ctx+loc+placefrac", "max_nets": 4000},
    # the same columns from recursive spectral bisection (placement.bisection_coordinates), alone and with the above
    "gbm-tech-ctx-loc-bisect-n4000": {"kind": "gbm", "norm": "tech+ctx+loc+bisect", "max_nets": 4000},
    "gbm-tech-ctx-loc-place-bisect-n4000": {"kind": "gbm", "norm": "tech+ctx+loc+place+bisect", "max_nets": 4000},
}


def with_technology(parts: dict, held: str, norm: str) -> dict:
    """The inputs with the technology-scale features centred per design (``rel`` in ``norm``:
    :func:`graphrep.tasks.circuits.normalise.relative_features`) and ``prior_offset`` moved by the per-technology
    offset (``tech`` in ``norm``), computed from the training designs only."""
    from graphrep.tasks.circuits.context import netlist_context
    from graphrep.tasks.circuits.normalise import relative_features, shift_by_size, shift_by_technology

    if "rel" in norm.split("+"):
        parts = {n: relative_features(p) for n, p in parts.items()}
    if "ctx" in norm.split("+"):
        parts = {n: netlist_context(p, locality="loc" in norm.split("+"), wireload="wl" in norm.split("+"),
                                    antenna="ant" in norm.split("+")) for n, p in parts.items()}
    if "place" in norm.split("+") or "placefrac" in norm.split("+"):
        parts = {n: placed(p, frac_only="placefrac" in norm.split("+")) for n, p in parts.items()}
    if "bisect" in norm.split("+"):
        parts = {n: placed(p, method="bisection") for n, p in parts.items()}
    if "name" in norm.split("+"):
        parts = {n: named(p) for n, p in parts.items()}
    train = [n for n in parts if n != held]
    if "tech" in norm.split("+") or "techhalf" in norm.split("+"):
        parts = shift_by_technology(parts, train, PDK, "total-cap", 1.0 if "tech" in norm.split("+") else 0.5)
    if "size" in norm.split("+"):
        scale = {n: design_scale(p) for n, p in parts.items()}
        parts = shift_by_size(parts, train, scale, "total-cap")
    return parts


#: design name -> its graph's net names in the order of ``net_index`` (filled by :func:`run`)
_NET_NAMES: dict[str, list[str]] = {}


def named(inputs):
    """``inputs`` with :data:`graphrep.tasks.circuits.context.NAME_CLASS_FEATURES` appended to ``net_x``."""
    from graphrep.tasks.circuits.context import name_class_columns

    cols = torch.as_tensor(name_class_columns(_NET_NAMES[inputs.name]), dtype=inputs.net_x.dtype)
    return dataclasses.replace(inputs, net_x=torch.cat([inputs.net_x, cols], 1))


#: (design name, method) -> its placement columns (the same for every fold: each design's own graph, no labels)
_PLACEMENT_CACHE: dict = {}


def placed(inputs, frac_only: bool = False, method: str = "spectral"):
    """``inputs`` with :data:`graphrep.tasks.circuits.placement.PLACEMENT_FEATURES` appended to ``net_x``
    (:func:`graphrep.tasks.circuits.placement.placement_columns` by ``method``, seed 0, computed once per design and
    method); ``frac_only``:
    only ``place_hpwl_frac``, the column that carries no design scale (the wire-load trials: a design's size as a
    feature hurt)."""
    from graphrep.tasks.circuits.placement import PLACEMENT_FEATURES, placement_columns

    key = (inputs.name, method)
    if key not in _PLACEMENT_CACHE:
        _PLACEMENT_CACHE[key] = torch.as_tensor(placement_columns(inputs, method=method), dtype=inputs.net_x.dtype)
    cols = _PLACEMENT_CACHE[key]
    if frac_only:
        cols = cols[:, [PLACEMENT_FEATURES.index("place_hpwl_frac")]]
    return dataclasses.replace(inputs, net_x=torch.cat([inputs.net_x, cols], 1))


def design_scale(inputs) -> float:
    """The size scale of :func:`graphrep.tasks.circuits.normalise.shift_by_size` here: log10(1 + instances), the
    ``design_log10_instances`` value of :func:`graphrep.tasks.circuits.context.design_size`."""
    from graphrep.tasks.circuits.context import design_size

    return design_size(inputs)["design_log10_instances"]


def run_trial(name: str, inputs: dict, held: str, args) -> np.ndarray:
    spec = TRIALS[name]
    parts = with_technology({n: inputs[n] for n in args.designs}, held, spec["norm"])
    names = [n for n in args.designs if n != held]
    max_nets = spec.get("max_nets", args.max_train_nets)
    train = training_set([parts[n] for n in names], max_nets, args.layers)
    if spec["kind"] == "gbm":
        params = spec.get("params")
        if spec.get("iterations") == "grouped":  # chosen on held-out training designs (baselines.grouped_iterations)
            from graphrep.tasks.circuits.training import cap_labelled_nets

            capped = [cap_labelled_nets(parts[n], max_nets, args.layers) for n in names]
            chosen, _ = grouped_iterations(capped, "total-cap", args.seed, spec.get("folds", 3))
            params = {**(params or {}), "max_iter": chosen, "early_stopping": False}
            run_trial.selection = {"best_epoch": chosen - 1}
        weights = None
        if spec.get("balance"):  # each training design weighs the same in all, whatever its labelled nets
            counts = np.array([min(int(parts[n].mask.sum()), max_nets) for n in names], dtype=np.float64)
            if counts.sum() != int(train.mask.sum()):
                raise RuntimeError(f"design counts {counts.tolist()} do not add up to the training labels")
            weights = np.repeat(counts.sum() / len(counts) / counts, counts.astype(np.int64))  # mean 1
        return (BaselineModel("gbm", "total-cap", args.seed, tail_weight=spec.get("tail", 0.0),
                              params=params, base=spec.get("base")).fit(train, sample_weight=weights)
                .predict(parts[held]))
    cfg = TransferConfig(task="total-cap", method="gnn-mse", hidden=spec["hidden"], layers=args.layers, lr=args.lr,
                         epochs=spec["epochs"], val_fraction=0.2, patience=args.patience, seed=args.seed,
                         tail_weight=spec.get("tail", 0.0))
    base = 0.0
    if spec["kind"] == "resid":
        train, base = residual_set(parts, names, held, args)
        parts = {**parts, held: dataclasses.replace(parts[held], prior_offset=0.0)}
    model = train_model(train, cfg)
    run_trial.selection = model.selection
    return predict(model, parts[held], "total-cap")[1] + base


def residual_set(parts: dict, names: list[str], held: str, args):
    """(training union whose total-cap labels are each net's residual from an out-of-design GBM, the GBM trained on
    every training design predicting the held-out one): each training design's residuals come from a GBM fitted on
    the other training designs, so the GNN learns what GBM misses on designs GBM has not seen."""
    from graphrep.tasks.circuits.training import cap_labelled_nets, union_inputs

    capped = {n: cap_labelled_nets(parts[n], args.max_train_nets, args.layers) for n in names}
    resid = []
    for n in names:
        gbm = BaselineModel("gbm", "total-cap", args.seed).fit(union_inputs([capped[m] for m in names if m != n]))
        y = capped[n].y_total.clone()
        y[capped[n].mask] -= torch.as_tensor(gbm.predict(capped[n]), dtype=y.dtype)
        resid.append(dataclasses.replace(capped[n], y_total=y, prior_offset=0.0))
    full = BaselineModel("gbm", "total-cap", args.seed).fit(union_inputs(list(capped.values())))
    return union_inputs(resid), full.predict(parts[held])


def scores(y: np.ndarray, p: np.ndarray) -> dict:
    """R², the diagnostic ``r2_centred``, the bias, and the large-net columns: the benchmark's R² and Spearman on the
    top 20% of nets by true capacitance, their bias (mean prediction minus mean truth, scaled axis) and
    ``r2_top20_centred`` (the same oracle as ``r2_centred``, on the top 20% alone: how much of its error is the
    top set's offset), ``r2_top20_design_centred`` (the top 20%'s R² after the whole design's offset is removed, the
    ``r2_centred`` oracle: how much of it is a per-design offset) and ``slope``, the least-squares slope of prediction
    on truth over all nets (1: no regression to the mean)."""
    large = large_net_metrics(y, p)
    top = np.argsort(-y, kind="stable")[:max(1, int(np.ceil(LARGE_FRACTION * len(y))))]
    yt, pt = y[top], p[top]
    shifted = p - p.mean() + y.mean()
    return {"r2": float(r2_score(y, p)), "r2_centred": float(r2_score(y, shifted)),
            "bias": float(p.mean() - y.mean()), "r2_top20": large["r2_top20"],
            "spearman_top20": large["spearman_top20"], "bias_top20": float(pt.mean() - yt.mean()),
            "r2_top20_centred": float(r2_score(yt, pt - pt.mean() + yt.mean())),
            "r2_top20_design_centred": float(r2_score(yt, shifted[top])),
            "slope": float(np.polyfit(y, p, 1)[0]) if np.std(y) > 0 else float("nan")}


def run(args) -> dict:
    torch.set_num_threads(1)
    start = time.perf_counter()
    graphs = load_graphs(args.designs, root=args.root)
    inputs = {n: prepare(g, seed=0) for n, g in graphs.items()}
    _NET_NAMES.update({inputs[n].name: list(g["net"].names) for n, g in graphs.items()})
    out: dict = {}
    for held in args.held_out:
        y = inputs[held].target("total-cap")[0].numpy()
        out[held] = {}
        for trial in args.trials:
            t0 = time.perf_counter()
            run_trial.selection = None
            p = run_trial(trial, inputs, held, args)
            name = trial if args.seed == 0 else f"{trial}@{args.seed}"
            out[held][name] = {**scores(y, p), "seconds": time.perf_counter() - t0, "selection": run_trial.selection,
                               "pred": p.tolist()}
            print(f"[{time.perf_counter() - start:.0f} s] {held} {name}: r2 {out[held][name]['r2']:.3f}",
                  file=sys.stderr, flush=True)
        out[held]["y"] = y.tolist()
    return {"folds": out, "total_seconds": time.perf_counter() - start, "args": {
        k: v for k, v in vars(args).items() if k in ("trials", "held_out", "seed", "max_train_nets", "patience",
                                                     "layers", "lr")}}


def _row_line(t: str, per: dict, helds: list[str]) -> str:
    secs = [per[h].get("seconds", 0.0) for h in helds]
    picked = [per[h]["selection"]["best_epoch"] + 1 for h in helds if per[h].get("selection")]
    return (f"| {t} | {np.mean([per[h]['r2'] for h in helds]):.3f} | "
            f"{np.mean([per[h]['r2_centred'] for h in helds]):.3f} | "
            + " | ".join(f"{per[h]['r2']:.3f}" for h in helds)
            + f" | {np.mean(secs):.0f} | {f'{np.mean(picked):.0f}' if picked else '–'} |")


def large_lines(rows: dict, helds: list[str]) -> list[str]:
    """The large-net columns per trial, means over the held-out designs (:func:`scores`; trials run before these
    columns existed have none and are left out)."""
    cols = ["r2_top20", "spearman_top20", "bias_top20", "r2_top20_centred", "r2_top20_design_centred", "slope"]
    md = ["## Large nets (top 20% by true capacitance)", "",
          "Means over the held-out designs. `bias_top20`: mean prediction minus mean truth on those nets (scaled "
          "axis; × 6 for decades); `r2_top20_centred`: their R² after that bias is removed (an oracle, a diagnostic: "
          "what is left is ranking and spread within the large nets); `r2_top20_design_centred`: their R² after the "
          "whole design's offset is removed (the `r2_centred` oracle); `slope`: least-squares slope of prediction on "
          "truth over all nets (1 would be no regression to the mean).", "",
          "| trial | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for t, per in rows.items():
        if len(per) == len(helds) and all(c in per[h] for h in helds for c in cols):
            md.append(f"| {t} | " + " | ".join(f"{np.mean([per[h][c] for h in helds]):.3f}" for c in cols) + " |")
    return md + [""]


def seed_lines(rows: dict, helds: list[str]) -> list[str]:
    """Per trial run on several seeds: mean ± std over seeds of the mean held-out R², the same split into designs with
    and without a training design of their PDK family, and the seed ensemble (mean prediction) with its gain."""
    seen = [h for h in helds if any(PDK[d] == PDK[h] for d in LIBRARY_DESIGNS if d != h)]
    unseen = [h for h in helds if h not in seen]
    md = ["## Over seeds", "",
          f"Designs with a same-PDK training design: {', '.join(seen)}; without: {', '.join(unseen) or 'none'}. "
          "Single seeds: mean ± sample std over seeds of the mean over designs; ensemble: the seeds' mean prediction "
          "(one value).", "",
          "| trial | seeds | R², single seed | R² same-PDK designs | R² other designs | R², seed ensemble | "
          "ensemble − single |", "|---|---|---|---|---|---|---|"]
    for base in [t for t in rows if "@" not in t and "+" not in t]:
        names = [base] + sorted(t for t in rows if t.startswith(base + "@") and "+" not in t)  # not blends
        if len(names) < 2 or any(len(rows[n]) < len(helds) for n in names):
            continue
        ens = "+".join(names)

        def stat(hs: list[str]) -> str:
            vals = [np.mean([rows[n][h]["r2"] for h in hs]) for n in names]
            return f"{np.mean(vals):.3f} ± {np.std(vals, ddof=1):.3f}" if hs else "–"
        single = np.mean([np.mean([rows[n][h]["r2"] for h in helds]) for n in names])
        e = np.mean([rows[ens][h]["r2"] for h in helds]) if ens in rows and len(rows[ens]) == len(helds) else None
        md.append(f"| {base} | {len(names)} | {stat(helds)} | {stat(seen)} | {stat(unseen)} | "
                  + (f"{e:.3f} | {e - single:+.3f} |" if e is not None else "– | – |"))
    return md + [""]


def report(parts: list[dict], out_dir: Path, blends: list[str], stem: str = "circuit_transfer_trials") -> str:
    folds: dict = {}
    for part in parts:
        for held, f in part["folds"].items():
            folds.setdefault(held, {}).update(f)
    helds = list(folds)
    trials = list(dict.fromkeys(t if part["args"]["seed"] == 0 else f"{t}@{part['args']['seed']}"
                                for part in parts for t in part["args"]["trials"]))
    # scores recomputed from the stored predictions (part files written before a column was added get it too)
    rows = {t: {h: {**folds[h][t], **scores(np.asarray(folds[h]["y"]), np.asarray(folds[h][t]["pred"]))}
                for h in helds if t in folds[h]} for t in trials}
    for blend in blends:
        members = blend.split("+")
        rows[blend] = {}
        for h in helds:
            if all(m in folds[h] for m in members):
                p = np.mean([folds[h][m]["pred"] for m in members], axis=0)
                rows[blend][h] = scores(np.asarray(folds[h]["y"]), p)
    partial = {t: sorted(per) for t, per in rows.items() if 0 < len(per) < len(helds)}
    args = parts[0]["args"]
    md = ["# Circuit transfer trials: reduced leave-one-design-out loop (total capacitance)", "",
          f"Held out: {', '.join(helds)} (one at a time; training on the other {len(LIBRARY_DESIGNS) - 1} library "
          f"designs, at most {args['max_train_nets']} labelled nets each, as in `circuit_transfer.py`), seed 0 "
          f"unless the trial says `@k`, model selection on a seeded 20% of the training labels, patience "
          f"{args['patience']}. Written by `benchmarks/circuit_transfer_trials.py` (the trials and their settings "
          "are in its `TRIALS`). Machine: shared 2-core x86_64 CPU, torch threads 1; wall time "
          f"{sum(p['total_seconds'] for p in parts):.0f} s in all. `r2_centred` is a diagnostic (the prediction's "
          "mean moved onto the truth's, an oracle, not a method); a row `a+b` is the mean of those trials' "
          "predictions (equal weights fixed in advance; a trial named twice counts twice).", "",
          "| trial | mean R² | mean r2_centred | " + " | ".join(helds) + " | seconds/fold | selected epoch |",
          "|---|---|---|" + "---|" * len(helds) + "---|---|"]
    md += [_row_line(t, per, helds) for t, per in rows.items() if len(per) == len(helds)] + [""]
    if partial:
        md += ["Trials stopped early (runs killed once clearly behind; the designs they reached): "
               + "; ".join(f"{t}: " + ", ".join(f"{h} {rows[t][h]['r2']:.3f}" for h in hs) for t, hs in
                           partial.items()), ""]
    md += large_lines(rows, helds)
    md += seed_lines(rows, helds)
    text = "\n".join(md) + "\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.md").write_text(text)
    slim = {t: {h: {k: v for k, v in r.items() if k != "pred"} for h, r in per.items()} for t, per in rows.items()}
    (out_dir / f"{stem}.json").write_text(json.dumps(
        {"rows": slim, "held_out": helds, "blends": blends, "args": args, "platform": platform.platform(),
         "total_seconds": sum(p["total_seconds"] for p in parts)}, indent=1))
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=DATA_ROOT)
    p.add_argument("--trials", default="gbm,mse-e60-h16")
    p.add_argument("--held-out", default=",".join(DEFAULT_HELD))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-train-nets", type=int, default=1000)
    p.add_argument("--patience", type=int, default=20)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--part", default=None, help="write the raw results (with predictions) here")
    p.add_argument("--parts", default=None, help="merge these part files into the report")
    p.add_argument("--blends", default="", help="rows a+b(+...): the mean of these trials' predictions")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    p.add_argument("--name", default="circuit_transfer_trials",
                   help="the report's file stem in --out (a later set of trials beside the earlier report)")
    args = p.parse_args(argv)
    blends = [b for b in args.blends.split(",") if b]
    if args.parts:
        print(report([json.loads(Path(f).read_text()) for f in args.parts.split(",")], Path(args.out), blends,
                     args.name))
        return 0
    args.designs = list(LIBRARY_DESIGNS)
    args.trials = [t for t in args.trials.split(",") if t]
    args.held_out = [h for h in args.held_out.split(",") if h]
    bad = [t for t in args.trials if t not in TRIALS] + [h for h in args.held_out if h not in PDK]
    if bad:
        p.error(f"unknown trials or designs: {', '.join(bad)}")
    out = run(args)
    Path(args.part or Path(args.out) / "circuit_transfer_trials_part.json").write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
