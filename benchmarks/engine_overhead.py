"""What the shared engine costs: circuit and mobility training before and after they moved onto Lightning Fabric.

Two source trees of this repository, exported with ``git archive`` (``--before``, default ``651e541``: the last commit
with the hand-written loops; ``--after``, default ``HEAD``), run the same workloads at the settings of the README's
benchmarks, each in a fresh process, alternating before/after ``--repeats`` times so that drift in the machine's load
falls on both sides alike:

- ``circuits``: the settings of the train-on-one-design circuit benchmark that the README showed when the engine
  landed (hidden 32, 4 layers, lr 1e-2, 80 epochs, 40 pre-training epochs, torch threads 1; the README's benchmark is
  now leave-one-design-out over 14 designs, too long to repeat 7 times on each side) for one seed and the total-cap
  task: CircuitGCL pre-training on five designs, then gnn-mse, gnn-bmse and circuitgcl fine-tuning trained on each
  design (15 fits);
- ``mobility``: ``benchmarks/mobility_transfer.py``'s README settings (dim 64, 1 epoch, batch 32, lr 3e-3, torch
  threads 1) for TrajMoE on NYC in-city, one seed (zero category embeddings, so that no text encoder is timed).

Only training is timed (graphs, check-ins and windows are prepared before the clock starts). The goal: the engine
adds at most 10% (median after/before <= 1.10). The metrics of both sides are written too: the engine must not
change what is learned (circuits match closely; mobility within noise of the batch order).

    python benchmarks/engine_overhead.py --root ../shared/data            # 3 repeats, ~25 min on 2 cores

Writes ``benchmarks/results/engine_overhead.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Runs inside a fresh interpreter whose ``sys.path`` starts with one exported tree; prints one JSON line.
WORKER = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(1)
workload, root, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "quick"
epochs, pretrain_epochs = (2, 1) if quick else (80, 40)
if workload == "circuits":
    from graphrep.tasks.circuits.training import TransferConfig, load_graphs, prepare, pretrain_encoder, train_model, \
        predict, metrics
    designs = ["gcd_sky130hd", "i2c_sg13g2", "gcd_nangate45", "gcd_sky130hs", "user_proj_gf180"][:2 if quick else 5]
    inputs = {n: prepare(g, seed=0) for n, g in load_graphs(designs, root=root).items()}
    start = time.perf_counter()
    cfg = TransferConfig(hidden=32, layers=4, lr=1e-2, epochs=epochs, pretrain_epochs=pretrain_epochs, seed=0)
    state = pretrain_encoder(list(inputs.values()), cfg)
    r2 = []
    for train in designs:
        for row in ("gnn-mse", "gnn-bmse", "circuitgcl"):
            c = TransferConfig(task="total-cap", method=row, hidden=32, layers=4, lr=1e-2, epochs=epochs, seed=0)
            model = train_model(inputs[train], c, state if row == "circuitgcl" else None)
            y, p = predict(model, inputs[train], "total-cap")
            r2.append(metrics("total-cap", np.asarray(y), np.asarray(p))["r2"])
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "fits": len(r2), "mean_train_r2": float(np.mean(r2))}))
else:
    from graphrep.models.trajmoe import TrajMoE, TrajMoEConfig
    from graphrep.tasks.mobility.training import TrainSettings, prepare_city, train_model
    zero = lambda names: torch.zeros(len(names), TrajMoEConfig().category_dim)
    data = prepare_city("nyc", root=root, embed_categories=zero)
    torch.manual_seed(0)
    model = TrajMoE(TrajMoEConfig(dim=64))
    start = time.perf_counter()
    info = train_model(model, data, TrainSettings(epochs=1, seed=0, lr=3e-3, patience=1, batch_size=32))
    seconds = time.perf_counter() - start
    mrr = max((h["valid"]["mrr"] for h in info["history"]), default=None)
    print(json.dumps({"seconds": seconds, "train_seconds": info.get("train_seconds"), "valid_mrr": mrr}))
"""


