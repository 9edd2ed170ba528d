"""Run geoopt's own test files with geometries' classes substituted for geoopt's, and tabulate pass/fail per file.

geoopt's tests are not shipped: pass the ``tests`` folder of a geoopt checkout (the version the results were made with
is recorded). Each file runs in a fresh pytest process whose ``conftest.py`` puts ``geometries.PoincareBall``,
``Sphere`` (as ``SphereProjection``), ``Stereographic``, ``Lorentz``, ``Euclidean``, ``ProductManifold`` and
``StereographicProductManifold`` into ``geoopt``, ``geoopt.manifolds`` and its submodules before the tests import
them. Mode ``ndim0`` also makes ``Euclidean()`` default to geoopt's ``ndim=0`` (geometries' default is 1), to isolate
that one documented difference.

    python benchmarks/geoopt_compat.py --geoopt-tests /path/to/geoopt/tests

Writes ``benchmarks/results/geoopt_compat.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFTEST = '''
import os, sys
sys.path.insert(0, {root!r})
import geometries as G
import geoopt
import geoopt.manifolds as gm
import geoopt.manifolds.stereographic as gs
import geoopt.manifolds.stereographic.manifold as gsm
import geoopt.manifolds.lorentz as gl
import geoopt.manifolds.product as gp
import geoopt.manifolds.euclidean as ge

SUB = {{"PoincareBall": G.PoincareBall, "SphereProjection": G.Sphere, "Stereographic": G.Stereographic,
       "Lorentz": G.Lorentz, "Euclidean": G.Euclidean, "ProductManifold": G.ProductManifold,
       "StereographicProductManifold": G.StereographicProductManifold}}
if os.environ.get("GEOMETRIES_EUCLIDEAN_NDIM0"):
    class Euclidean0(G.Euclidean):
        def __init__(self, ndim=0):
            super().__init__(ndim)
    SUB["Euclidean"] = Euclidean0
for mod in (geoopt, gm, gs, gsm, gl, gp, ge):
    for name, cls in SUB.items():
        if hasattr(mod, name):
            setattr(mod, name, cls)
'''

# (file, pytest -k expression or None, mode)
RUNS = [
    ("test_gyrovector_math.py", None, "strict"),
    ("test_lorentz_math.py", None, "strict"),
    ("test_stereographic_product_manifold.py", None, "strict"),
    ("test_euclidean.py", None, "strict"),
    ("test_product_manifold.py", None, "strict"),
    ("test_product_manifold.py", None, "ndim0"),
    ("test_origin.py", None, "strict"),
    ("test_random.py", None, "strict"),
    ("test_wrapped_normal.py", None, "strict"),
    ("test_scaling.py", None, "strict"),
    ("test_tensor_api.py", None, "strict"),
    ("test_adam_numerical_stability.py", None, "strict"),
    ("test_adam.py", "lorentz", "strict"),
    ("test_manifold_basic.py", None, "ndim0"),
]


def run_one(workdir: Path, name: str, select: str | None, mode: str) -> dict:
    xml = workdir / f"{name}.{mode}.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/{name}", f"--junitxml={xml}"]
    if select:
        cmd += ["-k", select]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if mode == "ndim0":
        env["GEOMETRIES_EUCLIDEAN_NDIM0"] = "1"
    subprocess.run(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    passed = failed = skipped = 0
    failures: dict[str, int] = {}
    if xml.exists():
        for case in ET.parse(xml).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                base = case.get("name", "").split("[")[0]
                failures[base] = failures.get(base, 0) + 1
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    return {"file": name, "select": select, "mode": mode, "passed": passed, "failed": failed, "skipped": skipped,
            "failures": failures}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--geoopt-tests", required=True, type=Path, help="the tests/ folder of a geoopt checkout")
    ap.add_argument("--geoopt-commit", default="unknown", help="commit of that checkout, recorded in the results")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    if not (args.geoopt_tests / "test_gyrovector_math.py").is_file():
        print(f"error: --geoopt-tests {args.geoopt_tests}: no test_gyrovector_math.py there", file=sys.stderr)
        return 2
    import geoopt
    import torch

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(args.geoopt_tests, work / "tests")
        (work / "tests" / "conftest.py").write_text(CONFTEST.format(root=str(ROOT)))
        for name, select, mode in RUNS:
            row = run_one(work, name, select, mode)
            print(f"{name} [{mode}{', -k ' + select if select else ''}]: {row['passed']} passed, "
                  f"{row['failed']} failed, {row['skipped']} skipped", flush=True)
            rows.append(row)
    meta = {"geoopt_version": geoopt.__version__, "geoopt_tests_commit": args.geoopt_commit,
            "torch": torch.__version__, "machine": "2-core CPU"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "geoopt_compat.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=2))
    lines = ["| geoopt test file | mode | passed | failed | skipped | failing tests (count) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        label = r["file"] + (f" (-k {r['select']})" if r["select"] else "")
        fails = ", ".join(f"{k} ({v})" for k, v in sorted(r["failures"].items())) or "-"
        lines.append(f"| {label} | {r['mode']} | {r['passed']} | {r['failed']} | {r['skipped']} | {fails} |")
    (args.out / "geoopt_compat.md").write_text("\n".join(lines) + "\n")
    plot(rows, args.out / "geoopt_compat.png")
    return 0


def plot(rows: list[dict], path: Path) -> None:
    """Passed/failed per geoopt test file, from the ``runs`` of ``geoopt_compat.json``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    labels = [f"{r['file'].replace('test_', '').replace('.py', '')} [{r['mode']}]" for r in rows]
    ax.barh(labels, [r["passed"] for r in rows], color="tab:green", label="passed")
    ax.barh(labels, [r["failed"] for r in rows], left=[r["passed"] for r in rows], color="tab:red", label="failed")
    ax.set_xscale("symlog")
    ax.set_xlabel("tests (count, symmetric log scale)")
    ax.set_ylabel("geoopt test file [mode]")
    ax.set_title("geoopt's tests with geometries' classes substituted")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
