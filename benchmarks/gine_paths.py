"""GINE's message passing on its two CPU paths, side by side: the compiled loops against the torch ops.

:func:`graphrep.ops.edge_relu.relu_edge_sum` (``out[i] = (1 + eps) x_i + sum_{j -> i} ReLU(x_j + e_ji)``) runs
either as two loops over the edges compiled by numba (one thread, no ``[E, F]`` messages stored) or as torch ops
(gather, fused add-ReLU, bag sums: one ``[E, F]`` buffer a pass, torch's threads).
:func:`graphrep.ops._edge_relu_loops.use_loops` picks the loops where torch runs one thread; this script measures
whether that is the faster choice.

Per graph (``E`` edges on ``N = E / 2`` nodes, ``F`` features, float32; the nodes in molecules of 25 atoms with every
edge inside one, or the edges uniform over all nodes) and torch thread count, the two paths take turns one call at a
time (loops, torch ops, torch ops, loops, ...) for forward + backward (gradients of ``x``, ``e`` and a trained
``eps``, ``root = x``, as in GINEConv); a row gives the median ms over the calls, the speed-up (torch ops / loops) and
the path the policy picks.

    PYTHONPATH=$PWD python benchmarks/gine_paths.py                      # E = 7K .. 2M, F = 64, threads 1 and 2
    PYTHONPATH=$PWD python benchmarks/gine_paths.py --small --out /tmp/x  # a dry run

Writes ``<out>/gine_paths.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import List, Optional

import torch

import graphrep.ops._edge_relu_loops as loops
from graphrep.ops.edge_relu import relu_edge_sum

EDGES = [7_000, 30_000, 100_000, 300_000, 1_000_000, 2_000_000]
SMALL_EDGES = [500, 2_000]
GRAPHS = ("molecules", "uniform")
MOLECULE = 25  # atoms per molecule in the "molecules" graphs


def _inputs(e: int, f: int, graph: str, seed: int = 0):
    """``uniform``: sources and destinations drawn over all ``N = E / 2`` nodes (no locality: the loops' worst
    case); ``molecules``: the nodes in consecutive blocks of 25 (a batch of molecules), each edge inside one block."""
    gen = torch.Generator().manual_seed(seed)
    n = max(e // 2, 1)
    if graph == "uniform":
        edge_index = torch.randint(0, n, (2, e), generator=gen)
    else:
        # edges listed molecule by molecule, as a batch concatenates its graphs
        block = torch.randint(0, max(n // MOLECULE, 1), (e,), generator=gen).sort().values * MOLECULE
        edge_index = (block + torch.randint(0, MOLECULE, (2, e), generator=gen)).clamp_(max=n - 1)
    x = torch.randn(n, f, generator=gen).requires_grad_()
    attr = torch.randn(e, f, generator=gen).requires_grad_()
    eps = torch.zeros(1, requires_grad=True)
    grad = torch.randn(n, f, generator=gen)
    return n, edge_index, x, attr, eps, grad


def _call(path: str, n: int, edge_index, x, attr, eps, grad) -> float:
    """Seconds of one forward + backward on ``path`` ("loops" or "torch_ops")."""
    real = loops.use_loops
    loops.use_loops = lambda *_: path == "loops"
    try:
        x.grad = attr.grad = eps.grad = None
        t0 = time.perf_counter()
        relu_edge_sum(x, attr, edge_index, n, x, eps).backward(grad)
        return time.perf_counter() - t0
    finally:
        loops.use_loops = real


def measure(graph: str, e: int, f: int, threads: int, calls: int, min_seconds: float) -> dict:
    torch.set_num_threads(threads)
    n, *args = _inputs(e, f, graph)
    for path in ("loops", "torch_ops"):  # compile, build caches, warm the allocator
        for _ in range(3):
            _call(path, n, *args)
    times = {"loops": [], "torch_ops": []}
    end = time.perf_counter() + min_seconds
    turn = 0
    while len(times["loops"]) < calls or time.perf_counter() < end:
        for path in (("loops", "torch_ops") if turn % 2 == 0 else ("torch_ops", "loops")):
            times[path].append(_call(path, n, *args))
        turn += 1
    med = {p: statistics.median(v) * 1e3 for p, v in times.items()}
    real_pick = loops.use_loops()
    return {"graph": graph, "E": e, "N": n, "F": f, "threads": threads, "calls": len(times["loops"]),
            "loops_ms": med["loops"], "torch_ops_ms": med["torch_ops"],
            "speedup": med["torch_ops"] / med["loops"], "policy": "loops" if real_pick else "torch_ops",
            "faster": "loops" if med["loops"] < med["torch_ops"] else "torch_ops"}


def to_markdown(res: dict) -> str:
    lines = [f"# GINE's message passing: compiled loops vs torch ops ({res['machine']})", "",
             f"Command: `{res['command']}`. Forward + backward of `relu_edge_sum` (root = x, trained eps), float32, "
             f"E edges on N = E / 2 nodes, either in molecules of {MOLECULE} atoms (each edge inside one) or uniform "
             "over all nodes (no locality); the two paths alternate call by call; median over the calls. "
             "The policy (`use_loops`) takes the loops where torch runs one thread.", "",
             "| graph | threads | E | F | loops ms | torch ops ms | speed-up (torch ops / loops) | faster "
             "| policy picks | calls |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|---:|"]
    for r in res["rows"]:
        lines.append(f"| {r['graph']} | {r['threads']} | {r['E']:,} | {r['F']} | {r['loops_ms']:.3f} | "
                     f"{r['torch_ops_ms']:.3f} | {r['speedup']:.2f}x | {r['faster']} | {r['policy']} | {r['calls']} |")
    wrong = [r for r in res["rows"] if r["policy"] != r["faster"]]
    lines += ["", "Rows where the policy picks the slower path: " + (
        ", ".join(f"{r['graph']}, {r['threads']} thread(s), E = {r['E']:,} ({r['speedup']:.2f}x)" for r in wrong)
        if wrong
        else "none.")]
    return "\n".join(lines) + "\n"


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graphs = [g for g in GRAPHS if any(r["graph"] == g for r in res["rows"])]
    fig, axes = plt.subplots(1, len(graphs), figsize=(6.5 * len(graphs), 4.2), squeeze=False)
    for ax, graph in zip(axes[0], graphs):
        for threads in sorted({r["threads"] for r in res["rows"]}):
            rows = [r for r in res["rows"] if r["threads"] == threads and r["graph"] == graph]
            for key, style in (("loops_ms", "-o"), ("torch_ops_ms", "--s")):
                ax.plot([r["E"] for r in rows], [r[key] for r in rows], style,
                        label=f"{key[:-3].replace('_', ' ')}, {threads} thread(s)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"edges E (N = E / 2, {graph})")
        ax.set_ylabel("forward + backward, ms (median)")
        ax.set_title(f"relu_edge_sum on {graph} graphs (lower is better)", fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--threads", default="1,2", help="torch thread counts, comma-separated")
    ap.add_argument("--calls", type=int, default=30, help="at least this many calls per path and row")
    ap.add_argument("--seconds", type=float, default=4.0, help="and at least this long per row")
    ap.add_argument("--small", action="store_true", help="a dry run on two small sizes")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args(argv)
    edges = SMALL_EDGES if args.small else EDGES
    rows = []
    for graph in GRAPHS:
        for threads in (int(t) for t in args.threads.split(",")):
            for e in edges:
                rows.append(measure(graph, e, args.features, threads, 3 if args.small else args.calls,
                                    0.0 if args.small else args.seconds))
                print(rows[-1], flush=True)
    res = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "torch": torch.__version__,
           "command": "python benchmarks/gine_paths.py" + (" --small" if args.small else ""),
           "load_average": os.getloadavg(), "rows": rows}
    stem = Path(args.out) / ("gine_paths_small" if args.small else "gine_paths")
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1))
    stem.with_suffix(".md").write_text(to_markdown(res))
    plot(res, stem.with_suffix(".png"))
    print(to_markdown(res))


if __name__ == "__main__":
    main()