def export_tree(ref: str, into: Path) -> tuple[Path, str]:
    """``git archive REF`` unpacked under ``into``; returns (tree, full commit hash)."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", ref], check=True, capture_output=True,
                            text=True).stdout.strip()
    tree = into / commit[:12]
    tree.mkdir(parents=True)
    archive = into / f"{commit[:12]}.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), commit, "graphrep", "datasets"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree, commit


def run_worker(tree: Path, workload: str, root: str, quick: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    # -P: the current folder (the repository, whose graphrep would shadow the exported tree) stays off sys.path
    done = subprocess.run([sys.executable, "-P", "-c", WORKER, workload, root, "quick" if quick else "full"], env=env, capture_output=True,
                          text=True, cwd=tree)
    if done.returncode != 0:
        raise RuntimeError(f"{workload} in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(runs: dict) -> dict:
    out = {}
    for workload, sides in runs.items():
        med = {side: statistics.median(r["seconds"] for r in rs) for side, rs in sides.items()}
        ratios = [a["seconds"] / b["seconds"] for a, b in zip(sides["after"], sides["before"])]
        out[workload] = {"before_median_s": med["before"], "after_median_s": med["after"],
                         "ratio_of_medians": med["after"] / med["before"],
                         "paired_ratios": ratios, "goal_met": med["after"] / med["before"] <= 1.10}
    return out


def write(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "engine_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    meta = result["meta"]
    lines = ["# Engine overhead: training before and after the Lightning Fabric engine", "",
             f"Command: `python benchmarks/engine_overhead.py {' '.join(meta['argv'])}`. Before: `{meta['before'][:12]}` "
             f"(hand-written loops); after: `{meta['after'][:12]}` (engine). {meta['repeats']} alternating repeats, "
             f"each a fresh process, torch threads 1. Machine: {meta['machine']}; load average at start/end: "
             f"{meta['load_start']} / {meta['load_end']}.", "",
             "| workload | before (median s) | after (median s) | after / before | paired ratios | goal <= 1.10 |",
             "|---|---:|---:|---:|---|---|"]
    for w, s in result["summary"].items():
        lines.append(f"| {w} | {s['before_median_s']:.1f} | {s['after_median_s']:.1f} | {s['ratio_of_medians']:.3f} | "
                     f"{', '.join(f'{r:.3f}' for r in s['paired_ratios'])} | {'met' if s['goal_met'] else 'not met'} |")
    lines += ["", "What each side learned (must agree: the engine changes where training runs, not what it learns):", "",
              "| workload | side | metric per repeat |", "|---|---|---|"]
    for w, sides in result["runs"].items():
        key = "mean_train_r2" if w == "circuits" else "valid_mrr"
        for side, rs in sides.items():
            vals = ", ".join("-" if r.get(key) is None else f"{r[key]:.4f}" for r in rs)
            lines.append(f"| {w} | {side} | {key}: {vals} |")
    (out / "engine_overhead.md").write_text("\n".join(lines) + "\n")
    plot(result, out / "engine_overhead.png")


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(result["runs"])
    fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 3.6), squeeze=False)
    for ax, w in zip(axes[0], workloads):
        for i, side in enumerate(("before", "after")):
            secs = [r["seconds"] for r in result["runs"][w][side]]
            ax.scatter([i] * len(secs), secs, color=f"C{i}", zorder=3, label=f"{side} ({len(secs)} runs)")
            ax.hlines(statistics.median(secs), i - 0.25, i + 0.25, color=f"C{i}")
        ax.set_xticks([0, 1], ["before: own loop", "after: engine"])
        ax.set_xlim(-0.6, 1.6)
        ax.set_ylim(0, None)
        ax.set_ylabel("training wall time (s)")
        ratio = result["summary"][w]["ratio_of_medians"]
        ax.set_title(f"{w}: after / before = {ratio:.3f}")
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Engine overhead at the README benchmarks' settings (lines: medians)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=os.environ.get("GRAPHREP_DATA", str(REPO.parent / "shared" / "data")))
    p.add_argument("--before", default="651e541", help="commit with the hand-written loops")
    p.add_argument("--after", default="HEAD", help="commit with the engine")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workloads", default="circuits,mobility")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--quick", action="store_true", help="smoke run: circuits on two designs for 2 epochs (not the "
                   "README scale; mobility unchanged, one epoch is its smallest run)")
    args = p.parse_args(argv)
    workloads = [w for w in args.workloads.split(",") if w]
    if set(workloads) - {"circuits", "mobility"} or args.repeats < 1:
        p.error("--workloads takes circuits and/or mobility; --repeats >= 1")
    root = str(Path(args.root).resolve())
    load_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        trees = {side: export_tree(ref, Path(tmp) / side) for side, ref in (("before", args.before),
                                                                          ("after", args.after))}
        runs = {w: {"before": [], "after": []} for w in workloads}
        for rep in range(args.repeats):
            for w in workloads:
                # alternate which side goes first, so that a trend in the machine's load favours neither
                for side in (("before", "after") if rep % 2 == 0 else ("after", "before")):
                    r = run_worker(trees[side][0], w, root, args.quick)
                    runs[w][side].append(r)
                    print(f"repeat {rep} {w} {side}: {r['seconds']:.1f} s", file=sys.stderr, flush=True)
        commits = {side: trees[side][1] for side in trees}
    result = {"runs": runs, "summary": summarise(runs),
              "meta": {"argv": list(argv if argv is not None else sys.argv[1:]), "before": commits["before"],
                       "after": commits["after"], "repeats": args.repeats, "quick": args.quick, "load_start": load_start,
                       "load_end": [round(x, 2) for x in os.getloadavg()],
                       "machine": f"{os.cpu_count()} CPUs, {platform.machine()}", "python": platform.python_version()}}
    write(result, Path(args.out))
    print((Path(args.out) / "engine_overhead.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
