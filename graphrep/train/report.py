"""Write an experiment's results: JSON, a markdown table and a learning-curve plot."""

from __future__ import annotations

import json
from pathlib import Path

MODEL_LABELS = {"gin": "GIN (from scratch)", "random_forest": "RF on Morgan fingerprints"}


def fmt(stat: dict[str, float], scale: float = 1.0, digits: int = 3) -> str:
    return f"{stat['mean'] * scale:.{digits}f} ± {stat['std'] * scale:.{digits}f}"


def results_table(results: dict) -> str:
    """Markdown table: one row per model, columns test/valid metrics as mean ± std over seeds."""
    summary = results["summary"]
    # every metric any model has, in first-seen order (e.g. OGB's ogb_rocauc is scored for the GIN only): "-" where
    # a model lacks one
    metrics = list(dict.fromkeys(m for parts in summary.values() for m in parts["test"]))
    seeds = len(results["gin"])
    header = ["model"] + [f"test {m}" for m in metrics] + [f"valid {m}" for m in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, parts in summary.items():
        label = MODEL_LABELS.get(model, model)
        if model == "gin" and results["config"].get("encoder_checkpoint"):
            label = "GIN (fine-tuned from a pre-trained encoder)"
        cells = [label]
        cells += [fmt(parts[part][m]) if m in parts[part] else "-" for part in ("test", "valid") for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    d = results["dataset"]
    sizes = d.get("split_sizes", {})
    lines.append("")
    lines.append(f"{d['name']}: {d['molecules']} molecules ({d['skipped']} unparsable skipped), {d['tasks']} "
                 f"{d['task_type']} task(s), {results['config']['split']} split "
                 f"{sizes.get('train')}/{sizes.get('valid')}/{sizes.get('test')}; mean ± std over {seeds} seed(s); "
                 f"test at the best validation epoch.")
    return "\n".join(lines)


def plot_learning_curves(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = "roc_auc" if results["dataset"]["task_type"] == "classification" else "rmse"
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    for run in results["gin"]:
        epochs = [r["epoch"] + 1 for r in run["history"]]
        # markers: a one-epoch run is a single point, which a line alone does not draw
        ax_loss.plot(epochs, [r.get("train/loss", float("nan")) for r in run["history"]], marker="o", ms=3,
                     label=f"GIN, seed {run['seed']}")
        ax_metric.plot(epochs, [r.get(f"valid/{metric}", float("nan")) for r in run["history"]], marker="o", ms=3,
                       label=f"GIN, seed {run['seed']}")
    for i, run in enumerate(results["random_forest"]):
        ax_metric.axhline(run["valid"][metric], color="grey", ls="--", lw=0.8,
                          label="fingerprint random forest" if i == 0 else None)
    name = "ROC-AUC" if metric == "roc_auc" else "RMSE (label units)"
    ax_loss.set(xlabel="epoch", ylabel="training loss (per batch, mean over the epoch)", title="GIN training loss")
    ax_metric.set(xlabel="epoch", ylabel=f"validation {name}", title=f"validation {name}")
    ax_loss.legend(fontsize=8)
    ax_metric.legend(fontsize=8)
    fig.suptitle(results["dataset"]["name"])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_files(results: dict, out_dir: str | Path, table: str, plot, png_name: str) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` (``table``) and the figure ``plot(results, path)`` named ``png_name``
    under ``out_dir``; return their paths. Every training report of the CLI goes through here."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "md": out_dir / "results.md", "png": out_dir / png_name}
    paths["json"].write_text(json.dumps(results, indent=2, default=str))
    paths["md"].write_text(table + "\n")
    plot(results, paths["png"])
    return paths


def folder_size(path: str | Path) -> str:
    """Bytes of every file under ``path``, as a human-readable size (``73.2 MB``)."""
    total = float(sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()))
    for unit in ("B", "KB", "MB", "GB"):
        if total < 1000 or unit == "GB":
            return f"{total:.0f} {unit}" if unit == "B" else f"{total:.1f} {unit}"
        total /= 1000
    return f"{total:.1f} GB"


def report_paths(out_dir: str | Path) -> dict[str, Path]:
    """Where :func:`write_report` writes: ``results.json``, ``results.md``, ``learning_curve.png`` under ``out_dir``."""
    out_dir = Path(out_dir)
    return {"json": out_dir / "results.json", "md": out_dir / "results.md", "png": out_dir / "learning_curve.png"}


def write_report(results: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write a training run's report under ``out_dir`` (:func:`report_paths`); return the paths. The one writer of
    ``run_experiment`` and ``graphrep train``/``finetune``."""
    return write_files(results, out_dir, results_table(results), plot_learning_curves,
                       report_paths(out_dir)["png"].name)
