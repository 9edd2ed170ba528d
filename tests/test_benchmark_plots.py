"""Every benchmark plot renders from its stored JSON (``benchmarks/replot.py``) and reads alone: a title, both axes
labelled (by a label or by text tick labels), a legend, no single-point curve without a marker, tick labels that are
whole words of the names they show."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.figure  # noqa: E402
import pytest  # noqa: E402
from _scripts import load_script  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


REPLOT = load_script("benchmarks/replot.py", "replot")


def _has_text_ticks(labels) -> bool:
    return any(t.get_text().strip() and not _is_number(t.get_text()) for t in labels)


def _is_number(text: str) -> bool:
    try:
        float(text.replace("−", "-").replace(",", ""))
        return True
    except ValueError:
        return False


def problems(fig) -> list[str]:
    """What keeps ``fig`` from reading alone (empty when nothing does)."""
    found = []
    axes = [ax for ax in fig.axes if ax.has_data()]
    if not axes:
        return ["no axes with data"]
    suptitle = fig._suptitle.get_text() if fig._suptitle is not None else ""
    for i, ax in enumerate(axes):
        if not (ax.get_title() or suptitle):
            found.append(f"axes {i}: no title and no figure title")
        if not (ax.get_xlabel() or _has_text_ticks(ax.get_xticklabels())):
            found.append(f"axes {i}: x axis without a label")
        if not (ax.get_ylabel() or _has_text_ticks(ax.get_yticklabels())):
            found.append(f"axes {i}: y axis without a label")
        for line in ax.get_lines():
            if len(line.get_xdata()) == 1 and line.get_marker() in (None, "None", "", " "):
                found.append(f"axes {i}: a one-point curve without a marker draws nothing")
    if not (fig.legends or any(ax.get_legend() is not None for ax in fig.axes)):
        found.append("no legend")
    return found


def tick_texts(fig) -> str:
    """Every tick label of ``fig`` as one string, line breaks of wrapped labels read as spaces."""
    return " ".join(t.get_text().replace("\n", " ") for ax in fig.axes
                    for t in [*ax.get_xticklabels(), *ax.get_yticklabels()])


@pytest.fixture
def captured(monkeypatch):
    """The figures a plotting function saves, kept open for inspection (and still written to disk)."""
    figures = []
    save = matplotlib.figure.Figure.savefig

    def keep(fig, *args, **kwargs):
        figures.append(fig)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    return figures


def test_every_stored_plot_can_be_drawn_again_from_its_json():
    stored = {p.stem for p in RESULTS.glob("*.png")}
    assert stored - set(REPLOT.PLOTS) == set(), "plots in benchmarks/results with no replot entry"


@pytest.mark.parametrize("name", sorted(REPLOT.PLOTS))
def test_each_benchmark_plot_renders_from_its_json_and_reads_alone(name, tmp_path, captured):
    path = REPLOT.replot(name, tmp_path)
    assert path.stat().st_size > 5000
    assert len(captured) == 1
    assert problems(captured[0]) == []


def test_row_names_are_shown_whole():
    """Wrapped, never cut: each model's name is in the tick labels of the modalities and main-job plots."""
    import matplotlib.pyplot as plt

    for name, names in [("modalities", lambda d: [r["model"] for r in d["rows"]]),
                        ("main_job", lambda d: [row["label"] for one in d["sets"].values()
                                                for row in one["rows"].values()])]:
        data = json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))
        figures = []
        save = matplotlib.figure.Figure.savefig
        matplotlib.figure.Figure.savefig = lambda fig, *a, **k: figures.append(fig)
        try:
            REPLOT.PLOTS[name](data, Path("unused.png"))
        finally:
            matplotlib.figure.Figure.savefig = save
        text = tick_texts(figures[0])
        missing = [n for n in names(data) if n not in text]
        plt.close("all")
        assert not missing, f"{name}: cut labels: {missing}"


def test_the_checks_catch_a_bare_plot():
    """A plot without title, labels or legend, with a one-epoch curve drawn as a line only, is refused."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1], [0.5])
    found = problems(fig)
    plt.close(fig)
    assert {"axes 0: no title and no figure title", "axes 0: x axis without a label",
            "axes 0: a one-point curve without a marker draws nothing", "no legend"} <= set(found)


def test_learning_curves_of_a_one_epoch_run_read_alone(tmp_path, captured):
    from graphrep.train.report import plot_learning_curves

    history = [{"epoch": 0, "train/loss": 0.7, "valid/roc_auc": 0.6}]
    results = {"dataset": {"name": "toy", "task_type": "classification"},
               "gin": [{"seed": 0, "history": history}, {"seed": 1, "history": history}],
               "random_forest": [{"valid": {"roc_auc": 0.65}}]}
    plot_learning_curves(results, tmp_path / "curves.png")
    assert problems(captured[0]) == []
