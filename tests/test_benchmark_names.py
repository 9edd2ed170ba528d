"""A benchmark script run as ``python benchmarks/X.py`` puts ``benchmarks/`` first on ``sys.path``, so a script named
like an installed package shadows it for everything the benchmark imports (``benchmarks/kernels.py`` once broke
transformers, which imports the ``kernels`` package, in every benchmark that loads the sentence encoder)."""

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_no_benchmark_script_shadows_an_installed_module():
    clashes = []
    for script in sorted(BENCHMARKS.glob("*.py")):
        name = script.stem
        if name in sys.builtin_module_names or name in sys.stdlib_module_names:
            clashes.append(f"{script.name} (standard library)")
            continue
        try:
            spec = importlib.util.find_spec(name)
        except ValueError:  # loaded by another test from its file (benchmarks/replot.py does): no spec to search
            spec = sys.modules[name].__spec__
        # another test may have loaded the script itself under its name: that is not a clash
        if spec is not None and spec.origin and Path(spec.origin).resolve() != script.resolve():
            clashes.append(f"{script.name} ({spec.origin})")
    assert not clashes, "benchmark scripts named like importable modules: " + ", ".join(clashes)
