"""Which implementation runs an op: ``"torch"`` (CPU, torch's CSR products) or ``"triton"`` (CUDA, or CPU under
``TRITON_INTERPRET=1``). ``backend=None`` reads ``GRAPHREP_OPS_BACKEND`` (default ``"auto"``: Triton for CUDA
tensors, torch for CPU tensors)."""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType
from typing import Optional

import torch

BACKENDS = ("auto", "torch", "triton")


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def resolve(x: torch.Tensor, backend: Optional[str]) -> str:
    name = backend if backend is not None else os.environ.get("GRAPHREP_OPS_BACKEND", "auto")
    if name == "auto" and x.device.type == "cpu":  # the common case first: this runs on every op call
        return "torch"
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if name == "auto":
        name = "triton" if x.device.type == "cuda" else "torch"
    if name == "triton":
        if not triton_available():
            raise ValueError("backend 'triton' needs the triton package (pip install triton)")
        if x.device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
            raise ValueError(
                "backend 'triton' on CPU tensors runs the kernels in Triton's interpreter: set TRITON_INTERPRET=1 "
                "before triton is first imported"
            )
        if x.device.type not in ("cpu", "cuda"):
            raise ValueError(f"backend 'triton' supports CUDA (and CPU when interpreted) tensors, got {x.device}")
    elif x.device.type != "cpu":
        raise ValueError(f"backend 'torch' runs on CPU tensors only, got a tensor on {x.device}")
    return name


def module(name: str) -> ModuleType:
    """The implementation module; Triton is imported only when first used."""
    if name == "triton":
        from . import _triton

        return _triton
    from . import _cpu

    return _cpu
