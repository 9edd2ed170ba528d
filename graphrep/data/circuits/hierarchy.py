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

import copy

from .names import join
from .source import CircuitFormatError
from .spef import Spef, SpefConn, SpefNet


def _prefixed_node(node: str, spef: Spef, inst: str, merged_into: dict[str, str]) -> str:
    """A block node name seen from the top: ``u/node``, or ``T:u/sub`` when its net was merged into top net ``T``."""
    net, sep, sub = node.rpartition(spef.delimiter)
    if sep and net in merged_into:
        return f"{merged_into[net]}{spef.delimiter}{join(inst, sub)}"
    return join(inst, node)


def apply_block_spef(top: Spef, block: Spef, instances: list[str]) -> Spef:
    """A new :class:`.Spef`: ``top`` with ``block`` applied to each of ``instances`` (see the module docstring).
    Units are already farads in both (the reader converts), so values add directly; ``top`` is not modified."""
    if top.delimiter != block.delimiter:
        raise CircuitFormatError(block.path, None, f"delimiter {block.delimiter!r} differs from the top SPEF's "
                                 f"{top.delimiter!r}")
    out = copy.deepcopy(top)
    out._pin_net = dict(top._pin_net)
    blocks = set(instances)
    for net in out.nets.values():  # pins of block instances are not cell pins: the block's nets replace them
        net.conns = [c for c in net.conns if c.instance not in blocks]
    for inst in instances:
        merged_into: dict[str, str] = {}
        for bnet in block.nets.values():
            ports = [c.pin for c in bnet.conns if c.instance is None]
            outer = next((top._pin_net[(inst, p)] for p in ports if (inst, p) in top._pin_net), None)
            if outer is not None and outer in out.nets:
                merged_into[bnet.name] = outer
        for bnet in block.nets.values():
            target_name = merged_into.get(bnet.name)
            if target_name is None:
                target = SpefNet(join(inst, bnet.name), bnet.total_cap, bnet.line)
                out.nets[target.name] = target
            else:
                target = out.nets[target_name]
                target.total_cap += bnet.total_cap
            for c in bnet.conns:
                if c.instance is None:  # the block port: reached from above through the top net
                    out._pin_net[(None, join(inst, c.pin))] = target.name
                    continue
                conn = SpefConn(c.kind, join(inst, c.instance), c.pin, c.direction, c.cell)
                target.conns.append(conn)
                out._pin_net[(conn.instance, conn.pin)] = target.name
            for node, cap in bnet.ground.items():
                key = _prefixed_node(node, block, inst, merged_into)
                target.ground[key] = target.ground.get(key, 0.0) + cap
            target.coupling += [(_prefixed_node(a, block, inst, merged_into),
                                 _prefixed_node(b, block, inst, merged_into), c) for a, b, c in bnet.coupling]
            target.resistors += [(_prefixed_node(a, block, inst, merged_into),
                                  _prefixed_node(b, block, inst, merged_into), r) for a, b, r in bnet.resistors]
    for reason, count in block.skipped.items():
        out.skipped[f"block {block.design}: {reason}"] += count * len(instances)
    return out
