r"""Netlist-context features of each net: what proxies its wire length when no placement is known (issue 23).

A net's capacitance is mostly wire, and the wire's length follows from where its pins sit, which a netlist without
placement does not say. What it does say, and a per-net feature row (:data:`graphrep.data.circuits.graph.NET_FEATURES`)
does not: how strong the driver is (synthesis upsizes the drivers of long or heavily loaded nets, and buffers them),
what the sinks are, and how far the net's neighbourhood spreads (a net whose cells touch many other nets sits in a
large, spread-out region; Rent's rule in small). :func:`netlist_context` computes these from the design's own graph
(no labels, so it applies to an evaluation design as to a training one) and appends them to ``net_x``; the GNN head
and the GBM baseline both read ``net_x``.

Columns (:data:`CONTEXT_FEATURES`, per net; means over an empty set are 0, with the count saying it is empty):

- ``drv_log2_drive``, ``drv_log_area``, ``drv_log_pins``: mean over the net's driving instance pins (direction
  output) of the instance's drive strength, log area and log pin count; ``drv_buffer`` the share of drivers that are
  buffers or inverters (``buf``/``inv``/``clkbuf``/``clkinv``/``dly``), ``drv_port`` whether a top-level port drives;
- ``sink_log_area_mean``, ``sink_log_area_max``, ``sink_seq``: the sink instances' mean and max log area and their
  share of sequential cells;
- ``log_nets_2hop``: :math:`\log(1 + k)`, ``k`` the number of other nets that share an instance with the net;
  ``log_deg_2hop``: :math:`\log(1 + \sum)` of those nets' pin counts; ``log_inst_3hop``: :math:`\log(1 + j)`, ``j``
  the distinct instances on those nets (the net's neighbourhood at net distance 1);
- ``drv_minus_fanout``: ``drv_log2_drive`` :math:`\cdot \ln 2 - \ln \max(1, s)`, ``s`` the net's sink pins (the
  log of drive per sink).

Locality (:data:`LOCALITY_FEATURES`, :func:`locality_columns`, ``netlist_context(..., locality=True)``): a placer puts
cells that are connected by several paths next to each other, so a net whose cells share neighbours through *other*
nets tends to be short. With :math:`S_n` the instances on net ``n`` and :math:`A` the instance adjacency through
the nets of at most ``max_instances`` instances (:math:`A_{uv} = 1` when ``u != v`` share such a net; clock, reset
and enable trees say nothing about where a cell sits), :math:`T_{nw} = \sum_{u \in S_n} A_{uw}` for
:math:`w \notin S_n`:

- ``log_ext``: :math:`\log(1 + |\{w \notin S_n: T_{nw} \ge 1\}|)`, the instances next to the net's instances;
- ``log_recon``: :math:`\log(1 + r_n)`, :math:`r_n = |\{w \notin S_n: T_{nw} \ge 2\}|`, those next to at least two
  of them (reconvergent neighbours);
- ``recon_share``: :math:`r_n / \max(1, |\{w: T_{nw} \ge 1\}|)`.

What they buy the GBM, leave one design out: trials ``gbm-ctx-n4000`` against ``gbm-ctx-loc-n4000`` of
``benchmarks/circuit_transfer_trials.py`` (``benchmarks/results/circuit_transfer_trials_locality.md``).

Antenna diodes (:data:`ANTENNA_FEATURES`, :func:`antenna_columns`, ``netlist_context(..., antenna=True)``): the
router's antenna repair adds a diode cell where a wire that collects charge during fabrication is long, so a diode on
a net marks a long wire (in the shared gf180 designs the nets with one have a scaled total capacitance 0.15-0.19
higher on average, about one decade, and 0.05-0.16 higher at the same 2-4 pins; what they buy GBM: the ``-ant``
trials, ``benchmarks/results/circuit_transfer_trials_antenna.md``). Only diodes of the netlist count; one that the
SPEF alone names (:data:`graphrep.data.circuits.graph.INSTANCE_FEATURES` ``spef_only``) comes from the file that
holds the labels:

- ``log_antenna``: :math:`\log(1 + d)`, ``d`` the antenna-diode instances (cell family ``antenna``) on the net;
- ``has_antenna``: whether ``d > 0``.

Net-name classes (:data:`NAME_CLASS_FEATURES`, :func:`name_class_columns`): the flow's naming conventions, not the
circuit's: Yosys names the nets it makes ``_<n>_``, OpenROAD's resizer the nets its buffers split off ``net<n>``
(repair_design buffers long and high-fanout wires), clock-tree synthesis ``clknet_...``; the rest are RTL names
and ports. In the shared designs the resizer's nets sit 0.01-0.15 higher on the scaled axis than the synthesis nets
in 9 of the 11 designs that have both. A netlist renamed or synthesised by another flow changes them, so they are a
trial (``-name`` of ``benchmarks/circuit_transfer_trials.py``), not a default:

- ``name_synth``, ``name_resizer``, ``name_cts``: one-hot of ``_<digits>_``, ``net<digits>``, ``clknet_*``
  (all three 0 for any other name).

Wire-load context (:data:`WIRELOAD_FEATURES`, :func:`wireload_columns`, ``netlist_context(..., wireload=True)``): what
a synthesis tool reads to choose a wire-load model when nothing is placed, the design's size. With :math:`A` the
total standard-cell area of the design's instances (:math:`\sum_i (e^{a_i} - 1)` over the instances with a library
area, :math:`a_i` their ``log_area_um2`` = :math:`\log(1 + \text{area} / \mu m^2)`), :math:`N` its nets and
:math:`I` its instances, every net of the design gets the same four columns:

- ``design_log10_area``: :math:`\log_{10}(1 + A / \mu m^2)`;
- ``design_log10_nets``, ``design_log10_instances``: :math:`\log_{10}(1 + N)`, :math:`\log_{10}(1 + I)`;
- ``design_edge_mm``: :math:`\sqrt{A} / 1000`, the edge in mm of a square die of that cell area (Rent's rule: the
  average wire length of a placed design grows with it, :math:`\bar L \propto \sqrt{A / I}\, I^{p - 1/2}` for a
  Rent exponent :math:`p > 1/2`); linear, where the other three are logarithms, so that a linear layer sees both.

What they buy, leave one design out: the ``-wl`` trials of ``benchmarks/circuit_transfer_trials.py``
(``benchmarks/results/circuit_transfer_trials_wireload.md``).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import scipy.sparse as sp
import torch

from graphrep.data.circuits.graph import INSTANCE_FEATURES, NET_FEATURES, PIN_FEATURES

from .training import CircuitInputs

CONTEXT_FEATURES = ["drv_log2_drive", "drv_log_area", "drv_log_pins", "drv_buffer", "drv_port", "sink_log_area_mean",
                    "sink_log_area_max", "sink_seq", "log_nets_2hop", "log_deg_2hop", "log_inst_3hop",
                    "drv_minus_fanout"]
LOCALITY_FEATURES = ["log_ext", "log_recon", "recon_share"]
ANTENNA_FEATURES = ["log_antenna", "has_antenna"]
NAME_CLASS_FEATURES = ["name_synth", "name_resizer", "name_cts"]
_NAME_CLASSES = [re.compile(r"_\d+_"), re.compile(r"net\d+"), re.compile(r"clknet_.*")]
WIRELOAD_FEATURES = ["design_log10_area", "design_log10_nets", "design_log10_instances", "design_edge_mm"]
_BUFFERS = ("buf", "inv", "clkbuf", "clkinv", "dly")


def _incidence(src: np.ndarray, dst: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]
               ) -> sp.csr_matrix:
    """Binary [rows, cols] matrix of the edges ``src -> dst`` mapped by ``rows``/``cols`` (node id -> position)."""
    m = sp.csr_matrix((np.ones(src.size), (rows[src], cols[dst])), shape=shape)
    m.data[:] = 1.0
    return m


def _row_mean(a: sp.csr_matrix, v: np.ndarray) -> np.ndarray:
    count = np.asarray(a.sum(1)).ravel()
    return np.where(count > 0, (a @ v) / np.maximum(count, 1), 0.0)


def _incidence_blocks(inputs: CircuitInputs) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray, np.ndarray]:
    """(net x pin, pin x instance) binary incidences over the design's nets in the order of ``net_index``, and the
    pin and instance feature rows, from the homogeneous ``x`` (type one-hot, then the instance, pin and net blocks)
    and the graph."""
    x = inputs.x.double().numpy()
    width = 3 + len(INSTANCE_FEATURES) + len(PIN_FEATURES) + len(NET_FEATURES)
    if x.shape[1] != width:
        raise ValueError(f"design {inputs.name}: features of width {x.shape[1]} are not those of "
                         f"graphrep.data.circuits.graph ({width})")
    kind = x[:, :3].argmax(1)
    pos = np.full(x.shape[0], -1)
    ids = {k: np.nonzero(kind == k)[0] for k in range(3)}
    for k in (0, 1):
        pos[ids[k]] = np.arange(ids[k].size)
    net_pos = np.full(x.shape[0], -1)
    net_pos[inputs.net_index.numpy()] = np.arange(inputs.net_index.numel())
    n_inst, n_pin, n_net = ids[0].size, ids[1].size, inputs.net_index.numel()
    src, dst = inputs.csr.edge_index().numpy()
    on = (kind[src] == 2) & (kind[dst] == 1) & (net_pos[src] >= 0)
    np_ = _incidence(src[on], dst[on], net_pos, pos, (n_net, n_pin))
    of = (kind[src] == 1) & (kind[dst] == 0)
    pi = _incidence(src[of], dst[of], pos, pos, (n_pin, n_inst))
    return np_, pi, x[ids[1]], x[ids[0]]


def _net_instances(np_: sp.csr_matrix, pi: sp.csr_matrix) -> sp.csr_matrix:
    """Binary [M, I]: net ``n`` has a pin on instance ``i`` (from :func:`_incidence_blocks`' net x pin and pin x
    instance incidences)."""
    net_inst = (np_ @ pi).tocsr()
    net_inst.data[:] = 1.0
    return net_inst


def context_columns(inputs: CircuitInputs, blocks: tuple | None = None) -> np.ndarray:
    """[M, len(CONTEXT_FEATURES)] float64, the columns of :data:`CONTEXT_FEATURES` for the design's nets in the order
    of ``net_index``. Reads the homogeneous ``x`` (type one-hot, then the instance, pin and net blocks) and the graph
    (``blocks``: their :func:`_incidence_blocks`, when the caller has them already)."""
    np_, pi, pins, inst = blocks or _incidence_blocks(inputs)
    inst_col = {f: 3 + k for k, f in enumerate(INSTANCE_FEATURES)}
    pin_col = {f: 3 + len(INSTANCE_FEATURES) + k for k, f in enumerate(PIN_FEATURES)}
    n_net = np_.shape[0]
    out_pin = pins[:, pin_col["dir_output"]] > 0.5
    port_pin = pins[:, pin_col["is_port"]] > 0.5
    drv = np_ @ sp.diags(out_pin.astype(float))
    sink = np_ - drv
    drv_inst = drv @ pi
    drv_inst.data[:] = 1.0
    sink_inst = sink @ pi
    sink_inst.data[:] = 1.0
    drive = inst[:, inst_col["log2_drive"]]
    area = inst[:, inst_col["log_area_um2"]]
    npins = inst[:, inst_col["log_signal_pins"]]
    buffer = sum(inst[:, inst_col[f"family_{f}"]] for f in _BUFFERS)
    seq = inst[:, inst_col["sequential"]]
    sink_area_max = np.zeros(n_net)
    if sink_inst.nnz:
        sink_area_max = (sink_inst @ sp.diags(area - area.min() + 1.0)).max(1).toarray().ravel()
        sink_area_max = np.where(sink_area_max > 0, sink_area_max + area.min() - 1.0, 0.0)

    net_inst = _net_instances(np_, pi)
    near = net_inst @ net_inst.T
    near.data[:] = 1.0
    near.setdiag(0)
    near.eliminate_zeros()
    degree = inputs.degree.double().numpy()
    reach = near @ net_inst
    fanout = np.log(np.maximum(np.asarray(sink.sum(1)).ravel(), 1.0))
    drv_drive = _row_mean(drv_inst, drive)
    cols = [drv_drive, _row_mean(drv_inst, area), _row_mean(drv_inst, npins), _row_mean(drv_inst, buffer),
            np.asarray((drv @ port_pin.astype(float)) > 0, dtype=float).ravel(), _row_mean(sink_inst, area),
            sink_area_max, _row_mean(sink_inst, seq), np.log1p(np.diff(near.indptr)), np.log1p(near @ degree),
            np.log1p(np.diff(reach.indptr)), drv_drive * np.log(2.0) - fanout]
    return np.stack(cols, 1)


def locality_columns(inputs: CircuitInputs, max_instances: int = 20, blocks: tuple | None = None) -> np.ndarray:
    """[M, len(LOCALITY_FEATURES)] float64, the columns of :data:`LOCALITY_FEATURES` (module docstring) for the
    design's nets in the order of ``net_index``; ``max_instances``: the largest net (in instances) whose instances
    count as adjacent; ``blocks`` as in :func:`context_columns`."""
    if max_instances < 2:
        raise ValueError(f"max_instances must be >= 2 (a net joins at least two instances), got {max_instances}")
    np_, pi, _, _ = blocks or _incidence_blocks(inputs)
    net_inst = _net_instances(np_, pi)
    size = np.asarray(net_inst.sum(1)).ravel()
    adj = (net_inst.T @ sp.diags((size <= max_instances).astype(float)) @ net_inst).tocsr()
    adj.setdiag(0)
    adj.eliminate_zeros()
    adj.data[:] = 1.0
    reach = (net_inst @ adj).tocsr()  # [M, I]: T_nw, how many of the net's instances are next to w
    reach = (reach - reach.multiply(net_inst)).tocsr()  # w outside S_n only
    reach.eliminate_zeros()
    ext = np.diff(reach.indptr).astype(float)
    twice = reach.copy()
    twice.data = (twice.data >= 2).astype(float)
    recon = np.asarray(twice.sum(1)).ravel()
    return np.stack([np.log1p(ext), np.log1p(recon), recon / np.maximum(ext, 1.0)], 1)


def antenna_columns(inputs: CircuitInputs, blocks: tuple | None = None) -> np.ndarray:
    """[M, len(ANTENNA_FEATURES)] float64, the columns of :data:`ANTENNA_FEATURES` (module docstring) for the
    design's nets in the order of ``net_index``; ``blocks`` as in :func:`context_columns`."""
    np_, pi, _, inst = blocks or _incidence_blocks(inputs)
    col = {f: 3 + k for k, f in enumerate(INSTANCE_FEATURES)}
    diode = (inst[:, col["family_antenna"]] > 0.5) & (inst[:, col["spef_only"]] < 0.5)
    net_inst = _net_instances(np_, pi)
    count = net_inst @ diode.astype(np.float64)
    return np.stack([np.log1p(count), (count > 0).astype(np.float64)], 1)


