"""SPEF (IEEE 1481) parasitics: per-net totals, connections, ground and coupling capacitors, resistors.

``*NAME_MAP`` indices are substituted, names are canonical (:mod:`.names`), capacitances are converted to farads and
resistances to ohms from ``*C_UNIT``/``*R_UNIT``. Triplet values ``a:b:c`` (best:typical:worst) keep the typical one.
Values must be finite, >= 0 and within float32's range (``inf``, ``nan``, ``1e400`` or a negative capacitance is
refused, naming the line).

A ``*CAP`` line with one node is a ground capacitor, with two a coupling capacitor. Nodes are ``net:subnode``,
``instance:pin`` or a port; :meth:`Spef.node_net` resolves each to its net from the ``*CONN`` sections of all nets, so
coupling is summed per unordered net pair by :meth:`Spef.coupling_pairs`. Anything not read (``*R_NET``, ``*D_PNET``,
``*INDUC``, unresolvable coupling nodes) is counted and named in ``Spef.skipped``.

How it is read (the cost grows linearly, and the file is never held whole): the file is taken in blocks of whole
``*D_NET`` sections. The name map (every instance and net: most of a SPEF's lines) is read on its bytes with numpy
and kept as integer indices and one string of names. In each block of nets, the ``*CONN`` lines are read by one regular
expression and their :class:`SpefConn`/:class:`SpefNet` objects made in bulk; capacitor and resistor lines are
split, their numbers converted and checked, and their node tokens numbered (one ``pandas.factorize``) as whole arrays,
not one line at a time. Capacitors and resistors are kept compactly (:class:`Parasitics`: node ids and values in
numpy arrays, one node name table); ``SpefNet.ground``/``coupling``/``resistors`` build their dict/lists on access.
Anything the block reader does not expect (comments, ``*R_NET`` sections, a malformed line ...) makes it hand the
whole file to the line-by-line reader :func:`_read_lines`, which accepts the full grammar and names the file and line
of any error; both fill the same :class:`Parasitics`, so their results are identical.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import chain, repeat

import numpy as np

from .names import unescape
from .source import CircuitFormatError, open_text, without_cycle_collection

_C_UNITS = {"F": 1.0, "PF": 1e-12, "FF": 1e-15, "NF": 1e-9, "UF": 1e-6, "MF": 1e-3}
_R_UNITS = {"OHM": 1.0, "KOHM": 1e3, "MOHM": 1e6}


@dataclass(slots=True)
class SpefConn:
    """One ``*CONN`` entry: ``kind`` ``"I"`` (instance pin) or ``"P"`` (port); ``instance`` is ``None`` for ports."""

    kind: str
    instance: str | None
    pin: str
    direction: str
    cell: str | None = None


class Parasitics:
    """The capacitors and resistors of all nets, compactly: for each kind, ``net`` [K] (net index in file order),
    node ids ``a`` [K] (and ``b`` [K] for couplings and resistors) into ``nodes`` (canonical node names), ``value``
    [K] (F or ohm), entries in file order, so net ``i``'s entries are ``ptr[i]:ptr[i + 1]``."""

    KINDS = ("ground", "coupling", "res")

    def __init__(self):
        self.nodes: list[str] = []
        self._node_id: dict[str, int] = {}
        self._parts: dict[str, list[tuple[np.ndarray, ...]]] = {k: [] for k in self.KINDS}
        self.arrays: dict[str, dict[str, np.ndarray]] = {}
        self.ptr: dict[str, np.ndarray] = {}
        self.ground_sum = np.zeros(0)

    def ids(self, names) -> np.ndarray:
        """Node ids of canonical ``names`` (new names are appended to ``nodes``)."""
        table, nodes = self._node_id, self.nodes
        out = np.empty(len(names), dtype=np.int64)
        for k, n in enumerate(names):
            i = table.get(n)
            if i is None:
                i = table[n] = len(nodes)
                nodes.append(n)
            out[k] = i
        return out

    def add(self, kind: str, net: np.ndarray, value: np.ndarray, a: np.ndarray, b: np.ndarray | None = None) -> None:
        self._parts[kind].append((net, a, a if b is None else b, value))

    def finish(self, n_nets: int) -> "Parasitics":
        for kind, parts in self._parts.items():
            cols = [np.concatenate([p[j] for p in parts]) if parts else np.zeros(0, dtype=np.int64 if j < 3 else float)
                    for j in range(4)]
            net, a, b, value = cols
            self.arrays[kind] = {"net": net.astype(np.int64), "a": a.astype(np.int64), "b": b.astype(np.int64),
                                 "value": value.astype(np.float64)}
            self.ptr[kind] = np.concatenate([[0], np.cumsum(np.bincount(net.astype(np.int64), minlength=n_nets))])
        self._parts = {k: [] for k in self.KINDS}
        self._node_id = {}  # only needed while reading
        g = self.arrays["ground"]
        self.ground_sum = np.bincount(g["net"], weights=g["value"], minlength=n_nets)
        return self

    def entries(self, kind: str, i: int):
        """Net ``i``'s ``(a, b, value)`` entries of ``kind`` with node names."""
        s, e = int(self.ptr[kind][i]), int(self.ptr[kind][i + 1])
        arr, nodes = self.arrays[kind], self.nodes
        return [(nodes[a], nodes[b], v) for a, b, v in
                zip(arr["a"][s:e].tolist(), arr["b"][s:e].tolist(), arr["value"][s:e].tolist())]


