"""The netlist schema every reader (Verilog, DEF, SPICE) produces: instances, their pin connections, nets, ports."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class Netlist:
    """A flat netlist with canonical names (:mod:`.names`).

    ``instances``: instance -> cell type. ``nets``: net -> list of ``(instance, pin)``; a top-level port is
    ``(None, port)``. ``ports``: port -> ``"input"``/``"output"``/``"inout"``. ``aliases``: every other name of a net
    (from ``assign`` or port connections) -> its name in ``nets``. ``placement``: instance or port -> ``(x, y)`` in
    microns, when the source gives it (DEF). ``pin_directions``: ``(instance, pin)`` -> direction when the source
    states it (SPICE does not; Verilog of leaf cells does not). ``params``: device -> its SPICE parameters and value.
    ``modules``: hierarchical instance that was flattened -> its module name (Verilog hierarchy).
    ``skipped`` counts what was not read, by reason, and
    ``skipped_names`` names it.
    """

    name: str
    source: str
    instances: dict[str, str] = field(default_factory=dict)
    nets: dict[str, list[tuple[str | None, str]]] = field(default_factory=lambda: defaultdict(list))
    ports: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    placement: dict[str, tuple[float, float]] = field(default_factory=dict)
    pin_directions: dict[tuple[str | None, str], str] = field(default_factory=dict)
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    skipped_names: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def skip(self, reason: str, item: str) -> None:
        self.skipped[reason] += 1
        self.skipped_names[reason].append(item)

    def resolve(self, name: str) -> str | None:
        """The net called ``name`` here (directly or by an alias), or ``None``."""
        if name in self.nets:
            return name
        return self.aliases.get(name)