def name_class_columns(names: list[str]) -> np.ndarray:
    """[M, len(NAME_CLASS_FEATURES)] float64: for each net name (the graph's ``data["net"].names``, in the order of
    ``net_index``), the one-hot of its class (module docstring; the whole name must match)."""
    out = np.zeros((len(names), len(_NAME_CLASSES)), dtype=np.float64)
    for k, pattern in enumerate(_NAME_CLASSES):
        out[:, k] = [pattern.fullmatch(n) is not None for n in names]
    return out


def design_size(inputs: CircuitInputs) -> dict[str, float]:
    """The design-level values of :data:`WIRELOAD_FEATURES` (module docstring), by name: total cell area :math:`A`
    of the instances with a library area, nets :math:`N` (rows of ``net_x``), instances :math:`I` (nodes of type
    instance in ``x``)."""
    x = inputs.x.double().numpy()
    width = 3 + len(INSTANCE_FEATURES) + len(PIN_FEATURES) + len(NET_FEATURES)
    if x.shape[1] != width:
        raise ValueError(f"design {inputs.name}: features of width {x.shape[1]} are not those of "
                         f"graphrep.data.circuits.graph ({width})")
    inst = x[x[:, :3].argmax(1) == 0] if x.shape[0] else x
    known = inst[:, 3 + INSTANCE_FEATURES.index("has_area")] > 0.5
    area = float(np.expm1(inst[known, 3 + INSTANCE_FEATURES.index("log_area_um2")]).sum())
    values = [np.log10(1.0 + area), np.log10(1.0 + inputs.net_x.size(0)), np.log10(1.0 + inst.shape[0]),
              np.sqrt(area) / 1000.0]
    return dict(zip(WIRELOAD_FEATURES, map(float, values)))


