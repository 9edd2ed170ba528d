"""Pre-train the molecule GIN (5 x 300, pretrain-gnns features) on all of ``moses`` with AttrMasking, GraphCL and D-SLA
under a wall-clock budget each, and export each encoder as a shippable ``<method>-moses`` (fp16 ``.pt`` + card).

This is how the shipped encoders in ``graphrep/nn/molecule/weights`` are made. Each method runs
``run_pretraining`` (the code behind ``graphrep pretrain``) with resident batches on one device, ``--chunks``
checkpointed chunks per pass over the 1.58M molecules and a ``max_time`` budget; the budget, not a number of
epochs, ends the run, and the card records the chunks, molecules seen and seconds actually spent.

Run (a GPU; on a CPU it runs too, slowly)::

    python benchmarks/pretrain_moses.py --minutes attrmask=2.2 graphcl=1.2 dsla=1.0 --featurise-workers 12 \\
        --out runs/pretrain-moses

Writes ``<out>/<method>/`` (Lightning checkpoints, pretraining.json), ``<out>/weights/<method>-moses.{pt,json}`` and
``<out>/pretrain_moses.json`` (featurisation throughput, per-method molecules/s, losses, seconds).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from graphrep.data import load_corpus
from graphrep.tasks.molecules.pretraining import PretrainConfig, export_pretrained, run_pretraining


def parse_budgets(items: list[str]) -> dict[str, float]:
    budgets = {}
    for item in items:
        method, _, minutes = item.partition("=")
        if not minutes:
            raise SystemExit(f"--minutes {item!r}: give METHOD=MINUTES, e.g. attrmask=2.5")
        budgets[method] = float(minutes)
    return budgets


def max_time(minutes: float) -> str:
    seconds = int(round(minutes * 60))
    return f"00:{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", nargs="+", default=["attrmask=2.2", "graphcl=1.2", "dsla=1.0"],
                   help="METHOD=MINUTES of pre-training for each method, run in this order")
    p.add_argument("--root", help="folder holding dataset/data/train.csv.gz (else the installed molsets wheel)")
    p.add_argument("--limit", type=int, help="only the first N molecules of moses (a quick check)")
    p.add_argument("--featurise-workers", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--chunks", type=int, default=20, help="checkpointed chunks per pass over the corpus")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--hidden", type=int, default=300)
    p.add_argument("--out", default="runs/pretrain-moses")
    args = p.parse_args(argv)
    budgets = parse_budgets(args.minutes)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_float32_matmul_precision("high")  # TF32 on Ampere and later; no effect on a CPU

    start = time.perf_counter()
    corpus = load_corpus("moses", root=args.root, limit=args.limit, workers=args.featurise_workers)
    report = {"command": "python benchmarks/pretrain_moses.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
              "corpus": {"name": "moses", "molecules": len(corpus), "skipped": len(corpus.skipped),
                         "load_seconds": round(time.perf_counter() - start, 1),
                         "featurisation": {k: corpus.manifest.get(k) for k in
                                           ("molecules_per_s", "fresh_molecules", "wall_seconds", "workers")}},
              "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
              "torch": torch.__version__, "methods": {}}
    print(f"corpus: {len(corpus)} molecules, loaded in {report['corpus']['load_seconds']} s", flush=True)
    for method, minutes in budgets.items():
        config = PretrainConfig(method=method, corpus="moses", epochs=1000, batch_size=args.batch_size,
                                layers=args.layers, hidden=args.hidden, out_dir=str(out / method), progress=False,
                                accelerator=args.accelerator, resident=True, chunks=args.chunks,
                                max_time=max_time(minutes), checkpoint_every=10_000)
        try:
            summary = run_pretraining(config, corpus=corpus)
        except Exception as exc:  # one method failing must not lose the others' encoders
            report["methods"][method] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"{method}: FAILED {type(exc).__name__}: {exc}", flush=True)
            continue
        rows = summary["epochs"]
        seen = int(sum(r["molecules"] for r in rows))
        card = export_pretrained(
            summary["checkpoint"], f"{method}-moses", str(out / "weights"),
            corpus={"name": "moses", "molecules": len(corpus), "featurised": len(corpus),
                    "subset": f"all featurised molecules, in a seeded random order, {args.chunks} checkpointed "
                              f"chunks per pass; {seen / len(corpus):.2f} passes in the {minutes} minute budget"},
            command=f"{report['command']}  (run_pretraining with resident batches, batch {args.batch_size}, "
                    f"Adam 1e-3, max_time {config.max_time}, on {report['device']})")
        report["methods"][method] = {
            "minutes_budget": minutes, "chunks_trained": len(rows), "molecules_seen": seen,
            "passes": seen / len(corpus), "fit_seconds": round(summary["fit_seconds"], 1),
            "molecules_per_s": round(summary["molecules_per_s"]),
            "first_loss": rows[0].get("train/loss") if rows else None,
            "final_loss": rows[-1].get("train/loss") if rows else None,
            "final_metrics": {k: v for k, v in (rows[-1] if rows else {}).items() if k.startswith("train/")},
            "sha256": card["sha256"]}
        print(f"{method}: {len(rows)} chunks, {seen} molecules ({seen / len(corpus):.2f} passes) in "
              f"{summary['fit_seconds']:.0f} s, {summary['molecules_per_s']:.0f} mol/s, loss "
              f"{report['methods'][method]['first_loss']} -> {report['methods'][method]['final_loss']}", flush=True)
        (out / "pretrain_moses.json").write_text(json.dumps(report, indent=2, default=str))
    report["wall_seconds"] = round(time.perf_counter() - start, 1)
    (out / "pretrain_moses.json").write_text(json.dumps(report, indent=2, default=str))
    return 0 if all("error" not in m for m in report["methods"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
