"""LEF: macros (class, size, pins with direction and use) and tech-LEF routing layers (pitch, width, thickness).

Read line by line into statements; blocks (``MACRO``, ``PIN``, ``LAYER``, ``PORT``, ``OBS`` ...) end with ``END``.
Geometry of pin shapes and obstructions is not read. Several LEF files (a tech LEF and cell LEFs) merge with
:func:`merge_lef`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from .names import unescape
from .source import CircuitFormatError, open_text

_BLOCKS = {"MACRO", "PIN", "LAYER", "PORT", "OBS", "VIA", "VIARULE", "SITE", "PROPERTYDEFINITIONS", "UNITS",
           "NONDEFAULTRULE", "SPACING", "BEGINEXT", "NOISETABLE", "CORRECTIONTABLE", "ARRAY", "IRDROP", "DIELECTRIC"}
_TOKEN = re.compile(r'"[^"]*"|;|[^\s;]+')


@dataclass
class LefPin:
    name: str
    direction: str = "inout"
    use: str = "SIGNAL"


@dataclass
class LefMacro:
    name: str
    cls: str = ""
    width: float | None = None
    height: float | None = None
    pins: dict[str, LefPin] = field(default_factory=dict)

    @property
    def area(self) -> float | None:
        return self.width * self.height if self.width is not None and self.height is not None else None


@dataclass
class LefLayer:
    name: str
    type: str = ""
    pitch: float | None = None
    width: float | None = None
    thickness: float | None = None


@dataclass
class Lef:
    macros: dict[str, LefMacro] = field(default_factory=dict)
    layers: dict[str, LefLayer] = field(default_factory=dict)

    def routing_layers(self) -> list[LefLayer]:
        return [layer for layer in self.layers.values() if layer.type == "ROUTING"]


def merge_lef(*lefs: Lef) -> Lef:
    out = Lef()
    for lef in lefs:
        out.macros.update(lef.macros)
        out.layers.update(lef.layers)
    return out


def _number(tok: list[str], i: int, path, line: int) -> float:
    try:
        return float(tok[i])
    except (IndexError, ValueError):
        raise CircuitFormatError(path, line, f"{tok[0]} needs a number") from None


def read_lef(path: str | os.PathLike) -> Lef:
    """Parse a LEF file (plain or gzip)."""
    lef = Lef()
    stack: list[tuple[str, str, int]] = []  # (block keyword, name, line)
    buf: list[str] = []
    start = 0
    with open_text(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            tokens = _TOKEN.findall(raw)
            # '#' starts a comment outside quoted strings (a quoted token is one token, so it never starts with '#');
            # a comment may itself hold quotes and ';', as licence headers do
            hashes = [k for k, t in enumerate(tokens) if t.startswith("#")]
            if hashes:
                tokens = tokens[:hashes[0]]
            if not tokens:
                continue
            if not buf and ";" not in tokens:
                head = tokens[0]
                if head == "END":
                    if len(tokens) == 1 and stack and stack[-1][0] in ("PORT", "OBS"):
                        stack.pop()
                        continue
                    if len(tokens) >= 2 and tokens[1] == "LIBRARY":
                        break
                    if not stack:
                        raise CircuitFormatError(path, lineno, f"END {' '.join(tokens[1:])} without an open block")
                    kind, name, _ = stack.pop()
                    closing = tokens[1] if len(tokens) > 1 else ""
                    if closing not in (name, kind):
                        raise CircuitFormatError(path, lineno, f"END {closing} closes {kind} {name}")
                    continue
                if head in _BLOCKS:
                    name = unescape(tokens[1]) if len(tokens) > 1 else head
                    stack.append((head, name, lineno))
                    if head == "MACRO":
                        lef.macros[name] = LefMacro(name)
                    elif head == "PIN" and stack[-2:-1] and stack[-2][0] == "MACRO":
                        lef.macros[stack[-2][1]].pins[name] = LefPin(name)
                    elif head == "LAYER" and len(stack) == 1:
                        lef.layers[name] = LefLayer(name)
                    continue
            if not buf:
                start = lineno
            buf += tokens
            if ";" not in buf:
                continue
            stmt, buf = buf[:buf.index(";")], []
            if not stmt or not stack:
                continue
            kind, name, _ = stack[-1]
            key = stmt[0]
            if kind == "MACRO":
                macro = lef.macros[name]
                if key == "CLASS":
                    macro.cls = " ".join(stmt[1:])
                elif key == "SIZE":
                    if len(stmt) != 4 or stmt[2] != "BY":
                        raise CircuitFormatError(path, start, f"macro {name}: SIZE must be '<w> BY <h>'")
                    macro.width, macro.height = _number(stmt, 1, path, start), _number(stmt, 3, path, start)
            elif kind == "PIN" and len(stack) >= 2 and stack[-2][0] == "MACRO":
                pin = lef.macros[stack[-2][1]].pins[name]
                if key == "DIRECTION" and len(stmt) >= 2:
                    pin.direction = stmt[1].lower()
                elif key == "USE" and len(stmt) >= 2:
                    pin.use = stmt[1].upper()
            elif kind == "LAYER" and len(stack) == 1:
                layer = lef.layers[name]
                if key == "TYPE" and len(stmt) >= 2:
                    layer.type = stmt[1]
                elif key in ("PITCH", "WIDTH", "THICKNESS") and len(stmt) in (2, 3):
                    setattr(layer, key.lower(), _number(stmt, 1, path, start))
    if buf:
        raise CircuitFormatError(path, start, f"statement {' '.join(buf[:4])!r} has no closing ';'")
    if stack:
        kind, name, line = stack[-1]
        raise CircuitFormatError(path, line, f"{kind} {name} has no END")
    return lef
