"""The import graph follows ../shared/DESIGN.md: geometries <- ops <- nn <- models <- train <- tasks.<app> <- commands
<- cli; applications never import each other; the shared ``train`` package imports no application; ``data`` and
``objectives`` import neither ``nn`` nor ``models`` (nor anything above them). Read from the source's import
statements (module level and inside functions), so a lazy import cannot hide a cycle."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "graphrep"
APPS = ("molecules", "circuits", "mobility", "tag", "modalities")


def _imports(path: Path, package: tuple[str, ...] | None = None) -> set[str]:
    """Absolute names of the graphrep modules ``path`` imports (relative imports resolved against ``package``, by
    default the package that holds ``path``)."""
    if package is None:
        package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            found.add(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {n for n in found if n == "graphrep" or n.startswith("graphrep.")}


def _modules(sub: str):
    return sorted((PACKAGE / sub).rglob("*.py"))


def _layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("app", APPS)
def test_an_application_imports_no_other_application(app):
    others = {f"graphrep.tasks.{a}" for a in APPS if a != app}
    for path in _modules(f"tasks/{app}"):
        bad = {n for n in _imports(path) if any(n == o or n.startswith(o + ".") for o in others)}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


@pytest.mark.parametrize("lower,forbidden", [
    ("train", {"tasks", "commands", "cli"}),
    ("data", {"nn", "models", "train", "tasks", "commands", "cli"}),
    ("objectives", {"nn", "models", "train", "tasks", "commands", "cli"}),
    ("ops", {"nn", "models", "train", "tasks", "commands", "cli", "data", "objectives"}),
    ("nn", {"models", "train", "tasks", "commands", "cli"}),
    ("models", {"train", "tasks", "commands", "cli"}),
    ("tasks", {"commands", "cli"}),
    ("commands", {"cli"}),
])
def test_nothing_imports_upward(lower, forbidden):
    for path in _modules(lower):
        bad = {n for n in _imports(path) if _layer(n) in forbidden}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)} (above {lower})"


def test_every_subcommand_lives_in_commands_and_cli_only_dispatches():
    cli = PACKAGE / "cli.py"
    assert len(cli.read_text().splitlines()) <= 250
    # the one import from a lower layer: the process's Ctrl-C policy (standard library only), which must be in place
    # before a command's heavy imports start and which the training loops read
    allowed = {"graphrep.train.interrupts"}
    assert {n for n in _imports(cli) if _layer(n) not in ("commands", "data") and n not in allowed} == set()


def test_the_checker_sees_a_relative_and_a_lazy_import(tmp_path):
    """The tests above can fail: a relative import inside a function is resolved and reported."""
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n\ndef f():\n    from ..tasks.tag import zero_shot\n    from . import outdir\n")
    assert _imports(probe, ("graphrep", "train")) == {"graphrep.tasks.tag", "graphrep.train"}


def test_the_generic_transforms_import_no_data_source():
    """``data/transforms`` acts on any graph: it takes the molecule mask token from ``data/vocab``, not from the
    molecule featuriser (nor anything else of ``data/molecules``)."""
    for path in _modules("data/transforms"):
        bad = {n for n in _imports(path) if n.startswith("graphrep.data.molecules")}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"
