"""Process-global caches must survive Lightning's pattern: an op first runs under ``torch.inference_mode()``
(validation), then under autograd on another graph (the next training epoch or seed).

Regression: ``graphrep train --data esol --seeds 0,1`` died in seed 1 with "Cannot set version_counter for inference
tensor" because ``_cpu._ones`` cached an inference tensor.
"""

import pytest
import torch

from graphrep.ops import CSR, aggregate, edge_softmax, segment
from graphrep.ops import _cpu
from graphrep.ops.reference import aggregate_reference


def _graph(n: int, e: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (2, e), generator=g), n


@pytest.fixture(autouse=True)
def fresh_cache():
    saved = dict(_cpu._ONES)
    _cpu._ONES.clear()  # the first call of the test creates the buffer, as in a fresh process
    yield
    _cpu._ONES.clear()
    _cpu._ONES.update(saved)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("first", ["inference", "no_grad"])
def test_aggregate_after_inference_mode(reduce, first):
    ei, n = _graph(7, 20, 0)
    ctx = torch.inference_mode() if first == "inference" else torch.no_grad()
    with ctx:
        aggregate(torch.randn(n, 3), CSR.from_edge_index(ei, num_nodes=n), reduce)
    ei2, n2 = _graph(50, 300, 1)  # another graph, same dtype: the cached buffer is reused
    x = torch.randn(n2, 4, requires_grad=True)
    out = aggregate(x, CSR.from_edge_index(ei2, num_nodes=n2), reduce)
    out.square().sum().backward()
    ref = aggregate_reference(x.detach(), ei2, n2, reduce)
    torch.testing.assert_close(out.detach(), ref.to(out.dtype), rtol=1e-5, atol=1e-5)
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_segment_and_softmax_after_inference_mode():
    ei, n = _graph(6, 15, 2)
    csr = CSR.from_edge_index(ei, num_nodes=n)
    ptr = torch.tensor([0, 2, 6])
    with torch.inference_mode():
        segment(torch.randn(6, 2), ptr, "sum")
        edge_softmax(torch.randn(15), csr)
    x = torch.randn(6, 2, requires_grad=True)
    s = torch.randn(15, requires_grad=True)
    (segment(x, ptr, "sum").sum() + edge_softmax(s, CSR.from_edge_index(ei, num_nodes=n)).square().sum()).backward()
    torch.testing.assert_close(segment(x.detach(), ptr, "sum"), torch.stack([x[:2].sum(0), x[2:].sum(0)]).detach())
    assert x.grad is not None and s.grad is not None


def test_cached_buffer_is_not_an_inference_tensor():
    with torch.inference_mode():
        _cpu._ones(10, torch.float32)
    assert not _cpu._ONES[torch.float32].is_inference()
