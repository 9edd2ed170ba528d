"""A design folder -> its parsed files: netlist (Verilog or DEF), SPEF, Liberty and LEF where present.

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


def design_files(folder: str | os.PathLike) -> dict[str, list[Path]]:
    """The files of each kind in ``folder`` (sorted; ``.gz`` counts as its inner extension)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: not a design folder")
    out: dict[str, list[Path]] = {k: [] for k in _KINDS}
    for p in sorted(folder.iterdir()):
        suffix = Path(p.name[:-3]).suffix if p.name.endswith(".gz") else p.suffix
        for kind, exts in _KINDS.items():
            if suffix.lower() in exts:
                out[kind].append(p)
    return out


def find_design(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """A design folder from a path, or from a registered dataset name (kind ``circuit``)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    from ..registry import get_card
    from ..resolve import resolve_dataset

    card = get_card(str(name_or_path))
    if card.kind != "circuit":
        raise GraphrepError(f"dataset {card.name!r} is of kind {card.kind!r}, not a circuit design")
    return resolve_dataset(card, root=root)[0].parent


def load_design(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None) -> Design:
    """Parse a design folder: one SPEF, one netlist (Verilog preferred over DEF), every Liberty and LEF file."""
    folder = find_design(name_or_path, root)
    files = design_files(folder)
    if len(files["spef"]) != 1:
        raise GraphrepError(f"{folder}: expected one .spef file, found {len(files['spef'])}")
    if files["verilog"]:
        if len(files["verilog"]) != 1:
            raise GraphrepError(f"{folder}: expected one Verilog netlist, found {[p.name for p in files['verilog']]}")
    elif len(files["def"]) != 1:
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
        netlist = read_verilog(files["verilog"][0], cell_pins=pins)
    else:
        netlist = read_def(files["def"][0])
    spef = read_spef(files["spef"][0])
    return Design(folder.name, folder, netlist, spef, liberty, lef, files)
