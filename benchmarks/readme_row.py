"""The README's table rows that benchmark scripts write: one row per script, found by the start it must have."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def replace_readme_row(prefix: str, row: str, readme: Path = README) -> None:
    """Replace the one line of ``readme`` that starts with ``prefix`` by ``row``; exit with a message naming the file
    when there is not exactly one."""
    lines = readme.read_text().split("\n")
    idx = [i for i, line in enumerate(lines) if line.startswith(prefix)]
    if len(idx) != 1:
        raise SystemExit(f"{readme} must have exactly one line starting with {prefix!r}")
    lines[idx[0]] = row
    readme.write_text("\n".join(lines))
