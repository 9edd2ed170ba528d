r"""Hierarchical SPEF: a block's SPEF (``*DESIGN`` = a module name) applied to every instance of that module, merged
into the top design's SPEF, as ``read_spef -path <instance>`` does in OpenSTA for each instance.

For each instance ``u`` of the block's module:

- a block net ``n`` that reaches no block port becomes the net ``u/n``; its nodes, ``*CONN`` instances and coupling
  nodes are prefixed ``u/``;
- a block net on port ``p`` is the inside part of the top net ``T`` that connects ``u:p`` (the top SPEF's ``*CONN *I
  u:p``): the two parts are one physical net, so :math:`C_\mathrm{total}(T) \mathrel{+}= C_\mathrm{total}(n)`, its
  ground capacitors and coupling entries join ``T`` (nodes renamed ``T:u/sub``), its instance pins join ``T``'s
  ``*CONN`` list, and the top's ``u:p`` entry (a pin of a block, not of a cell) is dropped. A port net with no top net
  (unconnected above, or absent from the top SPEF) stays the net ``u/n``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict

import numpy as np

from .names import join
from .source import CircuitFormatError
from .spef import Parasitics, Spef, SpefConn, SpefNet


def _prefixed_node(node: str, spef: Spef, inst: str, merged_into: dict[str, str]) -> str:
    """A block node name seen from the top: ``u/node``, or ``T:u/sub`` when its net was merged into top net ``T``."""
    net, sep, sub = node.rpartition(spef.delimiter)
    if sep and net in merged_into:
        return f"{merged_into[net]}{spef.delimiter}{join(inst, sub)}"
    return join(inst, node)


def apply_block_spef(top: Spef, block: Spef, instances: list[str]) -> Spef:
    """A new :class:`.Spef`: ``top`` with ``block`` applied to each of ``instances`` (see the module docstring).
    Units are already farads in both (the reader converts), so values add directly; ``top`` is not modified.

    Nets keep their parasitics in one shared :class:`.Parasitics` (arrays in net order), so the result's nets are
    gathered as plain lists first and its :class:`.Parasitics` is built once at the end."""
    if top.delimiter != block.delimiter:
        raise CircuitFormatError(block.path, None, f"delimiter {block.delimiter!r} differs from the top SPEF's "
                                 f"{top.delimiter!r}")
    top_pins = top.pin_nets()
    pin_net = dict(top_pins)
    blocks = set(instances)
    nets: dict[str, _NetParts] = {}
    for net in top.nets.values():  # pins of block instances are not cell pins: the block's nets replace them
        nets[net.name] = _NetParts(net.total_cap, net.line, [c for c in net.conns if c.instance not in blocks],
                                   [(a, c) for a, _, c in _entries(net, "ground")], net.coupling, net.resistors)
    for inst in instances:
        merged_into: dict[str, str] = {}
        for bnet in block.nets.values():
            ports = [c.pin for c in bnet.conns if c.instance is None]
            outer = next((top_pins[(inst, p)] for p in ports if (inst, p) in top_pins), None)
            if outer is not None and outer in nets:
                merged_into[bnet.name] = outer
        for bnet in block.nets.values():
            target_name = merged_into.get(bnet.name)
            if target_name is None:
                target_name = join(inst, bnet.name)
                nets[target_name] = target = _NetParts(bnet.total_cap, bnet.line, [], [], [], [])
            else:
                target = nets[target_name]
                target.total_cap += bnet.total_cap
            for c in bnet.conns:
                if c.instance is None:  # the block port: reached from above through the top net
                    pin_net[(None, join(inst, c.pin))] = target_name
                    continue
                conn = SpefConn(c.kind, join(inst, c.instance), c.pin, c.direction, c.cell)
                target.conns.append(conn)
                pin_net[(conn.instance, conn.pin)] = target_name

            def node(name: str) -> str:
                return _prefixed_node(name, block, inst, merged_into)

            target.ground += [(node(a), c) for a, _, c in _entries(bnet, "ground")]
            target.coupling += [(node(a), node(b), c) for a, b, c in bnet.coupling]
            target.resistors += [(node(a), node(b), r) for a, b, r in bnet.resistors]
    skipped = Counter(top.skipped)
    for reason, count in block.skipped.items():
        skipped[f"block {block.design}: {reason}"] += count * len(instances)
    out = dataclasses.replace(top, ports=dict(top.ports), nets={}, skipped=skipped,
                              skipped_names=defaultdict(list, {k: list(v) for k, v in top.skipped_names.items()}),
                              parasitics=Parasitics(), connections=None, _pin_net=pin_net,
                              _pairs=None, keys=None)
    par = out.parasitics
    for i, (name, parts) in enumerate(nets.items()):
        out.nets[name] = SpefNet(name, parts.total_cap, parts.line, parts.conns, parasitics=par, index=i)
        for kind, rows in (("ground", parts.ground), ("coupling", parts.coupling), ("res", parts.resistors)):
            if rows:
                cols = list(zip(*rows))
                net = np.full(len(rows), i, dtype=np.int64)
                value = np.asarray(cols[-1], dtype=np.float64)
                b = par.ids(cols[1]) if kind != "ground" else None
                par.add(kind, net, value, par.ids(cols[0]), b)
    par.finish(len(out.nets))
    return out


@dataclasses.dataclass
class _NetParts:
    """One net of the merged SPEF while it is assembled: ground ``(node, F)``, coupling ``(node, node, F)`` and
    resistor ``(node, node, ohm)`` entries as lists."""

    total_cap: float
    line: int
    conns: list[SpefConn]
    ground: list[tuple[str, float]]
    coupling: list[tuple[str, str, float]]
    resistors: list[tuple[str, str, float]]


def _entries(net: SpefNet, kind: str) -> list[tuple[str, str, float]]:
    """A net's raw entries of ``kind`` (a repeated ground node stays repeated, as read)."""
    return [] if net.parasitics is None else net.parasitics.entries(kind, net.index)
