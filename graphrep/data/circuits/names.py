"""One name normalisation for every circuit format, so a net named in Verilog, DEF and SPEF compares equal.

The same net is spelled differently per format:

=========  ==========================  ==========================
format     escaped identifier           canonical name (this module)
=========  ==========================  ==========================
Verilog    ``\\a.b$c[0] `` (to blank)   ``a.b$c[0]``
DEF        ``a.b$c\\[0\\]``             ``a.b$c[0]``
SPEF       ``a\\.b\\$c\\[0\\]``         ``a.b$c[0]``
=========  ==========================  ==========================

Canonical names are the plain characters: every backslash escape is dropped, and a bus bit is ``base[i]`` whether it
came from a bit-select (``a[0]``) or from an escaped identifier that ends in ``[0]``. Hierarchy is joined with ``/``.
"""

from __future__ import annotations

import re

_ESCAPE = re.compile(r"\\(.)")

#: Names of supply nets; matched case-insensitively on the canonical name (after the last hierarchy divider).
SUPPLY_NAMES = frozenset({"vdd", "vss", "vpwr", "vgnd", "vpb", "vnb", "gnd", "vcc", "vddio", "vssio", "vdda", "vssa",
                          "vccd1", "vssd1", "vccd2", "vssd2", "vdda1", "vssa1", "vdda2", "vssa2", "vdd!", "gnd!",
                          "vss!", "0"})


def unescape(name: str) -> str:
    """``a\\.b\\[0\\]`` -> ``a.b[0]``: drop the backslash of each escaped character (SPEF, DEF, LEF)."""
    return _ESCAPE.sub(r"\1", name) if "\\" in name else name


def verilog_name(token: str) -> str:
    """A Verilog identifier as canonical: ``\\a.b[0] `` -> ``a.b[0]`` (escaped identifiers run to white space)."""
    return token[1:].rstrip() if token.startswith("\\") else token


def bit(base: str, index: int) -> str:
    """The canonical name of bit ``index`` of bus ``base``: ``base[index]``."""
    return f"{base}[{index}]"


def join(*parts: str) -> str:
    """Hierarchical name ``a/b/c`` of flattened instances and nets (empty parts dropped)."""
    return "/".join(p for p in parts if p)


def is_supply(name: str) -> bool:
    """Whether a canonical net name is a power or ground net by name alone (``VDD``, ``VGND``, ``vss`` ...)."""
    return name.rsplit("/", 1)[-1].lower() in SUPPLY_NAMES


_DRIVE = re.compile(r"(?:_X|_x|_)(\d+)$|(\d+)$")


def drive_strength(cell: str) -> float:
    """Drive strength from a standard-cell name: ``sky130_fd_sc_hd__nand2_4`` -> 4, ``NAND2_X2`` -> 2, else 1."""
    m = _DRIVE.search(cell)
    if not m:
        return 1.0
    value = float(m.group(1) or m.group(2))
    return value if 0 < value <= 64 else 1.0


#: Coarse logic families recognised in cell names across libraries; the index is a feature that transfers between
#: technologies where a cell-type one-hot cannot. Checked in order (``nand`` before ``and``, ``clkbuf`` before ``buf``).
FAMILIES = ("fill", "tap", "decap", "antenna", "tie", "clkbuf", "clkinv", "dff", "latch", "mux", "xnor", "xor", "nand",
            "nor", "aoi", "oai", "ao", "oa", "and", "or", "inv", "buf", "dly", "ha", "fa", "macro")
_FAMILY_PATTERNS = [
    ("fill", r"fill"), ("tap", r"tap"), ("decap", r"decap"), ("antenna", r"antenna|diode"),
    ("tie", r"tie|logic[01]|conb"), ("clkbuf", r"clkbuf|clkdlybuf"), ("clkinv", r"clkinv"),
    ("dff", r"df|dff|sdf|edf|ff\b"), ("latch", r"lat|dl[hl]|dlx"), ("mux", r"mux|mx"), ("xnor", r"xnor|xn[or]"),
    ("xor", r"xor|xo2"), ("nand", r"nand|nd\d"), ("nor", r"nor|nr\d"), ("aoi", r"aoi|a\d+oi"), ("oai", r"oai|o\d+ai"),
    ("ao", r"__a\d|ao\d|\ba\d{2}"), ("oa", r"__o\d|oa\d"), ("and", r"and|an\d"), ("or", r"or|or\d"),
    ("inv", r"inv|\bin_"), ("buf", r"buf|bf"), ("dly", r"dly|dlygate"), ("ha", r"ha_|__ha"), ("fa", r"fa_|__fa"),
]
_FAMILY_RE = [(f, re.compile(p, re.IGNORECASE)) for f, p in _FAMILY_PATTERNS]


def cell_family(cell: str) -> str:
    """Logic family of a cell name (see :data:`FAMILIES`); ``"macro"`` when none matches (hard macros, black boxes)."""
    short = cell.split("__")[-1] if "__" in cell else cell
    for family, pattern in _FAMILY_RE:
        if pattern.search(short if family not in ("ao", "oa") else cell):
            return family
    return "macro"
