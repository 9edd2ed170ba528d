"""SPEF (IEEE 1481) parasitics: per-net totals, connections, ground and coupling capacitors, resistors.

Read in one streaming pass (a 100 MB file is never held twice): ``*NAME_MAP`` indices are substituted, names are
canonical (:mod:`.names`), capacitances are converted to farads and resistances to ohms from ``*C_UNIT``/``*R_UNIT``.
Triplet values ``a:b:c`` (best:typical:worst) keep the typical one. Values must be finite, >= 0 and within float32's
range (``inf``, ``nan``, ``1e400`` or a negative capacitance is refused, naming the line).

A ``*CAP`` line with one node is a ground capacitor, with two a coupling capacitor. Nodes are ``net:subnode``,
``instance:pin`` or a port; :meth:`Spef.node_net` resolves each to its net from the ``*CONN`` sections of all nets, so
coupling is summed per unordered net pair by :meth:`Spef.coupling_pairs`. Anything not read (``*R_NET``, ``*D_PNET``,
``*INDUC``, unresolvable coupling nodes) is counted and named in ``Spef.skipped``.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .names import unescape
from .source import CircuitFormatError, open_text

_C_UNITS = {"F": 1.0, "PF": 1e-12, "FF": 1e-15, "NF": 1e-9, "UF": 1e-6, "MF": 1e-3}
_R_UNITS = {"OHM": 1.0, "KOHM": 1e3, "MOHM": 1e6}


@dataclass
class SpefConn:
    """One ``*CONN`` entry: ``kind`` ``"I"`` (instance pin) or ``"P"`` (port); ``instance`` is ``None`` for ports."""

    kind: str
    instance: str | None
    pin: str
    direction: str
    cell: str | None = None


@dataclass
class SpefNet:
    """A ``*D_NET``: ``total_cap`` (F) as stated, ``ground`` caps (F) per node, ``coupling`` (node, node, F) entries
    with the first node on this net, resistors (node, node, ohm), and the line it starts on."""

    name: str
    total_cap: float
    line: int
    conns: list[SpefConn] = field(default_factory=list)
    ground: dict[str, float] = field(default_factory=dict)
    coupling: list[tuple[str, str, float]] = field(default_factory=list)
    resistors: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def ground_cap(self) -> float:
        """Sum of the net's ground capacitors (F)."""
        return float(sum(self.ground.values()))


@dataclass
class Spef:
    path: str
    design: str = ""
    divider: str = "/"
    delimiter: str = ":"
    c_unit: float = 1e-12
    r_unit: float = 1.0
    ports: dict[str, str] = field(default_factory=dict)
    nets: dict[str, SpefNet] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    skipped_names: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    _pin_net: dict[tuple[str | None, str], str] = field(default_factory=dict, repr=False)

    def node_net(self, node: str) -> str | None:
        """The net a node belongs to: ``net:sub`` -> net, ``inst:pin`` -> the net connected there, ``port`` -> its
        net; ``None`` if none."""
        inst, sep, sub = node.rpartition(self.delimiter)
        if not sep:
            return self._pin_net.get((None, node)) or (node if node in self.nets else None)
        if inst in self.nets:
            return inst
        return self._pin_net.get((inst, sub))

    def coupling_pairs(self) -> dict[tuple[str, str], float]:
        """Coupling capacitance (F) per unordered net pair ``(a, b)`` with ``a < b``, summed over sub-nodes.

        OpenRCX writes each coupling capacitor under both nets' ``*D_NET``; a pair's value is therefore the mean of
        the two sides' sums when both list it (they agree in the files seen), else the one side's sum."""
        sides: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for net in self.nets.values():
            for a, b, c in net.coupling:
                na, nb = self.node_net(a), self.node_net(b)
                if na is None or nb is None:
                    self.skipped["coupling node not on any net"] += 1
                    self.skipped_names["coupling node not on any net"].append(a if na is None else b)
                    continue
                if na != net.name:  # first node on the other net: count it from this net's side anyway
                    na, nb = nb, na
                if na == nb:
                    self.skipped["coupling within one net"] += 1
                    continue
                key = (na, nb) if na < nb else (nb, na)
                sides[key][0 if na == key[0] else 1] += c
        return {k: (s[0] + s[1]) / 2 if s[0] and s[1] else s[0] + s[1] for k, s in sides.items()}


