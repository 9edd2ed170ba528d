"""GIN from scratch vs a random forest on Morgan fingerprints, MoleculeNet classification sets, scaffold split.

Same split (deterministic scaffold 80/10/10) and seed set for both models; test ROC-AUC at the best validation epoch,
mean ± std over seeds. Writes benchmarks/results/moleculenet.{json,md,png}.

    python benchmarks/moleculenet.py --root ../shared/data --epochs 20 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from graphrep.tasks.experiment import TrainConfig, run_experiment
from graphrep.tasks.report import fmt

DATASETS = ["bbbp", "bace", "clintox", "tox21", "sider"]
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rf-trees", type=int, default=500)
    parser.add_argument("--out", default=str(RESULTS / "moleculenet"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.datasets.split(",")
    runs, rows = {}, {"GIN (from scratch)": {}, "RF on Morgan fingerprints": {}}
    scratch = tempfile.mkdtemp(prefix="graphrep-moleculenet-")  # checkpoints of this run only
    for name in names:
        start = time.perf_counter()
        config = TrainConfig(dataset=name, root=args.root, epochs=args.epochs, seeds=seeds, progress=False,
                             rf_trees=args.rf_trees, out_dir=f"{scratch}/{name}")
        result = run_experiment(config)
        result["wall_seconds"] = time.perf_counter() - start
        runs[name] = {k: v for k, v in result.items() if k != "config"}
        for model, label in (("gin", "GIN (from scratch)"), ("random_forest", "RF on Morgan fingerprints")):
            rows[label][name] = result["summary"][model]["test"]["roc_auc"]
        print(f"{name}: GIN {fmt(rows['GIN (from scratch)'][name], 100, 1)}, "
              f"RF {fmt(rows['RF on Morgan fingerprints'][name], 100, 1)} ({result['wall_seconds']:.0f} s)", flush=True)
    header = "| model | " + " | ".join(n.upper() if n != "clintox" else "ClinTox" for n in names) + " | avg |"
    lines = [header, "|" + "---|" * (len(names) + 2)]
    for label, per in rows.items():
        avg = sum(per[n]["mean"] for n in names) / len(names) * 100
        lines.append(f"| {label} | " + " | ".join(fmt(per[n], 100, 1) for n in names) + f" | {avg:.1f} |")
    total = sum(r["wall_seconds"] for r in runs.values())
    lines += ["", f"Test ROC-AUC (%), scaffold split 80/10/10, mean ± std over seeds {args.seeds}; GIN 5x300, "
              f"{args.epochs} epochs, batch 32, Adam 1e-3, dropout 0.5, test at best validation epoch; RF "
              f"{args.rf_trees} trees on 2048-bit ECFP4. {platform.processor() or platform.machine()}, "
              f"{torch.get_num_threads()} threads, total {total / 60:.1f} min."]
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"args": vars(args), "runs": runs, "table": table}, indent=2,
                                                   default=str))
    out.with_suffix(".md").write_text(table + "\n")
    plot(rows, names, out.with_suffix(".png"))


def plot(rows: dict, names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(rows)
    for i, (label, per) in enumerate(rows.items()):
        x = np.arange(len(names)) + i * width
        ax.bar(x, [per[n]["mean"] * 100 for n in names], width, yerr=[per[n]["std"] * 100 for n in names],
               label=label, capsize=3)
    ax.set_xticks(np.arange(len(names)) + width * (len(rows) - 1) / 2, names)
    ax.set_ylabel("test ROC-AUC (%)")
    ax.set_ylim(40, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
