"""The main job's recipe choices, measured on CHEMBL2321810 (scaffold split, seeds 0,1,2): epochs, learning-rate
schedule, a lower learning rate with weight decay for the pre-trained rows, and the stacked row (the hybrid trained on
the fingerprint forest's out-of-fold residual).

Each variant is the main job's own code (:func:`graphrep.tasks.molecules.main_job.run_main_job` on one set) with the settings
below; a variant finished under ``--work`` by an earlier invocation is read back, not rerun. Writes
benchmarks/results/main_job_recipes.{json,md,png}: test RMSE (mean ± sample std over seeds; the ensemble and blend rows
are one model each) per row and variant, and each variant's wall time.

    python benchmarks/main_job_recipes.py --work runs/main_job_recipes
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from graphrep.tasks.molecules.main_job import MainJobConfig, run_main_job, write_main_job_report

RESULTS = Path(__file__).resolve().parent / "results"
#: name: (description, MainJobConfig fields, recipe fields)
VARIANTS = {
    "const10": ("10 epochs, constant lr (the previous default)", {"epochs": 10}, {"schedule": "constant"}),
    "const6": ("6 epochs, constant lr (the default)", {"epochs": 6}, {"schedule": "constant"}),
    "cos6": ("6 epochs, cosine lr", {"epochs": 6}, {"schedule": "cosine"}),
    "stack-cos6": ("stacked row alone, 6 epochs, cosine lr", {"epochs": 6, "stack": True, "rows": ["stacked"]},
                   {"schedule": "cosine"}),
    "lowlr6": ("pre-trained rows, 6 epochs, lr 3e-4, weight decay 1e-4",
               {"epochs": 6, "rows": ["pretrained", "hybrid"]},
               {"schedule": "constant", "lr": 3e-4, "weight_decay": 1e-4}),
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--data", default="chembl2321810")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--work", default="runs/main_job_recipes", help="per-variant results (read back when present)")
    p.add_argument("--out", default=str(RESULTS / "main_job_recipes"))
    return p.parse_args()


def run_variant(args, name: str) -> dict:
    path = Path(args.work) / f"{name}.json"
    if path.is_file():
        result = json.loads(path.read_text())
        return {**next(iter(result["sets"].values())), **result} if "rows" not in result else result
    _, fields, recipe = VARIANTS[name]
    config = MainJobConfig(datasets=[args.data], jobs=args.jobs, out_dir=str(Path(args.work) / name), **fields)
    config.recipe.update(recipe)
    result = run_main_job(config)
    write_main_job_report(result, Path(args.work) / name)
    path.write_text(json.dumps(result, indent=2, default=str))
    return result


def cell(stat: dict) -> str:
    return f"{stat['mean']:.3f}" if stat["n"] == 1 else f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def render(results: dict[str, dict]) -> str:
    keys = list(dict.fromkeys(k for r in results.values() for k in r["rows"]))
    labels = {k: r["rows"][k]["label"] for r in results.values() for k in r["rows"]}
    lines = ["| model | " + " | ".join(VARIANTS[n][0] for n in results) + " |",
             "|---|" + "---|" * len(results)]
    for key in keys:
        lines.append(f"| {labels[key]} | " + " | ".join(
            cell(r["rows"][key]["summary"]["test"]["rmse"]) if key in r["rows"] else "-" for r in results.values())
            + " |")
    lines.append("| wall time (s) | " + " | ".join(f"{r['seconds']:.0f}" if r.get("seconds") else "-"
                                                  for r in results.values()) + " |")
    one = next(iter(results.values()))
    d = one["dataset"]
    sizes = d["split_sizes"]
    lines += ["", f"Test RMSE on {d['name']} ({d['molecules']} molecules, scaffold split {sizes['train']}/"
              f"{sizes['valid']}/{sizes['test']}), mean ± std (ddof=1) over seeds "
              f"{','.join(map(str, one['config']['seeds']))}; ensemble and blend: one model each; -: row not run in "
              f"that variant. Unless the column says otherwise: GIN 5 x 300, batch 32, Adam 1e-3 without weight "
              f"decay, dropout 0.5, EMA 0.9, test at the best validation epoch, "
              f"{one['config']['jobs']} rows at a time on a 2-core CPU shared with other jobs (wall times vary with "
              f"their load)."]
    return "\n".join(lines)


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = list(dict.fromkeys(k for r in results.values() for k in r["rows"]))
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(results)
    for i, (name, r) in enumerate(results.items()):
        stats = [r["rows"][k]["summary"]["test"]["rmse"] if k in r["rows"] else None for k in keys]
        ax.bar(np.arange(len(keys)) + i * width, [s["mean"] if s else np.nan for s in stats], width,
               yerr=[s["std"] if s else 0 for s in stats], label=VARIANTS[name][0])
    ax.set_xticks(np.arange(len(keys)) + width * (len(results) - 1) / 2, keys, fontsize=8)
    ax.set(ylabel="test RMSE (lower is better)", title="main job recipes on CHEMBL2321810")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    results = {name: run_variant(args, name) for name in args.variants.split(",")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = render(results)
    out.with_suffix(".md").write_text(table + "\n")
    out.with_suffix(".json").write_text(json.dumps({"variants": {n: VARIANTS[n][0] for n in results},
                                                    "results": results, "seconds": time.perf_counter() - start},
                                                   indent=2, default=str))
    plot(results, out.with_suffix(".png"))
    print(table)


if __name__ == "__main__":
    main()
