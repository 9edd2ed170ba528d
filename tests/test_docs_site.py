"""The generated parts of the docs site (``docs/hooks.py``): the CLI reference comes from the parser, the benchmark
pages from ``benchmarks/results``, and test markers are stripped from code fences before highlighting."""

from pathlib import Path

import pytest
from _scripts import load_script

pytest.importorskip("mkdocs", reason="the [docs] extra is not installed; .ci/run builds the site with it")
ROOT = Path(__file__).resolve().parents[1]


def _hooks():
    return load_script("docs/hooks.py", "docs_hooks")


def test_cli_reference_has_every_subcommand_and_option():
    from graphrep.cli import build_parser

    hooks = _hooks()
    page = hooks.cli_reference()
    for name, sub in hooks._subcommands(build_parser()):
        assert f"## `graphrep {name}`" in page
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in page, f"graphrep {name}: {flag} missing from the CLI reference"
    assert "`graphrep tag zero-shot`" in page and "--adaptation" in page


def test_every_results_table_gets_a_page_listed_in_the_nav():
    hooks = _hooks()
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for md in hooks.benchmark_files():
        assert hooks.page_uri(md) in nav, f"{md.name}: no page in mkdocs.yml's nav"
    reproduce = (ROOT / "docs" / "reproduce.md").read_text(encoding="utf-8")
    for md in hooks.benchmark_files():
        assert f"{md.stem}.md" in reproduce, f"{md.name}: reproduce.md says nothing about how it was made"


def test_markers_are_stripped_for_the_highlighter():
    hooks = _hooks()
    text = "```bash no-run:long\ngraphrep x\n```\n```python\nx = 1\n```\n"
    assert hooks.on_page_markdown(text, None, None, None) == "```bash\ngraphrep x\n```\n```python\nx = 1\n```\n"
