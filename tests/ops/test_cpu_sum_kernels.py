"""The CPU sum's two kernels (graphrep.ops._cpu_sum): same bits for unweighted sums, each equal to the float64
reference, weighted sums on one kernel under "auto", and the auto choice settling on one of them."""

import importlib

import pytest
import torch

from graphrep.ops import CSR, aggregate, edge_softmax, segment
from graphrep.ops.reference import aggregate_reference, random_graph

cpu_sum = importlib.import_module("graphrep.ops._cpu_sum")


@pytest.fixture(autouse=True)
def _fresh_choice(monkeypatch):
    monkeypatch.setattr(cpu_sum, "_state", {})


def _run(monkeypatch, kernel, x, csr, w=None, reduce="sum"):
    monkeypatch.setenv(cpu_sum.ENV, kernel)
    x = x.detach().requires_grad_()
    w = None if w is None else w.detach().requires_grad_()
    out = aggregate(x, csr, reduce, w)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(5), dtype=out.dtype)
    grads = torch.autograd.grad(out, [x] + ([w] if w is not None else []), g)
    return out.detach(), [t.detach() for t in grads]


def _skewed_graph(n, e, seed=0):
    """Uniform sources, destinations drawn with weights rand(N) ** -1.2 (a hub of thousands of in-edges)."""
    gen = torch.Generator().manual_seed(seed)
    wts = torch.rand(n, generator=gen, dtype=torch.float64).clamp_min(1e-12) ** -1.2
    dst = torch.multinomial(wts, e, replacement=True, generator=gen)
    return torch.stack([torch.randint(0, n, (e,), generator=gen), dst])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("graph", ["mixed", "hub"])
def test_unweighted_kernels_give_identical_bits_and_match_reference(monkeypatch, dtype, graph):
    n = 300
    # "mixed": empty rows, self-loops, multi-edges; "hub": one row with thousands of entries
    ei = random_graph(n=n, e=3000) if graph == "mixed" else _skewed_graph(n, 6000)
    csr = CSR.from_edge_index(ei, n)
    x = torch.randn(n, 37, generator=torch.Generator().manual_seed(1)).to(dtype)
    out_r, (gx_r,) = _run(monkeypatch, "reduce", x, csr)
    out_p, (gx_p,) = _run(monkeypatch, "plain", x, csr)
    assert torch.equal(out_r, out_p) and torch.equal(gx_r, gx_p)
    ref = aggregate_reference(x, ei, n, "sum")
    tol = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 1e-2}[dtype]
    torch.testing.assert_close(out_r.double(), ref, rtol=tol, atol=tol)
    assert out_r.dtype == dtype and bool((out_r[csr.degree() == 0] == 0).all())


def test_weighted_sums_match_reference_on_both_kernels_and_auto_is_reduce(monkeypatch):
    monkeypatch.setattr(cpu_sum, "MIN_WORK", 1)  # large enough to be timed, were it unweighted
    n = 200
    ei = random_graph(n=n, e=2500)
    csr = CSR.from_edge_index(ei, n)
    gen = torch.Generator().manual_seed(2)
    x, w = torch.randn(n, 16, generator=gen), torch.rand(2500, generator=gen) + 0.5
    xr, wr = x.double().requires_grad_(), w.double().requires_grad_()
    ref = aggregate_reference(xr, ei, n, "sum", wr)
    g = torch.randn(ref.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float32)
    ref_grads = torch.autograd.grad(ref, [xr, wr], g.double())
    results = {k: _run(monkeypatch, k, x, csr, w) for k in ("reduce", "plain", "auto")}
    for out, grads in results.values():
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
        for a, b in zip(grads, ref_grads):
            torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4)
    # "auto" never lets timing pick the kernel of a weighted sum: nothing was timed, its bits are the reduce kernel's
    assert cpu_sum._state == {}
    assert torch.equal(results["auto"][0], results["reduce"][0])
    assert all(torch.equal(a, b) for a, b in zip(results["auto"][1], results["reduce"][1]))


def test_auto_alternates_then_settles_without_changing_results(monkeypatch):
    if not torch.backends.mkl.is_available():
        pytest.skip("this torch has no MKL: 'auto' always takes the reduce kernel")
    monkeypatch.setattr(cpu_sum, "MIN_WORK", 1)  # every call is worth timing
    n = 150
    ei = random_graph(n=n, e=1500)
    csr = CSR.from_edge_index(ei, n)
    x = torch.randn(n, 8, generator=torch.Generator().manual_seed(3))
    expected = _run(monkeypatch, "reduce", x, csr)
    seen = []
    for _ in range(cpu_sum.SAMPLES):  # each call times a forward and a backward product
        seen.append(_run(monkeypatch, "auto", x, csr))
    assert cpu_sum.settled()[torch.get_num_threads()] in cpu_sum.KERNELS
    seen.append(_run(monkeypatch, "auto", x, csr))
    for out, (gx,) in seen:
        assert torch.equal(out, expected[0]) and torch.equal(gx, expected[1][0])


def test_softmax_and_segment_sums_are_kernel_independent(monkeypatch):
    n = 120
    ei = random_graph(n=n, e=900)
    csr = CSR.from_edge_index(ei, n)
    s = torch.randn(900, 3, generator=torch.Generator().manual_seed(4))
    ptr = torch.tensor([0, 40, 40, 120])
    x = torch.randn(n, 5, generator=torch.Generator().manual_seed(6))
    out = {}
    for k in ("reduce", "plain"):
        monkeypatch.setenv(cpu_sum.ENV, k)
        out[k] = (edge_softmax(s, csr), segment(x, ptr, "sum"))
    assert torch.equal(out["reduce"][0], out["plain"][0]) and torch.equal(out["reduce"][1], out["plain"][1])


def test_unknown_kernel_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(cpu_sum.ENV, "fastest")
    csr = CSR.from_edge_index(torch.tensor([[0, 1], [1, 0]]), 2)
    with pytest.raises(ValueError, match="GRAPHREP_CPU_SUM_KERNEL must be one of auto, reduce, plain"):
        aggregate(torch.ones(2, 3), csr)
