"""The molecule recipes on MoleculeNet classification sets, scaffold split, beside a fingerprint random forest.

Rows (the same as the main job's, :mod:`graphrep.tasks.molecules.main_job`, on the same split and seeds): RF on Morgan
fingerprints; GIN from scratch; GIN fine-tuned from the shipped pre-trained encoder; the hybrid (that GIN + ECFP counts
+ RDKit descriptors readout); the ensemble of the hybrid's seeds. Test ROC-AUC at the best validation epoch, mean ±
sample std over seeds. ``--jobs N`` runs N data sets at a time in child processes (one core each); with ``--work DIR``
a data set already finished there by an earlier invocation is read back, not rerun. Writes
benchmarks/results/moleculenet.{json,md,png}.

    python benchmarks/moleculenet.py --root ../shared/data --epochs 3 --seeds 0,1,2 --jobs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from graphrep.data import get_card
from graphrep.nn.molecule.pretrained import pretrained_card
from graphrep.tasks.molecules.main_job import MainJobConfig, run_main_job

DATASETS = ["bbbp", "bace", "clintox", "tox21", "sider"]
COLUMN = {"bbbp": "BBBP", "bace": "BACE", "clintox": "ClinTox", "tox21": "Tox21", "sider": "SIDER", "hiv": "HIV",
          "toxcast": "ToxCast"}
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--encoder", default="pretrained:attrmask-moses")
    p.add_argument("--readout", default="ecfp+rdkit")
    p.add_argument("--rf-trees", type=int, default=500)
    p.add_argument("--jobs", type=int, default=1, help="data sets run at a time (child processes)")
    p.add_argument("--work", default=None, help="checkpoints (default: a temporary folder)")
    p.add_argument("--partial", help=argparse.SUPPRESS)  # child mode: write this data set's rows here
    p.add_argument("--out", default=str(RESULTS / "moleculenet"))
    return p.parse_args()


def run_one(args, name: str, work: str) -> dict:
    start = time.perf_counter()
    config = MainJobConfig(dataset=name, root=args.root, epochs=args.epochs,
                           seeds=[int(s) for s in args.seeds.split(",")], encoder=args.encoder,
                           readout=args.readout, rf_trees=args.rf_trees, out_dir=f"{work}/{name}")
    result = run_main_job(config)
    result["wall_seconds"] = time.perf_counter() - start
    return result


def run_children(args, names: list[str], work: str) -> dict[str, dict]:
    """Each data set in its own process, ``args.jobs`` at a time, largest first (by its card's row count, so that the
    parallel jobs end together); their rows read back from JSON."""
    pending = sorted(names, key=lambda n: -(get_card(n).rows or 0))
    running, out = [], {}
    while pending or running:
        while pending and len(running) < args.jobs:
            name = pending.pop(0)
            partial = Path(work) / f"{name}.json"
            if partial.is_file():  # finished by an earlier invocation with the same --work: reuse it
                out[name] = json.loads(partial.read_text())
                continue
            cmd = [sys.executable, __file__, "--root", args.root, "--datasets", name, "--epochs", str(args.epochs),
                   "--seeds", args.seeds, "--encoder", args.encoder, "--readout", args.readout, "--rf-trees",
                   str(args.rf_trees), "--work", work, "--partial", str(partial)]
            running.append((name, partial, subprocess.Popen(cmd)))
        time.sleep(5)
        for item in list(running):
            name, partial, proc = item
            if proc.poll() is not None:
                running.remove(item)
                if proc.returncode != 0:
                    raise SystemExit(f"{name}: child exited with {proc.returncode}")
                out[name] = json.loads(partial.read_text())
                print(f"{name} done ({out[name]['wall_seconds'] / 60:.1f} min)", flush=True)
    return out


def cell(stat: dict) -> str:
    return f"{stat['mean'] * 100:.1f}" if stat["n"] == 1 else f"{stat['mean'] * 100:.1f} ± {stat['std'] * 100:.1f}"


def table(results: dict[str, dict], names: list[str], args, wall: float) -> str:
    keys = list(results[names[0]]["rows"])
    lines = ["| model | " + " | ".join(COLUMN.get(n, n) for n in names) + " | avg |", "|" + "---|" * (len(names) + 2)]
    for key in keys:
        stats = [results[n]["rows"][key]["summary"]["test"]["roc_auc"] for n in names]
        avg = sum(s["mean"] for s in stats) / len(stats) * 100
        lines.append(f"| {results[names[0]]['rows'][key]['label']} | " + " | ".join(map(cell, stats))
                     + f" | {avg:.1f} |")
    card = pretrained_card(args.encoder) if args.encoder.startswith("pretrained:") else None
    scale = (f"encoder {card['name']}: {card['method']} on {card['molecules_seen']:,} {card['corpus']['name']} "
             f"molecules ({card['corpus'].get('subset', '')}), {card['pretraining_seconds'] / 60:.0f} min of "
             f"pre-training on a shared CPU" if card else f"encoder {args.encoder}")
    lines += ["", f"Test ROC-AUC (%), scaffold split 80/10/10, mean ± std (ddof=1) over seeds {args.seeds} (the "
              f"ensemble averages the seeds' predictions: one number); GIN 5 x 300, {args.epochs} fine-tuning epochs "
              f"(the published protocol uses 100), batch 32, Adam 1e-3, dropout 0.5, EMA 0.9, test at the best "
              f"validation epoch; hybrid readout {args.readout}; RF {args.rf_trees} trees on 2048-bit ECFP4; {scale}. "
              f"{platform.machine()}, 1 thread per data set, {args.jobs} at a time, CPU shared with other jobs; "
              f"total {wall / 60:.1f} min."]
    return "\n".join(lines)


def plot(results: dict[str, dict], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = list(results[names[0]]["rows"])
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        stats = [results[n]["rows"][key]["summary"]["test"]["roc_auc"] for n in names]
        x = np.arange(len(names)) + i * width
        ax.bar(x, [s["mean"] * 100 for s in stats], width, yerr=[s["std"] * 100 for s in stats], capsize=2,
               label=results[names[0]]["rows"][key]["label"])
    ax.set_xticks(np.arange(len(names)) + width * (len(keys) - 1) / 2, [COLUMN.get(n, n) for n in names])
    ax.set_ylabel("test ROC-AUC (%; 50 = chance)")
    ax.set_ylim(40, 100)
    ax.set_title("MoleculeNet, scaffold split: test ROC-AUC per data set (error bars: std over seeds)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    names = args.datasets.split(",")
    work = args.work or tempfile.mkdtemp(prefix="graphrep-moleculenet-")
    if args.partial:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        Path(args.partial).write_text(json.dumps(run_one(args, names[0], work), default=str))
        return
    start = time.perf_counter()
    if args.jobs > 1:
        results = run_children(args, names, work)
    else:
        results = {name: run_one(args, name, work) for name in names}
    wall = time.perf_counter() - start
    text = table(results, names, args, wall)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"args": vars(args), "results": results, "table": text}, indent=2,
                                                   default=str))
    out.with_suffix(".md").write_text(text + "\n")
    plot(results, names, out.with_suffix(".png"))


if __name__ == "__main__":
    main()
