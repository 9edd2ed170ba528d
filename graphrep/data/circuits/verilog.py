"""Structural (gate-level) Verilog -> :class:`.Netlist`, hierarchy flattened.

Read: ``module`` headers (ANSI or not), ``input``/``output``/``inout``/``wire`` declarations with ranges, ``assign``
between nets (merged into one net, the other names kept as aliases), instances with named (``.A(n)``) or positional
connections, bit-selects, part-selects, concatenations ``{a, b[3:0]}`` and constants (``1'b0``: the pin is tied,
counted as skipped), escaped identifiers, ``(* attributes *)`` and comments. The top module is the one no other module
instantiates. An instance of a module defined in the file is flattened (names ``inst/child``); an instance of anything
else is a leaf cell. A bus pin of a leaf cell (a connection wider than one bit) becomes pins ``pin[msb]..pin[lsb]``.
Positional connections of a leaf cell need its pin order: pass ``cell_pins`` (from Liberty or LEF), else they are
skipped and named.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..gc_pause import without_cycle_collection
from .names import bit, join, verilog_name
from .netlist import Netlist
from .source import CircuitFormatError, open_text

_TOKEN = re.compile(
    r"(?P<ws>\s+)|(?P<lc>//[^\n]*)|(?P<bc>/\*.*?\*/)|(?P<attr>\(\*.*?\*\))|(?P<esc>\\\S+)"
    r"|(?P<num>\d*'[sS]?[bBoOdDhH][0-9a-fA-FxXzZ_?]+|\d+)|(?P<id>[A-Za-z_][A-Za-z0-9_$]*)"
    r"|(?P<str>\"[^\"]*\")|(?P<p>[()\[\]{},;.=:#])", re.S)


@dataclass
class _Module:
    name: str
    line: int
    ports: list[str] = field(default_factory=list)
    directions: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    assigns: list[tuple[list, list, int]] = field(default_factory=list)
    instances: list[tuple[str, str, object, int]] = field(default_factory=list)


#: one token with the white space and comments before it: one match (one step of the Python loop) per token
_SKIP_TOKEN = re.compile(
    r"(?:\s+|//[^\n]*|/\*.*?\*/|\(\*.*?\*\))*"
    r"(?:(?P<esc>\\\S+)|(?P<num>\d*'[sS]?[bBoOdDhH][0-9a-fA-FxXzZ_?]+|\d+)|(?P<id>[A-Za-z_][A-Za-z0-9_$]*)"
    r"|(?P<str>\"[^\"]*\")|(?P<p>[()\[\]{},;.=:#]))", re.S)
_SKIP = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/|\(\*.*?\*\))*", re.S)


class _Tokens:
    """The tokens of ``text``, lexed on demand with a lookahead of one or two: a file's tokens are never all held (a
    list of (kind, value, line) tuples costs about 20 times the text). ``pos`` is where the next token's leading white
    space starts, ``line`` the line number at position ``mark``."""

    def __init__(self, text: str, path):
        self.text, self.path = text, path
        self.pos = self.mark = 0
        self.line = 1
        self.buf: list[tuple[str, str, int]] = []

    def _lex(self) -> tuple[str, str, int]:
        text = self.text
        m = _SKIP_TOKEN.match(text, self.pos)
        if m is None:
            if _SKIP.match(text, self.pos).end() != len(text):
                self._tokenise_slowly(text)  # raises, naming the line of the unexpected character
            return "eof", "", self.line + text.count("\n", self.mark)
        kind = m.lastgroup
        start = m.start(kind)
        self.line += text.count("\n", self.mark, start)
        self.mark, self.pos = start, m.end()
        return kind, m.group(kind), self.line

    def line_at(self, position: int) -> int:
        """The line of ``position`` (at or after ``mark``, with nothing buffered); moves ``mark`` there."""
        self.line += self.text.count("\n", self.mark, position)
        self.mark = position
        return self.line

    def _tokenise_slowly(self, text: str) -> None:
        """The token loop with the line count kept, for the error message only."""
        line, pos = 1, 0
        for m in _TOKEN.finditer(text):
            if m.start() != pos:
                raise CircuitFormatError(self.path, line, f"unexpected character {text[pos]!r}")
            pos = m.end()
            line += m.group().count("\n")
        if pos != len(text):
            raise CircuitFormatError(self.path, line, f"unexpected character {text[pos]!r}")

    def __iter__(self):
        """All remaining tokens (tests)."""
        while self.peek()[0] != "eof":
            yield self.next()

    def peek(self, k: int = 0) -> tuple[str, str, int]:
        buf = self.buf
        while len(buf) <= k:
            buf.append(self._lex())
        return buf[k]

    def next(self) -> tuple[str, str, int]:
        tok = self.peek()
        del self.buf[0]
        return tok

    def expect(self, value: str) -> int:
        kind, got, line = self.next()
        if got != value:
            raise CircuitFormatError(self.path, line, f"expected {value!r}, got {got or 'end of file'!r}")
        return line

    def ident(self) -> str:
        kind, got, line = self.next()
        if kind not in ("id", "esc"):
            raise CircuitFormatError(self.path, line, f"expected an identifier, got {got or 'end of file'!r}")
        return verilog_name(got)

    def error(self, message: str):
        return CircuitFormatError(self.path, self.peek()[2], message)


# The two statements that make up almost all of a synthesised netlist, each read by one match instead of a walk over
# its tokens: an instance with named single-bit connections, ``cell inst (.A(n), .B(bus[3]), .C());``, and a
# one-name declaration, ``wire n;`` / ``input [7:0] d;``. Only plain white space may separate their tokens; anything
# else (comments, attributes, parameters, concatenations, constants, positional connections) goes through the token
# parser, which reads the same statements to the same result. Possessive quantifiers keep each name's extent the
# lexer's (an escaped name runs to white space), so a match never splits a token differently.
_ID = r"[A-Za-z_][A-Za-z0-9_$]*+"
_NAME = rf"(?:{_ID}|\\\S++)"
_CONN_RX = rf"\.\s*+({_NAME})\s*+\(\s*+(?:({_NAME})\s*+(?:\[\s*+(\d++)\s*+\]\s*+)?+)?+\)"
_CONN = re.compile(_CONN_RX)
_FAST_INSTANCE = re.compile(rf"\s*+({_ID})\s++({_NAME})\s*+\(\s*+((?:{_CONN_RX}(?:\s*+,\s*+{_CONN_RX})*+)?+)\s*+\)\s*+;")
_FAST_DECLARATION = re.compile(rf"\s*+(input|output|inout|wire)\s++(?:\[\s*+(\d++)\s*+:\s*+(\d++)\s*+\]\s*+)?+"
                               rf"({_NAME})\s*+;")
#: words the module loop reads as statements before it takes an identifier for a cell name
_STATEMENT_WORDS = frozenset({"endmodule", "input", "output", "inout", "wire", "tri", "supply0", "supply1", "assign"})


def _fast_statement(tok: _Tokens, mod: _Module) -> bool:
    """Read one instance or declaration at ``tok.pos`` by :data:`_FAST_INSTANCE` / :data:`_FAST_DECLARATION` if it
    has their plain form (see there); ``False`` (nothing consumed) otherwise."""
    text, pos = tok.text, tok.pos
    m = _FAST_INSTANCE.match(text, pos)
    if m is not None and m.group(1) not in _STATEMENT_WORDS:
        at = m.start(1)
        line = at_line = tok.line = tok.line + text.count("\n", tok.mark, at)  # tok.line_at(at), inlined
        tok.mark = at
        start, end = m.span(3)
        if start == end:  # no connections (taps, fillers): most instances of a placed netlist
            mod.instances.append((m.group(1), verilog_name(m.group(2)), [], line))
            tok.pos = m.end()
            return True
        named: dict[str, list] = {}
        for c in _CONN.finditer(text, start, end):  # names inlined: verilog_name per token was a third
            pin, name, index = c.groups()
            if pin[0] == "\\":
                pin = pin[1:].rstrip()
            if name is None:
                named[pin] = []
                continue
            if name[0] == "\\":
                name = name[1:].rstrip()
            at_line += text.count("\n", at, at := c.start(2))
            named[pin] = [("net", name, None if index is None else int(index), at_line)]
        mod.instances.append((m.group(1), verilog_name(m.group(2)), named if named else [], line))
        tok.pos = m.end()
        return True
    m = _FAST_DECLARATION.match(text, pos)
    if m is not None and m.group(4) not in ("wire", "reg"):
        kind, name = m.group(1), verilog_name(m.group(4))
        if kind != "wire":
            mod.directions[name] = kind
        if m.group(2) is not None:
            mod.ranges[name] = (int(m.group(2)), int(m.group(3)))
        tok.pos = m.end()
        return True
    return False


def _int(tok: _Tokens) -> int:
    kind, got, line = tok.next()
    if kind != "num" or "'" in got:
        raise CircuitFormatError(tok.path, line, f"expected an integer, got {got!r}")
    return int(got)


def _range(tok: _Tokens) -> tuple[int, int] | None:
    if tok.peek()[1] != "[":
        return None
    tok.next()
    msb = _int(tok)
    tok.expect(":")
    lsb = _int(tok)
    tok.expect("]")
    return msb, lsb


def _expr(tok: _Tokens) -> list:
    """An expression as a list of bit references, MSB first: ``("net", name, index|None, line)`` or ``("const", v)``."""
    kind, value, line = tok.peek()
    if value == "{":
        tok.next()
        bits: list = []
        while True:
            if tok.peek()[1] == "{" and tok.peek(1)[0] == "num":  # replication {N{x}}
                tok.next()
                times = _int(tok)
                inner = _expr(tok)
                tok.expect("}")
                bits += inner * times
            else:
                bits += _expr(tok)
            if tok.peek()[1] == ",":
                tok.next()
                continue
            tok.expect("}")
            return bits
    if kind == "num":
        tok.next()
        if "'" in value:
            width_s, _, rest = value.partition("'")
            base = {"b": 2, "o": 8, "d": 10, "h": 16}[rest.lstrip("sS")[0].lower()]
            digits = rest.lstrip("sS")[1:].replace("_", "")
            width = int(width_s) if width_s else 32
            v = int(re.sub("[xXzZ?]", "0", digits), base)
        else:
            width, v = 32, int(value)
        return [("const", (v >> i) & 1) for i in range(width - 1, -1, -1)]
    if kind in ("id", "esc"):
        name = tok.ident()
        if tok.peek()[1] == "[":
            tok.next()
            hi = _int(tok)
            if tok.peek()[1] == ":":
                tok.next()
                lo = _int(tok)
                tok.expect("]")
                step = -1 if hi >= lo else 1
                return [("net", name, i, line) for i in range(hi, lo + step, step)]
            tok.expect("]")
            return [("net", name, hi, line)]
        return [("net", name, None, line)]
    got = value or "end of file"
    raise CircuitFormatError(tok.path, line, f"expected a net, constant or concatenation, got {got!r}")


def _parse_module(tok: _Tokens) -> _Module:
    """One module, ``module`` to ``endmodule``; plain statements by one match each (:func:`_fast_statement`)."""
    line = tok.expect("module")
    mod = _Module(tok.ident(), line)
    if tok.peek()[1] == "#":
        raise tok.error("module parameters are not supported in a structural netlist")
    if tok.peek()[1] == "(":
        tok.next()
        while tok.peek()[1] != ")":
            if tok.peek()[1] in ("input", "output", "inout"):  # ANSI header
                direction = tok.next()[1]
                if tok.peek()[1] == "wire":
                    tok.next()
                rng = _range(tok)
                name = tok.ident()
                mod.directions[name] = direction
                if rng:
                    mod.ranges[name] = rng
            else:
                name = tok.ident()
            mod.ports.append(name)
            if tok.peek()[1] == ",":
                tok.next()
        tok.expect(")")
    tok.expect(";")
    while True:
        if not tok.buf and _fast_statement(tok, mod):
            continue
        kind, value, line = tok.peek()
        if value == "endmodule":
            tok.next()
            return mod
        if kind == "eof":
            raise CircuitFormatError(tok.path, mod.line, f"module {mod.name} has no endmodule")
        if value in ("input", "output", "inout", "wire", "tri", "supply0", "supply1"):
            tok.next()
            if tok.peek()[1] in ("wire", "reg"):
                tok.next()
            rng = _range(tok)
            while True:
                name = tok.ident()
                if value in ("input", "output", "inout"):
                    mod.directions[name] = value
                if rng:
                    mod.ranges[name] = rng
                if tok.peek()[1] != ",":
                    break
                tok.next()
            tok.expect(";")
        elif value == "assign":
            tok.next()
            while True:
                lhs = _expr(tok)
                tok.expect("=")
                rhs = _expr(tok)
                mod.assigns.append((lhs, rhs, line))
                if tok.peek()[1] != ",":
                    break
                tok.next()
            tok.expect(";")
        elif kind in ("id", "esc"):
            cell = tok.ident()
            if tok.peek()[1] == "#":
                tok.next()
                depth = 0
                while True:  # parameters of a cell: skipped, they do not change connectivity
                    v = tok.next()[1]
                    depth += v == "("
                    depth -= v == ")"
                    if depth == 0:
                        break
            inst = tok.ident()
            tok.expect("(")
            named: dict[str, list] = {}
            positional: list[list] = []
            while tok.peek()[1] != ")":
                if tok.peek()[1] == ".":
                    tok.next()
                    pin = tok.ident()
                    tok.expect("(")
                    named[pin] = _expr(tok) if tok.peek()[1] != ")" else []
                    tok.expect(")")
                else:
                    positional.append(_expr(tok))
                if tok.peek()[1] == ",":
                    tok.next()
                elif tok.peek()[1] != ")":
                    raise tok.error(f"expected ',' or ')' in the connections of instance {inst}")
            tok.expect(")")
            tok.expect(";")
            mod.instances.append((cell, inst, named if named else positional, line))
        else:
            raise CircuitFormatError(tok.path, line, f"unexpected {value!r} in module {mod.name}")


class _Union:
    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, a: str) -> str:
        p = self.parent.setdefault(a, a)
        if p != a:
            p = self.parent[a] = self.find(p)
        return p

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@without_cycle_collection
def read_verilog(path: str | os.PathLike | list, top: str | None = None,
                 cell_pins: dict[str, list[str]] | None = None) -> Netlist:
    """Parse a structural Verilog file (or several, whose modules form one design: a top and its blocks) and
    flatten its top module (or ``top``) into a :class:`.Netlist`."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    path = paths[0]
    modules: dict[str, _Module] = {}
    for one in paths:
        with open_text(one) as fh:
            tok = _Tokens(fh.read(), one)
        while tok.peek()[0] != "eof":
            if tok.peek()[1] != "module":
                raise tok.error(f"expected 'module', got {tok.peek()[1]!r}")
            mod = _parse_module(tok)
            if mod.name in modules:
                raise CircuitFormatError(one, mod.line, f"module {mod.name} defined twice")
            modules[mod.name] = mod
    if not modules:
        raise CircuitFormatError(path, None, "no module found")
    used = {inst[0] for m in modules.values() for inst in m.instances}  # cells (no starred unpacking: a list each)
    if top is None:
        tops = [m for m in modules if m not in used]
        if len(tops) != 1:
            raise CircuitFormatError(path, None, f"cannot tell the top module among {tops}; pass top=")
        top = tops[0]
    elif top not in modules:
        raise CircuitFormatError(path, None, f"top module {top!r} not found (modules: {sorted(modules)})")
    net = Netlist(name=top, source=str(path))
    uf = _Union()
    parent = uf.parent
    conns: list[tuple[str, str, str]] = []  # (instance, pin, net bit)

    def bits_of(mod: _Module, prefix: str, ref) -> str | None:
        if ref[0] == "const":
            return None
        _, name, index, line = ref
        rng = mod.ranges.get(name)
        if index is None and rng is not None:
            raise CircuitFormatError(path, line, f"{name} is a bus [{rng[0]}:{rng[1]}]; used here as one bit")
        if index is not None and rng is None and (name in mod.directions or name in mod.ranges):
            raise CircuitFormatError(path, line, f"{name} is not a bus; bit {index} selected")
        return join(prefix, bit(name, index) if index is not None else name)

    def expand(ref_list, mod: _Module) -> list:
        """Whole-bus references ``a`` (declared [msb:lsb]) become one reference per bit."""
        out = []
        for ref in ref_list:
            if ref[0] == "net" and ref[2] is None and ref[1] in mod.ranges:
                msb, lsb = mod.ranges[ref[1]]
                step = -1 if msb >= lsb else 1
                out += [("net", ref[1], i, ref[3]) for i in range(msb, lsb + step, step)]
            else:
                out.append(ref)
        return out

    def port_bits(mod: _Module, port: str) -> list[str]:
        if port in mod.ranges:
            msb, lsb = mod.ranges[port]
            step = -1 if msb >= lsb else 1
            return [bit(port, i) for i in range(msb, lsb + step, step)]
        return [port]

    def flatten(mod: _Module, prefix: str, depth: int) -> None:
        if depth > 64:
            raise CircuitFormatError(path, mod.line, f"module {mod.name} instantiates itself")
        for lhs, rhs, line in mod.assigns:
            lhs, rhs = expand(lhs, mod), expand(rhs, mod)
            if len(lhs) != len(rhs):
                raise CircuitFormatError(path, line, f"assign of {len(rhs)} bits to {len(lhs)} bits")
            for a, b in zip(lhs, rhs):
                na, nb = bits_of(mod, prefix, a), bits_of(mod, prefix, b)
                if na is None:
                    raise CircuitFormatError(path, line, "assign to a constant")
                if nb is None:
                    net.skip("assign of a constant (tie-off)", na)
                    uf.find(na)
                else:
                    uf.union(na, nb)
        ranges, directions, prefix_ = mod.ranges, mod.directions, prefix + "/" if prefix else ""
        for cell, inst, connections, line in mod.instances:
            full = prefix_ + inst
            child = modules.get(cell)
            if not connections and child is None:
                net.instances[full] = cell
                net.skip("instances without connections (taps, fillers, pads)", full)
                continue
            if isinstance(connections, list):  # positional
                pins = child.ports if child else (cell_pins or {}).get(cell)
                if pins is None:
                    net.skip("positional connections of a cell with unknown pin order", full)
                    continue
                if len(connections) > len(pins):
                    raise CircuitFormatError(path, line,
                                             f"{inst}: {len(connections)} connections, {cell} has {len(pins)} pins")
                connections = dict(zip(pins, connections))
            if child is not None:
                for port, expr in connections.items():
                    if port not in child.ports:
                        raise CircuitFormatError(path, line, f"{inst}: module {cell} has no port {port!r}")
                    bits = expand(expr, mod)
                    inner = port_bits(child, port)
                    if bits and len(bits) != len(inner):
                        raise CircuitFormatError(path, line,
                                                 f"{inst}.{port}: {len(bits)} bits connected to {len(inner)}")
                    for b, p in zip(bits, inner):
                        outer = bits_of(mod, prefix, b)
                        if outer is None:
                            net.skip("module port tied to a constant", join(full, p))
                        else:
                            uf.union(outer, join(full, p))
                net.modules[full] = cell
                flatten(child, full, depth + 1)
                continue
            if full in net.instances:
                raise CircuitFormatError(path, line, f"instance {full} defined twice")
            net.instances[full] = cell
            for pin, expr in connections.items():
                if len(expr) == 1 and expr[0][0] == "net":  # one bit of a net: bits_of and uf.find inlined
                    _, name, index, _ = expr[0]
                    if index is None and name not in ranges:
                        n = prefix_ + name
                    elif index is not None and (name in ranges or name not in directions):
                        n = f"{prefix_}{name}[{index}]"
                    else:  # a whole bus, or a bit of a declared scalar (an error): the general path
                        n = None
                    if n is not None:
                        if n not in parent:
                            parent[n] = n
                        conns.append((full, pin, n))
                        continue
                bits = expand(expr, mod)
                if not bits:
                    net.skip("unconnected pins", f"{full}/{pin}")
                    continue
                names = [pin] if len(bits) == 1 else [bit(pin, len(bits) - 1 - i) for i in range(len(bits))]
                for p, b in zip(names, bits):
                    n = bits_of(mod, prefix, b)
                    if n is None:
                        net.skip("pins tied to a constant", f"{full}/{p}")
                    else:
                        uf.find(n)
                        conns.append((full, p, n))

    top_mod = modules[top]
    for port in top_mod.ports:
        if port not in top_mod.directions:
            raise CircuitFormatError(path, top_mod.line, f"port {port} of {top} has no input/output declaration")
        for b in port_bits(top_mod, port):
            net.ports[b] = top_mod.directions[port]
            uf.find(b)
    flatten(top_mod, "", 0)
    # A net's name: a top-level port if it has one (as SPEF writes it), else the shortest hierarchical name. Only the
    # names some assign or port connection merged form groups of several; every other name is its own net.
    group_of = {name: uf.find(name) for name in [n for n, p in parent.items() if p != n]}
    group_of.update({r: r for r in set(group_of.values())})
    groups: dict[str, list[str]] = {}
    for name in filter(group_of.__contains__, parent):  # members in order of first use, as the groups
        groups.setdefault(group_of[name], []).append(name)
    canonical: dict[str, str] = {}
    for members in groups.values():
        ports = sorted(m for m in members if m in net.ports)
        chosen = ports[0] if ports else min(members, key=lambda m: (m.count("/"), len(m), m))
        for m in members:
            canonical[m] = chosen
            if m != chosen:
                net.aliases[m] = chosen
    name_of = canonical.get
    nets = net.nets
    for inst, pin, n in conns:
        nets[name_of(n, n)].append((inst, pin))
    for port in net.ports:
        nets[name_of(port, port)].append((None, port))
    for name in parent:  # each net once, at its first name
        root = group_of.get(name)
        if root is not None:
            if groups[root][0] != name:
                continue
            name = canonical[name]
        if name not in nets:
            net.skip("declared wires with no connection", name)
    return net