@dataclass
class SpefNet:
    """A ``*D_NET``: ``total_cap`` (F) as stated, ``ground`` caps (F) per node, ``coupling`` (node, node, F) entries
    with the first node on this net, resistors (node, node, ohm), and the line it starts on. The last three are built
    on access from the shared :class:`Parasitics` (entry ``index`` there)."""

    name: str
    total_cap: float
    line: int
    conns: list[SpefConn] = field(default_factory=list)
    parasitics: Parasitics | None = field(default=None, repr=False, compare=False)
    index: int = -1

    @property
    def ground(self) -> dict[str, float]:
        """Ground capacitance (F) per node, repeated nodes summed."""
        out: dict[str, float] = {}
        if self.parasitics is not None:
            for node, _, c in self.parasitics.entries("ground", self.index):
                out[node] = out.get(node, 0.0) + c
        return out

    @property
    def coupling(self) -> list[tuple[str, str, float]]:
        return [] if self.parasitics is None else self.parasitics.entries("coupling", self.index)

    @property
    def resistors(self) -> list[tuple[str, str, float]]:
        return [] if self.parasitics is None else self.parasitics.entries("res", self.index)

    @property
    def ground_cap(self) -> float:
        """Sum of the net's ground capacitors (F)."""
        return 0.0 if self.parasitics is None else float(self.parasitics.ground_sum[self.index])


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
    parasitics: Parasitics = field(default_factory=Parasitics, repr=False, compare=False)
    _pin_net: dict[tuple[str | None, str], str] = field(default_factory=dict, repr=False)
    _pairs: tuple | None = field(default=None, repr=False, compare=False)

    def node_net(self, node: str) -> str | None:
        """The net a node belongs to: ``net:sub`` -> net, ``inst:pin`` -> the net connected there, ``port`` -> its
        net; ``None`` if none."""
        inst, sep, sub = node.rpartition(self.delimiter)
        if not sep:
            return self._pin_net.get((None, node)) or (node if node in self.nets else None)
        if inst in self.nets:
            return inst
        return self._pin_net.get((inst, sub))

    def ground_caps(self) -> np.ndarray:
        """``[len(nets)]`` each net's ground capacitance (F), in the order of ``nets``."""
        return self.parasitics.ground_sum

    def coupling_arrays(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The coupling pairs as arrays: ``(names, a [P], b [P], cap [P])``, net indices into ``names`` (the nets in
        file order) with ``names[a] < names[b]``, in the order of :meth:`coupling_pairs`.

        OpenRCX writes each coupling capacitor under both nets' ``*D_NET``; a pair's value is therefore the mean of
        the two sides' sums when both list it (they agree in the files seen), else the one side's sum. Nodes on no
        net and capacitors within one net are counted in ``skipped`` (once, on the first call)."""
        if self._pairs is not None:
            return self._pairs
        names = list(self.nets)
        index = {n: i for i, n in enumerate(names)}
        par = self.parasitics
        cp = par.arrays["coupling"]
        used, inverse = np.unique(np.concatenate([cp["a"], cp["b"]]), return_inverse=True)
        nets_of = [self.node_net(par.nodes[u]) for u in used.tolist()]
        node_net = np.array([-1 if n is None else index.get(n, -1) for n in nets_of], dtype=np.int64)
        k = len(cp["a"])
        na, nb = node_net[inverse[:k]], node_net[inverse[k:]]
        lost = (na < 0) | (nb < 0)
        if lost.any():
            bad = np.where(na[lost] < 0, cp["a"][lost], cp["b"][lost])
            self.skipped["coupling node not on any net"] += int(lost.sum())
            self.skipped_names["coupling node not on any net"].extend(par.nodes[j] for j in bad.tolist())
        own = cp["net"]
        swap = na != own  # first node on the other net: count it from this net's side anyway
        na, nb = np.where(swap, nb, na), np.where(swap, na, nb)
        same = ~lost & (na == nb)
        if same.any():
            self.skipped["coupling within one net"] += int(same.sum())
        keep = ~lost & ~same
        na, nb, value = na[keep], nb[keep], cp["value"][keep]
        rank = np.empty(len(names), dtype=np.int64)
        rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
        first = rank[na] < rank[nb]
        lo, hi = np.where(first, na, nb), np.where(first, nb, na)
        codes, at, inv = np.unique(lo * max(len(names), 1) + hi, return_index=True, return_inverse=True)
        side0 = np.bincount(inv[first], weights=value[first], minlength=len(codes))
        side1 = np.bincount(inv[~first], weights=value[~first], minlength=len(codes))
        both = (side0 != 0) & (side1 != 0)
        cap = np.where(both, (side0 + side1) / 2, side0 + side1)
        order = np.argsort(at, kind="stable")  # the order pairs are first met in the file
        self._pairs = (names, lo[at[order]], hi[at[order]], cap[order])
        return self._pairs

    def coupling_pairs(self) -> dict[tuple[str, str], float]:
        """Coupling capacitance (F) per unordered net pair ``(a, b)`` with ``a < b``, summed over sub-nodes (see
        :meth:`coupling_arrays`)."""
        names, a, b, cap = self.coupling_arrays()
        return {(names[i], names[j]): c for i, j, c in zip(a.tolist(), b.tolist(), cap.tolist())}


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


@without_cycle_collection
def read_spef(path: str | os.PathLike) -> Spef:
    """Parse a SPEF file (plain or gzip). Raises :class:`.CircuitFormatError` (``file:line``) on malformed input."""
    try:
        return _read_blocks(path)
    except (_Unexpected, CircuitFormatError):
        return _read_lines(path)  # the full grammar; names the file and line of what is wrong


# ------------------------------------------------------------------------------------------------ block reader
class _Unexpected(Exception):
    """Something the block reader does not handle: the line reader takes over."""


_BLOCK_CHARS = 1 << 24
#: one ``*D_NET`` section in its usual layout (OpenRCX, StarRC): *CONN, then optional *CAP and *RES, then *END
_NET = re.compile(r"\*D_NET[ \t]+(\S+)[ \t]+(\S+)[ \t]*\n"
                  r"\*CONN[ \t]*\n((?:\*[IP][ \t][^\n]*\n)*)"
                  r"(?:\*CAP[ \t]*\n((?:[ \t]*\d[^\n]*\n)*))?"
                  r"(?:\*RES[ \t]*\n((?:[ \t]*\d[^\n]*\n)*))?"
                  r"\*END[ \t]*\n")
_CAP_LINE = re.compile(r"^[ \t]*\d+[ \t]+(\S+)[ \t]+(?:(\S+)[ \t]+)?(\S+)[ \t]*$", re.M)
_RES_LINE = re.compile(r"^[ \t]*\d+[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)[ \t]*$", re.M)
#: a *CONN line: kind, node, direction and the cell after the first ``*D`` that has a token after it
_CONN_LINE = re.compile(r"^\*([IP])[ \t]+(\S+)[ \t]+(\S+)(?:[^\n]*?(?<!\S)\*D[^\S\n]+(\S+))?[^\n]*$", re.M)
_KEYWORD = re.compile(r"^\*[^\d\s]", re.M)


def _pieces(fh):
    """The text in pieces of about :data:`_BLOCK_CHARS` that end at a line end, before a ``*D_NET`` line when one
    is in reach (so that nets are never cut; a net larger than a piece is carried over whole)."""
    rest = ""
    while True:
        chunk = fh.read(_BLOCK_CHARS)
        if not chunk:
            break
        text = rest + chunk
        cut = text.rfind("\n*D_NET")
        if cut < 0 and "*D_NET" not in text:
            cut = text.rfind("\n")  # still in the header (a long name map)
        if cut < 0:
            rest = text
            continue
        yield text[:cut + 1]
        rest = text[cut + 1:]
    if rest:
        yield rest


def _numbers(tokens: list[str], unit: float) -> np.ndarray:
    """Values times ``unit``, checked as :func:`_value` checks them; anything it would refuse raises
    :class:`_Unexpected` (the line reader then names the line)."""
    try:
        x = np.array(tokens, dtype=np.float64)
    except ValueError:
        try:  # best:typical:worst triplets keep the typical value
            x = np.array([t.split(":")[1] if t.count(":") == 2 else t for t in tokens], dtype=np.float64)
        except ValueError:
            raise _Unexpected from None
    x = x * unit
    if not (np.isfinite(x).all() and (np.abs(x) <= _FLOAT32_MAX).all() and (x >= 0).all()):
        raise _Unexpected
    return x


#: the characters ``str.split()`` splits on, among ASCII bytes
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True


def _spans(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each white-space separated token of the ASCII bytes ``buf``, as ``str.split()``
    cuts them."""
    space = np.concatenate([[True], _SPACE[buf], [True]]).view(np.int8)
    edge = np.diff(space)
    return np.flatnonzero(edge == -1), np.flatnonzero(edge == 1)


def _gather(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The bytes of ``buf`` inside the ordered, disjoint spans ``starts[k]:ends[k]``, concatenated (one boolean mask
    made by ``np.repeat``: a byte per position, not an index array)."""
    bounds = np.empty(2 * len(starts) + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, len(buf)
    bounds[1:-1:2], bounds[2:-1:2] = starts, ends
    inside = np.zeros(len(bounds) - 1, dtype=bool)
    inside[1::2] = True
    return buf[np.repeat(inside, np.diff(bounds))]


def _indices(buf: np.ndarray, starts: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """The integers of the ``*<digits>`` tokens at ``starts`` of the ASCII bytes ``buf`` (``digits`` digits each), by
    Horner's rule one digit position at a time; anything else raises :class:`_Unexpected`."""
    if len(starts) and ((buf[starts] != 42).any() or (digits < 1).any() or (digits > 18).any()):
        raise _Unexpected  # not *<digits>
    keys = np.zeros(len(starts), dtype=np.int64)
    for j in range(int(digits.max(initial=0))):
        live = np.flatnonzero(digits > j)
        d = buf[starts[live] + 1 + j].astype(np.int64) - 48
        if ((d < 0) | (d > 9)).any():
            raise _Unexpected
        keys[live] = keys[live] * 10 + d
    return keys


def _keyword_lines(text: str) -> list[int]:
    """Where the lines of ``text`` that start with a keyword (``*`` then neither a digit nor white space) start: the
    positions :data:`_KEYWORD` finds, from the bytes of an ASCII text (a name map is millions of ``*<index>``
    lines)."""
    if not text.isascii():
        return [m.start() for m in _KEYWORD.finditer(text)]
    buf = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    star = np.flatnonzero(buf[:-1] == 42)
    star = star[(star == 0) | (buf[star - 1] == 10)]
    after = buf[star + 1]
    return star[~_SPACE[after] & ((after < 48) | (after > 57))].tolist()


class _NameMap:
    """``*<index>`` -> name, compactly: the indices as integers, the names concatenated in one string with their
    offsets (a name map lists every instance and net: tens of millions in a large design, where a ``dict`` of ``str``
    would take several times the memory of the parsed result). A repeated index keeps its last name.

    An ASCII block of lines is read on its bytes with numpy (token edges, the digits of the indices, the names copied
    out by one mask); only names with a backslash are unescaped one by one."""

    def __init__(self):
        self._keys: list[np.ndarray] = []
        self._texts: list[str] = []
        self._starts: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []
        self._size = 0  # characters in _texts

    def _append(self, keys: np.ndarray, text: str, starts: np.ndarray, lengths: np.ndarray) -> None:
        self._keys.append(keys)
        self._starts.append(starts + self._size)
        self._lengths.append(lengths)
        self._texts.append(text)
        self._size += len(text)

    def add(self, keys: list[str], names: list[str]) -> None:
        try:
            k = np.array([k[1:] for k in keys], dtype=np.int64)
        except (ValueError, OverflowError):
            raise _Unexpected from None  # not *<digits>: the line reader takes it
        lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
        self._append(k, "".join(names), np.cumsum(lengths) - lengths, lengths)

    def add_lines(self, text: str) -> None:
        """The ``*<index> <name>`` lines of ``text`` (blank lines allowed); anything else raises :class:`_Unexpected`."""
        if not text.isascii():
            tokens = _rows(text, (2,), b"*")[0].tolist()
            names = tokens[1::2]
            self.add(tokens[0::2], [unescape(n) for n in names] if "\\" in text else names)
            return
        buf = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        starts, ends = _spans(buf)
        line = np.searchsorted(np.flatnonzero(buf == 10), starts)
        if len(starts) % 2 or (line[0::2] != line[1::2]).any() or (np.diff(line[0::2]) <= 0).any():
            raise _Unexpected  # not two tokens on every line
        ks, ke, ns, ne = starts[0::2], ends[0::2], starts[1::2], ends[1::2]
        digits = ke - ks - 1
        keys = _indices(buf, ks, digits)
        names = _gather(buf, ns, ne).tobytes().decode("ascii")
        lengths = ne - ns
        at = np.cumsum(lengths) - lengths
        slash = np.flatnonzero(buf == 92)
        owner = np.searchsorted(ns, slash, side="right") - 1
        escaped = np.unique(owner[(owner >= 0) & (slash < ne[np.maximum(owner, 0)])])
        if len(escaped):  # unescaped one by one, appended after the others
            plain = [unescape(names[a:a + n]) for a, n in zip(at[escaped].tolist(), lengths[escaped].tolist())]
            extra = np.fromiter(map(len, plain), dtype=np.int64, count=len(plain))
            at[escaped] = len(names) + np.cumsum(extra) - extra
            lengths[escaped] = extra
            names += "".join(plain)
        self._append(keys, names, at, lengths)

    def finish(self) -> "_NameMap":
        empty = np.zeros(0, dtype=np.int64)
        keys = np.concatenate(self._keys) if self._keys else empty
        self.order = np.argsort(keys, kind="stable")
        self.sorted = keys[self.order]
        self.starts = np.concatenate(self._starts) if self._starts else empty
        self.lengths = np.concatenate(self._lengths) if self._lengths else empty
        self.text = "".join(self._texts)
        self._keys, self._texts, self._starts, self._lengths = [], [], [], []
        return self

    def lookup(self, heads: list[str]) -> list[str | None]:
        """The names of ``*<index>`` heads (``None`` where not defined)."""
        text = "".join(heads)
        if text.isascii():
            lengths = np.fromiter(map(len, heads), dtype=np.int64, count=len(heads))
            k = _indices(np.frombuffer(text.encode("ascii"), dtype=np.uint8), np.cumsum(lengths) - lengths, lengths - 1)
        else:
            raise _Unexpected  # a name-map index is ASCII digits
        at = np.searchsorted(self.sorted, k, side="right") - 1
        found = (at >= 0) & (self.sorted[np.maximum(at, 0)] == k) if len(self.sorted) else np.zeros(len(k), bool)
        pos = self.order[np.maximum(at, 0)] if len(self.sorted) else at
        text = self.text
        return [text[s:s + n] if f else None
                for s, n, f in zip(self.starts[pos].tolist(), self.lengths[pos].tolist(), found.tolist())]


class _Names:
    """Raw node tokens -> canonical names and node ids, a block of tokens at a time (``*N`` prefix substituted,
    escapes dropped)."""

    def __init__(self, spef: Spef, name_map: _NameMap):
        self.spef, self.name_map = spef, name_map

    def names(self, tokens: list[str]) -> list[str]:
        delimiter = self.spef.delimiter
        parts = [t.partition(delimiter) for t in tokens]
        if all(t[:1] == "*" for t in tokens) and "\\" not in "".join(tokens):  # the usual case: all mapped, no escapes
            mapped = self.name_map.lookup([p[0] for p in parts])
            if None in mapped:
                raise _Unexpected
            return [m + sep + tail for m, (_, sep, tail) in zip(mapped, parts)]
        mapped = iter(self.name_map.lookup([p[0] for t, p in zip(tokens, parts) if t[:1] == "*"]))
        out = []
        for t, p in zip(tokens, parts):
            if t[:1] != "*":
                out.append(unescape(t))
                continue
            m = next(mapped)
            if m is None:
                raise _Unexpected
            out.append(m + p[1] + unescape(p[2]) if p[1] else m)
        return out

    def ids(self, tokens: np.ndarray) -> np.ndarray:
        """Node ids of raw ``tokens`` (an object array), new nodes numbered in the order they are first met."""
        import pandas as pd

        codes, unique = pd.factorize(tokens)
        return self.spef.parasitics.ids(self.names(unique.tolist()))[codes]


class _Header:
    """The part before the first ``*D_NET``, piece by piece: units, divider/delimiter, design name, name map, ports."""

    def __init__(self, spef: Spef, path):
        self.spef, self.path = spef, path
        self.name_map = _NameMap()
        self.section = ""
        self.ports: list[list[list[str]]] = []  # named once the name map is complete

    def read(self, text: str) -> None:
        spef = self.spef
        marks = _keyword_lines(text)
        self.body(text[:marks[0] if marks else len(text)])
        for k, start in enumerate(marks):
            eol = text.find("\n", start)
            eol = len(text) if eol < 0 else eol
            tok = text[start:eol].split()
            key = self.section = tok[0]
            self.body(text[eol:marks[k + 1] if k + 1 < len(marks) else len(text)])
            if key in ("*C_UNIT", "*R_UNIT"):
                table = _C_UNITS if key == "*C_UNIT" else _R_UNITS
                if len(tok) != 3 or tok[2].upper() not in table:
                    raise _Unexpected
                setattr(spef, key[1:].lower(), _value(tok[1], self.path, 0, key, table[tok[2].upper()]))
            elif key in ("*DIVIDER", "*DELIMITER") and len(tok) == 2:
                setattr(spef, key[1:].lower(), tok[1])
            elif key == "*DESIGN" and len(tok) >= 2:
                spef.design = tok[1].strip('"')
            elif key in ("*D_NET", "*END", "*CONN", "*CAP", "*RES", "*I", "*P", "*R_NET", "*D_PNET", "*R_PNET"):
                raise _Unexpected

    def body(self, text: str) -> None:
        """Lines under the current keyword: name-map entries, ports, or nothing."""
        if self.section == "*NAME_MAP":
            self.name_map.add_lines(text)
        elif self.section == "*PORTS":
            rows = [ln.split() for ln in text.split("\n") if ln.strip()]
            if any(len(t) < 2 for t in rows):
                raise _Unexpected
            if rows:
                self.ports.append(rows)
        elif text.strip():
            raise _Unexpected


def _read_blocks(path) -> Spef:
    spef = Spef(path=str(path))
    par = spef.parasitics
    header = _Header(spef, path)
    names: _Names | None = None
    lineno = 1  # of the first character of the current piece
    with open_text(path) as fh:
        for piece in _pieces(fh):
            if "//" in piece:
                raise _Unexpected
            if names is None:
                at = 0 if piece.startswith("*D_NET") else piece.find("\n*D_NET")
                head = piece if at < 0 else piece[:at + (at > 0)]
                header.read(head)
                lineno += head.count("\n")
                if at < 0:
                    continue
                names = _Names(spef, header.name_map.finish())
                rows = [t for block in header.ports for t in block]
                spef.ports.update(zip(names.names([t[0] for t in rows]), [t[1] for t in rows]))
                piece = piece[len(head):]
            lineno = _net_block(spef, names, piece, lineno)
    if names is None or not spef.nets:
        raise _Unexpected
    par.finish(len(spef.nets))  # the nets were made with a reference to it
    return spef


def _rows(text: str, widths: tuple[int, ...], lead: bytes = b"0123456789") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The white-space separated tokens of ``text`` as an object array, each line's first token index and token
    count; every non-blank line must have one of ``widths`` tokens and start with one of the ``lead`` characters
    (else :class:`_Unexpected`)."""
    tokens = np.array(text.split(), dtype=object)
    buf = np.frombuffer(text.encode(), dtype=np.uint8)
    space = buf <= 32  # ASCII white space and controls; anything else str.split() splits on changes the count
    starts = np.flatnonzero(space[:-1] & ~space[1:]) + 1
    if len(buf) and not space[0]:
        starts = np.concatenate([[0], starts])
    line_of = np.searchsorted(np.flatnonzero(buf == 10), starts)  # line of each token
    first = np.flatnonzero(np.concatenate([[True], line_of[1:] != line_of[:-1]])) if len(starts) else starts
    count = np.diff(np.append(first, len(starts)))
    if len(tokens) != len(starts) or not np.isin(count, widths).all():
        raise _Unexpected
    if not np.isin(buf[starts[first]], np.frombuffer(lead, dtype=np.uint8)).all():
        raise _Unexpected
    return tokens, first, count


def _net_block(spef: Spef, names: _Names, piece: str, lineno: int) -> int:
    """Reads the ``*D_NET`` sections of ``piece`` (nothing else but blank lines); returns the line after it."""
    first = len(spef.nets)
    parts = (piece if piece.endswith("\n") else piece + "\n").split("\n*END\n")
    if parts[-1].strip():
        raise _Unexpected
    rows = []
    for part in parts[:-1]:
        body = part.lstrip()
        lineno += part.count("\n", 0, len(part) - len(body))
        body += "\n"
        head = body.find("\n")
        if not body.startswith("*D_NET") or not body.startswith("*CONN\n", head + 1):
            raise _Unexpected
        cap, res, last = body.find("\n*CAP\n"), body.find("\n*RES\n"), len(body) - 1
        conn_end = cap if cap >= 0 else res if res >= 0 else last
        rows.append((body[:head], lineno, body[head + 7:conn_end + 1],
                     body[cap + 6:(res if res >= 0 else last) + 1] if cap >= 0 else "",
                     body[res + 6:] if res >= 0 else ""))
        lineno += body.count("\n") + 1
    lineno += parts[-1].count("\n")
    if not rows:
        return lineno
    heads, lines, conns, caps, res = zip(*rows)
    heads = [h.split() for h in heads]
    if any(len(h) != 3 for h in heads):
        raise _Unexpected
    totals = _numbers([h[2] for h in heads], spef.c_unit).tolist()
    conn_counts = [t.count("\n") for t in conns]
    conn_rows = _CONN_LINE.findall("".join(conns))
    if len(conn_rows) != sum(conn_counts):
        raise _Unexpected
    net_names = names.names([h[1] for h in heads])
    kinds, raw_nodes, directions, cells = zip(*conn_rows) if conn_rows else ((), (), (), ())
    if not set(directions) <= {"I", "O", "B"}:
        raise _Unexpected
    split = [n.rpartition(spef.delimiter) if k == "I" else (None, "P", n)
             for k, n in zip(kinds, names.names(list(raw_nodes)))]
    instances = [p[0] for p in split]
    pins = [p[2] for p in split]
    if not all(p[1] for p in split):
        raise _Unexpected  # an *I node that is not instance<delimiter>pin
    cells = [c if c and k == "I" else None for k, c in zip(kinds, cells)]
    made = list(map(SpefConn, kinds, instances, pins, directions, cells))
    spef._pin_net.update(zip(zip(instances, pins), chain.from_iterable(map(repeat, net_names, conn_counts))))
    ends = np.cumsum(conn_counts).tolist()
    count = len(spef.nets)
    spef.nets.update(zip(net_names, map(SpefNet, net_names, totals, lines,
                                        [made[e - c:e] for e, c in zip(ends, conn_counts)], repeat(spef.parasitics),
                                        range(first, first + len(net_names)))))
    if len(spef.nets) != count + len(net_names):
        raise _Unexpected  # a net named twice
    nets = np.arange(first, len(spef.nets))
    read = {}
    for kind, texts in (("cap", caps), ("res", res)):
        text = "".join(texts)
        if not text.strip():
            continue
        tokens, at, width = _rows(text, (3, 4) if kind == "cap" else (4,))
        per_net = np.array([t.count("\n") for t in texts], dtype=np.int64)  # a blank line breaks the sum
        if per_net.sum() != len(at):
            raise _Unexpected
        value = _numbers(tokens[at + width - 1].tolist(), spef.c_unit if kind == "cap" else spef.r_unit)
        two = width == 4 if kind == "cap" else np.ones(len(at), dtype=bool)
        read[kind] = (np.repeat(nets, per_net), value, two, tokens[at + 1], tokens[at[two] + 2])
    # node ids for the whole piece at once, first met first (capacitors' nodes, then resistors')
    ids = names.ids(np.concatenate([t for r in read.values() for t in r[3:]])) if read else None
    par, k = spef.parasitics, 0
    for kind, (net_of, value, two, a, b) in read.items():
        a, b, k = ids[k:k + len(a)], ids[k + len(a):k + len(a) + len(b)], k + len(a) + len(b)
        if kind == "res":
            par.add("res", net_of, value, a, b)
            continue
        par.add("ground", net_of[~two], value[~two], a[~two])
        if two.any():
            par.add("coupling", net_of[two], value[two], a[two], b)
    return lineno


# ------------------------------------------------------------------------------------------------- line reader
def _read_lines(path) -> Spef:
    """The line-by-line reader: every construct the format allows, and a ``file:line`` error for what it refuses."""
    spef = Spef(path=str(path))
    name_map: dict[str, str] = {}
    par = spef.parasitics
    entries: dict[str, list] = {k: [] for k in Parasitics.KINDS}

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
                    net = SpefNet(name(tok[1]), _value(tok[2], path, lineno, "total capacitance", spef.c_unit),
                                  lineno, index=len(spef.nets))
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
                    entries["ground"].append((net.index, name(tok[1]), None,
                                              _value(tok[2], path, lineno, "capacitance", spef.c_unit)))
                elif len(tok) == 4:
                    entries["coupling"].append((net.index, name(tok[1]), name(tok[2]),
                                                _value(tok[3], path, lineno, "capacitance", spef.c_unit)))
                else:
                    raise CircuitFormatError(path, lineno, "a *CAP line is '<id> <node> [<node>] <value>'")
            elif section == "res":
                if len(tok) != 4:
                    raise CircuitFormatError(path, lineno, "a *RES line is '<id> <node> <node> <value>'")
                entries["res"].append((net.index, name(tok[1]), name(tok[2]),
                                       _value(tok[3], path, lineno, "resistance", spef.r_unit)))
            elif section == "conn":
                raise CircuitFormatError(path, lineno, f"expected *I or *P in *CONN, got {key!r}")
            else:
                raise CircuitFormatError(path, lineno, f"unexpected line in section {section}: {line[:60]!r}")
    if net is not None:
        raise CircuitFormatError(path, lineno, f"file ends inside *D_NET {net.name} (line {net.line}) without *END")
    if not spef.nets:
        raise CircuitFormatError(path, None, "no *D_NET found: not a SPEF file, or an empty one")
    for kind, rows in entries.items():
        if rows:
            net_i, a, b, v = zip(*rows)
            par.add(kind, np.array(net_i, dtype=np.int64), np.array(v, dtype=np.float64), par.ids(a),
                    par.ids(b) if kind != "ground" else None)
    par.finish(len(spef.nets))
    for net in spef.nets.values():
        net.parasitics = par
    return spef
