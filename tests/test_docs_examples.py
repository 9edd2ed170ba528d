"""Every Python and bash code block in README.md and docs/ runs, so the examples cannot rot.

Each block runs alone in a fresh process, in an empty working folder that has ``../shared`` beside it (a link to the
real data folder beside the checkout, when there is one), with this checkout first on ``PYTHONPATH`` and the
interpreter's ``bin`` first on ``PATH`` (so ``graphrep`` is this checkout's command). A bash block runs under
``set -euo pipefail``: every line of it must succeed. Blocks that read ``../shared/data`` skip, saying so, without it,
and so do blocks that need an optional package (``REQUIRES``) that is not installed.

A block that cannot run in a test carries one of the markers of ``NO_RUN`` after its language in the fence's info
string (```` ```bash no-run:long ````); the docs build strips it (``docs/hooks.py``) and the test reports the block as
skipped with the marker's reason. Any other marker fails.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RUNNABLE = {"python": "python", "bash": "bash", "sh": "bash"}
NO_RUN = {
    "no-run:install": "creates a virtual environment and installs the package from PyPI; .ci/run executes exactly this",
    "no-run:long": "a full-scale run or a benchmark (minutes to hours); the page runs the same command with tiny "
                   "settings in a block that is tested",
}
#: text in a block -> the optional module it needs (an extra of pyproject.toml); without it the block skips, saying so
REQUIRES = {"@transistor": "sky130"}
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)(?:[ \t]+(?P<marker>\S+))?[ \t]*\n(?P<code>.*?)^```[ \t]*$",
                   re.MULTILINE | re.DOTALL)


def blocks(path: Path) -> list[tuple[int, str, str | None, str]]:
    """(line, language, marker, code) of every fenced block of a markdown file."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m["lang"], m["marker"], m["code"]) for m in FENCE.finditer(text)]


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _examples():
    for page in _pages():
        for line, lang, marker, code in blocks(page):
            if lang in RUNNABLE:
                yield pytest.param(lang, marker, code, id=f"{page.relative_to(ROOT)}:{line}")


def test_blocks_are_found():
    """The fence pattern reads this very shape; a change of format that hid every block would fail here."""
    page = ROOT / "README.md"
    found = blocks(page)
    assert any(lang == "python" for _, lang, _, _ in found) and any(lang == "bash" for _, lang, _, _ in found)
    assert len(list(_examples())) >= 20


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markers_are_listed_and_languages_named(page):
    for line, lang, marker, _ in blocks(page):
        assert marker is None or marker in NO_RUN, f"{page.name}:{line}: unknown marker {marker!r}; allowed: {list(NO_RUN)}"
        assert lang, f"{page.name}:{line}: a code block without a language (python, bash, text, ...)"


@pytest.mark.slow
@pytest.mark.parametrize("lang, marker, code", _examples())
def test_example_runs(lang, marker, code, tmp_path):
    if marker is not None:
        pytest.skip(f"{marker}: {NO_RUN[marker]}")
    if "../shared/data" in code and not (SHARED / "data").is_dir():
        pytest.skip(f"needs the shared data folder {SHARED / 'data'}, which is absent")
    for text, module in REQUIRES.items():
        if text in code and importlib.util.find_spec(module) is None:
            pytest.skip(f"needs the optional package {module!r} (an extra of pyproject.toml), which is not installed")
    work = tmp_path / "work"
    work.mkdir()
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
               MPLBACKEND="Agg", TQDM_DISABLE="1")
    command = [sys.executable, "-c", code] if lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"exit {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
