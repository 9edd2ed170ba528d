"""SPEF (IEEE 1481) parasitics: per-net totals, connections, ground and coupling capacitors, resistors.

``*NAME_MAP`` indices are substituted, names are canonical (:mod:`.names`), capacitances are converted to farads and
resistances to ohms from ``*C_UNIT``/``*R_UNIT``. Triplet values ``a:b:c`` (best:typical:worst) keep the typical one.
Values must be finite, >= 0 and within float32's range (``inf``, ``nan``, ``1e400`` or a negative capacitance is
refused, naming the line).

A ``*CAP`` line with one node is a ground capacitor, with two a coupling capacitor. Nodes are ``net:subnode``,
``instance:pin`` or a port; :meth:`Spef.node_net` resolves each to its net from the ``*CONN`` sections of all nets, so
coupling is summed per unordered net pair by :meth:`Spef.coupling_pairs`. Anything not read (``*R_NET``, ``*D_PNET``,
``*INDUC``, unresolvable coupling nodes) is counted and named in ``Spef.skipped``.

How it is read (the cost grows linearly; the nets are streamed, only the header is held, as bytes): in blocks of whole
``*D_NET`` sections, read into a small ring of reused buffers (:func:`_pieces`). The header is mapped copy-on-write (a
plain file, :func:`_mapped_header`; a gzip file's is gathered once) and its name map (every instance and net: most of a
SPEF's lines) read where it lies with numpy: the indices by :func:`.scan.indices`, the names left in the header's bytes
and found by a table by index (also when the indices skip some, as OpenRCX's do). Each block of nets is read on its
bytes too (:func:`_scan_nets`, which reads nothing but the block and the finished name map, so blocks are scanned on
several threads at once, :func:`graphrep.data.ordered_map.ordered_map`, and added to the result in file order by
:func:`_add_nets`: the same result for any thread count; most of a block's time is numpy work that releases the GIL: a
1M-net, 2 GB SPEF reads in 17.1-19.2 s on one thread, 12.7-13.9 s on two): token edges, one letter per line checked
against the usual layout by one regular expression, and the columns cut out by index arithmetic; the values by
:func:`.scan.decimals` (Python's ``float`` to the bit, without a Python object per value; a token's dot and exponent
letter, like a node token's delimiters, found in its own 16 bytes rather than by a pass over the block); node tokens
numbered by a hash of their bytes (:func:`_factorize_spans`) and a name made for each distinct one only, assembled from
the name map's bytes (one decode and one split per block); a ``*CONN`` entry's instance and pin are one string per
distinct name-map index and pin, shared by reference. So nothing is made per connection: the ``*CONN`` entries are kept
as columns (:class:`Connections`) and ``SpefNet.conns`` makes its :class:`SpefConn` list on first access; capacitors and
resistors as arrays (:class:`Parasitics`: node ids and values, one node name table; a plain file's written straight into
columns reserved for a bound on them, then cut to size in place), and ``SpefNet.ground``/``coupling``/``resistors``
build their dict/lists on access. The name-map index of each net, node and ``*CONN`` entry is kept too
(:class:`NameMapKeys`, 12 bytes a node and an entry), so that :meth:`Spef.coupling_arrays` resolves most coupling nodes
by integer rather than by name. Fresh memory is what costs system time here (the kernel hands each page over on first
touch): while reading, the memory the block temporaries free is kept in the process for the next block
(:func:`graphrep.data.freed_memory.keeping_freed_memory`). Anything the block reader does not expect (non-ASCII text,
NUL bytes, comments, ``*R_NET`` sections, a malformed line, a truncated gzip stream ...) makes it hand the whole file to
the line-by-line reader :func:`_read_lines`, which accepts the full grammar and names the file and line of any error;
both give the same nets, connections, capacitors and resistors (the tests compare them on every shared design,
values within 1e-12), and the same coupling pairs but where a name map gives a net and an instance one name under
two indices (the index tells them apart, :meth:`Spef._keyed_node_nets`).
"""

from __future__ import annotations

