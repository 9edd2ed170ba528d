"""DEF -> :class:`.Netlist` with placement: ``COMPONENTS`` (instance, cell, location), ``PINS`` (ports, direction,
location), ``NETS`` (connections; routing is not read). ``SPECIALNETS`` (power and ground) is skipped by name and
counted; other sections (``VIAS``, ``ROWS`` ...) are skipped. Coordinates are converted to microns with ``UNITS
DISTANCE MICRONS``; a placed instance's location is its lower-left corner, as DEF states it."""

from __future__ import annotations

import os

from .names import unescape
from .netlist import Netlist
from .source import CircuitFormatError, open_text

_DIRECTIONS = {"INPUT": "input", "OUTPUT": "output", "INOUT": "inout", "FEEDTHRU": "inout"}
_READ = ("COMPONENTS", "PINS", "NETS")


def _tokens(path):
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.split("#", 1)[0]
            for t in line.split():
                if t.endswith(";") and t != ";":
                    yield t[:-1], lineno
                    yield ";", lineno
                else:
                    yield t, lineno


def _statements(path):
    """Yield ``(tokens, first_line)`` per ``;``-terminated statement, and ``END X`` markers as their own statement."""
    buf: list[str] = []
    start = 0
    for t, line in _tokens(path):
        if not buf:
            start = line
            if t == "END":
                buf = ["END"]
                continue
        if buf == ["END"]:
            yield ["END", t], start
            buf = []
            continue
        if t == ";":
            yield buf, start
            buf = []
        else:
            buf.append(t)
    if buf:
        raise CircuitFormatError(path, start, f"statement {' '.join(buf[:4])!r} has no closing ';'")


def _point(tokens: list[str], i: int, path, line: int, scale: float) -> tuple[float, float]:
    try:
        if tokens[i] != "(" or tokens[i + 3] != ")":
            raise ValueError
        return float(tokens[i + 1]) / scale, float(tokens[i + 2]) / scale
    except (IndexError, ValueError):
        raise CircuitFormatError(path, line, f"expected '( x y )' after {tokens[i - 1]}") from None


def read_def(path: str | os.PathLike) -> Netlist:
    """Parse a DEF file (plain or gzip) into a :class:`.Netlist` with ``placement`` in microns."""
    net = Netlist(name="", source=str(path))
    scale = 1.0
    section: str | None = None
    expected: dict[str, int] = {}
    seen: dict[str, int] = {}
    # name -> the key object of net.instances, which the pins then share, as the Verilog reader's do (the graph
    # builder finds pin owners by identity: .positions)
    component: dict[str, str] = {}
    for tok, line in _statements(path):
        head = tok[0]
        if head == "END":
            if tok[1] == "DESIGN":
                break
            if section is not None and tok[1] != section:
                raise CircuitFormatError(path, line, f"END {tok[1]} inside section {section}")
            if section in expected and seen.get(section, 0) != expected[section]:
                raise CircuitFormatError(path, line, f"{section} declares {expected[section]} items, found "
                                                     f"{seen.get(section, 0)}")
            section = None
            continue
        if section is None:
            if len(tok) == 2 and tok[1].isdigit():
                section = head
                if head in _READ:
                    expected[head] = int(tok[1])
                elif head == "SPECIALNETS":
                    net.skipped["SPECIALNETS (power/ground, skipped by name)"] += int(tok[1])
            elif head == "DESIGN" and len(tok) == 2:
                net.name = tok[1]
            elif head == "UNITS":
                if tok[-2:-1] != ["MICRONS"] and "MICRONS" not in tok:
                    raise CircuitFormatError(path, line, "UNITS must be 'UNITS DISTANCE MICRONS <n>'")
                scale = float(tok[-1])
            continue
        if section not in _READ:
            continue
        if head != "-" or len(tok) < 2:
            got = " ".join(tok[:3])
            raise CircuitFormatError(path, line, f"an item of {section} starts with '- <name>', got {got!r}")
        seen[section] = seen.get(section, 0) + 1
        name = unescape(tok[1])
        if section == "COMPONENTS":
            if len(tok) < 3:
                raise CircuitFormatError(path, line, f"component {name} has no cell type")
            net.instances[name] = tok[2]
            component[name] = name
            for key in ("PLACED", "FIXED", "COVER"):
                if key in tok:
                    net.placement[name] = _point(tok, tok.index(key) + 1, path, line, scale)
        elif section == "PINS":
            opts = _options(tok)
            if "NET" not in opts:
                raise CircuitFormatError(path, line, f"pin {name} has no + NET")
            net.ports[name] = _DIRECTIONS.get(opts.get("DIRECTION", [""])[0], "inout")
            use = opts.get("USE", ["SIGNAL"])[0]
            net_name = unescape(opts["NET"][0])
            if use in ("POWER", "GROUND"):
                net.skip("power/ground pins", name)
                continue
            if net_name != name:
                net.aliases.setdefault(name, net_name)
            for key in ("PLACED", "FIXED", "COVER"):
                if key in tok:
                    net.placement[name] = _point(tok, tok.index(key) + 1, path, line, scale)
        else:  # NETS
            members = net.nets[name]
            i = 2
            while i < len(tok) and tok[i] != "+":
                if tok[i] != "(" or i + 3 >= len(tok) or tok[i + 3] != ")":
                    raise CircuitFormatError(path, line, f"net {name}: expected '( instance pin )', got "
                                                         f"{' '.join(tok[i:i + 4])!r}")
                inst, pin = unescape(tok[i + 1]), unescape(tok[i + 2])
                if inst == "PIN":
                    members.append((None, pin))
                elif inst not in component:
                    raise CircuitFormatError(path, line, f"net {name} connects {inst}, which is not in COMPONENTS")
                else:
                    members.append((component[inst], pin))
                i += 4
            if not members:
                net.skip("nets without connections", name)
                del net.nets[name]
    if not net.instances and not net.nets:
        raise CircuitFormatError(path, None, "no COMPONENTS or NETS found: not a DEF file, or an empty one")
    return net


def _options(tok: list[str]) -> dict[str, list[str]]:
    """``+ KEY v1 v2 + KEY2 ...`` -> ``{KEY: [v1, v2], ...}`` (first occurrence of each key)."""
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(tok):
        if tok[i] == "+" and i + 1 < len(tok):
            j = i + 2
            while j < len(tok) and tok[j] != "+":
                j += 1
            out.setdefault(tok[i + 1], tok[i + 2:j])
            i = j
        else:
            i += 1
    return out