def wireload_columns(inputs: CircuitInputs) -> np.ndarray:
    """[M, len(WIRELOAD_FEATURES)] float64: :func:`design_size`'s values, the same row on every net."""
    row = np.asarray(list(design_size(inputs).values()), dtype=np.float64)
    return np.tile(row, (inputs.net_x.size(0), 1))


def netlist_context(inputs: CircuitInputs, locality: bool = False, wireload: bool = False,
                    antenna: bool = False) -> CircuitInputs:
    """``inputs`` with :data:`CONTEXT_FEATURES` appended to ``net_x`` ([M, F_net] -> [M, F_net + 12]), with
    ``locality`` then :data:`LOCALITY_FEATURES` (+3 columns), with ``wireload`` then :data:`WIRELOAD_FEATURES` (+4)
    and with ``antenna`` then :data:`ANTENNA_FEATURES` (+2); the graph and ``x`` are unchanged."""
    blocks = _incidence_blocks(inputs)  # built once for all
    cols = [context_columns(inputs, blocks=blocks)] + ([locality_columns(inputs, blocks=blocks)] if locality else [])
    cols += [wireload_columns(inputs)] if wireload else []
    cols += [antenna_columns(inputs, blocks=blocks)] if antenna else []
    extra = torch.as_tensor(np.concatenate(cols, 1), dtype=inputs.net_x.dtype)
    return dataclasses.replace(inputs, net_x=torch.cat([inputs.net_x, extra], 1))
