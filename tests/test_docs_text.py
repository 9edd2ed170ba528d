"""User-facing text says nothing a reader cannot use: no absolute paths of the machine a benchmark ran on, no
references to the project's internal issue numbers, no notes about working sessions or refused GPU calls.

Checked: README.md, everything under docs/, and benchmarks/results/*.md (the benchmark pages are built from them).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "absolute machine path": re.compile(r"(?<![\w.~])/(?:work|root|tmp)/"),
    "issue number": re.compile(r"\bissues?[\s-]*#?\d+", re.IGNORECASE),
    "the issue's goals": re.compile(r"\bthe issue'?s\b", re.IGNORECASE),
    "session note": re.compile(r"\b(?:this|that|the|earlier|a|one|GPU) session\b|\bsession'?s\b", re.IGNORECASE),
    "refused call note": re.compile(r"\b(?:call|request)s? (?:was|were) refused\b|\brefused:? no (?:new )?machine",
                                    re.IGNORECASE),
    "lent-machine note": re.compile(r"\blent (?:GPU|machine)\b|\bmachine lent\b", re.IGNORECASE),
}


def _files() -> list[Path]:
    files = [ROOT / "README.md", *(ROOT / "docs").rglob("*"), *(ROOT / "benchmarks" / "results").rglob("*.md")]
    return sorted(p for p in files if p.is_file() and p.suffix in {".md", ".py", ".yml"})


def find(text: str) -> list[tuple[int, str, str]]:
    """(line number, kind, line) of every forbidden phrase in ``text``."""
    hits = []
    for number, line in enumerate(text.splitlines(), 1):
        hits += [(number, kind, line.strip()) for kind, rx in FORBIDDEN.items() if rx.search(line)]
    return hits


@pytest.mark.parametrize("text, kind", [
    ("--cache-dir /work/cache/text", "absolute machine path"),
    ("written to /tmp/out", "absolute machine path"),
    ("see /root/x", "absolute machine path"),
    ("Circuits (issue 9)", "issue number"),
    ("The issue-24 configuration", "issue number"),
    ("Against the issue's goals:", "the issue's goals"),
    ("this session's GPU call was refused", "session note"),
    ("its one call was refused: no new machine lent", "refused call note"),
    ("prepared for a lent GPU", "lent-machine note"),
])
def test_the_patterns_catch_what_they_are_for(text, kind):
    assert kind in {k for _, k, _ in find(text)}


@pytest.mark.parametrize("text", ["a path like runs/main or ../shared/data", "GitHub issues are welcome",
                                  "the tests/ folder of a geoopt checkout", "$GRAPHREP_CACHE/shards/x.pt"])
def test_ordinary_text_passes(text):
    assert find(text) == []


def test_no_machine_paths_issue_numbers_or_session_notes():
    found = [f"{p.relative_to(ROOT)}:{n}: {kind}: {line[:120]}" for p in _files()
             for n, kind, line in find(p.read_text(encoding="utf-8"))]
    assert not found, "\n".join(found)


def test_one_name_per_gpu_script():
    """``gpu_check.sh`` was folded into ``gpu_checks.sh``; two near-identical names would be one too many."""
    scripts = sorted(p.name for p in (ROOT / "benchmarks").glob("gpu_check*.sh"))
    assert scripts == ["gpu_checks.sh"]
