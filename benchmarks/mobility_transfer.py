"""Next-location prediction in New York and Tokyo, and transfer from New York to Tokyo (TrajMoE, issue 10).

Cells (Foursquare check-ins with categories from ../shared/data/mobility, per-user chronological 80/10/10 split,
trajectories cut at 72 h gaps, every test check-in scored once against all the city's venues):

- NYC in-city; TKY in-city (100% of TKY's training users = "TKY from scratch 100%");
- NYC -> TKY zero-shot (NYC weights, TKY venue features from TKY's training check-ins, no gradient step on TKY);
- NYC -> TKY fine-tuned on 5% / 20% of TKY's training users (the NYC weights compete on validation with every
  fine-tuned epoch; TKY venue features from those users' training rows only); TKY from scratch on the same 5% / 20%.

Rows: popularity, user frequency, first-order Markov (count baselines, same targets), then neural models that all share
the location encoder, the output layer (similarity to venue embeddings) and the user-history component: GRU, dense
transformer (same active parameters as the MoE), MoE without spatial priors, MoE without the shared expert, the full
TrajMoE, and the full TrajMoE without the user-history component. To fit the shared 2-core machine, the three ablation
rows (no priors, no shared expert, no user history) run in the NYC in-city and zero-shot cells only (``--ablation-cells
all`` runs them everywhere). Seeds change initialisation, batch order and, in the 5%/20% cells, which users are drawn
(count baselines there depend on the draw through the training counts; user frequency does not).

    python benchmarks/mobility_transfer.py                  # the scale the README reports
    python benchmarks/mobility_transfer.py --seeds 0 --epochs-nyc 1 --epochs-tky 1 --epochs-small 1   # smoke run

Writes benchmarks/results/mobility_transfer.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
import torch  # noqa: E402

from graphrep.data.mobility import CITY_LAYOUTS, load_checkins  # noqa: E402
from graphrep.data.text import TextEncoder  # noqa: E402
from graphrep.models.trajmoe import TrajMoE, TrajMoEConfig  # noqa: E402
from graphrep.tasks.mobility.training import (BASELINES, TrainSettings, baseline_metrics, evaluate_model,  # noqa: E402
                                     plot_utilisation, prepare_city, train_model)

METRICS = ("acc@1", "acc@5", "acc@10", "mrr", "ndcg@5")
BASELINE_NAMES = {"popularity": "popularity", "user_frequency": "user frequency", "markov": "first-order Markov"}
VARIANTS = {
    "GRU": {"backbone": "gru"},
    "dense transformer": {"backbone": "dense"},
    "MoE w/o spatial priors": {"use_priors": False},
    "MoE w/o shared expert": {"num_shared": 0},
    "TrajMoE (full)": {},
    "TrajMoE w/o user history": {"use_history": False},
}
ABLATIONS = ("MoE w/o spatial priors", "MoE w/o shared expert", "TrajMoE w/o user history")
CELLS = ("NYC in-city", "TKY in-city (100%)", "NYC->TKY zero-shot", "NYC->TKY fine-tuned 5%",
         "NYC->TKY fine-tuned 20%", "TKY from scratch 5%", "TKY from scratch 20%")


def mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def summarise(cells: dict) -> None:
    """Set ``(mean, sample std)`` over seeds of every metric and timing on each ``cells[cell][row]`` entry."""
    for cell in cells.values():
        for entry in cell.values():
            for m in (*METRICS, "train_seconds", "tokens_per_s"):
                vals = [s[m] for s in entry["seeds"] if m in s]
                if vals:
                    entry[m] = mean_std(vals)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs-nyc", type=int, default=1)
    p.add_argument("--epochs-tky", type=int, default=2)
    p.add_argument("--epochs-small", type=int, default=3, help="epochs on 5%%/20%% of TKY (scratch and fine-tuning)")
    p.add_argument("--batch-size", type=int, default=32, help="windows per step")
    p.add_argument("--ablation-cells", choices=["in-city", "all"], default="in-city")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of the neural rows")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = {k: VARIANTS[k] for k in args.variants.split(",")}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    encoder = TextEncoder(show_progress=False)

    def log(msg):
        print(f"[{time.perf_counter() - start:6.0f} s] {msg}", flush=True)

    raw = {c: load_checkins(Path(args.root) / "mobility" / CITY_LAYOUTS[c][0], city=c) for c in ("nyc", "tky")}
    nyc = prepare_city("nyc", checkins=raw["nyc"], embed_categories=encoder)
    tky = prepare_city("tky", checkins=raw["tky"], embed_categories=encoder)
    log(f"prepared: {nyc.describe()} | {tky.describe()}")
    results = {"cells": {c: {} for c in CELLS}, "seeds": seeds, "data": {"nyc": nyc.describe(), "tky": tky.describe()},
               "settings": {"epochs_nyc": args.epochs_nyc, "epochs_tky": args.epochs_tky,
                            "epochs_small": args.epochs_small, "dim": args.dim, "window": 64, "batch_size": args.batch_size,
                            "ablation_cells": args.ablation_cells,
                            "machine": "2 CPU cores shared with seven other jobs, torch threads = 1"},
               "utilisation": {}}

    def record(cell, row, seed, metrics, train=None):
        entry = results["cells"][cell].setdefault(row, {"seeds": []})
        entry["seeds"].append({"seed": seed, **metrics, **(train or {})})

    def train(data, overrides, seed, epochs, init=None, lr=3e-3):
        torch.manual_seed(seed)
        model = TrajMoE(TrajMoEConfig(dim=args.dim, **overrides))
        if init is not None:
            model.load_state_dict(init.state_dict())
        info = train_model(model, data, TrainSettings(epochs=epochs, seed=seed, lr=lr, patience=epochs,
                                                      batch_size=args.batch_size, keep_initial=init is not None))
        return model, {"train_seconds": info["train_seconds"], "tokens_per_s": info["tokens_per_s"],
                       "best_epoch": info["best_epoch"], "active_parameters": model.active_parameters()}, info

    def save():
        summarise(results["cells"])
        results["wall_seconds"] = time.perf_counter() - start
        (out / "mobility_transfer.json").write_text(json.dumps(results, indent=1))
        write_table(results, out / "mobility_transfer.md")

    for seed in seeds:
        fractions = {f: prepare_city("tky", checkins=raw["tky"], embed_categories=encoder, fraction=f, seed=seed)
                     for f in (0.05, 0.2)}
        for cell, data in (("NYC in-city", nyc), ("TKY in-city (100%)", tky), ("NYC->TKY zero-shot", tky),
                           ("NYC->TKY fine-tuned 5%", fractions[0.05]), ("NYC->TKY fine-tuned 20%", fractions[0.2]),
                           ("TKY from scratch 5%", fractions[0.05]), ("TKY from scratch 20%", fractions[0.2])):
            for b in BASELINES:
                record(cell, BASELINE_NAMES[b], seed, baseline_metrics(data, b))
        for name, overrides in variants.items():
            model_nyc, info, hist = train(nyc, overrides, seed, args.epochs_nyc)
            record("NYC in-city", name, seed, evaluate_model(model_nyc, nyc), info)
            if name == "TrajMoE (full)":
                results["utilisation"].setdefault("NYC in-city", []).append(hist["history"])
            record("NYC->TKY zero-shot", name, seed, evaluate_model(model_nyc, tky))
            log(f"seed {seed} {name}: NYC acc@1 {results['cells']['NYC in-city'][name]['seeds'][-1]['acc@1']:.4f}, "
                f"zero-shot TKY {results['cells']['NYC->TKY zero-shot'][name]['seeds'][-1]['acc@1']:.4f} "
                f"({info['train_seconds']:.0f} s, {info['tokens_per_s']:.0f} tokens/s)")
            save()
            if name in ABLATIONS and args.ablation_cells == "in-city":
                continue
            model, info, _ = train(tky, overrides, seed, args.epochs_tky)
            record("TKY in-city (100%)", name, seed, evaluate_model(model, tky), info)
            for f, pct in ((0.05, "5%"), (0.2, "20%")):
                data = fractions[f]
                model, info, _ = train(data, overrides, seed, args.epochs_small, init=model_nyc, lr=1e-3)
                record(f"NYC->TKY fine-tuned {pct}", name, seed, evaluate_model(model, data), info)
                model, info, _ = train(data, overrides, seed, args.epochs_small)
                record(f"TKY from scratch {pct}", name, seed, evaluate_model(model, data), info)
            log(f"seed {seed} {name}: TKY cells done")
            save()
    save()
    plot(results, out / "mobility_transfer.png")
    hist = results["utilisation"].get("NYC in-city")
    if hist:
        plot_utilisation(hist[0], out / "mobility_utilisation.png", title="TrajMoE NYC seed 0")
    log(f"done; wrote {out / 'mobility_transfer.json'}, .md, .png")
    print((out / "mobility_transfer.md").read_text())
    return 0


def write_table(results: dict, path: Path) -> None:
    s = results["settings"]
    lines = [f"Scale: seeds {results['seeds']}; epochs NYC {s['epochs_nyc']}, TKY 100% {s['epochs_tky']}, 5%/20% "
             f"{s['epochs_small']}; d={s['dim']}, window {s['window']}, batch {s['batch_size']} windows; ablation rows in "
             f"{'every cell' if s['ablation_cells'] == 'all' else 'NYC in-city and zero-shot only'}; "
             f"{s['machine']}; wall {results.get('wall_seconds', 0):.0f} s. Mean ± sample std over seeds.", "",
             "| cell | method | Acc@1 | Acc@5 | Acc@10 | MRR | NDCG@5 | train s | tokens/s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for cell, rows in results["cells"].items():
        for row, e in rows.items():
            if "acc@1" not in e:
                continue
            cols = [f"{e[m][0]:.4f} ± {e[m][1]:.4f}" for m in METRICS]
            t = f"{e['train_seconds'][0]:.0f}" if "train_seconds" in e else "-"
            r = f"{e['tokens_per_s'][0]:.0f}" if "tokens_per_s" in e else "-"
            lines.append(f"| {cell} | {row} | {' | '.join(cols)} | {t} | {r} |")
    path.write_text("\n".join(lines) + "\n")


def plot(results: dict, path: Path,
         title: str = "Next-location prediction: NYC and TKY in-city, NYC -> TKY transfer") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [c for c in results["cells"] if results["cells"][c]]
    rows = list(dict.fromkeys(r for c in cells for r in results["cells"][c]))
    fig, ax = plt.subplots(figsize=(13, 4.5))
    width = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        m = [results["cells"][c].get(row, {}).get("acc@1", (np.nan, 0)) for c in cells]
        ax.bar(np.arange(len(cells)) + i * width, [v[0] for v in m], width, yerr=[v[1] for v in m], label=row)
    ax.set_xticks(np.arange(len(cells)) + 0.4 - width / 2)
    ax.set_xticklabels(cells, rotation=15, fontsize=8)
    ax.set_ylabel("test Acc@1 (share of next check-ins ranked first)")
    ax.set_ylim(0, None)
    ax.set_title(f"{title} (error bars: std over seeds)")
    ax.legend(fontsize=7, title="method", title_fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
