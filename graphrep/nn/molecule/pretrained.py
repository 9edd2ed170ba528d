"""Pre-trained molecule encoders shipped with the package, loadable offline by name.

Each lives in ``graphrep/nn/molecule/weights/`` as ``<name>.pt`` (a plain state dict of the :class:`GINEncoder`,
fp16 to keep the wheel small, read with ``torch.load(weights_only=True)``) beside ``<name>.json``, its card: the
encoder's configuration, corpus, method, epochs, molecules seen, the command that made it, and the sha256 of the
``.pt`` file, which :func:`pretrained_state` checks before loading. ``GINEncoder.from_pretrained("attrmask-moses")``
and ``graphrep finetune --from pretrained:attrmask-moses`` go through here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from ...data.errors import ChecksumError, InvalidInputError
from ...data.torchfile import load_torch_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
PREFIX = "pretrained:"


def pretrained_names(directory: str | os.PathLike | None = None) -> list[str]:
    """Names of the encoders whose card is in ``directory`` (default: the shipped ones)."""
    return sorted(p.stem for p in Path(directory or WEIGHTS_DIR).glob("*.json"))


def pretrained_card(name: str, directory: str | os.PathLike | None = None) -> dict:
    """The card of a shipped encoder (``pretrained:`` prefix allowed); an unknown name lists the known ones."""
    name = name[len(PREFIX):] if name.startswith(PREFIX) else name
    path = Path(directory or WEIGHTS_DIR) / f"{name}.json"
    if not path.is_file():
        raise InvalidInputError(f"no pre-trained encoder {name!r} (shipped: "
                                f"{', '.join(pretrained_names(directory)) or 'none'})")
    card = json.loads(path.read_text())
    card["path"] = str(path.with_name(card["file"]))
    return card


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pretrained_state(name: str, directory: str | os.PathLike | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(encoder configuration, float32 state dict)`` of a shipped encoder, after checking the file's sha256."""
    card = pretrained_card(name, directory)
    path = Path(card["path"])
    if not path.is_file():
        raise InvalidInputError(f"pre-trained encoder {card['name']!r}: weight file {path} is missing")
    got = file_sha256(path)
    if got != card["sha256"]:
        raise ChecksumError(f"{path}: sha256 {got[:16]}... does not match its card ({card['sha256'][:16]}...); "
                            "the weights are corrupted or were replaced")
    state = load_torch_file(path, what="pre-trained encoder")
    return dict(card["encoder"]), {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def export_encoder(state: dict[str, torch.Tensor], encoder: dict, name: str, directory: str | os.PathLike,
                   dtype: torch.dtype = torch.float16, **card) -> dict:
    """Write ``<name>.pt`` (floating tensors cast to ``dtype``) and ``<name>.json`` (``card`` + encoder, dtype,
    sha256, parameter count) into ``directory``; return the card."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    small = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous().clone() for k, v in state.items()}
    weights = directory / f"{name}.pt"
    torch.save(small, weights)
    full = {"name": name, "file": weights.name, **card, "encoder": dict(encoder), "dtype": str(dtype).split(".")[-1],
            "parameters": int(sum(v.numel() for k, v in small.items() if v.is_floating_point())),
            "sha256": file_sha256(weights), "bytes": weights.stat().st_size}
    (directory / f"{name}.json").write_text(json.dumps(full, indent=2) + "\n")
    return full
