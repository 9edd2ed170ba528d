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
        elif importlib.util.find_spec(name) is not None:
            clashes.append(f"{script.name} ({importlib.util.find_spec(name).origin})")
    assert not clashes, "benchmark scripts named like importable modules: " + ", ".join(clashes)
