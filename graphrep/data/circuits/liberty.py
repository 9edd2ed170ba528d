"""Liberty (.lib): per cell its area and per pin direction, capacitance, max_capacitance and function.

A line-oriented reader: it follows group nesting (``name (args) { ... }``) everywhere, but reads statements only at
the levels it needs (``library``, ``cell``, ``cell/pin``, ``cell/bus``, ``cell/bus/pin``), so lookup tables are passed
over without being parsed (their braces are counted, and a cell or pin group found where a missing or extra
``}`` put it is refused, naming the line where the unclosed group opened). Numbers must be finite; capacitances
and areas >= 0. Comments ``/* */`` and ``\\`` line continuations are handled. Capacitances are converted to
farads from ``capacitive_load_unit``. Power pins (``pg_pin``) are listed apart. Errors name ``file:line``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from .names import unescape
from .source import CircuitFormatError, open_text

_CAP_UNITS = {"pf": 1e-12, "ff": 1e-15, "nf": 1e-9}
_GROUP = re.compile(r'\s*([A-Za-z_][\w.]*)\s*\(([^)]*)\)\s*\{')
_SIMPLE = re.compile(r'\s*([A-Za-z_][\w.]*)\s*:\s*("(?:[^"\\]|\\.)*"|[^;]*?)\s*;')
_COMPLEX = re.compile(r'\s*([A-Za-z_][\w.]*)\s*\(([^)]*)\)\s*;')
_CLOSE = re.compile(r'\s*\}\s*;?')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACE = re.compile(r'([A-Za-z_][\w.]*)\s*\(([^)]*)\)\s*\{|[{}]')


@dataclass
class LibertyPin:
    name: str
    direction: str = "unknown"
    capacitance: float | None = None
    max_capacitance: float | None = None
    function: str | None = None


@dataclass
class LibertyCell:
    name: str
    area: float | None = None
    pins: dict[str, LibertyPin] = field(default_factory=dict)
    pg_pins: dict[str, str] = field(default_factory=dict)
    sequential: bool = False


@dataclass
class Liberty:
    name: str = ""
    cap_unit: float = 1e-12
    cells: dict[str, LibertyCell] = field(default_factory=dict)


def _args(text: str) -> list[str]:
    return [a.strip().strip('"') for a in text.split(",") if a.strip()]


def _float(value: str, path, line: int, key: str, minimum: float | None = None) -> float:
    """``value`` as a finite number (``>= minimum`` when given); ``nan``/``inf`` and overflowing values are refused."""
    try:
        number = float(value.strip('"'))
    except ValueError:
        raise CircuitFormatError(path, line, f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise CircuitFormatError(path, line, f"{key} must be a finite number, got {value!r}")
    if minimum is not None and number < minimum:
        raise CircuitFormatError(path, line, f"{key} must be >= {minimum:g}, got {value!r}")
    return number


def _check_nesting(group: str, args: str, stack: list, path, line: int) -> None:
    """Refuse a group that cannot sit where the braces put it: a ``}`` missing (a cell inside a cell, a pin inside a
    pin) or one too many (a group after the library closed). Names the line where the unclosed group opened."""
    if stack:
        parent, parent_args, opened = stack[-1]
        if group == "cell" and parent != "library" or group == "pin" and parent == "pin" or group == "library":
            raise CircuitFormatError(path, line, f"group {group} ({args.strip()}) inside {parent} "
                                     f"({', '.join(parent_args)}), opened at line {opened} and not closed: a '}}' "
                                     f"is missing before line {line}")
    elif group != "library":
        raise CircuitFormatError(path, line, f"group {group} ({args.strip()}) outside the library group: a '}}' too "
                                 f"many before line {line} closed the library early")


def _count_braces(text: str, stack: list, path, line: int) -> None:
    """Follow the nesting of a line that is not read: push ``name (args) {`` and bare ``{``, pop ``}`` (outside
    strings), checking each group's place (:func:`_check_nesting`)."""
    bare = _STRING.sub("", text) if '"' in text else text
    for m in _BRACE.finditer(bare):
        if m.group(0) == "}":
            if not stack:
                raise CircuitFormatError(path, line, "'}' without an open group")
            stack.pop()
        elif m.group(1):
            _check_nesting(m.group(1), m.group(2), stack, path, line)
            stack.append((m.group(1), _args(m.group(2)), line))
        else:
            stack.append(("?", [], line))


def read_liberty(path: str | os.PathLike) -> Liberty:
    """Parse a Liberty file (plain or gzip)."""
    lib = Liberty()
    stack: list[tuple[str, list[str], int]] = []
    cell: LibertyCell | None = None
    pin: LibertyPin | None = None
    bus_pins: list[LibertyPin] = []
    in_comment = False
    pending = ""
    pending_line = 0
    lineno = 0
    with open_text(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw
            if in_comment or "/*" in line:
                out, i = [], 0
                while i < len(line):
                    if in_comment:
                        j = line.find("*/", i)
                        if j < 0:
                            i = len(line)
                        else:
                            in_comment, i = False, j + 2
                    else:
                        j = line.find("/*", i)
                        if j < 0:
                            out.append(line[i:])
                            i = len(line)
                        else:
                            out.append(line[i:j])
                            in_comment, i = True, j + 2
                line = "".join(out)
            stripped = line.strip()
            if stripped.endswith("\\"):
                if not pending:
                    pending_line = lineno
                pending += stripped[:-1] + " "
                continue
            if pending:
                stripped, pending = pending + stripped, ""
                start = pending_line
            else:
                start = lineno
            if not stripped:
                continue
            path_names = tuple(g for g, _, _ in stack)
            interesting = path_names in ((), ("library",), ("library", "cell"), ("library", "cell", "pin"),
                                         ("library", "cell", "bus"), ("library", "cell", "bus", "pin"))
            if not interesting:
                _count_braces(stripped, stack, path, start)
                continue
            pos = 0
            while pos < len(stripped):
                m = _GROUP.match(stripped, pos)
                if m:
                    group, args = m.group(1), _args(m.group(2))
                    _check_nesting(group, m.group(2), stack, path, start)
                    stack.append((group, args, start))
                    names = tuple(g for g, _, _ in stack)
                    if names == ("library",):
                        lib.name = args[0] if args else ""
                    elif names == ("library", "cell"):
                        if not args:
                            raise CircuitFormatError(path, start, "cell group without a name")
                        cell = lib.cells[unescape(args[0])] = LibertyCell(unescape(args[0]))
                    elif names[-1] == "pin" and len(names) >= 3 and cell is not None:
                        bus_pins = [LibertyPin(unescape(a)) for a in args]
                        for p in bus_pins:
                            cell.pins[p.name] = p
                        pin = bus_pins[0] if bus_pins else None
                        if pin is None:
                            raise CircuitFormatError(path, start, "pin group without a name")
                    elif names[-1] == "bus" and cell is not None:
                        bus_pins = [LibertyPin(unescape(args[0]) if args else "?")]
                        cell.pins[bus_pins[0].name] = bus_pins[0]
                        pin = bus_pins[0]
                    elif names[-1] in ("ff", "latch", "ff_bank", "latch_bank", "statetable") and cell is not None:
                        cell.sequential = True
                    elif names[-1] == "pg_pin" and cell is not None and args:
                        cell.pg_pins[args[0]] = ""
                    pos = m.end()
                    if names[-1] not in ("library", "cell", "pin", "bus"):
                        _count_braces(stripped[pos:], stack, path, start)  # the rest of this group is not read
                        break
                    continue
                m = _SIMPLE.match(stripped, pos)
                if m:
                    key, value = m.group(1), m.group(2).strip('"')
                    level = stack[-1][0] if stack else ""
                    if level == "cell" and cell is not None and key == "area":
                        cell.area = _float(value, path, start, key, minimum=0.0)
                    elif level in ("pin", "bus") and pin is not None:
                        for p in bus_pins or [pin]:
                            if key == "direction":
                                p.direction = value.lower()
                            elif key == "capacitance":
                                p.capacitance = _float(value, path, start, key, minimum=0.0) * lib.cap_unit
                            elif key == "max_capacitance":
                                p.max_capacitance = _float(value, path, start, key, minimum=0.0) * lib.cap_unit
                            elif key == "function":
                                p.function = value
                    pos = m.end()
                    continue
                m = _COMPLEX.match(stripped, pos)
                if m:
                    if m.group(1) == "capacitive_load_unit":
                        args = _args(m.group(2))
                        if len(args) != 2 or args[1].lower() not in _CAP_UNITS:
                            raise CircuitFormatError(path, start, "capacitive_load_unit needs (<number>, pf|ff|nf)")
                        scale = _float(args[0], path, start, "capacitive_load_unit", minimum=0.0)
                        lib.cap_unit = scale * _CAP_UNITS[args[1].lower()]
                    pos = m.end()
                    continue
                m = _CLOSE.match(stripped, pos)
                if m:
                    if not stack:
                        raise CircuitFormatError(path, start, "'}' without an open group")
                    group = stack.pop()[0]
                    if group in ("pin", "bus"):
                        pin, bus_pins = None, []
                    elif group == "cell":
                        cell = None
                    pos = m.end()
                    continue
                raise CircuitFormatError(path, start, f"cannot read {stripped[pos:pos + 60]!r} "
                                                      "(expected 'name : value ;', "
                                                      "'name (args) ;', 'name (args) {' or '}')")
    if stack:
        group, args, line = stack[-1]
        raise CircuitFormatError(path, line, f"group {group} ({', '.join(args)}) is not closed at the end of the file")
    if not lib.cells:
        raise CircuitFormatError(path, None, "no cell groups: not a Liberty library, or an empty one")
    return lib
