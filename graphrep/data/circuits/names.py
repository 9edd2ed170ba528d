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
    return "/".join(filter(None, parts))


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
#: technologies where a cell-type one-hot cannot. Matched in order on the name without its library prefix
#: (``decap`` before ``fill``, ``nand`` before ``and``, ``aoi`` before ``ao``).
_FAMILY_PATTERNS = [
    ("decap", r"decap|fillcap"), ("fill", r"fill"), ("tap", r"tap|endcap"), ("antenna", r"antenna|diode"),
    ("tie", r"tie|conb|logic[01]"), ("pad", r".*pad"), ("clkbuf", r"clkbuf|clkdlybuf"), ("clkinv", r"clkinv"),
    ("dff", r"df|sdf|edf"), ("dly", r"dly"), ("latch", r"dl[a-z]|lat"), ("mux", r"mux|mx"), ("xnor", r"xnor|xn"),
    ("xor", r"xor"),
    ("nand", r"nand"), ("nor", r"nor"), ("aoi", r"aoi|a\d+b?\d*oi|a2bb2oi"), ("oai", r"oai|o\d+b?\d*ai|o2bb2ai"),
    ("ao", r"ao|a\d"), ("oa", r"oa|o\d"), ("and", r"and"), ("or", r"or"), ("inv", r"inv|in_"), ("buf", r"buf"),
    ("ha", r"ha"), ("fa", r"fa|maj"),
]
FAMILIES = tuple(f for f, _ in _FAMILY_PATTERNS) + ("macro",)
_FAMILY_RE = [(f, re.compile(p)) for f, p in _FAMILY_PATTERNS]


def cell_family(cell: str) -> str:
    """Logic family of a cell name (see :data:`FAMILIES`): ``sky130_fd_sc_hd__a21oi_1`` -> ``aoi``, ``AND2_X1`` ->
    ``and``, ``sg13g2_IOPadIn`` -> ``pad``; ``"macro"`` when none matches (hard macros, black boxes)."""
    short = cell.split("__")[-1]
    if short == cell and "_" in cell and not cell[:1].isupper():
        short = cell.split("_", 1)[1]
    short = short.lower()
    for family, pattern in _FAMILY_RE:
        if pattern.match(short):
            return family
    return "macro"
