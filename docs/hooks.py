"""MkDocs hooks: the pages that are generated rather than written.

* ``cli.md``: the ``--help`` of every ``graphrep`` command, from :func:`graphrep.cli.build_parser` (argparse), so the
  CLI reference cannot drift from the parser.
* ``benchmarks/<name>.md``: one page per ``benchmarks/results/<name>.md`` (the table a benchmark script wrote),
  with its plot when there is one; the PNGs are added to the site as they are.
* Code blocks may carry a test marker after the language (```` ```bash no-run:long ````, see
  ``tests/test_docs_examples.py``); it is removed here so that the highlighter sees a plain language name.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MARKER = re.compile(r"^(\s*`{3,}[\w+-]+)[ \t]+no-run:[\w-]+[ \t]*$", re.MULTILINE)


def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield name, sub


def cli_reference() -> str:
    """Markdown: ``graphrep --help`` and every subcommand's ``--help``, depth first, one section each."""
    from graphrep.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "110"  # argparse wraps to the terminal: fix the width so the page is reproducible
    try:
        parts = ["# Command-line reference", "",
                 "Generated from the argument parser (`graphrep.cli.build_parser()`) when the site is built.", ""]

        def walk(parser, path, depth):
            parts.extend([f"{'#' * min(depth, 4)} `{path}`", "", "```text", parser.format_help().rstrip(), "```", ""])
            for name, sub in _subcommands(parser):
                walk(sub, f"{path} {name}", depth + 1)

        walk(build_parser(), "graphrep", 2)
        return "\n".join(parts)
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def benchmark_page(md: Path) -> str:
    """One results file as a page: its text, then its plot (same stem) if the script drew one."""
    body = md.read_text(encoding="utf-8")
    title = body.splitlines()[0][2:] if body.startswith("# ") else md.stem.replace("_", " ")
    if body.startswith("# "):
        body = body.split("\n", 1)[1]
    rel = md.relative_to(RESULTS).with_suffix("")
    up = "../" * len(rel.parts)  # from docs/benchmarks/<rel>.md back to docs/
    parts = [f"# {title}", "", f"Written by the benchmark script into `benchmarks/results/{rel}.md`; how to rerun it:",
             f"[Reproduce every number]({up}reproduce.md).", "", body.strip(), ""]
    if md.with_suffix(".png").exists():
        parts += [f"![{title}]({md.stem}.png)", ""]
    return "\n".join(parts)


def benchmark_files() -> list[Path]:
    return sorted(RESULTS.glob("*.md")) + sorted(RESULTS.glob("*/*.md"))


def page_uri(md: Path) -> str:
    return "benchmarks/" + str(md.relative_to(RESULTS)).replace(os.sep, "/")


def on_files(files, config):
    files.append(File.generated(config, "cli.md", content=cli_reference()))
    for md in benchmark_files():
        files.append(File.generated(config, page_uri(md), content=benchmark_page(md)))
        png = md.with_suffix(".png")
        if png.exists():
            files.append(File.generated(config, page_uri(png), abs_src_path=str(png)))
    extra = RESULTS / "mobility_utilisation.png"
    files.append(File.generated(config, page_uri(extra), abs_src_path=str(extra)))
    return files


def on_page_markdown(markdown, page, config, files):
    return MARKER.sub(r"\1", markdown)
