r"""A parsed :class:`.Design` -> a PyG ``HeteroData`` of instances, pins and nets, with SPEF labels.

Nodes and edges:

- ``instance`` (cells with at least one signal pin), ``pin`` (instance pins on signal nets, and top-level ports),
  ``net`` (signal nets); edges ``instance -has-> pin``, ``pin -of-> instance``, ``pin -on-> net``,
  ``net -connects-> pin``. Power and ground are left out: nets by name (:func:`.names.is_supply`), pins by Liberty
  ``pg_pin``, LEF ``USE POWER/GROUND`` or supply name.
- Coupled net pairs are *targets*, never message-passing edges: ``data.coupling_index`` [2, P] (net ids, first < second)
  and ``data.coupling_cap`` [P] in farads, with ``data.coupling_y`` their scaled labels.

Features (columns named in ``data[t].feature_names``; counts and sizes log-scaled, so all are O(1) and need no
per-design standardisation): instance — log area (Liberty, else LEF size), drive strength,
pin counts, sequential, logic family one-hot (:data:`.names.FAMILIES`), placement; pin — direction one-hot (Liberty,
else LEF, else the SPEF ``*CONN`` direction), Liberty pin capacitance, port/clock flags, whether the pin exists only in
the SPEF (``ANTENNA_*`` cells inserted after synthesis); net — degree, fanout, drivers, summed sink capacitance, half-
perimeter wire length and bounding box (when a DEF gives placement), port/clock flags, and the design's mean cell area
and minimum routing pitch (physics that moves with the technology). Every "where known" value comes with a ``has_*``
flag column, so the features say what is missing.

Labels on ``net``: ``total_cap`` and ``ground_cap`` in farads (SPEF ``*D_NET`` total, and the sum of its ground
``*CAP``), their scaled versions ``y_total``/``y_ground``
:math:`= \mathrm{clip}(\log_{10}(C / C_\mathrm{ref}) / D, 0, 1)`
(CircuitGCL: :math:`C_\mathrm{ref} = 10^{-21}` F, :math:`D = 6`, which saturates at 1 fF, so gate-level nets default to
:math:`C_\mathrm{ref} = 10^{-18}` F), ``ground_bucket`` (5 classes of ground capacitance, :data:`GROUND_BUCKET_EDGES`),
and ``label_mask`` (the net is in the SPEF).
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter, itemgetter

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from ..freed_memory import keeping_freed_memory
from ..gc_pause import without_cycle_collection
from .dataset import Design
from .names import FAMILIES, cell_family, drive_strength, is_supply
from .positions import key_positions
from .source import object_array as _objects

#: CircuitGCL's label scale: ``clip(log10(C * 1e21) / 6, 0, 1)``.
CIRCUITGCL_REF, CIRCUITGCL_DECADES = 1e-21, 6.0
#: The default for gate-level nets (0.1 fF .. 100 pF would be 1e-16; 1 aF .. 1 pF covers every net seen).
LABEL_REF, LABEL_DECADES = 1e-18, 6.0
#: Upper edges (F) of the 5 ground-capacitance buckets: <0.3 fF, 0.3-1, 1-3, 3-10, >=10 fF.
GROUND_BUCKET_EDGES = (3e-16, 1e-15, 3e-15, 1e-14)

INSTANCE_FEATURES = ["log_area_um2", "has_area", "log2_drive", "log_signal_pins", "log_inputs", "log_outputs",
                     "sequential", "spef_only", "x", "y", "has_xy"] + [f"family_{f}" for f in FAMILIES]
PIN_FEATURES = ["dir_input", "dir_output", "dir_inout", "dir_unknown", "log_cap_ff", "has_cap", "is_port", "is_clock",
                "spef_only"]
NET_FEATURES = ["log_degree", "log_fanout", "log_drivers", "log_sink_cap_ff", "has_sink_cap", "log_hpwl_um",
                "log_bbox_w_um", "log_bbox_h_um", "has_hpwl", "is_port_net", "is_clock_net", "log_mean_cell_area_um2",
                "has_cell_area", "min_pitch_um", "has_pitch"]
_SPEF_DIRECTIONS = {"I": "input", "O": "output", "B": "inout"}
#: the role of a top-level port inside the design: an input port drives its net, an output port is a sink
_PORT_ROLES = {"input": "output", "output": "input"}
_CLOCK = ("clk", "clock", "ck", "clk_i", "wb_clk_i")


def log_scale(cap: Tensor, ref: float = LABEL_REF, decades: float = LABEL_DECADES) -> Tensor:
    """:math:`\\mathrm{clip}(\\log_{10}(C / C_\\mathrm{ref}) / D, 0, 1)`; zero and negative capacitances give 0.

    Shapes: any -> same."""
    return (torch.log10(cap.clamp_min(ref) / ref) / decades).clamp(0.0, 1.0)


def bucketize(cap: Tensor, edges=GROUND_BUCKET_EDGES) -> Tensor:
    """Class index of each capacitance: the number of ``edges`` (ascending, F) it reaches. Shapes: [N] -> [N] long."""
    return torch.bucketize(cap, torch.tensor(edges, dtype=cap.dtype), right=True)


@dataclass
class GraphReport:
    """What :func:`build_graph` did: sizes, SPEF matching (unmatched named), skipped items by reason, label stats."""

    design: str
    nodes: dict[str, int] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=dict)
    spef_nets: int = 0
    matched: int = 0
    unmatched_spef: list[str] = field(default_factory=list)
    unlabelled_nets: list[str] = field(default_factory=list)
    #: the unlabelled nets with one pin (a lone driver or port): nothing to extract, so no SPEF entry is expected
    single_pin_unlabelled: list[str] = field(default_factory=list)
    coupled_pairs: int = 0
    #: "instance (cell)" of kept instances whose cell no Liberty or LEF describes (no area, pin capacitance or pin
    #: direction from a library); only checked when the design has a Liberty or LEF
    unknown_cells: list[str] = field(default_factory=list)
    #: multi-pin netlist nets (the ones an extractor writes a *D_NET for)
    multi_pin_nets: int = 0
    skipped: Counter = field(default_factory=Counter)
    skipped_names: dict[str, list[str]] = field(default_factory=dict)
    labels: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def match_rate(self) -> float:
        return self.matched / self.spef_nets if self.spef_nets else 0.0

    def lines(self, show: int = 5) -> list[str]:
        """A human summary, one fact per line (what ``graphrep circuit graph`` prints)."""
        out = [f"design {self.design}",
               "nodes: " + ", ".join(f"{k} {v:,}" for k, v in self.nodes.items()),
               "edges: " + ", ".join(f"{k} {v:,}" for k, v in self.edges.items()),
               f"SPEF nets matched: {self.matched}/{self.spef_nets} ({100 * self.match_rate:.1f}%)"]
        if self.unmatched_spef:
            out.append(f"  unmatched SPEF nets ({len(self.unmatched_spef)}): {_names(self.unmatched_spef, show)}")
        if self.unlabelled_nets:
            single = len(self.single_pin_unlabelled)
            why = (f"; {single} of them have a single pin (one cell pin or one port: no wire, so the extractor "
                   "writes no *D_NET)") if single else ""
            out.append(f"  netlist nets not in the SPEF, unlabelled ({len(self.unlabelled_nets)}{why}): "
                       f"{_names(self.unlabelled_nets, show)}")
        missing = len(self.unlabelled_nets) - len(self.single_pin_unlabelled)
        if self.multi_pin_nets and missing > self.multi_pin_nets / 2:
            out.append(f"warning: {missing:,} of {self.multi_pin_nets:,} multi-pin netlist nets have no SPEF net: is "
                       "the SPEF truncated, or extracted from another netlist?")
        if self.unknown_cells:
            out.append(f"instances whose cell is in no Liberty or LEF, kept without library area, pin capacitance or "
                       f"direction ({len(self.unknown_cells)}): {_names(self.unknown_cells, show)}")
        out.append(f"coupled net pairs: {self.coupled_pairs:,}")
        for name, st in self.labels.items():
            out.append(f"label {name}: " + ", ".join(f"{k} {v:.4g}" for k, v in st.items()))
        for reason, count in sorted(self.skipped.items()):
            out.append(f"skipped {count:,} {reason}: {_names(self.skipped_names.get(reason, []), show)}")
        return out


class _Memo(dict):
    """``fn(key)`` per key, computed on the first lookup and kept (a plain subscript, no call, after that)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __missing__(self, key):
        value = self[key] = self.fn(key)
        return value


