"""Every table row on the documentation pages was written by a benchmark script: each appears verbatim in a results file.

A hand-edited number, a row left behind by a rerun, or a table pasted from an older run fails here. Header and
separator rows are checked too (a renamed column is a changed table). The pages: README.md and docs/**/*.md, except the
hand-written tables of contents listed in ``NOT_RESULTS`` (their rows are links and commands, not numbers).
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: pages whose tables are navigation (areas, commands, old -> new import paths), not measurements
NOT_RESULTS = {"README.md", "docs/index.md", "docs/getting-started.md", "docs/reproduce.md"}


def _rows(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("|")]


def _normalise(row: str) -> str:
    """Cell padding and the separator's dash count are layout, not content."""
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    return "|".join("---" if c and set(c) <= {"-", ":"} else c for c in cells)


def _pages() -> list[Path]:
    return sorted(p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
                  if str(p.relative_to(ROOT)) not in NOT_RESULTS)


def test_the_guides_carry_tables():
    """Without tables on the guide pages the check below would pass vacuously."""
    assert sum(len(_rows(p.read_text(encoding="utf-8"))) for p in _pages()) > 300


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_table_row_is_in_a_results_file(page):
    written = set()
    for path in RESULTS.rglob("*.md"):
        written.update(_normalise(r) for r in _rows(path.read_text(encoding="utf-8")))
    missing = [r for r in _rows(page.read_text(encoding="utf-8")) if _normalise(r) not in written]
    if missing:
        shown = "\n".join(missing[:10])
        pytest.fail(f"{len(missing)} table row(s) of {page.relative_to(ROOT)} appear in no benchmarks/results/*.md "
                    f"file:\n{shown}")


@pytest.mark.parametrize("stem", sorted(p.stem for p in RESULTS.glob("kernels_*.json")))
def test_kernel_tables_are_what_the_script_renders_from_their_json(stem):
    """A kernels table edited by hand, or left from another run than its JSON, fails: the script's own renderer
    (``benchmarks/kernel_timings.py``) must give the ``.md`` back from the ``.json`` byte for byte."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("kernels_bench", ROOT / "benchmarks" / "kernel_timings.py")
    kernels = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kernels)
    result = json.loads((RESULTS / f"{stem}.json").read_text(encoding="utf-8"))
    assert kernels.to_markdown(result) == (RESULTS / f"{stem}.md").read_text(encoding="utf-8")