#: the largest float32: a value (in farads or ohms) beyond it would become inf when the labels are made float32 tensors
_FLOAT32_MAX = 3.4028234663852886e38


def _value(token: str, path, line: int, what: str = "value", unit: float = 1.0) -> float:
    """``token`` (``a:b:c`` keeps ``b``) times ``unit``: a finite, non-negative number that fits float32, or a
    :class:`.CircuitFormatError` naming the line (``inf``, ``nan``, ``1e400`` and negative values are refused)."""
    if token.count(":") == 2:  # best:typical:worst
        token = token.split(":")[1]
    try:
        number = float(token)
    except ValueError:
        raise CircuitFormatError(path, line, f"expected a number, got {token!r}") from None
    if not math.isfinite(number) or abs(number * unit) > _FLOAT32_MAX:
        raise CircuitFormatError(path, line, f"{what} must be a finite number, got {token!r}")
    if number < 0:
        raise CircuitFormatError(path, line, f"{what} must be >= 0, got {token!r}")
    return number * unit


def read_spef(path: str | os.PathLike) -> Spef:
    """Parse a SPEF file (plain or gzip). Raises :class:`.CircuitFormatError` (``file:line``) on malformed input."""
    spef = Spef(path=str(path))
    name_map: dict[str, str] = {}

    def name(token: str) -> str:
        """Substitute ``*N`` indices (also as the prefix of ``*N:pin``) and unescape."""
        if token.startswith("*"):
            head, sep, tail = token.partition(spef.delimiter)
            mapped = name_map.get(head)
            if mapped is None:
                raise CircuitFormatError(path, lineno, f"name-map index {head} is not defined in *NAME_MAP")
            return mapped + sep + unescape(tail) if sep else mapped
        return unescape(token)

    section = "header"
    net: SpefNet | None = None
    lineno = 0
    with open_text(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.split("//", 1)[0].strip()
            if not line:
                continue
            tok = line.split()
            key = tok[0]
            if key.startswith("*") and not key[1:2].isdigit():
                if key == "*D_NET":
                    if net is not None:
                        raise CircuitFormatError(path, lineno, f"*D_NET before *END of net {net.name}")
                    if len(tok) != 3:
                        raise CircuitFormatError(path, lineno, "*D_NET needs a net name and a total capacitance")
                    net = SpefNet(name(tok[1]), _value(tok[2], path, lineno, "total capacitance", spef.c_unit), lineno)
                    if net.name in spef.nets:
                        raise CircuitFormatError(path, lineno, f"net {net.name} appears twice")
                    section = "net"
                elif key == "*END":
                    if net is None:
                        raise CircuitFormatError(path, lineno, "*END without *D_NET")
                    spef.nets[net.name] = net
                    net, section = None, "top"
                elif key in ("*CONN", "*CAP", "*RES"):
                    if net is None:
                        raise CircuitFormatError(path, lineno, f"{key} outside a *D_NET")
                    section = key[1:].lower()
                elif key in ("*I", "*P"):
                    if section != "conn" or net is None:
                        raise CircuitFormatError(path, lineno, f"{key} outside a *CONN section")
                    if len(tok) < 3:
                        raise CircuitFormatError(path, lineno, f"{key} needs a node and a direction")
                    node, direction = name(tok[1]), tok[2]
                    if direction not in ("I", "O", "B"):
                        raise CircuitFormatError(path, lineno, f"direction must be I, O or B, got {direction!r}")
                    cell = tok[tok.index("*D") + 1] if "*D" in tok[3:-1] else None
                    if key == "*I":
                        inst, sep, pin = node.rpartition(spef.delimiter)
                        if not sep:
                            raise CircuitFormatError(path, lineno,
                                                     f"*I node {tok[1]} is not instance{spef.delimiter}pin")
                        conn = SpefConn("I", inst, pin, direction, cell)
                    else:
                        conn = SpefConn("P", None, node, direction)
                    net.conns.append(conn)
                    spef._pin_net[(conn.instance, conn.pin)] = net.name
                elif key == "*NAME_MAP":
                    section = "name_map"
                elif key == "*PORTS":
                    section = "ports"
                elif key == "*C_UNIT" or key == "*R_UNIT":
                    table = _C_UNITS if key == "*C_UNIT" else _R_UNITS
                    if len(tok) != 3 or tok[2].upper() not in table:
                        raise CircuitFormatError(path, lineno, f"{key} needs '<number> <{'|'.join(table)}>'")
                    scale = _value(tok[1], path, lineno, key, table[tok[2].upper()])
                    if key == "*C_UNIT":
                        spef.c_unit = scale
                    else:
                        spef.r_unit = scale
                elif key in ("*DIVIDER", "*DELIMITER") and len(tok) == 2:
                    setattr(spef, key[1:].lower(), tok[1])
                elif key == "*DESIGN" and len(tok) >= 2:
                    spef.design = tok[1].strip('"')
                elif key in ("*R_NET", "*D_PNET", "*R_PNET"):
                    spef.skipped[f"{key} nets (not read)"] += 1
                    spef.skipped_names[f"{key} nets (not read)"].append(tok[1] if len(tok) > 1 else "?")
                    section = "skip_net"
                elif section == "skip_net" and key != "*END":
                    continue
                elif section == "net" or section in ("conn", "cap", "res"):
                    spef.skipped[f"{key} lines in nets"] += 1
                else:
                    continue  # other header keywords (*SPEF, *DATE, *T_UNIT, *BUS_DELIMITER ...) carry nothing used
                continue
            if section == "skip_net":
                continue
            if section == "name_map":
                if len(tok) != 2 or not key.startswith("*"):
                    raise CircuitFormatError(path, lineno, "a *NAME_MAP line is '*<index> <name>'")
                name_map[key] = unescape(tok[1])
            elif section == "ports":
                if len(tok) < 2:
                    raise CircuitFormatError(path, lineno, "a *PORTS line is '<port> <I|O|B>'")
                spef.ports[name(key)] = tok[1]
            elif section == "cap":
                if len(tok) == 3:
                    node = name(tok[1])
                    net.ground[node] = net.ground.get(node, 0.0) + _value(tok[2], path, lineno, "capacitance",
                                                                          spef.c_unit)
                elif len(tok) == 4:
                    net.coupling.append((name(tok[1]), name(tok[2]),
                                         _value(tok[3], path, lineno, "capacitance", spef.c_unit)))
                else:
                    raise CircuitFormatError(path, lineno, "a *CAP line is '<id> <node> [<node>] <value>'")
            elif section == "res":
                if len(tok) != 4:
                    raise CircuitFormatError(path, lineno, "a *RES line is '<id> <node> <node> <value>'")
                net.resistors.append((name(tok[1]), name(tok[2]),
                                      _value(tok[3], path, lineno, "resistance", spef.r_unit)))
            elif section == "conn":
                raise CircuitFormatError(path, lineno, f"expected *I or *P in *CONN, got {key!r}")
            else:
                raise CircuitFormatError(path, lineno, f"unexpected line in section {section}: {line[:60]!r}")
    if net is not None:
        raise CircuitFormatError(path, lineno, f"file ends inside *D_NET {net.name} (line {net.line}) without *END")
    if not spef.nets:
        raise CircuitFormatError(path, None, "no *D_NET found: not a SPEF file, or an empty one")
    return spef
