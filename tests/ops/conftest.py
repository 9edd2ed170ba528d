"""Kernel-test fixtures: the devices to run on (cpu, and cuda when present).

Without CUDA, Triton kernels run in Triton's interpreter, which must be switched on before triton is first imported;
graphrep imports triton lazily, so setting the variable here (at collection) is early enough.
"""

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param
