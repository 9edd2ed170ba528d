"""The Triton kernels themselves: on CUDA when present, else on CPU in Triton's interpreter (TRITON_INTERPRET=1,
set by conftest). Graphs are tiny and CHUNK is lowered so hub rows still split into several items with partials."""

import pytest
import torch

from graphrep.ops import CSR, aggregate, edge_softmax, segment
from graphrep.ops.reference import aggregate_reference, edge_softmax_reference, random_graph, segment_reference

pytest.importorskip("triton")
DEV = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    from graphrep.ops import _triton

    monkeypatch.setattr(_triton, "CHUNK", 8)  # hub of 20 in-edges -> 3 items combined from partials
    monkeypatch.setattr(_triton, "GROUP", 2)  # ... in two combine levels (groups of 2 partials, then the groups)


def _graph():
    ei = random_graph(n=12, e=48, hub=20, empty=2, loops=2, multi=3, device=DEV)
    return ei, CSR.from_edge_index(ei, 12)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_triton_matches_reference(reduce):
    ei, csr = _graph()
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(12, 5, generator=gen, dtype=torch.float64).to(DEV).requires_grad_()
    w = (torch.rand(48, generator=gen, dtype=torch.float64) + 0.5).to(DEV).requires_grad_()
    out = aggregate(x, csr, reduce, w, backend="triton")
    ref = aggregate_reference(x, ei, 12, reduce, w)
    torch.testing.assert_close(out, ref)
    g = torch.randn(12, 5, generator=gen, dtype=torch.float64).to(DEV)
    for a, b in zip(torch.autograd.grad(out, [x, w], g), torch.autograd.grad(ref, [x, w], g)):
        torch.testing.assert_close(a, b)


def test_triton_wide_features_half_precision_and_determinism():
    ei, csr = _graph()
    x0 = torch.randn(12, 130, dtype=torch.float16, device=DEV)  # two feature blocks of 128
    runs = []
    for _ in range(2):
        x = x0.clone().requires_grad_()
        out = aggregate(x, csr, "max", backend="triton")
        out.float().sum().backward()
        runs.append((out, x.grad))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    x = x0.clone().requires_grad_()
    ref = aggregate_reference(x, ei, 12, "max")
    torch.testing.assert_close(runs[0][0].double(), ref, rtol=0, atol=0)
    (rx,) = torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(runs[0][1].double(), rx.double())
    s = aggregate(x0, csr, "sum", backend="triton")
    torch.testing.assert_close(s.double(), aggregate_reference(x0, ei, 12, "sum"), rtol=1e-3, atol=1e-2)


def test_triton_segment_and_edge_softmax():
    ptr = torch.tensor([0, 3, 3, 30], device=DEV)
    x = torch.randn(30, 4, dtype=torch.float64, device=DEV)
    torch.testing.assert_close(segment(x, ptr, "mean", backend="triton"), segment_reference(x.cpu(), ptr.cpu(), "mean").to(DEV))
    ei, csr = _graph()
    s = torch.randn(48, 2, dtype=torch.float64, device=DEV, requires_grad=True)
    a = edge_softmax(s, csr, backend="triton")
    ref = edge_softmax_reference(s, ei, 12)
    torch.testing.assert_close(a, ref)
    g = torch.randn_like(a)
    torch.testing.assert_close(torch.autograd.grad(a, s, g)[0], torch.autograd.grad(ref, s, g)[0])


@pytest.mark.skipif(DEV != "cpu", reason="the interpreter's fixed config is what this test varies")
@pytest.mark.parametrize("reduce", ["sum", "max"])
def test_triton_result_does_not_depend_on_edges_per_step(monkeypatch, reduce):
    """Autotuning picks BLOCK_E (and num_warps) per GPU: the reduction order, hence every bit, must not change."""
    from graphrep.ops import _triton

    ei, csr = _graph()
    x = torch.randn(12, 33, generator=torch.Generator().manual_seed(2))
    outs = []
    for block_e in (1, 4, 16):
        monkeypatch.setattr(_triton, "INTERP_BLOCK_E", block_e)
        outs.append(aggregate(x, csr, reduce, backend="triton"))
    assert all(torch.equal(outs[0], o) for o in outs[1:])
    torch.testing.assert_close(outs[0], aggregate_reference(x.double(), ei, 12, reduce).float())


@pytest.mark.skipif(DEV != "cpu", reason="the interpreter's fixed config is what this test varies")
@pytest.mark.parametrize("reduce", ["max", "min"])
def test_triton_extremum_gradient_with_source_hub_and_ties(monkeypatch, reduce):
    """The backward kernel runs over the transposed CSR: a source with 23 out-edges (> CHUNK) is split into items
    combined from partials; integer-valued features make many ties, whose gradient must be split evenly (as the
    float64 reference does) and must not depend on BLOCK_E or on how the shares are gathered."""
    from graphrep.ops import _triton

    ei = random_graph(n=12, e=48, hub=20, empty=2, loops=2, multi=3, device=DEV).flip(0)
    csr = CSR.from_edge_index(ei, 12)
    gen = torch.Generator().manual_seed(3)
    # half-integers: many ties, but no extremum equal to 0 (torch's include_self=False backward, which the
    # reference uses, counts the zero-filled ``self`` as one more tie there).
    x0 = torch.randint(-2, 3, (12, 33), generator=gen).float() + 0.5
    g = torch.randn(12, 33, generator=gen)
    grads = []
    for block_e, dense in ((1, False), (4, False), (16, False), (4, True)):
        monkeypatch.setattr(_triton, "INTERP_BLOCK_E", block_e)
        monkeypatch.setattr(_triton, "FIXED_DENSE_G", dense)
        x = x0.clone().requires_grad_()
        (gx,) = torch.autograd.grad(aggregate(x, csr, reduce, backend="triton"), x, g)
        grads.append(gx)
    assert all(torch.equal(grads[0], gx) for gx in grads[1:])
    x = x0.double().requires_grad_()
    (rx,) = torch.autograd.grad(aggregate_reference(x, ei, 12, reduce), x, g.double())
    torch.testing.assert_close(grads[0], rx.float())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="a 10^6-edge hub is too slow for the interpreter")
def test_giant_hub_on_cuda(monkeypatch):
    from graphrep.ops import _triton

    monkeypatch.setattr(_triton, "CHUNK", 512)
    n, e = 20000, 1_200_000
    ei = random_graph(n=n, e=e, hub=1_000_000, seed=7, device="cuda")
    csr = CSR.from_edge_index(ei, n)
    x = torch.randn(n, 64, device="cuda", dtype=torch.float64)
    for reduce in ["sum", "max"]:
        torch.testing.assert_close(aggregate(x, csr, reduce), aggregate_reference(x, ei, n, reduce))


def test_triton_graph_without_edges():
    csr = CSR.from_edge_index(torch.empty(2, 0, dtype=torch.long, device=DEV), 4)
    x = torch.randn(4, 3, device=DEV, requires_grad=True)
    out = aggregate(x, csr, "max", backend="triton")
    out.sum().backward()
    assert torch.equal(out, torch.zeros_like(out)) and torch.equal(x.grad, torch.zeros_like(x))
