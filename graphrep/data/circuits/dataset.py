"""A design folder -> its parsed files: netlist (Verilog or DEF), SPEF, Liberty and LEF where present.

A hierarchical design has several Verilog files (a top and its blocks) and several SPEFs: the top module's and one per
block module, applied to every instance of the block (:mod:`.hierarchy`).

Files are found by extension (``.gz`` allowed): ``*.spef``, ``*.v``, ``*.def``, ``*.lib``, ``*.lef`` / ``*.tlef``. A
design is named by a folder path, or by a registered dataset name (``datasets/<name>.toml`` of kind ``circuit``),
whose files the registry resolves (``--root``, ``GRAPHREP_DATA``, ...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataNotFoundError, GraphrepError
from .def_ import read_def
from .hierarchy import apply_block_spef
from .lef import Lef, merge_lef, read_lef
from .liberty import Liberty, read_liberty
from .netlist import Netlist
from .spef import Spef, read_spef
from .verilog import read_verilog

_KINDS = {"spef": (".spef",), "verilog": (".v",), "def": (".def",), "liberty": (".lib",), "lef": (".lef", ".tlef")}


@dataclass
class Design:
    """A parsed design: ``netlist`` and ``spef`` always; ``liberty`` and ``lef`` when the folder has them."""

    name: str
    folder: Path
    netlist: Netlist
    spef: Spef
    liberty: Liberty | None = None
    lef: Lef | None = None
    files: dict[str, list[Path]] = field(default_factory=dict)


def classify(paths) -> dict[str, list[Path]]:
    """Sort files into kinds by extension (``.gz`` counts as its inner extension); other files are ignored."""
    out: dict[str, list[Path]] = {k: [] for k in _KINDS}
    for p in sorted(Path(q) for q in paths):
        suffix = Path(p.name[:-3]).suffix if p.name.endswith(".gz") else p.suffix
        for kind, exts in _KINDS.items():
            if suffix.lower() in exts:
                out[kind].append(p)
    return out


def find_design(name_or_path: str | os.PathLike,
                root: str | os.PathLike | None = None) -> tuple[str, dict[str, list[Path]]]:
    """``(design name, files by kind)`` from a folder path, or from a registered dataset name (kind ``circuit``), whose
    files the registry resolves and verifies against the card's checksums."""
    path = Path(name_or_path)
    if path.is_dir():
        return path.name, classify(path.iterdir())
    from ..registry import get_card
    from ..resolve import resolve_dataset

    try:
        card = get_card(str(name_or_path))
    except GraphrepError as exc:
        raise DataNotFoundError(f"{name_or_path}: not a design folder, and {exc}") from None
    if card.kind != "circuit":
        raise GraphrepError(f"dataset {card.name!r} is of kind {card.kind!r}, not a circuit design")
    return card.name, classify(resolve_dataset(card, root=root))


def load_design(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None) -> Design:
    """Parse a design folder: one SPEF, one netlist (Verilog preferred over DEF), every Liberty and LEF file."""
    name, files = find_design(name_or_path, root)
    folder = (files["spef"] or files["verilog"] or files["def"] or [Path(name_or_path) / "?"])[0].parent
    if not files["spef"]:
        raise GraphrepError(f"{folder}: expected one .spef file, found 0")
    if len(files["spef"]) > 1 and not files["verilog"]:
        raise GraphrepError(f"{folder}: several SPEF files ({[p.name for p in files['spef']]}) need a hierarchical "
                            "Verilog netlist naming the blocks they describe")
    if not files["verilog"] and len(files["def"]) != 1:
        raise GraphrepError(f"{folder}: expected a Verilog (.v) or one DEF netlist, found neither")
    liberty = None
    if files["liberty"]:
        libs = [read_liberty(p) for p in files["liberty"]]
        liberty = libs[0]
        for other in libs[1:]:
            liberty.cells.update(other.cells)
    lef = merge_lef(*[read_lef(p) for p in files["lef"]]) if files["lef"] else None
    if files["verilog"]:
        pins = {}
        if liberty is not None:
            pins = {c.name: list(c.pins) for c in liberty.cells.values()}
        netlist = read_verilog(files["verilog"], cell_pins=pins)
    else:
        netlist = read_def(files["def"][0])
    spef = _hierarchical_spef([read_spef(p) for p in files["spef"]], netlist, folder)
    return Design(name, folder, netlist, spef, liberty, lef, files)


def _hierarchical_spef(spefs: list[Spef], netlist: Netlist, folder: Path) -> Spef:
    """One SPEF: the only one, or the top design's (``*DESIGN`` = the netlist's top module) with each block's SPEF
    (``*DESIGN`` = a module) applied to every instance of that module (:func:`.hierarchy.apply_block_spef`)."""
    if len(spefs) == 1:
        return spefs[0]
    tops = [s for s in spefs if s.design == netlist.name]
    if len(tops) != 1:
        raise GraphrepError(f"{folder}: of the SPEF files {[Path(s.path).name for s in spefs]} exactly one must be "
                            f"of the top module {netlist.name!r} (*DESIGN), found {len(tops)}")
    spef = tops[0]
    for block in spefs:
        if block is tops[0]:
            continue
        instances = sorted(i for i, m in netlist.modules.items() if m == block.design)
        if not instances:
            raise GraphrepError(f"{block.path}: *DESIGN {block.design!r} is neither the top module {netlist.name!r} "
                                "nor a module instantiated in the netlist")
        spef = apply_block_spef(spef, block, instances)
    return spef
