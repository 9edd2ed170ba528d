"""Reading checkpoints safely, and the run signature that ties a checkpoint to the run it may continue.

:func:`read_checkpoint` loads with ``weights_only=True`` only (tensors and plain data; never arbitrary pickles) and
turns every failure into one :class:`~graphrep.data.errors.CheckpointError` line that names the file. Every user file
that is ``torch.load``-ed goes through it or through :func:`graphrep.data.torchfile.load_torch_file` (which it uses).

A run signature is a plain dict written into every training checkpoint (key ``graphrep_signature``): the dataset's name
and content checksum (SMILES and labels), the split's checksum, the task type, the model's hyper-parameters (the
module's ``hparams``: encoder shape, task count, learning rate, target mean/std, ...) and the batch size and seed.
:func:`check_signature` refuses to resume from a checkpoint whose signature differs, naming each difference.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from graphrep.data.errors import CheckpointError
from graphrep.data.torchfile import load_torch_file

SIGNATURE_KEY = "graphrep_signature"


def refuse_past_total(done: int, total: int, phase: str, flag: str = "--epochs") -> None:
    """A resumed loop state that has already run ``done`` > ``total`` epochs is refused (:class:`CheckpointError`):
    continuing would do nothing, and the run would be reported as ``total`` epochs for a model trained longer."""
    if int(done) > total:
        raise CheckpointError(f"the checkpoint's {phase} phase is already at epoch {int(done)}, past {flag} {total}: "
                              f"give {flag} {int(done)} or more to continue it")


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint at ``path`` as a dict (``weights_only`` loading on CPU through
    :func:`graphrep.data.torchfile.load_torch_file`); one-line :class:`CheckpointError` that names the file."""
    state = load_torch_file(path, error=CheckpointError, what="checkpoint")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a checkpoint (holds a {type(state).__name__}, not a dict)")
    return state


def _digest(*arrays: np.ndarray | bytes) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(a if isinstance(a, bytes) else np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def tensor_digest(*arrays) -> str:
    """sha256 (first 16 hex digits) over tensors or arrays, in order: what a run signature records of its data."""
    return _digest(*(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a for a in arrays))


def dataset_checksum(dataset) -> str:
    """sha256 (first 16 hex digits) over the dataset's SMILES, in order, and its float32 label matrix."""
    smiles = "\n".join(getattr(dataset, "smiles", [])).encode()
    return _digest(smiles, dataset.y.float().numpy())


def _plain(value):
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def run_signature(dataset, split: dict, hparams: dict, batch_size: int) -> dict:
    """What a checkpoint must share with a run to be resumed by it (see the module docstring)."""
    return {"dataset": str(dataset.name), "dataset_sha256": dataset_checksum(dataset),
            "split_sha256": _digest(*(np.asarray(split[k], dtype=np.int64) for k in ("train", "valid", "test"))),
            "task_type": hparams.get("task_type"), "model": _plain(dict(hparams)), "batch_size": batch_size}


def _differences(saved, current, prefix: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(saved) | set(current), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in saved or key not in current:
                out.append(f"{name} only in the {'run' if key not in saved else 'checkpoint'}")
            else:
                out += _differences(saved[key], current[key], name)
        return out
    if isinstance(saved, (int, float)) and isinstance(current, (int, float)) and not isinstance(saved, bool):
        same = math.isclose(saved, current, rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(saved) and math.isnan(current))
    elif isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current):
        return [d for i, (s, c) in enumerate(zip(saved, current)) for d in _differences(s, c, f"{prefix}[{i}]")]
    else:
        same = saved == current
    return [] if same else [f"{prefix} {saved!r} in the checkpoint, {current!r} now"]


def check_signature(path: str | Path, signature: dict) -> None:
    """Raise :class:`CheckpointError` unless the checkpoint at ``path`` was written by a run with ``signature``."""
    saved = read_checkpoint(path).get(SIGNATURE_KEY)
    if saved is None:
        raise CheckpointError(f"{path}: no run signature (not written by `graphrep train`, or by an older version); "
                              "cannot check that it belongs to this run, so it is not resumed")
    check_signature_dict(path, saved, signature)


def check_signature_dict(path: str | Path, saved: dict, signature: dict) -> None:
    """Raise :class:`CheckpointError` naming each difference between ``saved`` (read from ``path``) and
    ``signature``."""
    diffs = _differences(saved, signature)
    if diffs:
        shown = "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
        raise CheckpointError(f"{path} belongs to another run: {shown}")


class RunSignature(Callback):
    """Writes ``signature`` into every checkpoint under :data:`SIGNATURE_KEY`."""

    def __init__(self, signature: dict):
        self.signature = signature

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[SIGNATURE_KEY] = self.signature


#: what a kept-for-use checkpoint holds (:func:`compact_checkpoint`): the weights, how to rebuild the module, the run
CHECKPOINT_ESSENTIALS = ("state_dict", "hyper_parameters", "hparams_name", SIGNATURE_KEY, "epoch", "global_step",
                         "pytorch-lightning_version")


def compact_checkpoint(path: str | Path, dtype: torch.dtype = torch.float16) -> int:
    """Rewrite the checkpoint at ``path`` for use, not for resuming: only :data:`CHECKPOINT_ESSENTIALS` (no optimiser
    state, loops, callbacks, EMA's copy of the raw weights), floating weights cast to ``dtype``. Loading casts them
    back into the module's float32 parameters (``load_state_dict`` copies across dtypes). Returns the new size in bytes.

    fp16 keeps 11 significant bits: a weight's relative rounding error is at most 2^-11 (4.9e-4); weights beyond
    fp16's range (|w| > 65504) keep float32."""
    path = Path(path)
    state = read_checkpoint(path)
    kept = {k: state[k] for k in CHECKPOINT_ESSENTIALS if k in state}
    limit = torch.finfo(dtype).max
    kept["state_dict"] = {k: v.to(dtype) if v.is_floating_point() and v.abs().max() <= limit else v
                          for k, v in state.get("state_dict", {}).items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(kept, tmp)
    tmp.replace(path)
    return path.stat().st_size
