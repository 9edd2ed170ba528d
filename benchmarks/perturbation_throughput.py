"""Throughput of D-SLA candidate generation: the batch-vectorised generator vs the per-molecule Python implementation.

Both take the same featurised ZINC molecules (pretrain-gnns two-feature graphs) and produce the same thing the
pre-training step consumes: one ``Batch`` holding every candidate of every molecule of a mini-batch.

* vectorised: ``Batch.from_data_list(molecules)`` then ``dsla_perturb(batch)`` (tensor ops on the whole batch);
* per-molecule: ``dsla_perturb_reference`` on each molecule (Python sets/lists, the way the public D-SLA code builds
  candidates in DataLoader workers) then ``Batch.from_data_list(all candidates)``.

Featurisation is done once, outside the timings. Single-threaded (``torch.set_num_threads(1)``) so that the number
measures work rather than how many cores the machine lends. Median over repeats of the molecules per second over the
whole set.

    PYTHONPATH=. python benchmarks/perturbation_throughput.py [--molecules 2048] [--batch-size 256] [--repeats 3]

Writes ``benchmarks/results/perturbation_throughput.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch_geometric.data import Batch, Data

from graphrep.data import smiles_to_data
from graphrep.data.transforms import (
    PerturbationConfig,
    bond_distribution,
    dsla_perturb,
    dsla_perturb_reference_batch,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SMILES = ROOT.parent / "shared" / "data" / "molecules" / "pretrain" / "zinc250k_jtvae_valid.txt.gz"
RESULTS = ROOT / "benchmarks" / "results"


def load_smiles(path: Path, limit: int) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(
            f"SMILES file {path} not found (expected ../shared/data/molecules/pretrain beside the checkout; "
            "pass --smiles FILE with one SMILES per line)"
        )
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        out = [line.split()[0] for line in f if line.strip()]
    return out[:limit]


def time_pass(fn, batches) -> float:
    start = time.perf_counter()
    for chunk in batches:
        fn(chunk)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smiles", type=Path, default=DEFAULT_SMILES)
    parser.add_argument("--molecules", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)

    featuriser_name = "graphrep.data.smiles_to_data(features='pretrain')"
    mols = [smiles_to_data(s, features="pretrain") for s in load_smiles(args.smiles, args.molecules)]
    mols = [Data(x=m.x, edge_index=m.edge_index, edge_attr=m.edge_attr) for m in mols]  # structure only
    batches = [mols[i : i + args.batch_size] for i in range(0, len(mols), args.batch_size)]
    dist = bond_distribution(mols)
    n_atoms = sum(m.num_nodes for m in mols)
    n_bonds = sum(m.edge_index.size(1) // 2 for m in mols)

    rows = []
    for strong in (False, True):
        cfg = PerturbationConfig(strong=strong)
        gen = torch.Generator().manual_seed(args.seed)

        def vectorised(chunk, cfg=cfg, gen=gen):
            return dsla_perturb(Batch.from_data_list(chunk), cfg, bond_dist=dist, generator=gen)

        def per_molecule(chunk, cfg=cfg, gen=gen):
            return dsla_perturb_reference_batch(chunk, cfg, bond_dist=dist, generator=gen)

        vectorised(batches[0])  # warm-up (allocator, lazy imports)
        per_molecule(batches[0][:8])
        t_vec, t_ref = [], []
        for _ in range(args.repeats):  # interleaved, so that load from other processes hits both alike
            t_vec.append(time_pass(vectorised, batches))
            t_ref.append(time_pass(per_molecule, batches))
        vec_rate = len(mols) / statistics.median(t_vec)
        ref_rate = len(mols) / statistics.median(t_ref)
        rows.append(
            {
                "candidates": cfg.total_candidates,
                "strong_candidate": strong,
                "vectorised_mol_per_s": round(vec_rate, 1),
                "per_molecule_mol_per_s": round(ref_rate, 1),
                "speedup": round(vec_rate / ref_rate, 2),
                "vectorised_seconds": [round(t, 4) for t in t_vec],
                "per_molecule_seconds": [round(t, 4) for t in t_ref],
            }
        )
        print(rows[-1])

    result = {
        "benchmark": "perturbation_throughput",
        "data": str(args.smiles.name),
        "molecules": len(mols),
        "mean_atoms": round(n_atoms / len(mols), 2),
        "mean_bonds": round(n_bonds / len(mols), 2),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "featuriser": featuriser_name,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "load_average_at_end": [round(x, 2) for x in __import__("os").getloadavg()],
        "config": "centre atom + 3-hop subgraph, edge ratio 0.2*i, 80% subgraph atoms masked; strong: 80% atoms, 0.8*E bonds",
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "perturbation_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# D-SLA perturbation throughput (CPU, 1 thread)",
        "",
        f"{len(mols)} ZINC molecules from `{args.smiles.name}` (mean {result['mean_atoms']} atoms, "
        f"{result['mean_bonds']} bonds), mini-batches of {args.batch_size}, median of {args.repeats} passes; "
        "both columns include collating the candidates into one `Batch`.",
        "",
        "| candidates per molecule | vectorised (mol/s) | per-molecule Python (mol/s) | speed-up |",
        "|---|---|---|---|",
    ]
    for r in rows:
        label = f"{r['candidates']} ({'with' if r['strong_candidate'] else 'no'} strong)"
        lines.append(f"| {label} | {r['vectorised_mol_per_s']:.0f} | {r['per_molecule_mol_per_s']:.0f} | {r['speedup']:.1f}x |")
    lines += [
        "",
        f"torch {torch.__version__}, Python {result['python']}, featuriser: {featuriser_name}; "
        f"machine shared with other jobs (load average {result['load_average_at_end'][0]} at the end), "
        "repeats interleaved so both columns see the same load.",
        "",
    ]
    (args.out / "perturbation_throughput.md").write_text("\n".join(lines))

    plot(rows, args.out / "perturbation_throughput.png")
    print((args.out / "perturbation_throughput.md").read_text())


def plot(rows: list[dict], path: Path) -> None:
    """Molecules per second of both generators, from the ``rows`` of ``perturbation_throughput.json``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    labels = [f"{r['candidates']} candidates" for r in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r["per_molecule_mol_per_s"] for r in rows], 0.4, label="per-molecule Python")
    ax.bar([x + 0.2 for x in xs], [r["vectorised_mol_per_s"] for r in rows], 0.4, label="vectorised")
    ax.set_xticks(list(xs), labels)
    ax.set_xlabel("perturbed candidates per molecule")
    ax.set_ylabel("molecules / s (1 CPU thread)")
    ax.set_title("D-SLA candidate generation")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
