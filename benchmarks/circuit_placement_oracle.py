"""How much of a net's capacitance its placement explains, and how much of that a netlist-only placement recovers:
on the designs whose DEF gives the real cell coordinates, each net's HPWL in the real placement against the
spectral stand-in of :mod:`graphrep.tasks.circuits.placement` (what the transfer benchmark can compute for every
design, from the netlist alone).

Per design with a DEF, over its labelled nets (total capacitance, the benchmark's scaled axis): Spearman's rank
correlation of the label with the net's pin count, with its HPWL in the real placement (``log_hpwl_um`` of
``build_graph(..., placement=True)``) and with its HPWL in the spectral placement (``log_place_hpwl_um``), and of
the two HPWLs with each other (all nets, and the nets without a top-level port, whose pads the netlist does not
place); and the R² of a least-squares line fitted *within the design* (5-fold cross-validation, folds seeded) on
log pin count alone, plus the spectral columns (HPWL, Steiner estimate), plus the real placement's (HPWL, bounding
box width and height). The last is an oracle (the real placement is what the router followed; the transfer
benchmark never reads it), the bound on what a better wire-length estimate could bring.

Usage::

    PYTHONPATH=. python benchmarks/circuit_placement_oracle.py --root ../shared/data

Writes ``benchmarks/results/circuit_placement_oracle.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from graphrep.data.circuits.graph import INSTANCE_FEATURES, NET_FEATURES, PIN_FEATURES
from graphrep.tasks.circuits.context import _incidence_blocks
from graphrep.tasks.circuits.placement import PLACEMENT_FEATURES, placement_columns
from graphrep.tasks.circuits.training import load_graphs, prepare

sys.path.insert(0, str(Path(__file__).resolve().parent))
from circuit_designs import DATA_ROOT  # noqa: E402

#: the designs of ../shared/data/circuits with a DEF (placed cell coordinates)
DEF_DESIGNS = ["gcd_nangate45", "gcd_sky130hs"]
FOLDS = 5


def cv_r2(x: np.ndarray, y: np.ndarray, folds: int = FOLDS, seed: int = 0) -> float:
    """Out-of-fold R² (pooled over the folds) of least squares with an intercept on the columns ``x`` [n, k]."""
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    pred = np.empty_like(y)
    a = np.c_[np.ones(len(y)), x]
    for f in range(folds):
        fit = np.linalg.lstsq(a[fold != f], y[fold != f], rcond=None)[0]
        pred[fold == f] = a[fold == f] @ fit
    return float(1.0 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def design_row(name: str, root: str) -> dict:
    inputs = prepare(load_graphs([name], root=root, placement=True)[name])
    mask = inputs.mask.numpy()
    y = inputs.y_total.numpy()[mask].astype(np.float64)
    net = inputs.net_x.numpy()[mask].astype(np.float64)
    if net[:, NET_FEATURES.index("has_hpwl")].min() < 0.5:
        raise SystemExit(f"{name}: some labelled nets have no DEF HPWL; this comparison needs a fully placed design")
    spectral = placement_columns(inputs)[mask]
    np_, _, pins, _ = _incidence_blocks(inputs)
    is_port = pins[:, 3 + len(INSTANCE_FEATURES) + PIN_FEATURES.index("is_port")] > 0.5
    port = (np.asarray(np_ @ is_port.astype(float)).ravel() > 0)[mask]
    pins_col = net[:, [NET_FEATURES.index("log_degree")]]
    real = net[:, [NET_FEATURES.index(c) for c in ("log_hpwl_um", "log_bbox_w_um", "log_bbox_h_um")]]
    spec = spectral[:, [PLACEMENT_FEATURES.index(c) for c in ("log_place_hpwl_um", "log_place_steiner_um")]]

    def rho(a, b):
        return float(spearmanr(a, b).correlation)

    return {"design": name, "nets": int(mask.sum()), "port_nets": int(port.sum()),
            "rho_label_pins": rho(y, pins_col[:, 0]), "rho_label_real_hpwl": rho(y, real[:, 0]),
            "rho_label_spectral_hpwl": rho(y, spec[:, 0]), "rho_real_spectral": rho(real[:, 0], spec[:, 0]),
            "rho_real_spectral_no_port": rho(real[~port, 0], spec[~port, 0]),
            "r2_pins": cv_r2(pins_col, y), "r2_pins_spectral": cv_r2(np.c_[pins_col, spec], y),
            "r2_pins_real": cv_r2(np.c_[pins_col, real], y),
            "columns": {"pins": pins_col, "spectral": np.c_[pins_col, spec], "real": np.c_[pins_col, real]}, "y": y,
            "scatter": {"y": y.round(5).tolist(), "real_hpwl": real[:, 0].round(5).tolist(),
                        "spectral_hpwl": spec[:, 0].round(5).tolist()}}


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(1.0 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def add_transfer(rows: list[dict]) -> None:
    """Per row, ``transfer_r2_<columns>``: the R² of the least-squares line fitted on the other rows' nets (pooled)
    and applied to this design's; drops the rows' arrays."""
    for r in rows:
        others = [o for o in rows if o is not r]
        for key in ("pins", "spectral", "real"):
            a = np.concatenate([np.c_[np.ones(len(o["y"])), o["columns"][key]] for o in others])
            fit = np.linalg.lstsq(a, np.concatenate([o["y"] for o in others]), rcond=None)[0]
            r[f"transfer_r2_{key}"] = r2(r["y"], np.c_[np.ones(len(r["y"])), r["columns"][key]] @ fit)
    for r in rows:
        del r["columns"], r["y"]


def write_markdown(rows: list[dict], path: Path) -> list[str]:
    md = ["| design | labelled nets (with a port) | Spearman label~pins | label~real HPWL | label~spectral HPWL | "
          "real~spectral HPWL (nets without a port) | R² pins | R² pins + spectral | R² pins + real placement | "
          "transfer R² pins / + spectral / + real |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        md.append(f"| {r['design']} | {r['nets']:,} ({r['port_nets']:,}) | {r['rho_label_pins']:.3f} | "
                  f"{r['rho_label_real_hpwl']:.3f} | {r['rho_label_spectral_hpwl']:.3f} | "
                  f"{r['rho_real_spectral']:.3f} ({r['rho_real_spectral_no_port']:.3f}) | {r['r2_pins']:.3f} | "
                  f"{r['r2_pins_spectral']:.3f} | {r['r2_pins_real']:.3f} | {r['transfer_r2_pins']:.3f} / "
                  f"{r['transfer_r2_spectral']:.3f} / {r['transfer_r2_real']:.3f} |")
    md += ["", f"Label: total capacitance on the benchmark's scaled axis. R²: a least-squares line fitted within the "
               f"design, {FOLDS}-fold cross-validated (out-of-fold predictions pooled); real placement: HPWL and "
               "bounding-box width and height from the DEF (an oracle: the transfer benchmark never reads it); "
               "spectral: HPWL and Steiner estimate in the netlist-only stand-in placement. Transfer: the same line "
               "fitted on the other design's nets (another PDK) and applied to this one's, no refit."]
    path.write_text("\n".join(md) + "\n")
    return md


def plot(rows: list[dict], path: Path) -> None:
    """Label against the real and the spectral HPWL, one row of panels per design."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 2, figsize=(8, 3.4 * len(rows)), squeeze=False)
    for r, (left, right) in zip(rows, axes):
        s = r["scatter"]
        for ax, key, label, rho in ((left, "real_hpwl", "real placement (DEF)", r["rho_label_real_hpwl"]),
                                    (right, "spectral_hpwl", "spectral stand-in", r["rho_label_spectral_hpwl"])):
            x, y = np.asarray(s[key]), np.asarray(s["y"])
            ax.scatter(x, y, s=5, alpha=0.5, label="labelled net")
            slope, icept = np.polyfit(x, y, 1)
            grid = np.linspace(x.min(), x.max(), 2)
            ax.plot(grid, icept + slope * grid, "k--", lw=0.8, label="least-squares line")
            ax.legend(fontsize=7, loc="lower right")
            ax.set_xlabel(f"log(1 + HPWL µm), {label}", fontsize=8)
            ax.set_ylabel("total cap, scaled: clip(log10(C / 1 aF) / 6, 0, 1)", fontsize=7)
            ax.set_title(f"{r['design']}: Spearman {rho:.2f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=DATA_ROOT)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = p.parse_args(argv)
    rows = [design_row(name, args.root) for name in DEF_DESIGNS]
    add_transfer(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "circuit_placement_oracle.json").write_text(json.dumps({"designs": rows, "folds": FOLDS}, indent=1))
    print("\n".join(write_markdown(rows, out / "circuit_placement_oracle.md")))
    plot(rows, out / "circuit_placement_oracle.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
