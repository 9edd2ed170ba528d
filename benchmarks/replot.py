"""Draw benchmark plots again from the stored results JSON, without rerunning the benchmarks.

Usage::

    python benchmarks/replot.py                 # every plot listed in PLOTS
    python benchmarks/replot.py modalities      # one
    python benchmarks/replot.py --out DIR       # write the PNGs into DIR instead of benchmarks/results

Each entry names the script whose plotting function draws ``benchmarks/results/<name>.png`` from
``benchmarks/results/<name>.json`` (or the file ``SOURCES`` names); ``tests/test_benchmark_plots.py`` renders every one of them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _main_job(result: dict, path: Path) -> None:
    from graphrep.tasks.molecules.main_job import plot_main_job

    plot_main_job(result, path)


def _kernels(result: dict, path: Path) -> None:
    _script("kernel_timings").plot(result, path)


def _tag_zero_shot(result: dict, path: Path) -> None:
    import tempfile

    script = _script("tag_zero_shot")
    with tempfile.TemporaryDirectory() as tmp:  # the verdicts come from the table writer; its table is not kept
        verdicts = script.write_markdown(Path(tmp) / "table.md", result["summary"], result["meta"])
    script.write_plot(path, verdicts, result["summary"])


def _utilisation(result: dict, path: Path) -> None:
    from graphrep.tasks.mobility.training import plot_utilisation

    plot_utilisation(result["utilisation"]["NYC in-city"][0], path, title="TrajMoE NYC seed 0")


def _datasets(args: dict) -> list[str]:
    names = args["datasets"]
    return names.split(",") if isinstance(names, str) else list(names)


#: results name -> function(result JSON, png path)
PLOTS = {
    "main_job": _main_job,
    "circuit_transfer": lambda result, path: _script("circuit_transfer").replot(result, path),
    "modalities": lambda result, path: _script("modalities").replot(result, path),
    "kernels_cpu": _kernels,
    "kernels_cpu_kept": _kernels,
    "kernels_cuda": _kernels,
    "kernels_cuda_max": _kernels,
    "kernels_cuda_merged": _kernels,
    "mobility_transfer": lambda result, path: _script("mobility_transfer").plot(result, path),
    "circuit_transistor": lambda result, path: _script("circuit_transistor").plot(result, path),
    "moleculenet": lambda result, path: _script("moleculenet").plot(result["results"], _datasets(result["args"]), path),
    "pretraining_moleculenet": lambda result, path: _script("pretraining_moleculenet").plot(
        result["summary"], _datasets(result["args"]), path),
    "main_job_recipes": lambda result, path: _script("main_job_recipes").plot(result["results"], path),
    "tag_zero_shot": _tag_zero_shot,
    "mobility_transition_gnn": lambda result, path: _script("mobility_transfer").plot(
        result, path, title="TrajMoE with and without a transition-graph GCN"),
    "circuit_graphs": lambda result, path: _script("circuit_graphs").plot(result["designs"], path),
    "circuit_placement_oracle": lambda result, path: _script("circuit_placement_oracle").plot(
        result["designs"], path),
    "model_speed": lambda result, path: _script("model_speed").plot(result["rows"], result["meta"], path),
    "model_speed_repeat": lambda result, path: _script("model_speed").plot(result["rows"], result["meta"], path),
    "model_speed_ceiling": lambda result, path: _script("model_speed").plot(result["rows"], result["meta"], path),
    "model_speed_kept": lambda result, path: _script("model_speed").plot(result["rows"], result["meta"], path),
    "gine_paths": lambda result, path: _script("gine_paths").plot(result, path),
    "geoopt_compat": lambda result, path: _script("geoopt_compat").plot(result["runs"], path),
    "perturbation_throughput": lambda result, path: _script("perturbation_throughput").plot(result["rows"], path),
    "mobility_utilisation": lambda result, path: _utilisation(result, path),
    "mobility_exploration": lambda result, path: _script("mobility_transfer").plot_exploration(result, path),
    "mobility_moe_regimes": lambda result, path: _script("mobility_moe_regimes").plot(result, path),
    "engine_overhead": lambda result, path: _script("engine_overhead").plot(result, path),
    "geometry_distortion": lambda result, path: _script("geometry_distortion").plot_tree(result["tree_plot"], path),
    "scale": lambda result, path: _script("scale").plot(result["summary"], path),
    "tag_zero_shot_routed": _tag_zero_shot,
    "tag_zero_shot_routed_2p1s": _tag_zero_shot,
    "tag_zero_shot_routed_gates": lambda result, path: _script("tag_zero_shot").write_gate_plot(
        path, result["meta"]["gates"]),
    "tag_zero_shot_routed_2p1s_gates": lambda result, path: _script("tag_zero_shot").write_gate_plot(
        path, result["meta"]["gates"]),
}
#: plots drawn from another results file than their own name's
SOURCES = {"mobility_utilisation": "mobility_transfer", "tag_zero_shot_routed_gates": "tag_zero_shot_routed",
           "tag_zero_shot_routed_2p1s_gates": "tag_zero_shot_routed_2p1s"}


def replot(name: str, out_dir: Path = RESULTS) -> Path:
    """Draw ``<out_dir>/<name>.png`` from ``benchmarks/results/<name>.json`` (or the file ``SOURCES`` names); returns the PNG's path."""
    if name not in PLOTS:
        raise SystemExit(f"replot: no plot registered for {name!r}; known: {', '.join(sorted(PLOTS))}")
    result = json.loads((RESULTS / f"{SOURCES.get(name, name)}.json").read_text(encoding="utf-8"))
    path = Path(out_dir) / f"{name}.png"
    PLOTS[name](result, path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="results names (default: all registered)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or sorted(PLOTS):
        print(replot(name, args.out))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main())