def _names(names: list[str], show: int) -> str:
    more = f" ... (+{len(names) - show})" if len(names) > show else ""
    return ", ".join(names[:show]) + more


def _stats(values: np.ndarray, unit_scale: float = 1.0) -> dict[str, float]:
    if values.size == 0:
        return {"n": 0}
    v = values * unit_scale
    return {"n": float(values.size), "min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())}


@without_cycle_collection
@keeping_freed_memory
def build_graph(design: Design, placement: bool = True, label_ref: float = LABEL_REF,
                label_decades: float = LABEL_DECADES) -> tuple[HeteroData, GraphReport]:
    """The circuit graph of ``design`` and a report of what was matched and skipped.

    ``placement=False`` leaves DEF coordinates out of the features (``has_xy``/``has_hpwl`` 0), so designs with and
    without a DEF are described alike.

    Run with the memory its temporaries free kept for its next ones
    (:func:`graphrep.data.freed_memory.keeping_freed_memory`): at 1M nets most of them exceed glibc's 32 MiB mmap
    threshold, so each was faulted in afresh (428K minor faults, 3.8 s of system time, against about 260K, the
    output's own pages, and 2.7-3.0 s with it; wall 18.9-20.0 s against 17.4-18.5 s, fresh processes alternating).
    The Verilog reader is not run so: its growing lists then come from the heap, where ``realloc`` copies instead of
    remapping (24.2-25.1 s against 18.7-18.8 s)."""
    nl, spef, lib, lef = design.netlist, design.spef, design.liberty, design.lef
    report = GraphReport(design.name)
    for reason, count in nl.skipped.items():
        report.skipped[reason] += count
        report.skipped_names.setdefault(reason, []).extend(nl.skipped_names.get(reason, []))

    def skip(reason: str, item: str) -> None:
        report.skipped[reason] += 1
        report.skipped_names.setdefault(reason, []).append(item)

    lib_cells = lib.cells if lib is not None else {}
    spef_cols = spef.connection_columns()  # every *CONN entry as columns, in the order of spef.nets
    lef_macros = lef.macros if lef is not None else {}

    @functools.cache
    def spef_conns() -> tuple[dict[tuple[str | None, str], str], dict[str, str]]:
        """``(instance, pin)`` -> direction and instance -> cell from the SPEF ``*CONN`` lines; a walk over every
        connection, so made only when a pin or instance needs it (one no Liberty or LEF describes)."""
        spef_dir: dict[tuple[str | None, str], str] = {}
        spef_cell: dict[str, str] = {}
        for inst, pin, d, cell in zip(*(getattr(spef_cols, c).tolist() for c in ("instance", "pin", "direction", "cell"))):
            spef_dir[(inst, pin)] = _SPEF_DIRECTIONS[d]
            if inst is not None and cell:
                spef_cell.setdefault(inst, cell)
        return spef_dir, spef_cell

    @functools.cache  # asked once per netlist pin, answered per cell pin
    def is_pg(cell: str, pin: str) -> bool:
        lc = lib_cells.get(cell)
        if lc is not None and pin in lc.pg_pins:
            return True
        lm = lef_macros.get(cell)
        if lm is not None and pin in lm.pins and lm.pins[pin].use in ("POWER", "GROUND"):
            return True
        return is_supply(pin)

    import pandas as pd  # as spef.py: hash tables over strings where a Python step per item was the cost

    # SPEF -> netlist nets: each SPEF net's position in nl.nets (-1: unmatched; -2: matched by an alias to a name that
    # is no net of nl.nets), as nl.resolve
    nl_names = _objects(list(nl.nets))
    nl_index = pd.Index(nl_names)
    snames = _objects(list(spef.nets))
    in_nl = nl_index.get_indexer(snames)
    miss = np.flatnonzero(in_nl < 0)
    if len(miss) and nl.aliases:
        target = [nl.aliases.get(s) for s in snames[miss].tolist()]
        found = np.array([t is not None for t in target], dtype=bool)
        at = nl_index.get_indexer(_objects([t for t in target if t is not None]))
        in_nl[miss[found]] = np.where(at >= 0, at, -2)
    report.spef_nets, report.matched = len(snames), int((in_nl != -1).sum())
    report.unmatched_spef = snames[in_nl == -1].tolist()
    spef_at = np.full(len(nl_names), -1, dtype=np.int64)  # each netlist net's SPEF net (a later one wins)
    hit = np.flatnonzero(in_nl >= 0)
    np.maximum.at(spef_at, in_nl[hit], hit)

    # the netlist's pins as columns, net by net: instance (None for a port), pin name, netlist net
    counts = np.fromiter(map(len, nl.nets.values()), dtype=np.int64, count=len(nl_names))
    flat = list(chain.from_iterable(nl.nets.values()))
    col_inst, col_pin = _objects(list(map(itemgetter(0), flat))), _objects(list(map(itemgetter(1), flat)))
    del flat
    col_net = np.repeat(np.arange(len(nl_names), dtype=np.int64), counts)
    not_port = col_inst != None  # noqa: E711  (elementwise; no hash table of the names needed)

    # power and ground: nets by name, pins by cell (a pin name that no cell has as a power/ground pin and that is no
    # supply name is a signal pin of every cell; the others are asked per distinct (cell, pin))
    supply = np.fromiter(map(is_supply, nl_names.tolist()), dtype=bool, count=len(nl_names))
    pg_names = {p for lc in lib_cells.values() for p in lc.pg_pins} | {
        p for lm in lef_macros.values() for p, lp in lm.pins.items() if lp.use in ("POWER", "GROUND")}
    known = nl.instances
    pin_code, pin_names = pd.factorize(col_pin)
    maybe_pg = np.fromiter((p in pg_names or is_supply(p) for p in pin_names.tolist()), dtype=bool,
                           count=len(pin_names))
    ask = np.flatnonzero(maybe_pg[pin_code] & not_port & ~supply[col_net])
    keep = ~supply[col_net]
    keep[ask] = [not is_pg(known[i], p) for i, p in zip(col_inst[ask].tolist(), col_pin[ask].tolist())]
    kept_nets = np.flatnonzero(~supply & (np.bincount(col_net[keep], minlength=len(nl_names)) > 0))
    for reason, which in sorted([("supply nets (by name)", np.flatnonzero(supply)),
                                 ("supply nets (only power/ground pins)",
                                  np.setdiff1d(np.flatnonzero(~supply), kept_nets, assume_unique=True))],
                                key=lambda r: r[1][0] if len(r[1]) else len(nl_names)):
        for name in nl_names[which].tolist():
            skip(reason, name)
    graph_net = np.full(len(nl_names), -1, dtype=np.int64)  # netlist net -> graph net
    graph_net[kept_nets] = np.arange(len(kept_nets))
    net_names = nl_names[kept_nets].tolist()
    rows = np.flatnonzero(keep)
    pin_net, pin_inst, pin_name = graph_net[col_net[rows]], col_inst[rows], col_pin[rows]
    del col_inst, col_pin, col_net, not_port, pin_code, keep

    # SPEF pins of instances the netlist lacks join their nets: only those entries are walked, in file order
    s_code, s_insts = pd.factorize(spef_cols.instance)
    unknown = np.append(~np.fromiter(map(known.__contains__, s_insts.tolist()), dtype=bool, count=len(s_insts)), False)
    outside = np.flatnonzero(unknown[s_code])  # (a port's code -1 picks the False at the end)
    added: dict[str, str] = {}  # instances only in the SPEF -> cell (the netlist's instances are not copied)
    have: dict[int, set] = {}
    extra: list[tuple[int, str, str]] = []
    first = np.searchsorted(pin_net, np.arange(len(net_names) + 1))  # each graph net's first pin so far
    for k, sn in zip(outside.tolist(), spef_cols.net_of()[outside].tolist()):
        g = int(graph_net[in_nl[sn]]) if in_nl[sn] >= 0 else -1
        if g < 0:
            continue
        if g not in have:
            have[g] = set(zip(pin_inst[first[g]:first[g + 1]].tolist(), pin_name[first[g]:first[g + 1]].tolist()))
        inst, pin = spef_cols.instance[k], spef_cols.pin[k]
        if inst not in added:
            added[inst] = spef_cols.cell[k] or spef_conns()[1].get(inst, "unknown")
            skip("instances only in the SPEF, kept as flagged pins (e.g. ANTENNA_* inserted after synthesis)", inst)
        if (inst, pin) not in have[g]:
            extra.append((g, inst, pin))
            have[g].add((inst, pin))
    if extra:  # after the netlist's pins of the same net
        order = np.argsort(np.concatenate([pin_net, [g for g, _, _ in extra]]), kind="stable")
        pin_net = np.concatenate([pin_net, [g for g, _, _ in extra]])[order]
        pin_inst = np.concatenate([pin_inst, _objects([i for _, i, _ in extra])])[order]
        pin_name = np.concatenate([pin_name, _objects([p for _, _, p in extra])])[order]
    n_pins = len(pin_name)

    # instances with a signal pin, in netlist then SPEF order
    owner, used = pd.factorize(pin_inst)  # -1: a port
    known_names = _objects(list(known))
    at_known = key_positions(known, used)  # -1: an instance only in the SPEF
    on_known = np.zeros(len(known_names), dtype=bool)
    on_known[at_known[at_known >= 0]] = True
    no_conns = set(nl.skipped_names.get("instances without connections (taps, fillers, pads)", []))
    for inst in known_names[~on_known].tolist():
        if inst not in no_conns:
            skip(f"instances without signal pins ({cell_family(known[inst])})", inst)
    from_spef = set(used[at_known < 0].tolist())
    extra_insts = [i for i in added if i in from_spef]
    inst_names = known_names[on_known].tolist() + extra_insts
    instances = {**known, **added} if added else known
    n_known = len(inst_names) - len(extra_insts)
    ids = np.empty(len(used), dtype=np.int64)  # graph instance of each distinct pin owner
    ids[at_known >= 0] = (np.cumsum(on_known) - 1)[at_known[at_known >= 0]]
    if extra_insts:
        rank = {inst: n_known + r for r, inst in enumerate(extra_insts)}
        ids[at_known < 0] = [rank[u] for u in used[at_known < 0].tolist()]
    owner = np.where(owner >= 0, ids[np.maximum(owner, 0)], -1).astype(np.int64)
    on_inst = owner >= 0
    inst_cell_names = np.concatenate([_objects(list(known.values()))[on_known], _objects([added[i] for i in extra_insts])])
    inst_cell, cells = pd.factorize(inst_cell_names)  # codes in order of first appearance
    inst_cell, cells = inst_cell.astype(np.int64, copy=False), cells.tolist()
    inst_spef_only = np.arange(len(inst_names)) >= n_known
    if lib is not None or lef is not None:
        no_library = np.array([c not in lib_cells and c not in lef_macros for c in cells], dtype=bool)[inst_cell]
        report.unknown_cells = [f"{inst_names[k]} ({cells[inst_cell[k]]})"
                                for k in np.flatnonzero(no_library & ~inst_spef_only).tolist()]

    # --- pins as columns, net by net: per-pin facts are looked up once per distinct (cell, pin) and gathered by index
    pin_code, pin_names = pd.factorize(pin_name)  # codes in order of first appearance
    pin_code, pin_names = pin_code.astype(np.int64, copy=False), pin_names.tolist()

    # --- pin features
    def direction(inst: str | None, pin: str) -> str:
        if inst is None:
            return nl.ports[pin] if pin in nl.ports else spef_conns()[0].get((None, pin), "unknown")
        cell = instances[inst]
        lc = lib_cells.get(cell)
        if lc is not None and pin in lc.pins and lc.pins[pin].direction in ("input", "output", "inout"):
            return lc.pins[pin].direction
        lm = lef_macros.get(cell)
        if lm is not None and pin in lm.pins:
            return lm.pins[pin].direction if lm.pins[pin].direction in ("input", "output", "inout") else "inout"
        return spef_conns()[0].get((inst, pin), nl.pin_directions.get((inst, pin), "unknown"))

    def by_cell(cell: str, pin: str) -> tuple[str | None, float]:
        """What the Liberty/LEF say of a cell pin: its direction (``None``: per instance, from the SPEF or the
        netlist) and Liberty capacitance (F, NaN where not known)."""
        lc, lm = lib_cells.get(cell), lef_macros.get(cell)
        if lc is not None and pin in lc.pins and lc.pins[pin].direction in ("input", "output", "inout"):
            d = lc.pins[pin].direction
        elif lm is not None and pin in lm.pins:
            d = lm.pins[pin].direction if lm.pins[pin].direction in ("input", "output", "inout") else "inout"
        else:
            d = None
        cap = lc.pins[pin].capacitance if lc is not None and pin in lc.pins else None
        return d, np.nan if cap is None else cap

    dir_codes: dict[str, int] = {}  # direction -> its code in pin_dir
    pin_dir = np.zeros(n_pins, dtype=np.int64)
    cap = np.full(n_pins, np.nan)  # Liberty capacitance (F) per pin, NaN where not known
    at_inst = np.flatnonzero(on_inst)
    width = max(len(pin_names), 1)
    key_of, keys = pd.factorize(inst_cell[owner[at_inst]] * width + pin_code[at_inst])
    facts = [by_cell(cells[k // width], pin_names[k % width]) for k in keys.tolist()]
    pin_dir[at_inst] = np.array([-1 if d is None else dir_codes.setdefault(d, len(dir_codes)) for d, _ in facts],
                                dtype=np.int64)[key_of]
    cap[at_inst] = np.array([c for _, c in facts], dtype=np.float64)[key_of]
    # per pin where no library says: ports (the netlist or SPEF port direction), and unknown cell pins
    for k in np.concatenate([np.flatnonzero(~on_inst), at_inst[pin_dir[at_inst] < 0]]).tolist():
        pin_dir[k] = dir_codes.setdefault(direction(pin_inst[k], pin_name[k]), len(dir_codes))
    dir_cols = {"input": 0, "output": 1, "inout": 2, "unknown": 3}
    dir_names = list(dir_codes)
    is_input = np.array([d == "input" for d in dir_names], dtype=bool)[pin_dir]
    is_output = np.array([d == "output" for d in dir_names], dtype=bool)[pin_dir]
    # A top-level input port drives the net inside the design; an output port is a sink.
    sink, driver = np.where(on_inst, is_input, is_output), np.where(on_inst, is_output, is_input)
    clock = (np.array([p.lower() in _CLOCK for p in pin_names], dtype=bool)[pin_code] |
             np.fromiter((n.lower().startswith(("clk", "clknet", "clock")) for n in net_names), dtype=bool,
                         count=len(net_names))[pin_net])
    px = np.zeros((n_pins, len(PIN_FEATURES)), dtype=np.float32)
    px[np.arange(n_pins), np.array([dir_cols[d] for d in dir_names], dtype=np.int64)[pin_dir]] = 1
    has_cap = ~np.isnan(cap)
    px[has_cap, 4], px[has_cap, 5] = np.log1p(cap[has_cap] * 1e15), 1
    px[:, 6], px[:, 7] = ~on_inst, clock
    px[at_inst, 8] = inst_spef_only[owner[at_inst]]

    # --- instance features, per distinct cell and gathered
    def area(cell: str) -> float | None:
        lc = lib_cells.get(cell)
        if lc is not None and lc.area:
            return lc.area
        lm = lef_macros.get(cell)
        return lm.area if lm is not None else None

    xy_known = placement and bool(nl.placement)
    pos: dict[str, tuple[float, float]] = {}
    if xy_known:
        for name, (x, y) in nl.placement.items():
            lm = lef_macros.get(instances.get(name, ""))
            if lm is not None and lm.width is not None:
                x, y = x + lm.width / 2, y + lm.height / 2
            pos[name] = (x, y)
    extent = max((max(abs(x), abs(y)) for x, y in pos.values()), default=1.0) or 1.0
    fam_col = {f: INSTANCE_FEATURES.index(f"family_{f}") for f in FAMILIES}
    ix = np.zeros((len(inst_names), len(INSTANCE_FEATURES)), dtype=np.float32)
    ix[:, 3:6] = np.log1p(np.stack([np.bincount(owner[on_inst], weights=w[on_inst], minlength=len(inst_names))
                                    for w in (np.ones(n_pins), sink, driver)], 1))
    cell_area = np.array([np.nan if (a := area(c)) is None else a for c in cells], dtype=np.float64)
    cell_drive = np.array([math.log2(drive_strength(c)) for c in cells], dtype=np.float64)
    cell_seq = np.array([(lib_cells[c].sequential if c in lib_cells else False) or cell_family(c) in ("dff", "latch")
                         for c in cells], dtype=bool)
    cell_fam = np.array([fam_col[cell_family(c)] for c in cells], dtype=np.int64)
    inst_area = cell_area[inst_cell]
    has_area = ~np.isnan(inst_area)
    areas = inst_area[has_area]
    ix[has_area, 0], ix[has_area, 1] = np.log1p(areas), 1
    ix[:, 2], ix[:, 6], ix[:, 7] = cell_drive[inst_cell], cell_seq[inst_cell], inst_spef_only
    ix[np.arange(len(inst_names)), cell_fam[inst_cell]] = 1
    for k, inst in enumerate(inst_names) if pos else ():
        if inst in pos:
            ix[k, 8], ix[k, 9], ix[k, 10] = pos[inst][0] / extent, pos[inst][1] / extent, 1

    # --- net features
    mean_area = float(np.mean(areas)) if areas.size else None
    pitches = [layer.pitch for layer in (lef.routing_layers() if lef is not None else []) if layer.pitch]
    nx_ = np.zeros((len(net_names), len(NET_FEATURES)), dtype=np.float32)
    nets = len(net_names)

    def per_net(weights: np.ndarray, on: np.ndarray | None = None) -> np.ndarray:
        """Sum of per-pin ``weights`` over each net's pins (pins in order: the same sums as a loop)."""
        return np.bincount(pin_net if on is None else pin_net[on], weights=weights if on is None else weights[on],
                           minlength=nets)

    fanout = per_net(sink.astype(np.float64))
    nx_[:, 0] = np.log1p(np.bincount(pin_net, minlength=nets).astype(np.float64))
    nx_[:, 1] = np.log1p(fanout)
    nx_[:, 2] = np.log1p(per_net(driver.astype(np.float64)))
    known = sink & ~np.isnan(cap)
    sink_cap, n_known = per_net(cap, known), per_net(np.ones(n_pins), known)
    has = n_known > 0
    nx_[has, 3] = np.log1p(sink_cap[has] * 1e15)
    nx_[has, 4] = n_known[has] / np.maximum(fanout[has], 1)
    if xy_known:
        members_of: dict[int, list[int]] = defaultdict(list)
        for k, nid in enumerate(pin_net.tolist()):
            members_of[nid].append(k)
        where = np.where(on_inst, pin_inst, pin_name).tolist()  # the instance, or the port, of each pin
        for nid, ks in members_of.items():
            pts = [pos[p] for p in (where[k] for k in ks) if p in pos]
            if pts:
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                w, h = max(xs) - min(xs), max(ys) - min(ys)
                nx_[nid, 5:9] = [math.log1p(w + h), math.log1p(w), math.log1p(h), 1]
    nx_[:, 9] = per_net((~on_inst).astype(np.float64)) > 0
    nx_[:, 10] = per_net(px[:, 7].astype(np.float64)) > 0
    if mean_area is not None:
        nx_[:, 11], nx_[:, 12] = math.log(mean_area), 1
    if pitches:
        nx_[:, 13], nx_[:, 14] = min(pitches), 1

    data = HeteroData()
    data["instance"].x = torch.from_numpy(ix)
    data["pin"].x = torch.from_numpy(px)
    data["net"].x = torch.from_numpy(nx_)
    data["instance"].feature_names = INSTANCE_FEATURES
    data["pin"].feature_names = PIN_FEATURES
    data["net"].feature_names = NET_FEATURES
    data["instance"].names = inst_names
    data["instance"].cells = inst_cell_names.tolist()
    pin_full = pin_name.copy()  # instance/pin, or the port
    pin_full[at_inst] = pin_inst[at_inst] + "/" + pin_name[at_inst]
    data["pin"].names = pin_full.tolist()
    data["net"].names = net_names
    pin_ids = torch.arange(n_pins)
    ip = torch.stack([torch.from_numpy(owner[on_inst]), pin_ids[torch.from_numpy(on_inst)]])
    pn = torch.stack([pin_ids, torch.from_numpy(pin_net)])
    data["instance", "has", "pin"].edge_index = ip
    data["pin", "of", "instance"].edge_index = ip.flip(0)
    data["pin", "on", "net"].edge_index = pn
    data["net", "connects", "pin"].edge_index = pn.flip(0)

    # --- labels
    total = torch.zeros(len(net_names), dtype=torch.float64)
    ground = torch.zeros(len(net_names), dtype=torch.float64)
    mask = torch.zeros(len(net_names), dtype=torch.bool)
    spef_ground = spef.ground_caps()
    spef_of = spef_at[kept_nets]  # each graph net's SPEF net, -1 for none
    size = np.bincount(pin_net, minlength=len(net_names))
    report.multi_pin_nets = int((size > 1).sum())
    report.unlabelled_nets = nl_names[kept_nets[spef_of < 0]].tolist()
    report.single_pin_unlabelled = nl_names[kept_nets[(spef_of < 0) & (size == 1)]].tolist()
    labelled = np.flatnonzero(spef_of >= 0)
    if len(labelled):
        spef_rows = list(map(list(spef.nets.values()).__getitem__, spef_of[labelled].tolist()))
        at = torch.from_numpy(labelled)
        total[at] = torch.from_numpy(np.fromiter(map(attrgetter("total_cap"), spef_rows), dtype=np.float64,
                                                 count=len(spef_rows)))
        ground[at] = torch.from_numpy(spef_ground[np.fromiter(map(attrgetter("index"), spef_rows), dtype=np.int64,
                                                              count=len(spef_rows))])
        mask[at] = True
    graph_id = np.where(in_nl >= 0, graph_net[np.maximum(in_nl, 0)], -1)  # each SPEF net's graph net, -1 for none
    for s in snames[(in_nl != -1) & (graph_id < 0)].tolist():
        skip("SPEF nets matched to supply nets", s)
    data["net"].total_cap, data["net"].ground_cap, data["net"].label_mask = total, ground, mask
    data["net"].y_total = log_scale(total, label_ref, label_decades).float()
    data["net"].y_ground = log_scale(ground, label_ref, label_decades).float()
    data["net"].ground_bucket = bucketize(ground)
    spef_names, pa, pb, pc = spef.coupling_arrays()
    ga, gb = (graph_id[pa], graph_id[pb]) if len(pa) else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    kept = (ga >= 0) & (gb >= 0)
    for a, b in zip(pa[~kept].tolist(), pb[~kept].tolist()):
        skip("coupled pairs touching an unmatched or supply net", f"{spef_names[a]}|{spef_names[b]}")
    pairs = np.stack([np.minimum(ga, gb), np.maximum(ga, gb)], 1)[kept]
    caps = pc[kept]
    for reason, count in spef.skipped.items():
        report.skipped[f"SPEF: {reason}"] += count
        report.skipped_names[f"SPEF: {reason}"] = list(spef.skipped_names.get(reason, []))
    data.coupling_index = torch.from_numpy(pairs).reshape(-1, 2).t().contiguous()
    data.coupling_cap = torch.from_numpy(np.ascontiguousarray(caps, dtype=np.float64))
    data.coupling_y = log_scale(data.coupling_cap, label_ref, label_decades).float()
    data.label_ref, data.label_decades = label_ref, label_decades
    data.design = design.name

    report.nodes = {t: data[t].num_nodes for t in ("instance", "pin", "net")}
    report.edges = {"instance-pin": ip.size(1), "pin-net": pn.size(1)}
    report.coupled_pairs = len(pairs)
    m = mask.numpy()
    report.labels = {
        "total_cap_fF": _stats(total.numpy()[m], 1e15), "ground_cap_fF": _stats(ground.numpy()[m], 1e15),
        "coupling_cap_fF": _stats(data.coupling_cap.numpy(), 1e15),
        "ground_bucket_counts": {f"b{k}": float(v) for k, v in
                                 enumerate(torch.bincount(data["net"].ground_bucket[mask], minlength=5).tolist())},
        "total_clipped_at_1_with_circuitgcl_scale": {
            "fraction": float((log_scale(total[mask], CIRCUITGCL_REF, CIRCUITGCL_DECADES) >= 1).double().mean())
            if m.any() else 0.0},
    }
    return data, report


def homogeneous(data: HeteroData) -> Data:
    """One node set for encoders that need it: ``x`` [N, 3 + F_inst + F_pin + F_net] is the node-type one-hot then
    each type's features in its own column block (zeros elsewhere); edges are the four typed edge sets, both directions.
    ``node_type`` [N] (0 instance, 1 pin, 2 net) and ``net_offset`` (nets are the last ``num_nets`` nodes)."""
    types = ("instance", "pin", "net")
    sizes = [data[t].num_nodes for t in types]
    widths = [data[t].x.size(1) for t in types]
    offsets = np.cumsum([0] + sizes)
    cols = np.cumsum([3] + widths)
    x = torch.zeros(int(offsets[-1]), int(cols[-1]))
    for k, t in enumerate(types):
        x[offsets[k]:offsets[k + 1], k] = 1
        x[offsets[k]:offsets[k + 1], cols[k]:cols[k + 1]] = data[t].x
    off = dict(zip(types, offsets[:3].tolist()))
    edges = []
    for (src, _, dst), store in zip(data.edge_types, data.edge_stores):
        ei = store.edge_index
        edges.append(torch.stack([ei[0] + off[src], ei[1] + off[dst]]))
    out = Data(x=x, edge_index=torch.cat(edges, 1), num_nodes=int(offsets[-1]))
    out.node_type = torch.cat([torch.full((n,), k, dtype=torch.long) for k, n in enumerate(sizes)])
    out.net_offset = off["net"]
    out.num_nets = sizes[2]
    return out
