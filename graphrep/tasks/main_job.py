"""The main job (``graphrep`` with no arguments): the molecule recipes side by side with the fingerprint forest.

On one labelled set shipped inside RDKit (CHEMBL2321810 pIC50 by default, so it runs offline), scaffold split, the same
seeds for every row:

1. RF on Morgan fingerprints (500 trees on 2048-bit ECFP4);
2. GIN from scratch (OGB features, 5 x 300);
3. GIN fine-tuned from the shipped pre-trained encoder (``pretrained:attrmask-moses``);
4. the hybrid: that fine-tuned GIN with a readout that also sees ECFP counts and RDKit 2D descriptors;
5. the ensemble of the hybrid's seeds (their test predictions averaged).

Rows 2-4 train with the small-data recipe :data:`SMALL_DATA_RECIPE`. Writes ``results.json``, ``results.md`` (the
table, RMSE and R^2) and ``results.png`` (validation RMSE per epoch, test RMSE per row).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .experiment import TrainConfig, run_experiment, summarise
from .pretraining import finetune_config
from .report import write_files

#: The fine-tuning settings of the main job's GIN rows: EMA of the weights (decay 0.9 per step, ~10 steps) takes the
#: epoch-to-epoch swings out of validation, which selects the epoch; lr and dropout are the papers'.
SMALL_DATA_RECIPE = {"ema": 0.9, "lr": 1e-3, "dropout": 0.5, "batch_size": 32}
PRETRAINED = "pretrained:attrmask-moses"


@dataclass
class MainJobConfig:
    dataset: str = "chembl2321810"
    root: str | None = None
    epochs: int = 10
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    encoder: str = PRETRAINED
    readout: str = "ecfp+rdkit"
    rf_trees: int = 500
    out_dir: str = "runs/main"
    progress: bool = False
    jobs: int = 1  # rows trained at a time, each in its own process (2 on a 2-core machine)
    recipe: dict = field(default_factory=lambda: dict(SMALL_DATA_RECIPE))


def variants(config: MainJobConfig) -> list[tuple[str, str, TrainConfig]]:
    """``(key, label, TrainConfig)`` of the trained rows; only the first also fits the random forest."""
    common = dict(dataset=config.dataset, root=config.root, epochs=config.epochs, seeds=list(config.seeds),
                  progress=config.progress, rf_trees=config.rf_trees, **config.recipe)
    out = Path(config.out_dir)
    name = config.encoder.removeprefix("pretrained:")
    return [
        ("scratch", "GIN (from scratch)", TrainConfig(out_dir=str(out / "scratch"), baseline=True, **common)),
        ("pretrained", f"GIN fine-tuned from {name}",
         finetune_config(config.encoder, out_dir=str(out / "pretrained"), baseline=False, **common)),
        ("hybrid", f"hybrid: GIN from {name} + {config.readout.replace('+', ' + ')} readout",
         finetune_config(config.encoder, out_dir=str(out / "hybrid"), baseline=False, readout=config.readout,
                         ensemble=True, **common)),
    ]


def _timed_experiment(train_config: TrainConfig) -> tuple[dict, float]:
    import torch

    torch.set_num_threads(1)  # one core per row when rows run side by side
    t0 = time.perf_counter()
    result = run_experiment(train_config)
    return result, time.perf_counter() - t0


def run_main_job(config: MainJobConfig) -> dict:
    """Train every row (``config.jobs`` at a time, in child processes when > 1); return ``{"config", "dataset",
    "rows": {key: {label, runs, summary}}, "seconds"}``."""
    start = time.perf_counter()
    rows, dataset = {}, None
    todo = variants(config)
    if config.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(config.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(_timed_experiment, [c for _, _, c in todo]))
    else:
        done = [_timed_experiment(c) for _, _, c in todo]
    for (key, label, train_config), (result, seconds) in zip(todo, done):
        dataset = result["dataset"]
        if result["random_forest"]:
            rows["random_forest"] = {"label": "RF on Morgan fingerprints", "runs": result["random_forest"]}
        rows[key] = {"label": label, "runs": result["gin"], "seconds": seconds,
                     "config": asdict(train_config)}
        if "ensemble" in result:
            rows["ensemble"] = {"label": f"ensemble of the {len(config.seeds)} hybrid seeds",
                                "runs": [{"seed": "all", **result["ensemble"]}]}
    for row in rows.values():
        row["summary"] = {part: {m: summarise([r[part][m] for r in row["runs"]]) for m in row["runs"][0][part]}
                          for part in ("valid", "test")}
        for run in row["runs"]:  # checkpoints' paths and histories stay in the per-row folders' results
            run.pop("checkpoint", None)
    order = ["random_forest", "scratch", "pretrained", "hybrid", "ensemble"]
    return {"config": asdict(config), "dataset": dataset, "rows": {k: rows[k] for k in order if k in rows},
            "seconds": time.perf_counter() - start}


def _cell(stat: dict) -> str:
    return f"{stat['mean']:.3f}" if stat["n"] == 1 else f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def main_job_table(results: dict) -> str:
    """Markdown: one row per model, test RMSE and R^2 then validation RMSE (mean ± sample std over seeds)."""
    lines = ["| model | test RMSE | test R² | valid RMSE |", "|---|---|---|---|"]
    for row in results["rows"].values():
        s = row["summary"]
        lines.append(f"| {row['label']} | {_cell(s['test']['rmse'])} | {_cell(s['test']['r2'])} | "
                     f"{_cell(s['valid']['rmse'])} |")
    d, c = results["dataset"], results["config"]
    sizes = d.get("split_sizes", {})
    lines += ["", f"{d['name']}: {d['molecules']} molecules, scaffold split {sizes.get('train')}/{sizes.get('valid')}/"
              f"{sizes.get('test')}; mean ± std (ddof=1) over seeds {','.join(map(str, c['seeds']))}; GIN 5 x 300, "
              f"{c['epochs']} epochs, batch {c['recipe']['batch_size']}, Adam {c['recipe']['lr']:g}, dropout "
              f"{c['recipe']['dropout']}, EMA {c['recipe']['ema']}, test at the best validation epoch; RF "
              f"{c['rf_trees']} trees on 2048-bit ECFP4; {c.get('jobs', 1)} row(s) at a time; wall time "
              f"{results['seconds']:.0f} s."]
    return "\n".join(lines)


def plot_main_job(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_curve, ax_bar) = plt.subplots(1, 2, figsize=(11, 4))
    rows = results["rows"]
    trained = [row for key, row in rows.items() if key not in ("random_forest", "ensemble")]
    for colour, row in enumerate(trained):
        for i, run in enumerate(row["runs"]):
            epochs = [r["epoch"] + 1 for r in run["history"]]
            ax_curve.plot(epochs, [r.get("valid/rmse", np.nan) for r in run["history"]], color=f"C{colour}",
                          alpha=0.8, label=row["label"] if i == 0 else None)
    rf = rows.get("random_forest")
    if rf:
        ax_curve.axhline(rf["summary"]["valid"]["rmse"]["mean"], color="grey", ls="--", label=rf["label"])
    ax_curve.set(xlabel="epoch", ylabel="validation RMSE", title="validation RMSE per epoch (each seed)")
    ax_curve.legend(fontsize=7)
    labels = [row["label"] for row in rows.values()]
    means = [row["summary"]["test"]["rmse"]["mean"] for row in rows.values()]
    stds = [row["summary"]["test"]["rmse"]["std"] for row in rows.values()]
    ax_bar.barh(range(len(rows)), means, xerr=stds, color=[f"C{i}" for i in range(len(rows))])
    ax_bar.set_yticks(range(len(rows)), [label[:38] for label in labels], fontsize=7)
    ax_bar.invert_yaxis()
    ax_bar.set(xlabel="test RMSE (lower is better)", title=results["dataset"]["name"])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_main_job_report(results: dict, out_dir: str | Path) -> dict[str, Path]:
    """``results.json``, ``results.md`` and ``results.png`` under ``out_dir``."""
    return write_files(results, out_dir, main_job_table(results), plot_main_job, "results.png")

