"""Does a GCN over the venue transition graph help TrajMoE's location encoder? (issue 11, item 3)

Same data, split, windows and scale as the NYC in-city and NYC->TKY zero-shot cells of
``benchmarks/mobility_transfer.py`` (its defaults: 1 epoch on NYC, d=64, window 64, batch 32 windows, lr 3e-3, seeds
0, 1, 2): the full TrajMoE against the same model with ``transition_gnn=True`` (one or two residual GCN layers over the
city's undirected, log-count-weighted transition graph from its training check-ins; TKY's graph from TKY's training
check-ins for zero-shot, no gradient step on TKY), beside the count baselines on the same targets. All models start
from the same seed; each GCN layer adds one ``d x d`` weight matrix.

    python benchmarks/mobility_transition_gnn.py                 # the scale the README reports
    python benchmarks/mobility_transition_gnn.py --seeds 0       # smoke run

Writes benchmarks/results/mobility_transition_gnn.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from graphrep.data.mobility import CITY_LAYOUTS, load_checkins
from graphrep.data.text import TextEncoder
from graphrep.models.trajmoe import TrajMoE, TrajMoEConfig
from graphrep.tasks.mobility.training import (BASELINES, TrainSettings, baseline_metrics, evaluate_model, prepare_city,
                                     train_model)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mobility_transfer import BASELINE_NAMES, METRICS, mean_std, plot, summarise  # noqa: E402

PLAIN = "TrajMoE (full)"
ROWS = {PLAIN: {}, "TrajMoE (full) + transition GNN, 1 layer": {"transition_gnn": True},
        "TrajMoE (full) + transition GNN, 2 layers": {"transition_gnn": True, "gnn_layers": 2}}
CELLS = ("NYC in-city", "NYC->TKY zero-shot")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=1, help="epochs on NYC")
    p.add_argument("--batch-size", type=int, default=32, help="windows per step")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    encoder = TextEncoder(show_progress=False)
    raw = {c: load_checkins(Path(args.root) / "mobility" / CITY_LAYOUTS[c][0], city=c) for c in ("nyc", "tky")}
    nyc = prepare_city("nyc", checkins=raw["nyc"], embed_categories=encoder)
    tky = prepare_city("tky", checkins=raw["tky"], embed_categories=encoder)
    print(f"prepared: {nyc.describe()} | {tky.describe()}", flush=True)
    results = {"cells": {c: {} for c in CELLS}, "seeds": seeds, "data": {"nyc": nyc.describe(), "tky": tky.describe()},
               "settings": {"epochs_nyc": args.epochs, "dim": args.dim, "window": 64, "batch_size": args.batch_size,
                            "lr": args.lr,
                            "machine": "2 CPU cores shared with seven other jobs, torch threads = 1"}}

    def record(cell, row, seed, metrics):
        results["cells"][cell].setdefault(row, {"seeds": []})["seeds"].append({"seed": seed, **metrics})

    for seed in seeds:
        for cell, data in zip(CELLS, (nyc, tky)):
            for b in BASELINES:
                record(cell, BASELINE_NAMES[b], seed, baseline_metrics(data, b))
        for row, overrides in ROWS.items():
            torch.manual_seed(seed)
            model = TrajMoE(TrajMoEConfig(dim=args.dim, **overrides))
            settings = TrainSettings(epochs=args.epochs, seed=seed, lr=args.lr, patience=args.epochs,
                                     batch_size=args.batch_size)
            info = train_model(model, nyc, settings)
            train = {"train_seconds": info["train_seconds"], "tokens_per_s": info["tokens_per_s"]}
            record("NYC in-city", row, seed, {**evaluate_model(model, nyc), **train})
            record("NYC->TKY zero-shot", row, seed, evaluate_model(model, tky))
            got = [results["cells"][c][row]["seeds"][-1]["acc@1"] for c in CELLS]
            print(f"[{time.perf_counter() - start:5.0f} s] seed {seed} {row}: NYC acc@1 {got[0]:.4f}, zero-shot TKY "
                  f"{got[1]:.4f} ({info['train_seconds']:.0f} s training)", flush=True)
            save(results, out, start)
    save(results, out, start)
    plot(results, out / "mobility_transition_gnn.png", title="TrajMoE with and without a transition-graph GCN")
    print((out / "mobility_transition_gnn.md").read_text())
    return 0


def save(results: dict, out: Path, start: float) -> None:
    summarise(results["cells"])
    results["paired_difference"] = {}
    for c, rows in results["cells"].items():
        for row in list(ROWS)[1:]:
            plain, gnn = rows.get(PLAIN), rows.get(row)
            if plain and gnn and len(gnn["seeds"]) == len(plain["seeds"]):
                results["paired_difference"][f"{c} | {row.split(' + ')[1]}"] = {
                    m: mean_std([g[m] - q[m] for g, q in zip(gnn["seeds"], plain["seeds"])]) for m in ("acc@1", "mrr")}
    results["wall_seconds"] = time.perf_counter() - start
    (out / "mobility_transition_gnn.json").write_text(json.dumps(results, indent=1))
    s = results["settings"]
    lines = [f"Scale: seeds {results['seeds']}; {s['epochs_nyc']} epoch on NYC, d={s['dim']}, window {s['window']}, "
             f"batch {s['batch_size']} windows, lr {s['lr']}; {s['machine']}; wall "
             f"{results['wall_seconds']:.0f} s. Mean ± sample std over seeds.", "",
             "| cell | method | Acc@1 | Acc@5 | Acc@10 | MRR | NDCG@5 | train s |", "|---|---|---|---|---|---|---|---|"]
    for cell, rows in results["cells"].items():
        for row, e in rows.items():
            if "acc@1" in e:
                t = f"{e['train_seconds'][0]:.0f}" if "train_seconds" in e else "-"
                cols = " | ".join(f"{e[m][0]:.4f} ± {e[m][1]:.4f}" for m in METRICS)
                lines.append(f"| {cell} | {row} | {cols} | {t} |")
    lines += ["", "| cell | variant | Δ Acc@1 (GNN − plain, paired by seed) | Δ MRR |", "|---|---|---|---|"]
    for cell, d in results["paired_difference"].items():
        a, m = d["acc@1"], d["mrr"]
        lines.append(f"| {cell} | {a[0]:+.4f} ± {a[1]:.4f} | {m[0]:+.4f} ± {m[1]:.4f} |")
    (out / "mobility_transition_gnn.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
