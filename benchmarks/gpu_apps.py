"""One short training run of each application on the shared engine, on CUDA (or ``--accelerator``), timed.

Self-contained (no data files needed): circuits train on the two-gate test design (``tests/data/circuits``), with
CircuitGCL pre-training, in fp32 and bf16-mixed; mobility trains TrajMoE on a small synthetic city (the tests' routine
city, category embeddings from a fixed hash instead of the sentence encoder); molecules train a GIN on a ten-molecule
CSV through ``graphrep train``; modalities train the digits as patch graphs with GraphCL pre-training (scikit-learn's
bundled digits) through ``graphrep modality train``, in fp32 and bf16-mixed; TAG alignment trains the gated
GraphShaper on the tests' two-community toy TAG (texts embedded by the tests' hash encoder, no sentence model), in fp32
and bf16-mixed, then classifies it zero-shot on the CPU.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/gpu_apps.py --accelerator cuda --out $OUT/apps

Writes ``apps.json`` (per application: exit status, seconds, metrics, the engine's device) and each run's output
folder under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "data" / "circuits"))
sys.path.insert(0, str(REPO / "tests" / "tasks" / "mobility"))
sys.path.insert(0, str(REPO / "tests" / "models"))

#: 60 small molecules (alcohols, amines, chlorides by chain length) with a label that grows with the chain
MOLECULES = [("C" * n + end, n + {"O": 0.0, "N": 0.5, "Cl": 1.0}[end]) for n in range(1, 21) for end in ("O", "N", "Cl")]


def timed(name: str, results: dict, fn) -> None:
    start = time.perf_counter()
    try:
        results[name] = {"ok": True, **fn()}
    except Exception as exc:  # noqa: BLE001 - one application failing must not hide the others
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    results[name]["seconds"] = time.perf_counter() - start
    ok = results[name]["ok"] and results[name].get("exit", 0) == 0
    results[name]["ok"] = ok
    print(f"{name}: {'ok' if ok else results[name].get('error', 'exit %s' % results[name].get('exit'))} "
          f"({results[name]['seconds']:.1f} s)",
          flush=True)


def circuits(out: Path, engine_flags: list[str], precision: str) -> dict:
    from circuit_fixtures import DESIGN_SPEF, DESIGN_VERILOG, LIB

    from graphrep import cli

    design = out / "design"
    design.mkdir(parents=True, exist_ok=True)
    (design / "top.v").write_text(DESIGN_VERILOG)
    (design / "top.spef").write_text(DESIGN_SPEF)
    (design / "cells.lib").write_text(LIB)
    run = out / f"run-{precision}"
    code = cli.main(["circuit", "train", "--train", str(design), "--eval", str(design), "--epochs", "200",
                     "--pretrain-epochs", "50", "--hidden", "32", "--layers", "2", "--out", str(run), "--overwrite",
                     "--precision", precision, *engine_flags])
    metrics = json.loads((run / "metrics.json").read_text()) if code == 0 else {}
    return {"exit": code, "eval": metrics.get("eval"), "engine": metrics.get("engine")}


def mobility(out: Path, settings) -> dict:
    import torch
    from test_mobility_training import fake_embed, write_city

    from graphrep.data.mobility import load_checkins
    from graphrep.models.trajmoe import TrajMoE
    from graphrep.tasks.mobility.training import TrainSettings, evaluate_model, prepare_city, train_model
    from graphrep.train.engine import Engine

    c = load_checkins(write_city(out / "city", users=16, per_user=80), city="c")
    data = prepare_city("c", checkins=c, embed_categories=fake_embed, length=8)
    torch.manual_seed(0)
    model = TrajMoE(category_dim=8, dim=32, heads=2, expert_hidden=32, max_len=8)
    engine = Engine(settings)
    info = train_model(model, data, TrainSettings(epochs=5, lr=1e-2, batch_size=8, patience=5), engine)
    return {"test": evaluate_model(model, data), "device": str(next(model.parameters()).device),
            "train_seconds": info["train_seconds"], "tokens_per_s": info["tokens_per_s"]}


def molecules(out: Path, engine_flags: list[str]) -> dict:
    from graphrep import cli

    csv = out / "tiny.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    csv.write_text("smiles,y\n" + "".join(f"{s},{y}\n" for s, y in MOLECULES))
    run = out / "run"
    code = cli.main(["train", "--data", str(csv), "--label-columns", "y", "--split", "random", "--seeds", "0",
                     "--epochs", "3", "--layers", "2", "--hidden", "32", "--batch-size", "4", "--no-baseline",
                     "--no-progress", "--out", str(run), "--overwrite", *engine_flags])
    results = json.loads((run / "results.json").read_text()) if code == 0 else {}
    return {"exit": code, "test": results.get("gin", [{}])[0].get("test"), "config": {
        k: results.get("config", {}).get(k) for k in ("accelerator", "devices", "precision")}}


def modalities(out: Path, engine_flags: list[str], precision: str) -> dict:
    from graphrep import cli

    run = out / f"run-{precision}"
    code = cli.main(["modality", "train", "--kind", "image", "--epochs", "5", "--pretrain-epochs", "2", "--hidden",
                     "32", "--seeds", "0", "--out", str(run), "--overwrite", "--precision", precision, *engine_flags])
    metrics = json.loads((run / "metrics.json").read_text()) if code == 0 else {}
    return {"exit": code, "summary": metrics.get("summary"), "engine": metrics.get("engine")}


def tag(settings) -> dict:
    import torch
    from test_graphshaper import FakeEncoder, toy_tag

    from graphrep.models import GraphShaper
    from graphrep.tasks.tag.alignment import AlignmentConfig, evaluate_zero_shot, train_alignment
    from graphrep.train.engine import Engine

    torch.manual_seed(0)
    data = toy_tag()
    model = GraphShaper(16, 16, 16, variant="gated", residual=True, text_encoder=FakeEncoder())
    engine = Engine(settings)
    hist = train_alignment(model, data, AlignmentConfig(
        epochs=40, lr=1e-2, batch_size=16, neighbour_positives=True, gate_entropy=0.01, seed=7,
        hard_negatives={"num_hard": 4, "num_mix": 2, "num_self_mix": 2}), engine=engine)
    res = evaluate_zero_shot(model.cpu(), data, templates="{}")
    return {"first_loss": hist["loss"][0], "last_loss": hist["loss"][-1], "accuracy": res["accuracy"],
            "device": str(engine.device), "steps_per_s": hist.get("steps_per_s")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accelerator", default="cuda")
    p.add_argument("--out", default="/tmp/gpu-apps")
    args = p.parse_args(argv)
    from graphrep.train.trainer import LightningSettings

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    flags = ["--accelerator", args.accelerator, "--devices", "1"]
    results: dict = {"accelerator": args.accelerator}
    timed("circuits fp32", results, lambda: circuits(out / "circuits", flags, "32-true"))
    timed("circuits bf16-mixed", results, lambda: circuits(out / "circuits", flags, "bf16-mixed"))
    timed("mobility", results, lambda: mobility(out / "mobility", LightningSettings(
        accelerator=args.accelerator, progress=False)))
    timed("molecules", results, lambda: molecules(out / "molecules", flags))
    timed("modalities fp32", results, lambda: modalities(out / "modalities", flags, "32-true"))
    if args.accelerator != "cpu":  # mixed precision runs on CUDA only (the CLI refuses it on the CPU)
        timed("modalities bf16-mixed", results, lambda: modalities(out / "modalities", flags, "bf16-mixed"))
    for precision in ("32-true", "bf16-mixed"):
        timed(f"tag {precision}", results, lambda: tag(LightningSettings(
            accelerator=args.accelerator, precision=precision, progress=False)))
    (out / "apps.json").write_text(json.dumps(results, indent=1, default=str))
    return 0 if all(r["ok"] for r in results.values() if isinstance(r, dict)) else 1


if __name__ == "__main__":
    sys.exit(main())