import io
import math
import mmap
import os
import re
from collections import Counter, defaultdict
import contextlib
import dataclasses
import functools
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from ..freed_memory import keeping_freed_memory
from ..gc_pause import without_cycle_collection
from ..ordered_map import ordered_map, worker_count
from .names import unescape
from . import scan
from .source import GZIP_ERRORS, CircuitFormatError, object_array as _objects, open_bytes, open_text

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
    [K] (F or ohm), entries in file order, so net ``i``'s entries are ``ptr[i]:ptr[i + 1]``.

    While reading, the entries come a block of nets at a time (:meth:`add`): kept as parts and concatenated by
    :meth:`finish`, or, after :meth:`reserve`, written straight into columns allocated for a bound on the entries
    (only the pages written are ever touched) and cut to size in place by :meth:`finish` (no second copy of every
    entry in fresh memory: at 1M nets the parts' concatenation was 1.6 s of kernel time)."""

    KINDS = ("ground", "coupling", "res")
    _DTYPES = (np.int64, np.int64, np.int64, np.float64)  # net, a, b, value

    def __init__(self):
        self.nodes: list[str] = []
        self._node_id: dict[str, int] = {}
        self._parts: dict[str, list[tuple[np.ndarray, ...]]] = {k: [] for k in self.KINDS}
        self._columns: dict[str, list[np.ndarray]] = {}  # reserved columns per kind (net, a, b, value)
        self._filled: dict[str, int] = {}  # entries written in them
        self.arrays: dict[str, dict[str, np.ndarray]] = {}
        self.ptr: dict[str, np.ndarray] = {}
        self.ground_sum = np.zeros(0)

    def reserve(self, entries: int) -> None:
        """Columns for up to ``entries`` entries of each kind (allocated, not touched: a bound costs address space
        only); more entries than that go to parts as without it."""
        try:
            self._columns = {k: [np.empty(entries, dtype=t) for t in self._DTYPES] for k in self.KINDS}
        except MemoryError:  # address space refused (strict overcommit): parts
            self._columns = {}
        self._filled = {k: 0 for k in self._columns}

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

    def append(self, names: list[str]) -> np.ndarray:
        """Node ids for ``names``, all new (the block reader's: a node met in two blocks of nets gets two ids, both
        with its name; nothing is looked up by id across blocks, and this saves a dictionary of every node)."""
        self.nodes.extend(names)
        return np.arange(len(self.nodes) - len(names), len(self.nodes))

    def add(self, kind: str, net: np.ndarray, value: np.ndarray, a: np.ndarray, b: np.ndarray | None = None) -> None:
        part = (net, a, a if b is None else b, value)
        columns = self._columns.get(kind)
        if columns is not None:
            at, m = self._filled[kind], len(net)
            if at + m <= len(columns[0]) and not self._parts[kind]:
                for column, values in zip(columns, part):
                    column[at:at + m] = values
                self._filled[kind] = at + m
                return
        self._parts[kind].append(part)

    def finish(self, n_nets: int) -> "Parasitics":
        for kind, parts in self._parts.items():
            columns = self._columns.get(kind)
            if columns is not None:  # the reserved columns cut to size in place (no view of them was given out)
                for column in columns:
                    column.resize(self._filled[kind], refcheck=False)
                parts = [tuple(columns)] + parts
            if columns is not None and len(parts) == 1:
                cols = columns
            else:
                cols = [np.concatenate([p[j] for p in parts]) if parts else
                        np.zeros(0, dtype=np.int64 if j < 3 else float) for j in range(4)]
            net, a, b, value = cols
            self.arrays[kind] = {"net": net.astype(np.int64, copy=False), "a": a.astype(np.int64, copy=False),
                                 "b": b.astype(np.int64, copy=False), "value": value.astype(np.float64, copy=False)}
            self.ptr[kind] = np.concatenate([[0], np.cumsum(np.bincount(net.astype(np.int64), minlength=n_nets))])
        self._parts = {k: [] for k in self.KINDS}
        self._columns, self._filled = {}, {}
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


class Connections:
    """The ``*CONN`` entries of all nets as columns (what the block reader keeps instead of one :class:`SpefConn` per
    entry): net ``i``'s entries are ``ptr[i]:ptr[i + 1]`` of ``kind`` [C] (``"I"``/``"P"``), ``instance`` [C]
    (``None`` for ports), ``pin`` [C], ``direction`` [C] and ``cell`` [C] (``None`` where absent), object arrays whose
    strings are shared (one string per distinct name in a block of nets): an entry costs five references."""

    COLUMNS = ("kind", "instance", "pin", "direction", "cell")

    def __init__(self):
        self._counts: list[np.ndarray] = []
        self._parts: dict[str, list[np.ndarray]] = {c: [] for c in self.COLUMNS}
        self.ptr = np.zeros(1, dtype=np.int64)

    def add(self, counts: np.ndarray, **columns: np.ndarray) -> None:
        """The entries of a run of nets: ``counts`` [n] entries per net, then each column [sum(counts)] in order."""
        self._counts.append(counts)
        for c in self.COLUMNS:
            self._parts[c].append(columns[c])

    def add_lists(self, conns: list[list[SpefConn]]) -> None:
        """The entries of a run of nets given as :class:`SpefConn` lists."""
        flat = [c for cs in conns for c in cs]
        cols = {c: np.empty(len(flat), dtype=object) for c in self.COLUMNS}
        for c in self.COLUMNS:
            cols[c][:] = [getattr(x, c) for x in flat]
        self.add(np.array([len(cs) for cs in conns], dtype=np.int64), **cols)

    def finish(self) -> "Connections":
        counts = np.concatenate(self._counts) if self._counts else np.zeros(0, dtype=np.int64)
        self.ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        for c in self.COLUMNS:
            setattr(self, c, np.concatenate(self._parts[c]) if self._parts[c] else np.empty(0, dtype=object))
        self._counts, self._parts = [], {c: [] for c in self.COLUMNS}
        return self

    def net_of(self) -> np.ndarray:
        """``[C]`` the net index of each entry."""
        return np.repeat(np.arange(len(self.ptr) - 1), np.diff(self.ptr))

    def of(self, i: int) -> list[SpefConn]:
        """Net ``i``'s entries as :class:`SpefConn` objects (made on each call)."""
        s, e = int(self.ptr[i]), int(self.ptr[i + 1])
        return list(map(SpefConn, *(getattr(self, c)[s:e].tolist() for c in self.COLUMNS)))


class SpefNet:
    """A ``*D_NET``: ``total_cap`` (F) as stated, its ``*CONN`` entries ``conns``, ``ground`` caps (F) per node,
    ``coupling`` (node, node, F) entries with the first node on this net, resistors (node, node, ohm), and the line it
    starts on. The last three are built on access from the shared :class:`Parasitics` (entry ``index`` there);
    ``conns``, when not given, on first access from the shared :class:`Connections` (the block reader's nets)."""

    __slots__ = ("name", "total_cap", "line", "_conns", "parasitics", "index", "connections")

    def __init__(self, name: str, total_cap: float, line: int, conns: list[SpefConn] | None = None,
                 parasitics: Parasitics | None = None, index: int = -1, connections: Connections | None = None):
        self.name, self.total_cap, self.line, self._conns = name, total_cap, line, conns
        self.parasitics, self.index, self.connections = parasitics, index, connections

    @property
    def conns(self) -> list[SpefConn]:
        if self._conns is None:
            self._conns = [] if self.connections is None else self.connections.of(self.index)
        return self._conns

    @conns.setter
    def conns(self, value: list[SpefConn]) -> None:
        self._conns = value

    def __eq__(self, other) -> bool:
        if not isinstance(other, SpefNet):
            return NotImplemented
        return (self.name, self.total_cap, self.line, self.index, self.conns) == \
            (other.name, other.total_cap, other.line, other.index, other.conns)

    def __repr__(self) -> str:
        return f"SpefNet(name={self.name!r}, total_cap={self.total_cap!r}, line={self.line}, index={self.index})"

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
class NameMapKeys:
    """What the block reader knows of the names by their name-map index (``*<index>``), kept so that nodes can be
    resolved to nets by integer instead of by name: ``net`` [len(nets)] the index of each ``*D_NET``'s name token
    (in the order of ``nets``), ``node`` [len(parasitics.nodes)] the index of each node's head when its token is
    ``*<index><delimiter><tail>`` with no second delimiter in the tail and no backslash (its name is then the
    indexed name, the delimiter and the tail, so the head :meth:`Spef.node_net` cuts off is the indexed name);
    -1 for the others (tokens written out by name, escaped, or without a delimiter); ``node_pin`` [len(nodes)]
    the node's tail where it has an index and a tail of 1 to 8 bytes, as the 64-bit word of those bytes (the bytes
    past the tail cleared: exact, the text has no NUL), 0 for the others; ``conn`` [C] the instance's index of each
    ``*CONN`` entry (``Connections`` order) written ``*<index><delimiter><pin>`` (pin of 1 to 8 bytes, no
    backslash, no second delimiter), -1 for ports, -2 for an ``*I`` entry written otherwise; ``conn_pin`` [C] its
    pin as ``node_pin``. Kept as int32 (an index of 2**31 or more counts as written otherwise) and uint64: 12 bytes
    a node and an entry."""

    net: np.ndarray
    node: np.ndarray
    node_pin: np.ndarray
    conn: np.ndarray
    conn_pin: np.ndarray


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
    #: the block reader's ``*CONN`` columns (its nets' ``conns`` are made from them on access); ``None`` when the nets
    #: hold their lists (line reader, merged hierarchical SPEF)
    connections: Connections | None = field(default=None, repr=False, compare=False)
    _pin_net: dict[tuple[str | None, str], str] = field(default_factory=dict, repr=False)
    _pairs: tuple | None = field(default=None, repr=False, compare=False)
    #: the block reader's name-map indices of the nets and nodes (:class:`NameMapKeys`); ``None`` otherwise, and to
    #: be set back to ``None`` by whatever makes a Spef with other nets or nodes from this one
    keys: "NameMapKeys | None" = field(default=None, repr=False, compare=False)

    def pin_nets(self) -> dict[tuple[str | None, str], str]:
        """``(instance, pin)`` -> net name of every ``*CONN`` entry (``(None, port)`` for ports; a later entry wins),
        made on first use from the ``*CONN`` columns when the reader kept them."""
        if not self._pin_net and self.nets:
            c = self.connection_columns()
            names = np.empty(len(self.nets), dtype=object)
            names[:] = list(self.nets)
            self._pin_net = dict(zip(zip(c.instance.tolist(), c.pin.tolist()), names[c.net_of()].tolist()))
        return self._pin_net

    def connection_columns(self) -> Connections:
        """Every net's ``*CONN`` entries as :class:`Connections` columns in the order of ``nets``: the reader's
        columns, or columns made from the nets' lists."""
        if self.connections is not None:
            return self.connections
        table = Connections()
        table.add_lists([n.conns for n in self.nets.values()])
        return table.finish()

    def node_net(self, node: str) -> str | None:
        """The net a node belongs to: ``net:sub`` -> net, ``inst:pin`` -> the net connected there, ``port`` -> its
        net; ``None`` if none."""
        inst, sep, sub = node.rpartition(self.delimiter)
        pin_net = self.pin_nets()
        if not sep:
            return pin_net.get((None, node)) or (node if node in self.nets else None)
        if inst in self.nets:
            return inst
        return pin_net.get((inst, sub))

    def ground_caps(self) -> np.ndarray:
        """``[len(nets)]`` each net's ground capacitance (F), in the order of ``nets``."""
        return self.parasitics.ground_sum

    def _node_nets(self, nodes: np.ndarray) -> np.ndarray:
        """``[n]`` the net index (in the order of ``nets``) of each node name (``nodes`` [n], an object array) as
        :meth:`node_net` resolves it, -1 for none; done as hash-table lookups over arrays (no dictionary of every
        ``*CONN`` entry, no Python step per node): ``net:sub`` nodes by their head; only the rest is looked up as
        ``(instance, pin)`` (``(None, port)``) in the ``*CONN`` columns, where a later entry wins; a node with no
        delimiter that is no port is looked up as a net name."""
        import pandas as pd

        nets = functools.cache(lambda: pd.Index(list(self.nets)))  # a hash table of every net name: only if asked
        sep, head, tail = _rpartition(nodes, self.delimiter)
        out = np.full(len(nodes), -1, dtype=np.int64)
        if sep.any():
            out[sep] = nets().get_indexer(head[sep])
        ask = np.flatnonzero(out < 0)  # not net:sub: instance pins and ports
        if len(ask):
            c = self.connection_columns()
            q_inst = np.where(sep[ask], head[ask], None)
            q_pin = np.where(sep[ask], tail[ask], nodes[ask])
            insts = pd.Index(pd.unique(q_inst))  # None (ports) among them, matched to the ports' None
            pins = pd.Index(pd.unique(q_pin))
            ci, cp = insts.get_indexer(c.instance), pins.get_indexer(c.pin)
            entry = np.flatnonzero((ci >= 0) & (cp >= 0))[::-1]  # the *CONN entries asked for, last first
            keys, uniq = pd.factorize(ci[entry] * len(pins) + cp[entry])
            last = entry[_first(keys)]  # each (instance, pin)'s last entry
            at = pd.Index(uniq).get_indexer(insts.get_indexer(q_inst) * len(pins) + pins.get_indexer(q_pin))
            if len(last):  # no *CONN entry names any asked node (e.g. a SPEF cut short): they stay -1
                out[ask] = np.where(at >= 0, c.net_of()[last[np.maximum(at, 0)]], -1)
        alone = np.flatnonzero((out < 0) & ~sep)  # a net named without a sub-node
        if len(alone):
            out[alone] = nets().get_indexer(nodes[alone])
        return out

    def _keyed_node_nets(self, at: np.ndarray) -> np.ndarray:
        """``[len(at)]`` the net index of the nodes ``parasitics.nodes[at]`` that the block reader's name-map indices
        resolve (:class:`NameMapKeys`), -1 for the others (for :meth:`_node_nets`): a node whose head is a net's own
        index (``*<net index>:<sub>``) is on that net, found by a sorted search over the nets' indices; an instance
        pin ``*<instance index>:<pin>`` is on the net of the last ``*CONN`` entry of that instance index and pin,
        found by hash tables over integers (the pins as 64-bit words). By name, :meth:`_node_nets` finds the same
        nets (net names are unique, as are instance names) but for one case that only the index tells apart: a name
        map that gives a net and an instance the same name (legal in Verilog, whose nets and instances are separate
        name spaces) under two indices; by name, that instance's pins would be read as sub-nodes of the net. At 1M
        nets, cutting and looking up the node names took 6.4 s of the graph build, and grew faster than the nodes
        (hash tables over millions of strings spread over the heap)."""
        keys = self.keys
        out = np.full(len(at), -1, dtype=np.int64)
        if keys is None or len(keys.net) != len(self.nets) or len(keys.node) != len(self.parasitics.nodes):
            return out
        known = np.flatnonzero(keys.net >= 0)
        order = known[np.argsort(keys.net[known], kind="stable")]
        if not len(order):
            return out
        sorted_keys = keys.net[order]
        node = keys.node[at]
        pos = np.minimum(np.searchsorted(sorted_keys, node), len(order) - 1)
        hit = (node >= 0) & (sorted_keys[pos] == node)
        out[hit] = order[pos[hit]]
        # instance pins: (instance index, pin) looked up among the *CONN entries so written, a later entry winning;
        # only when every *I entry is so written (else an entry written out by name could be the later one)
        pin = np.flatnonzero(~hit & (node >= 0) & (keys.node_pin[at] != 0))
        c = self.connections
        if not len(pin) or c is None or len(keys.conn) != len(c.kind) or (keys.conn == -2).any():
            return out
        import pandas as pd

        entry = np.flatnonzero(keys.conn >= 0)[::-1]  # last first
        codes, uniq = pd.factorize(np.concatenate([keys.conn_pin[entry], keys.node_pin[at[pin]]]))
        width = max(len(uniq), 1)
        pairs, first_pairs = pd.factorize(keys.conn[entry].astype(np.int64) * width + codes[:len(entry)])
        last = entry[_first(pairs)]  # each (instance, pin)'s last entry
        found = pd.Index(first_pairs).get_indexer(node[pin].astype(np.int64) * width + codes[len(entry):])
        out[pin] = np.where(found >= 0, c.net_of()[last[np.maximum(found, 0)]], -1)
        return out

    def coupling_arrays(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The coupling pairs as arrays: ``(names, a [P], b [P], cap [P])``, net indices into ``names`` (the nets in
        file order) with ``names[a] < names[b]``, in the order of :meth:`coupling_pairs`.

        OpenRCX writes each coupling capacitor under both nets' ``*D_NET``; a pair's value is therefore the mean of
        the two sides' sums when both list it (they agree in the files seen), else the one side's sum. Nodes on no
        net and capacitors within one net are counted in ``skipped`` (once, on the first call).

        Cost: linear in the capacitors and nodes, with no Python step per item: the nodes' nets are resolved by
        their name-map index where the block reader kept it (:meth:`_keyed_node_nets`), the others by
        :meth:`_node_nets`, pairs numbered by a hash table in the order first met, and the net names ordered once
        by numpy's string sort."""
        if self._pairs is not None:
            return self._pairs
        names = list(self.nets)
        par = self.parasitics
        cp = par.arrays["coupling"]
        used = np.zeros(len(par.nodes), dtype=bool)
        used[cp["a"]] = used[cp["b"]] = True
        at = np.flatnonzero(used)
        node_net = np.full(len(par.nodes), -1, dtype=np.int64)
        node_net[at] = self._keyed_node_nets(at)
        rest = at[node_net[at] < 0]
        nodes = par.nodes  # only the few left (ports) as an array, not every node
        node_net[rest] = self._node_nets(_objects([nodes[i] for i in rest.tolist()]))
        na, nb = node_net[cp["a"]], node_net[cp["b"]]
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
        # numpy's UTF-8 string order is Python's code point order
        rank[np.argsort(np.array(names, dtype=np.dtypes.StringDType()), kind="stable")] = np.arange(len(names))
        first = rank[na] < rank[nb]
        lo, hi = np.where(first, na, nb), np.where(first, nb, na)
        import pandas as pd

        pair, keys = pd.factorize(lo * max(len(names), 1) + hi)  # numbered in the order first met in the file
        side0 = np.bincount(pair[first], weights=value[first], minlength=len(keys))
        side1 = np.bincount(pair[~first], weights=value[~first], minlength=len(keys))
        both = (side0 != 0) & (side1 != 0)
        cap = np.where(both, (side0 + side1) / 2, side0 + side1)
        width = max(len(names), 1)
        self._pairs = (names, keys // width, keys % width, cap)
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
@keeping_freed_memory
def read_spef(path: str | os.PathLike, threads: int | None = None) -> Spef:
    """Parse a SPEF file (plain or gzip). Raises :class:`.CircuitFormatError` (``file:line``) on malformed input.

    ``threads``: how many threads read the name map's runs of lines and the blocks of nets (their numpy work
    releases the GIL; they are added in file order, so the result is the same for any count); ``None``: the CPUs
    this process may use, at most :data:`MAX_THREADS`; 1: all in the calling thread."""
    workers = worker_count(threads, MAX_THREADS)  # checked before anything is read
    try:
        return _read_blocks(path, workers)
    except (_Unexpected, CircuitFormatError):
        return _read_lines(path)  # the full grammar; names the file and line of what is wrong


# ------------------------------------------------------------------------------------------------ block reader
class _Unexpected(Exception):
    """Something the block reader does not handle: the line reader takes over."""


_COMMENT = re.compile(rb"//")
#: characters per block: its numpy temporaries (int64 per byte in places) stay under glibc's mmap threshold (32 MiB),
#: so they reuse freed heap instead of new pages (at 100K nets: 5.2-5.7 s against 6.0 s with 16M-character blocks)
_BLOCK_CHARS = 1 << 22


def _pieces(fh, ring: int = 1):
    """The bytes in pieces of about :data:`_BLOCK_CHARS` that end at a line end, before a ``*D_NET`` line when one
    is in reach (so that nets are never cut; a net larger than a piece is carried over whole), each as ``(store,
    n)``: the piece is ``store[:n]`` (a newline added at the end of the file when missing), followed by
    :data:`.scan.PAD` spaces, in one of ``ring`` ``bytearray`` stores taken in turn, each read into again ``ring``
    pieces later (nothing may keep a view of a piece past that; no fresh buffer per piece). A truncated or corrupt
    gzip stream raises :class:`_Unexpected` (the line reader names the line)."""
    pad = scan.PAD
    stores = [bytearray(2 * _BLOCK_CHARS + 2 * pad)] + [bytearray() for _ in range(ring - 1)]  # made when first used
    turn = 0
    store = stores[0]
    carry = 0  # bytes at the front of store left from the last read (the start of a net, a line)
    while True:
        if carry + _BLOCK_CHARS + 2 * pad > len(store):  # a net longer than a piece: a larger store
            store = stores[turn] = store[:carry] + bytearray(carry + _BLOCK_CHARS + 2 * pad)
        try:
            with memoryview(store) as view:
                got = fh.readinto(view[carry:carry + _BLOCK_CHARS])
        except GZIP_ERRORS:
            raise _Unexpected from None
        if not got:
            break
        end = carry + got
        cut = store.rfind(b"\n*D_NET", 0, end)
        if cut < 0 and not store.startswith(b"*D_NET", 0, end):
            cut = store.rfind(b"\n", 0, end)  # still in the header (a long name map)
        if cut < 0:
            carry = end
            continue
        rest = store[cut + 1:end]
        store[cut + 1:cut + 1 + pad] = b" " * pad
        yield store, cut + 1
        turn = (turn + 1) % ring
        store = stores[turn]
        if len(rest) + _BLOCK_CHARS + 2 * pad > len(store):  # a new store (never resized: a view may remain)
            store = stores[turn] = bytearray(len(rest) + _BLOCK_CHARS + 2 * pad)
        store[:len(rest)] = rest
        carry = len(rest)
    if carry:
        if store[carry - 1] != 10:
            store[carry:carry + 1] = b"\n"
            carry += 1
        store[carry:carry + pad] = b" " * pad
        yield store, carry


def _values(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, unit: float, marks=None) -> np.ndarray:
    """The numbers ``buf[starts:ends]`` (padded ASCII bytes) times ``unit``, checked as :func:`_value` checks them;
    anything it would refuse raises :class:`_Unexpected` (the line reader then names the line). Read in bulk by
    :func:`.scan.decimals` (``marks``: :func:`.scan.number_marks` of ``buf``); the tokens of other forms
    (``a:b:c`` triplets keep the typical value) by Python's ``float``, one by one."""
    x, ok = scan.decimals(buf, starts, ends, marks)
    if not ok.all():
        other = np.flatnonzero(~ok)
        tokens = _strings(buf, starts[other], ends[other])
        try:
            x[other] = np.array([t.split(":")[1] if t.count(":") == 2 else t for t in tokens], dtype=np.float64)
        except ValueError:
            raise _Unexpected from None
    x = x * unit
    if not (np.isfinite(x).all() and (np.abs(x) <= _FLOAT32_MAX).all() and (x >= 0).all()):
        raise _Unexpected
    return x


#: the characters ``str.split()`` splits on, among ASCII bytes
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True


def _spans(buf: np.ndarray, newlines: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each white-space separated token of the ASCII bytes ``buf``, as ``str.split()``
    cuts them. ``newlines``: the count of newlines in ``buf`` when known: if they are its only control bytes, white
    space is ``buf <= 32`` (one comparison instead of a table lookup per byte)."""
    space = np.empty(len(buf) + 2, dtype=bool)
    space[0] = space[-1] = True
    if newlines is not None and np.count_nonzero(buf < 32) == newlines:
        np.less_equal(buf, 32, out=space[1:-1])
    else:
        space[1:-1] = _SPACE[buf]
    edges = np.flatnonzero(space[1:] != space[:-1])  # a start, an end, a start ...
    return edges[0::2], edges[1::2]


def _gather(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The bytes of ``buf`` inside the ordered, disjoint spans ``starts[k]:ends[k]``, concatenated (one boolean mask
    made by ``np.repeat``: a byte per position, not an index array)."""
    bounds = np.empty(2 * len(starts) + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, len(buf)
    bounds[1:-1:2], bounds[2:-1:2] = starts, ends
    inside = np.zeros(len(bounds) - 1, dtype=bool)
    inside[1::2] = True
    return buf[np.repeat(inside, np.diff(bounds))]


#: a line that starts with a keyword: ``*`` then neither a digit nor white space (as :data:`_SPACE` has it)
_KEYWORD_LINE = re.compile(rb"\n\*[^0-9\t\n\x0b\x0c\r\x1c-\x1f ]")


#: ``_OPEN[c]``: a line that starts with ``*`` then ``c`` is no keyword line (``c`` a digit or white space)
_OPEN = _SPACE.copy()
_OPEN[48:58] = True


def _next_keyword(text: bytes | bytearray, pos: int, end: int) -> int:
    """Where the first line of the ASCII ``text[pos:end]`` that starts with a keyword starts (a line starting at
    ``pos`` counts when ``pos`` is 0 or ``text[pos]`` is its newline), or ``end``."""
    if pos == 0 and end > 1 and _KEYWORD_LINE.match(b"\n" + bytes(text[:2])):
        return 0
    m = _KEYWORD_LINE.search(text, pos, end)
    return end if m is None else m.start() + 1


def _map_lines(buf: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two tokens of each non-blank line of the name-map bytes ``buf`` (ending in a newline; ``ends``: the
    positions of its newlines): ``(key start, key end, name start, name end)``, each [lines]; :class:`_Unexpected`
    unless every non-blank line has two tokens.

    Usually (one space between the tokens, no other white space but the newlines) from the positions of the spaces
    and newlines alone; else from all token edges (:func:`_spans`)."""
    gaps = np.flatnonzero(buf == 32)
    if np.count_nonzero(buf <= 32) == len(ends) + len(gaps):  # no tab, CR, other control byte
        starts = np.concatenate([[0], ends[:-1] + 1])
        full = ends > starts
        starts, ends = starts[full], ends[full]
        if len(gaps) == len(starts) and ((gaps > starts + 1) & (gaps + 1 < ends)).all():
            return starts, gaps, gaps + 1, ends
    starts, ends = _spans(buf)
    line = np.searchsorted(np.flatnonzero(buf == 10), starts)
    if len(starts) % 2 or (line[0::2] != line[1::2]).any() or (np.diff(line[0::2]) <= 0).any():
        raise _Unexpected  # not two tokens on every line
    return starts[0::2], ends[0::2], starts[1::2], ends[1::2]


def _escapes(buf: np.ndarray) -> np.ndarray:
    """The positions of the backslashes in the ASCII bytes ``buf`` that escape the next character of their token, as
    :func:`.unescape` drops them (``\\(.)``): in a run of backslashes the first, third, ..., each followed by a
    character of the token (a backslash at a token's end stays)."""
    at = np.flatnonzero(buf == 92)
    if not len(at):
        return at
    run = np.concatenate([[True], np.diff(at) != 1])
    offset = np.arange(len(at)) - np.flatnonzero(run)[np.cumsum(run) - 1]
    after = buf[np.minimum(at + 1, len(buf) - 1)]
    return at[(offset % 2 == 0) & ~_SPACE[after] & (at + 1 < len(buf))]


def _runs(start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """``[sum(length)]`` the positions ``start[k], start[k] + 1, ..., start[k] + length[k] - 1`` for each ``k``."""
    return np.repeat(start - np.cumsum(length) + length, length) + np.arange(int(length.sum()))


class _NameMap:
    """``*<index>`` -> name, compactly: the indices as integers, the names concatenated in one string with their
    offsets (a name map lists every instance and net: tens of millions in a large design, where a ``dict`` of ``str``
    would take several times the memory of the parsed result). A repeated index keeps its last name.

    An ASCII block of lines is read on its bytes with numpy (token edges, the digits of the indices by
    :func:`.scan.indices`, escaping backslashes taken out by :func:`_escapes`). The names are kept as ASCII bytes:
    the block's text itself (``text``, uint8, the indices between the names left in), so that node names can be
    assembled from them by index arithmetic (:func:`_join`).

    Writers number the map in increasing order (1, 2, 3 ..., OpenRCX with a few indices skipped): while the indices
    met so far increase (a "run"), only the first index is kept, and each name's start and length go straight into
    two tables indexed by index minus the first (``uint32`` starts where the text allows, ``uint8`` lengths while
    no name is longer than 255 characters; allocated for ``2 * capacity + 1024`` indices but only touched where
    written; the length of a skipped index is 0), so that a name costs 5 bytes of fresh memory. Any other order (an
    index out of order or repeated, or beyond the tables) ends the run: its entries become the first of the general lists (indices kept, the lookup made by :meth:`finish`)."""

    def __init__(self, capacity: int = 0):
        self._keys: list[np.ndarray] = []
        self._texts: list[np.ndarray] = []
        self._starts: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []
        self._size = 0  # characters in _texts
        self._limit = 2 * capacity + 1024  # indices (minus the first) the run's tables hold
        self._run_text: np.ndarray | None = None  # the text of the run, while its indices increase
        self._run_first, self._run_span = 0, 0  # the run's first index; its last index minus the first, plus 1
        self._general = False  # the run has ended: every entry is in the lists

    def _add(self, keys: np.ndarray, text: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> None:
        """Names at ``starts`` in ``text``: appended to the run while they continue it, else to the lists."""
        m, span = len(keys), self._run_span
        if not m:
            return
        if not self._general and (self._run_text is None or self._run_text is text) and int(keys[0]) >= 0:
            first = int(keys[0]) if self._run_text is None else self._run_first
            lo, hi = int(keys[0]) - first, int(keys[-1]) - first
            if span <= lo and hi < self._limit and (m < 2 or (np.diff(keys) > 0).all()):
                if self._run_text is None:
                    self._run_text, self._run_first = text, first
                    self._run_starts = np.empty(self._limit, dtype=np.int64 if len(text) >= 1 << 32 else np.uint32)
                    self._run_lengths = np.empty(self._limit, dtype=np.uint8)  # widened for a longer name
                if self._run_lengths.dtype == np.uint8 and int(lengths.max()) > 255:
                    wider = np.empty(self._limit, dtype=np.int64)
                    wider[:span] = self._run_lengths[:span]
                    self._run_lengths = wider
                if lo == span and hi - lo == m - 1:  # consecutive, as the last ones
                    self._run_starts[lo:hi + 1] = starts
                    self._run_lengths[lo:hi + 1] = lengths
                else:  # indices skipped: their lengths 0
                    self._run_lengths[span:hi + 1] = 0
                    self._run_starts[keys - first] = starts
                    self._run_lengths[keys - first] = lengths
                self._run_span = hi + 1
                return
        if not self._general:
            self._general = True
            if span:  # the run so far, as the first entries of the lists
                at = np.flatnonzero(self._run_lengths[:span])
                self._append(at + self._run_first, self._run_text, self._run_starts[at].astype(np.int64),
                             self._run_lengths[at].astype(np.int64))
            self._run_text = self._run_starts = self._run_lengths = None
        self._append(keys, text, starts, lengths)

    def _append(self, keys: np.ndarray, text: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> None:
        """Names at ``starts`` in ``text`` (the same text as the last call's is kept once)."""
        if not (self._texts and self._texts[-1] is text):
            self._base = self._size
            self._texts.append(text)
            self._size += len(text)
        self._keys.append(keys)
        self._starts.append(starts + self._base)
        self._lengths.append(lengths)

    def add_lines(self, buf: np.ndarray, a: int, b: int, workers: int = 1) -> int:
        """The ``*<index> <name>`` lines of the ASCII bytes ``buf[a:b]`` (blank lines allowed, a newline at the end,
        ``buf`` padded as :func:`.scan.padded` pads, writable) up to the first line that starts with a keyword;
        returns where that line starts (``b`` if none). Any other line raises :class:`_Unexpected`. The names are
        kept in ``buf`` itself (a run of lines with escaped names is rewritten in place without its escaping
        backslashes). Read in runs of lines of about :data:`_BLOCK_CHARS` (the temporaries stay small;
        :func:`_runs_of_lines`), each scanned by :func:`_scan_map_run` on ``workers`` threads (it only reads ``buf``)
        and added in order by :meth:`_add_scanned` up to the run that holds the keyword line; the at most ``workers``
        runs scanned past it are dropped, with any error they raised (they are not name-map lines). The keyword line
        that ends the map is found among each run's line starts (one lookup per line, instead of a regular
        expression tried at each of a map's millions of ``\\n*``)."""
        with contextlib.closing(ordered_map(functools.partial(_scan_map_run, buf), _runs_of_lines(buf, a, b),
                                            workers)) as runs:
            for run in runs:
                stop = self._add_scanned(buf, run)
                if stop is not None:
                    return stop
        return b

    def _add_scanned(self, buf: np.ndarray, run: "_MapRun") -> int | None:
        """Adds a run scanned by :func:`_scan_map_run` (its escaped names rewritten in place first); returns where
        the keyword line that ends the map starts if the run holds it, else ``None``."""
        a, ns, ne, drop = run.start, run.name_start, run.name_end, run.escapes
        if len(drop):  # each escaped name rewritten in place without its escaping backslashes (it gets shorter)
            body = buf[a:]  # positions are relative to the run's start
            owner, count = np.unique(np.searchsorted(ns, drop, side="right") - 1, return_counts=True)
            start = ns[owner]
            pos = _runs(start, ne[owner] - start)  # every byte of those names, ascending
            keep = np.ones(len(pos), dtype=bool)
            keep[np.searchsorted(pos, drop)] = False
            ne[owner] -= count
            body[_runs(start, ne[owner] - start)] = body[pos[keep]]
        self._add(run.keys, buf, ns + a, ne - ns)
        return run.stop

    def finish(self) -> "_NameMap":
        """Makes the lookup: the run's tables as they are (index minus the first); else tables of the names' start
        and length by index when the indices are dense and distinct, made run by run; else the indices sorted (a
        binary search per lookup)."""
        self.first = None
        if not self._general and self._run_span:
            self.first, self.text = self._run_first, self._run_text
            self.starts = self._run_starts[:self._run_span]
            self.lengths = self._run_lengths[:self._run_span]
            self._run_text = self._run_starts = self._run_lengths = None
            return self
        if len(self._texts) == 1:  # the usual: one *NAME_MAP section, its names kept where they were read
            self.text = self._texts.pop()
        else:
            self.text = np.empty(self._size, dtype=np.uint8)
            at = 0
            while self._texts:  # one block's text at a time: it is freed as it is copied
                block = self._texts.pop(0)
                self.text[at:at + len(block)] = block
                at += len(block)
                del block
        runs = list(zip(self._keys, self._starts, self._lengths))
        self._keys, self._starts, self._lengths = [], [], []
        count = sum(len(k) for k, _, _ in runs)
        top = max((int(k.max()) for k, _, _ in runs if len(k)), default=-1)
        low = min((int(k.min()) for k, _, _ in runs if len(k)), default=0)
        self.dense = count > 0 and low >= 0 and top < 2 * count + 1024
        if self.dense:  # index top + 1 stays -1, for keys beyond the map
            self.starts = np.full(top + 2, -1, dtype=np.int64)
            self.lengths = np.zeros(top + 2, dtype=np.int64)
            for keys, starts, lengths in runs:
                self.starts[keys], self.lengths[keys] = starts, lengths
            self.dense = np.count_nonzero(self.starts >= 0) == count  # no index repeated
        if not self.dense:
            keys = np.concatenate([k for k, _, _ in runs]) if runs else np.zeros(0, dtype=np.int64)
            self.starts = np.concatenate([s for _, s, _ in runs]) if runs else np.zeros(0, dtype=np.int64)
            self.lengths = np.concatenate([n for _, _, n in runs]) if runs else np.zeros(0, dtype=np.int64)
            self.order = np.argsort(keys, kind="stable")
            self.sorted = keys[self.order]
        return self

    def spans(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where the names of indices ``keys`` [n] are in ``text``: ``(start [n], length [n], found [n])``."""
        if self.first is not None:
            at = keys - self.first
            found = (at >= 0) & (at < len(self.starts))
            at[~found] = 0
            length = self.lengths[at].astype(np.int64)
            return self.starts[at].astype(np.int64), length, found & (length > 0)  # 0: an index skipped
        if self.dense:
            at = np.clip(keys, 0, len(self.starts) - 1)
            start = self.starts[at]
            return start, self.lengths[at], start >= 0
        if not len(self.sorted):
            return np.zeros(len(keys), np.int64), np.zeros(len(keys), np.int64), np.zeros(len(keys), bool)
        at = np.searchsorted(self.sorted, keys, side="right") - 1
        found = (at >= 0) & (self.sorted[np.maximum(at, 0)] == keys)
        pos = self.order[np.maximum(at, 0)]
        return self.starts[pos], self.lengths[pos], found

    def lookup(self, heads: list[str]) -> list[str | None]:
        """The names of ``*<index>`` heads (``None`` where not defined)."""
        text = "".join(heads)
        if not text.isascii():
            raise _Unexpected  # a name-map index is ASCII digits
        lengths = np.fromiter(map(len, heads), dtype=np.int64, count=len(heads))
        k, ok = scan.indices(scan.padded(text.encode("ascii")), np.cumsum(lengths) - lengths, lengths - 1)
        if not ok.all():
            raise _Unexpected
        starts, lengths, found = self.spans(k)
        text = self.text
        return [text[s:s + n].tobytes().decode("ascii") if f else None
                for s, n, f in zip(starts.tolist(), lengths.tolist(), found.tolist())]


def _runs_of_lines(buf: np.ndarray, a: int, b: int):
    """``(start, end)`` of consecutive runs of whole lines of ``buf[a:b]`` (which ends in a newline), each about
    :data:`_BLOCK_CHARS` long."""
    while a < b:
        cut = b
        if b - a > _BLOCK_CHARS:
            cut, step = a + _BLOCK_CHARS, 1 << 16
            while not (buf[cut:min(cut + step, b)] == 10).any():  # the next line end (b - 1 is one)
                cut += step
            cut += int(np.argmax(buf[cut:min(cut + step, b)] == 10)) + 1
        yield a, cut
        a = cut


@dataclass(slots=True)
class _MapRun:
    """A run of name-map lines scanned (:func:`_scan_map_run`): it starts at ``start`` of the buffer; per line [m]
    the ``keys`` and the name's ``name_start``/``name_end`` (relative to ``start``); ``escapes``, the escaping
    backslashes in the names (relative to ``start``); ``stop``, where a keyword line ends the map, or ``None``."""

    start: int
    keys: np.ndarray
    name_start: np.ndarray
    name_end: np.ndarray
    escapes: np.ndarray
    stop: int | None


def _scan_map_run(buf: np.ndarray, span: tuple[int, int]) -> _MapRun:
    """The lines of the run ``buf[a:b]`` (``span``; see :meth:`_NameMap.add_lines`) up to the first keyword line,
    read without writing anything (so runs can be scanned on several threads); :class:`_Unexpected` for a line that
    is not ``*<index> <name>``."""
    a, b = span
    empty = np.zeros(0, dtype=np.int64)
    body = buf[a:b]
    if not len(body):
        return _MapRun(a, empty, empty, empty, empty, None)
    if body[-1] != 10:
        raise _Unexpected
    ends = np.flatnonzero(body == 10)
    first = np.concatenate([[0], ends[:-1] + 1])  # each line's first byte
    keyword = np.flatnonzero((body[first] == 42) & ~_OPEN[buf[a + first + 1]])
    stop = None
    if len(keyword):
        stop = a + int(first[keyword[0]])
        body, ends = buf[a:stop], ends[:keyword[0]]
        if not len(body):
            return _MapRun(a, empty, empty, empty, empty, stop)
    ks, ke, ns, ne = _map_lines(body, ends)
    keys, ok = scan.indices(buf, ks + a, ke - ks - 1)
    if not ok.all():
        raise _Unexpected
    return _MapRun(a, keys, ns, ne, _escapes(body), stop)  # escapes: in the names, the indices are digits


def _after(pos: np.ndarray, s: np.ndarray, count: int) -> list[np.ndarray]:
    """The first ``count`` of the sorted positions ``pos`` at or after each of ``s`` (int64 max where there are
    fewer)."""
    j = np.searchsorted(pos, s)
    ext = np.concatenate([pos, np.full(count, np.iinfo(np.int64).max)])
    return [ext[np.minimum(j + k, len(pos) + k)] for k in range(count)]


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

    def delimiter_byte(self) -> int:
        """The delimiter as a byte (the ``marks`` that :meth:`parts` looks for)."""
        if len(self.spef.delimiter) != 1:
            raise _Unexpected
        return ord(self.spef.delimiter)

    def parts(self, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, marks: int) -> dict[str, np.ndarray]:
        """Node tokens ``buf[starts:ends]`` cut as :meth:`names` cuts them, for those of the usual form ``*<index>``
        or ``*<index><delimiter><tail>`` with no backslash (``mapped`` [n]): ``key`` [m] and ``start``/``length`` [m]
        of the name in the name map, ``sep`` [m] (the token has a delimiter), ``tail_start`` [m] (the delimiter's
        position), ``end`` [m] and ``plain_tail`` [m] (no second delimiter in the tail).

        A token's delimiters (``marks``: :meth:`delimiter_byte`) and backslashes are found in its own two words
        (:func:`.scan.byte_hits`) when it has at most 16 characters; those of the longer ones in their bytes copied
        together (no pass over the whole buffer)."""
        length = ends - starts
        w = scan.words(buf, starts, 2)
        first, following, _ = scan.lowest(scan.byte_hits(w, length, marks))
        first, following = starts + first, starts + following  # starts + 16 where none: past a short token's end
        slash = scan.byte_hits(w, length, 92) != 0
        long = np.flatnonzero(length > 16)
        if len(long):
            ls, ll = starts[long], length[long]
            at = np.cumsum(ll) - ll  # each long token's start in their bytes copied together
            text = buf[_runs(ls, ll)]
            end = at + ll
            slash[long] = _after(np.flatnonzero(text == 92), at, 1)[0] < end
            one, two = _after(np.flatnonzero(text == marks), at, 2)
            first[long] = ls + np.minimum(one, end) - at  # the token's end where there is none
            following[long] = ls + np.minimum(two, end) - at
        mapped = (buf[starts] == 42) & ~slash
        s, e = starts[mapped], ends[mapped]
        d, second = first[mapped], following[mapped]  # the first delimiter at or after each start, and the next one
        sep = d < e
        head_end = np.where(sep, d, e)
        key, ok = scan.indices(buf, s, head_end - s - 1)
        if not ok.all():
            raise _Unexpected  # a '*' token that is not *<digits>: the line reader names it
        start, length, found = self.name_map.spans(key)
        if not found.all():
            raise _Unexpected  # not in the name map: the line reader names the line
        return {"mapped": mapped, "key": key, "start": start, "length": length, "sep": sep, "tail_start": head_end,
                "end": e, "plain_tail": ~sep | (second >= e)}

    def span_names(self, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, marks, parts=None) -> list[str]:
        """The canonical names of the node tokens ``buf[starts[k]:ends[k]]`` (any order), as :meth:`names` gives
        them; the usual ones assembled from the name map's bytes by :func:`_join`, the others by :meth:`names`."""
        p = self.parts(buf, starts, ends, marks) if parts is None else parts
        m = p["mapped"]
        fast = _join([(self.name_map.text, p["start"], p["length"]),
                      (buf, p["tail_start"], np.where(p["sep"], p["end"] - p["tail_start"], 0))])
        if m.all():
            return fast
        out = np.empty(len(starts), dtype=object)
        out[m] = fast
        other = np.flatnonzero(~m)
        out[other] = self.names(_join([(buf, starts[other], ends[other] - starts[other])]))
        return out.tolist()


class _Header:
    """The part before the first ``*D_NET``, piece by piece: units, divider/delimiter, design name, name map, ports."""

    def __init__(self, spef: Spef, path):
        self.spef, self.path = spef, path
        self.name_map: _NameMap | None = None
        self.section = ""
        self.ports: list[list[list[str]]] = []  # named once the name map is complete

    def read(self, head, n: int, lines: int, workers: int = 1) -> None:
        """The whole header ``head[:n]`` (ASCII, ``lines`` newlines; ``head`` a writable buffer with :data:`.scan.PAD`
        spaces after it), read once: its name map is read where it lies (on ``workers`` threads)."""
        spef = self.spef
        self.name_map = _NameMap(capacity=lines + 1)
        buf = np.frombuffer(head, dtype=np.uint8, count=n + scan.PAD)
        start = _next_keyword(head, 0, n)
        self.body(buf, 0, start)
        while start < n:
            eol = head.find(b"\n", start, n)
            eol = n if eol < 0 else eol
            tok = head[start:eol].decode("ascii").split()
            key = self.section = tok[0]
            if key == "*NAME_MAP":  # read up to the next keyword line, which it finds
                start = self.name_map.add_lines(buf, eol, n, workers)
            else:
                start = _next_keyword(head, eol, n)
                self.body(buf, eol, start)
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

    def body(self, buf: np.ndarray, a: int, b: int) -> None:
        """Lines ``buf[a:b]`` under the current keyword (not ``*NAME_MAP``, read by :meth:`_NameMap.add_lines`):
        ports, or nothing."""
        text = buf[a:b].tobytes()
        if self.section == "*PORTS":
            rows = [ln.split() for ln in text.decode("ascii").split("\n") if ln.strip()]
            if any(len(t) < 2 for t in rows):
                raise _Unexpected
            if rows:
                self.ports.append(rows)
        elif text.strip():
            raise _Unexpected


def _mapped_header(fh) -> tuple[mmap.mmap, int] | None:
    """A plain file's header (the bytes before its first ``*D_NET`` line) mapped copy-on-write instead of read and
    copied: ``(text, n)``, the header ``text[:n]`` followed by :data:`.scan.PAD` spaces written into the private
    mapping, ``fh`` moved to the first net; ``None`` (nothing read) for a gzip stream, a file with no ``*D_NET`` or
    fewer than :data:`.scan.PAD` bytes after its header. (A name map is most of a SPEF's header and of its bytes:
    mapped, its pages are the page cache's, not fresh memory filled by a copy.)"""
    if not isinstance(fh, io.BufferedReader):
        return None
    try:
        text = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
    except (OSError, ValueError):  # an empty file, a stream that cannot be mapped
        return None
    at = 0 if text[:6] == b"*D_NET" else text.find(b"\n*D_NET")
    n = at + (at > 0)
    if at < 0 or n + scan.PAD > len(text):
        text.close()
        return None
    text[n:n + scan.PAD] = b" " * scan.PAD
    fh.seek(n)
    return text, n


def _read_header(spef: Spef, header: _Header, text, n: int, checked: bool,
                 workers: int = 1) -> tuple[_Names, int]:
    """Reads the header ``text[:n]`` (:data:`.scan.PAD` spaces after it; ``checked``: its bytes were checked as
    :func:`_read_blocks` checks a piece; its name map on ``workers`` threads), its ports named; returns the names
    and the header's line count."""
    buf = np.frombuffer(text, dtype=np.uint8, count=n + scan.PAD)
    if not checked and n and _refused(buf, text, n):
        raise _Unexpected
    lines = sum(int(np.count_nonzero(buf[i:min(i + _BLOCK_CHARS, n)] == 10)) for i in range(0, n, _BLOCK_CHARS))
    header.read(text, n, lines, workers)
    names = _Names(spef, header.name_map.finish())
    rows = [t for block in header.ports for t in block]
    spef.ports.update(zip(names.names([t[0] for t in rows]), [t[1] for t in rows]))
    return names, lines


def _read_blocks(path, threads: int | None = None) -> Spef:
    """The block reader (:class:`_Unexpected` for anything it does not handle). ``threads``: as :func:`read_spef`'s;
    the name map's runs and the blocks of nets are scanned on them (:func:`_scan_map_run`, :func:`_scan_nets`) and
    added in file order (:meth:`_NameMap.add_lines`, :func:`_add_nets`)."""
    workers = worker_count(threads, MAX_THREADS)
    spef = Spef(path=str(path), connections=Connections())
    par = spef.parasitics
    header = _Header(spef, path)
    names: _Names | None = None
    lineno = 1  # of the first character of the current piece
    with open_bytes(path) as fh:
        mapped = _mapped_header(fh)
        if mapped is not None:
            names, lines = _read_header(spef, header, *mapped, checked=False, workers=workers)
            lineno += lines
            # an entry line ("1 a 0") takes at least 6 bytes (a newline may be added at the end)
            par.reserve((len(mapped[0]) - mapped[1] + 1) // 6 + 1)
            del mapped  # the name map keeps a view of it while reading; then it is unmapped
        # each piece's store is read into again workers + 1 pieces later: by then ordered_map has handed out its rows
        pieces = _pieces(fh, ring=workers + 1)
        first = None  # the nets of the piece that ends a gathered header
        if names is None:
            names, lines, first = _gathered_header(spef, header, pieces, workers)
            lineno += lines
        blocks = _net_buffers(first, pieces)
        keys = []
        for rows in ordered_map(functools.partial(_checked_scan, names), blocks, workers):
            lineno = _add_nets(spef, rows, lineno)
            keys.append(rows.keys)
    if not spef.nets:
        raise _Unexpected
    par.finish(len(spef.nets))  # the nets were made with a reference to it
    spef.connections.finish()
    columns = {}
    for f in dataclasses.fields(NameMapKeys):  # one column at a time, each block's part dropped once copied
        columns[f.name] = np.concatenate([getattr(k, f.name) for k in keys])
        for k in keys:
            setattr(k, f.name, None)
    spef.keys = NameMapKeys(**columns)
    return spef


#: most threads a SPEF is read on by default (each block in flight holds its temporaries; about a third of a block's
#: time holds the GIL, so more threads gain little)
MAX_THREADS = 4


def _refused(buf: np.ndarray, store, n: int) -> bool:
    """Whether the piece ``store[:n]`` (``buf`` its bytes) has what the block reader leaves to the line reader:
    non-ASCII bytes, NUL bytes, comments."""
    return bool(buf[:n].max() >= 128) or store.find(b"\0", 0, n) >= 0 or _COMMENT.search(store, 0, n) is not None


def _gathered_header(spef: Spef, header: _Header, pieces, workers: int) -> tuple[_Names, int, tuple]:
    """The header of a stream that could not be mapped (gzip), gathered from ``pieces`` up to the first ``*D_NET``
    and read: ``(names, its line count, (store, start, n))`` where the piece ``store[:n]`` it ends in has its first
    net at ``start``."""
    head = bytearray()
    for store, n in pieces:
        buf = np.frombuffer(store, dtype=np.uint8, count=n + scan.PAD)
        if _refused(buf, store, n):
            raise _Unexpected  # comments and other characters: the line reader
        at = 0 if store.startswith(b"*D_NET", 0, n) else store.find(b"\n*D_NET", 0, n)
        start = n if at < 0 else at + (at > 0)
        with memoryview(store) as view:
            head += view[:start]
        if at >= 0:
            head += b" " * scan.PAD
            names, lines = _read_header(spef, header, head, len(head) - scan.PAD, checked=True, workers=workers)
            return names, lines, (store, start, n)
    raise _Unexpected  # no *D_NET


def _net_buffers(first: tuple | None, pieces):
    """``first`` (when given), then each piece ``(store, n)`` of ``pieces`` as ``(store, 0, n)``: the nets of the
    piece ``store[:n]`` start at the middle value."""
    if first is not None:
        yield first
    for store, n in pieces:
        yield store, 0, n


def _checked_scan(names: _Names, piece: tuple) -> _NetRows:
    """:func:`_scan_nets` of the nets of a piece ``(store, start, n)`` (as :func:`_net_buffers` gives them), after
    :func:`_refused`'s check of the piece."""
    store, start, n = piece
    buf = np.frombuffer(store, dtype=np.uint8, count=n + scan.PAD)
    if _refused(buf, store, n):
        raise _Unexpected  # comments and other characters: the line reader
    return _scan_nets(names, buf[start:])


#: keyword lines of a net section, and the letter each stands for in :data:`_LAYOUT` (``0`` is a numbered line)
_WORDS = {b"*D_NET": b"D", b"*CONN": b"C", b"*CAP": b"A", b"*RES": b"R", b"*END": b"E", b"*I": b"I", b"*P": b"P"}
#: the nets' usual layout (OpenRCX, StarRC), one letter per non-blank line: *D_NET, *CONN and its *I/*P entries,
#: optional *CAP and *RES sections of numbered lines, *END
_LAYOUT = re.compile(rb"(?:DC[IP]*(?:A0*)?(?:R0*)?E)*")
_DIRECTIONS = np.array([None] * 256, dtype=object)
_DIRECTIONS[[ord("I"), ord("O"), ord("B")]] = ["I", "O", "B"]


def _strings(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[str]:
    """The tokens ``buf[starts[k]:ends[k]]`` (ascending, each followed by a white-space byte) as strings, made by one
    decode and one split instead of one slice each."""
    return _gather(buf, starts, ends + 1).tobytes().decode("ascii").split()


def _join(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[str]:
    """``n`` strings, string ``k`` the concatenation of ``src[start[k]:start[k] + length[k]]`` over ``parts`` (each
    ``(src, start [n], length [n])``, ASCII bytes): assembled by index arithmetic, then one decode and one split."""
    width = sum(length for _, _, length in parts) + 1  # and a newline after each
    out = np.full(int(width.sum()), 10, dtype=np.uint8)
    pos = np.cumsum(width) - width
    for src, start, length in parts:
        if int(length.sum()):
            out[_runs(pos, length)] = src[_runs(start, length)]
        pos = pos + length
    return out.tobytes().decode("ascii").split("\n")[:-1]


def _rpartition(names: np.ndarray, delimiter: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``names`` [n] (an object array of str) cut at their last ``delimiter`` as ``str.rpartition`` cuts them:
    ``(sep [n] bool, head [n], tail [n])``, head ``""`` and tail the whole name where there is no delimiter.

    Done on the bytes of the names joined by newlines (a one-character ASCII delimiter cuts UTF-8 text only between
    characters): the last delimiter before each newline, then the heads and tails copied out by one mask each and
    made strings by one decode and one split; names with a newline, or another delimiter, are cut one by one."""
    items = names.tolist()
    text = "\n".join(items) + "\n"
    if len(delimiter) != 1 or not delimiter.isascii() or delimiter == "\n" or text.count("\n") != len(items):
        cut = [n.rpartition(delimiter) for n in items]
        return (np.array([bool(c[1]) for c in cut], dtype=bool), _objects([c[0] for c in cut]),
                _objects([c[2] for c in cut]))
    buf = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    marks = np.flatnonzero(buf == ord(delimiter))
    at = np.concatenate([[-1], marks])[np.searchsorted(marks, ends)]  # the last delimiter before each end, or -1
    sep = at >= starts
    head, tail = np.full(len(items), "", dtype=object), names.copy()
    if sep.any():
        cut = buf.copy()
        cut[at[sep]] = 10  # each head then ends in a newline
        head[sep] = _gather(cut, starts[sep], at[sep] + 1).tobytes().decode("utf-8", "surrogatepass").split("\n")[:-1]
        tail[sep] = _gather(buf, at[sep] + 1, ends[sep] + 1).tobytes().decode("utf-8", "surrogatepass").split("\n")[:-1]
    return sep, head, tail


def _factorize_spans(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal byte strings ``buf[starts[k]:ends[k]]`` numbered without making them Python strings: ``codes`` [n]
    (0, 1, ... in order of first appearance) and ``first`` [u] (the index of each code's first span, ascending).
    ``buf``: padded as :func:`.scan.padded` pads, with no NUL byte (the reader checks).

    The strings are compared as their 16-byte columns, the bytes past each string cleared (no NUL in the text: a
    shorter string cannot look like a longer one), one column at a time: each column is numbered by a hash table
    (``pandas.factorize``) on its 16 bytes seen as one complex128, and combined with the codes so far. That is
    exact: equal complex numbers are equal bytes but for NaNs and signed zeros, and ASCII bytes and zeros make
    neither (a word's sign bit is the top bit of its last byte, and an all-ones exponent needs the top bit of its
    second-last byte set too). (Was a 64-bit mix of the two words numbered, then checked against the bytes: about
    twice the work.)"""
    import pandas as pd

    lengths = ends - starts
    codes = None
    for j in range(0, max(int(lengths.max(initial=0)), 1), 16):
        column, uniques = pd.factorize(_sixteen_bytes(buf, starts, lengths, j))
        codes = column if codes is None else pd.factorize(codes * len(uniques) + column)[0]
    return codes, _first(codes)


def _sixteen_bytes(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, offset: int = 0) -> np.ndarray:
    """``[n]`` complex128: bytes ``offset`` to ``offset + 16`` of the strings ``buf[starts:starts + lengths]``, the
    bytes past each string cleared, seen as one complex number (equal numbers are equal bytes for ASCII text
    without NUL: :func:`_factorize_spans`)."""
    w = scan.words(buf, np.minimum(starts + offset, len(buf) - 16), 2)
    for k in (0, 1):
        w[:, k] &= _LOW_BYTES[np.clip(lengths - (offset + 8 * k), 0, 8)]
    return w.view(np.complex128).ravel()


#: ``_LOW_BYTES[k]``: the mask of the low ``k`` bytes of a 64-bit word (its first ``k`` bytes, little-endian)
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


def _first(codes: np.ndarray) -> np.ndarray:
    """The index of each code's first occurrence, for ``codes`` numbered 0, 1, ... in order of first appearance."""
    first = np.empty(int(codes.max(initial=-1)) + 1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return first


def _instance_pins(names: _Names, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, inst: np.ndarray,
                   marks) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(instance [n], pin [n], key [n], pin_bytes [n])``: object arrays of ``*CONN`` node tokens
    ``buf[starts:ends]``, for ``*I`` entries (``inst`` [n]) the canonical node name cut at its last delimiter, for
    ``*P`` (``None``, port name); and their name-map index and pin as :class:`NameMapKeys` keeps them (``conn``,
    ``conn_pin``).

    An ``*I`` token ``*<index><delimiter><pin>`` (no backslash, one delimiter: nearly all) is cut without making its
    name: the instance is the name-map entry (one string per distinct index) and the pin its tail (one string per
    distinct tail); the others go through :meth:`_Names.span_names`."""
    import pandas as pd

    instance = np.full(len(starts), None, dtype=object)
    pin = np.empty(len(starts), dtype=object)
    key = np.full(len(starts), -1, dtype=np.int32)
    pin_bytes = np.zeros(len(starts), dtype=np.uint64)
    rows = np.flatnonzero(inst)
    key[rows] = -2
    p = names.parts(buf, starts[rows], ends[rows], marks)
    cut = p["sep"] & p["plain_tail"]
    if cut.any():
        at, tail_len = rows[p["mapped"]][cut], p["end"][cut] - p["tail_start"][cut] - 1
        short = (tail_len >= 1) & (tail_len <= 8) & (p["key"][cut] <= _INT32_MAX)
        key[at[short]] = p["key"][cut][short]
        pin_bytes[at[short]] = _eight_bytes(buf, p["tail_start"][cut][short] + 1, tail_len[short])
        codes, _ = pd.factorize(p["key"][cut])
        first = _first(codes)
        instance[rows[p["mapped"]][cut]] = _objects(_join([(names.name_map.text, p["start"][cut][first],
                                                             p["length"][cut][first])]))[codes]
        tail, end = p["tail_start"][cut] + 1, p["end"][cut]
        codes, first = _factorize_spans(buf, tail, end)
        pin[rows[p["mapped"]][cut]] = _objects(_join([(buf, tail[first], end[first] - tail[first])]))[codes]
    rest = np.concatenate([rows[~p["mapped"]], rows[p["mapped"]][~cut]])
    if len(rest):
        split = [n.rpartition(names.spef.delimiter) for n in names.span_names(buf, starts[rest], ends[rest], marks)]
        if not all(t[1] for t in split):
            raise _Unexpected  # an *I node that is not instance<delimiter>pin
        instance[rest] = _objects([t[0] for t in split])
        pin[rest] = _objects([t[2] for t in split])
    ports = np.flatnonzero(~inst)
    if len(ports):
        pin[ports] = _objects(names.span_names(buf, starts[ports], ends[ports], marks))
    return instance, pin, key, pin_bytes


def _cell_tokens(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, first: np.ndarray, count: np.ndarray,
                 inst: np.ndarray) -> np.ndarray:
    """``[c]`` for each ``*CONN`` line (its first token ``first`` [c], ``count`` [c] tokens, ``inst`` [c]: an ``*I``
    line) the token after its first ``*D`` among the fourth to the second-last token (an ``*I`` line's cell), or -1.
    Usually the fourth token itself (``*I <node> <dir> *D <cell>``): only the other lines of six or more tokens are
    searched token by token."""
    def star_d(tokens):
        return (lengths[tokens] == 2) & (buf[starts[tokens]] == 42) & (buf[starts[tokens] + 1] == 68)

    out = np.full(len(first), -1, dtype=np.int64)
    fourth = np.where(inst & (count >= 5), first + 3, 0)
    at = star_d(fourth) & (fourth > 0)
    out[at] = fourth[at] + 1
    slow = np.flatnonzero(inst & ~at & (count >= 6))
    if len(slow):  # the fifth to the second-last token, the first *D of each line
        tokens = _runs(first[slow] + 4, count[slow] - 5)
        line = np.repeat(slow, count[slow] - 5)
        hit = star_d(tokens)
        lines, pick = np.unique(line[hit], return_index=True)
        out[lines] = tokens[hit][pick] + 1
    return out


@dataclass(slots=True)
class _NetRows:
    """What :func:`_scan_nets` reads from a block of nets, numbered within the block (no reference to the reader's
    state or to the block's bytes): ``lines`` its newlines; per net [n] ``names``, ``totals`` (F) and ``line`` (the
    line of its ``*D_NET`` within the block, from 0); ``conn_counts`` [n] and the ``*CONN`` columns ``conns``
    (:attr:`Connections.COLUMNS`, each [sum(conn_counts)]); ``nodes`` the block's distinct node names; ``entries``
    ``(kind, net, value, a, b)`` per kind of :attr:`Parasitics.KINDS` present, ``net`` the net's place in the block,
    ``a``/``b`` places in ``nodes`` (``b`` ``None`` for ground capacitors); ``keys`` the name-map indices of
    its nets, nodes and ``*CONN`` entries (:class:`NameMapKeys`)."""

    lines: int
    names: list[str]
    totals: list[float]
    line: np.ndarray
    conn_counts: np.ndarray
    conns: dict[str, np.ndarray]
    nodes: list[str]
    entries: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]
    keys: NameMapKeys


def _add_nets(spef: Spef, rows: _NetRows, lineno: int) -> int:
    """Appends a block's :class:`_NetRows` (``lineno``: the line its bytes start on) to ``spef``; returns the line
    after the block. Blocks are added in file order, so net and node ids are what a serial read gives."""
    first, par = len(spef.nets), spef.parasitics
    names = rows.names
    spef.nets.update(zip(names, map(SpefNet, names, rows.totals, (lineno + rows.line).tolist(), repeat(None),
                                    repeat(par), range(first, first + len(names)), repeat(spef.connections))))
    if len(spef.nets) != first + len(names):
        raise _Unexpected  # a net named twice (also across blocks)
    spef.connections.add(rows.conn_counts, **rows.conns)
    base = len(par.nodes)
    par.append(rows.nodes)
    for kind, net, value, a, b in rows.entries:
        par.add(kind, net + first, value, a + base, None if b is None else b + base)
    return lineno + rows.lines


def _scan_nets(names: _Names, buf: np.ndarray) -> _NetRows:
    """Reads the ``*D_NET`` sections of the ASCII bytes ``buf`` (nothing else but blank lines, ending in a newline,
    padded as :func:`.scan.padded` pads, with no byte >= 128, NUL or ``//``: the caller checks) as columns numbered
    within the block, for :func:`_add_nets`. Raises :class:`_Unexpected` on anything outside :data:`_LAYOUT`'s
    layout. Reads nothing but ``buf`` and the finished name map: blocks can be scanned on several threads at once.

    The whole piece is read on its bytes: token edges, each token's line, each line's first token and kind (one
    letter per line, checked against :data:`_LAYOUT` by one regular expression), the token counts per kind of line;
    then the columns are cut out by index arithmetic. Python strings are made only for net names and for each
    distinct node, instance, pin and cell token of the piece; numbers are read by :func:`.scan.decimals`, node
    tokens numbered by their bytes (:func:`_factorize_spans`)."""
    line_end = np.flatnonzero(buf == 10)
    starts, ends = _spans(buf, len(line_end))
    lengths = ends - starts
    # each non-blank line ("row"): its first token (the first of the piece, or one with a newline right before it,
    # or elsewhere in the white space before it) and its count of tokens
    new_line = np.ones(len(starts), dtype=bool)
    if len(starts) > 1:
        new_line[1:] = buf[starts[1:] - 1] == 10
        other = np.flatnonzero(~new_line[1:] & (starts[1:] - ends[:-1] > 1)) + 1
        if len(other):
            new_line[other] = np.searchsorted(line_end, ends[other - 1]) != np.searchsorted(line_end, starts[other])
    t0 = np.flatnonzero(new_line)
    count = np.diff(t0, append=len(starts))
    s0 = starts[t0]
    second = buf[np.minimum(s0 + 1, len(buf) - 1)]
    keyword = np.flatnonzero((buf[s0] == 42) & (lengths[t0] > 1) & ((second < 48) | (second > 57)))
    letter = np.full(len(t0), ord("0"), dtype=np.uint8)
    known = np.zeros(len(keyword), dtype=bool)
    size = lengths[t0[keyword]]
    head = scan.words(buf, s0[keyword])[:, 0] & ~(~np.uint64(0) << (np.minimum(size, 8) * 8).astype(np.uint64))
    for word, code in _WORDS.items():  # a keyword is at most 8 bytes: its word, the rest cleared
        hit = (head == np.frombuffer(word.ljust(8, b"\0"), dtype="<u8")[0]) & (size == len(word))
        letter[keyword[hit]] = code[0]
        known |= hit
    if not known.all() or _LAYOUT.fullmatch(letter.tobytes()) is None:
        raise _Unexpected
    last_keyword = np.maximum.accumulate(np.where(letter != ord("0"), np.arange(len(t0)), 0))
    is_net, is_conn = letter == ord("D"), (letter == ord("I")) | (letter == ord("P"))
    is_cap = (letter == ord("0")) & (letter[last_keyword] == ord("A"))
    is_res = (letter == ord("0")) & (letter[last_keyword] == ord("R"))
    alone = np.isin(letter, np.frombuffer(b"CARE", dtype=np.uint8))
    if ((is_net & (count != 3)) | (alone & (count != 1)) | (is_conn & (count < 3)) | (is_cap & (count != 3) & (count != 4))
            | (is_res & (count != 4))).any():
        raise _Unexpected
    net_of = np.cumsum(is_net) - 1  # each row's net, numbered within the block

    # nets
    marks = names.delimiter_byte()
    heads = t0[is_net]
    net_parts = names.parts(buf, starts[heads + 1], ends[heads + 1], marks)
    net_names = names.span_names(buf, starts[heads + 1], ends[heads + 1], marks, net_parts)
    marks_num = None  # made by scan.decimals if a value has more than 16 characters
    spef = names.spef  # its units and delimiter, read from the header
    totals = _values(buf, starts[heads + 2], ends[heads + 2], spef.c_unit, marks_num).tolist()
    net_line = np.searchsorted(line_end, starts[heads])

    # connections: node, direction and the token after the first *D from the fourth token on, not the last
    conn = np.flatnonzero(is_conn)
    letters = buf[starts[t0[conn] + 2]]
    if (lengths[t0[conn] + 2] != 1).any() or not np.isin(letters, np.frombuffer(b"IOB", dtype=np.uint8)).all():
        raise _Unexpected
    direction = _DIRECTIONS[letters]
    inst_row = letter[conn] == ord("I")
    instance, pin, conn_keys, conn_pins = _instance_pins(names, buf, starts[t0[conn] + 1], ends[t0[conn] + 1],
                                                         inst_row, marks)
    cell = np.full(len(conn), None, dtype=object)
    cells = _cell_tokens(buf, starts, lengths, t0[conn], count[conn], inst_row)
    has = np.flatnonzero(cells >= 0)
    if len(has):
        cells = cells[has]
        codes, at = _factorize_spans(buf, starts[cells], ends[cells])
        cell[has] = _objects(_strings(buf, starts[cells[at]], ends[cells[at]]))[codes]
    kind = _objects(["P", "I"])[inst_row.astype(np.int64)]
    conn_counts = np.bincount(net_of[conn], minlength=len(net_names))
    conns = {"kind": kind, "instance": instance, "pin": pin, "direction": direction, "cell": cell}

    # capacitors and resistors: node ids for the whole piece at once, each distinct node token named once
    cap, res = np.flatnonzero(is_cap), np.flatnonzero(is_res)
    two = count[cap] == 4
    ground, coupling = cap[~two], cap[two]
    node_tokens = [t0[ground] + 1, t0[coupling] + 1, t0[coupling] + 2, t0[res] + 1, t0[res] + 2]
    every = np.concatenate(node_tokens)
    codes, at = _factorize_spans(buf, starts[every], ends[every])
    node_parts = names.parts(buf, starts[every[at]], ends[every[at]], marks)
    nodes = names.span_names(buf, starts[every[at]], ends[every[at]], marks, node_parts)
    ids = np.split(codes, np.cumsum([len(t) for t in node_tokens])[:-1])  # places in nodes
    value = _values(buf, starts[t0[cap] + count[cap] - 1], ends[t0[cap] + count[cap] - 1], spef.c_unit, marks_num)
    entries = [("ground", net_of[ground], value[~two], ids[0], None)]
    if len(coupling):
        entries.append(("coupling", net_of[coupling], value[two], ids[1], ids[2]))
    if len(res):
        entries.append(("res", net_of[res], _values(buf, starts[t0[res] + 3], ends[t0[res] + 3], spef.r_unit,
                                                    marks_num), ids[3], ids[4]))
    # the nodes' name-map indices and tails (NameMapKeys), for resolving coupling nodes by integer
    keyed = node_parts["sep"] & node_parts["plain_tail"] & (node_parts["key"] <= _INT32_MAX)
    node_keys = _token_keys(node_parts, keyed)
    tail_len = node_parts["end"] - node_parts["tail_start"] - 1
    short = np.flatnonzero(keyed & (tail_len <= 8))
    node_pins = np.zeros(len(nodes), dtype=np.uint64)
    node_pins[np.flatnonzero(node_parts["mapped"])[short]] = _eight_bytes(buf, node_parts["tail_start"][short] + 1,
                                                                          tail_len[short])
    keys = NameMapKeys(_token_keys(net_parts, ~net_parts["sep"] & (net_parts["key"] <= _INT32_MAX)), node_keys,
                       node_pins, conn_keys, conn_pins)
    return _NetRows(len(line_end), net_names, totals, net_line, conn_counts, conns, nodes, entries, keys)


def _token_keys(parts: dict[str, np.ndarray], which: np.ndarray) -> np.ndarray:
    """``[n]`` the name-map index of the tokens that :meth:`_Names.parts` found of the usual form and ``which``
    (over those, [m]) selects, -1 for the rest."""
    out = np.full(len(parts["mapped"]), -1, dtype=np.int32)
    out[np.flatnonzero(parts["mapped"])[which]] = parts["key"][which]
    return out


_INT32_MAX = np.iinfo(np.int32).max


def _eight_bytes(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``[n]`` uint64: the strings ``buf[starts:starts + lengths]`` (1 to 8 bytes each) as little-endian words, the
    bytes past each string cleared (distinct strings give distinct words: the text has no NUL)."""
    return scan.words(buf, starts)[:, 0] & _LOW_BYTES[np.clip(lengths, 0, 8)]


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
