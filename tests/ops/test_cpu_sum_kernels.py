"""The CPU sum's two kernels (graphrep.ops._cpu_sum): each equal to the float64 reference; weighted sums on one
kernel under "auto"; and "auto" returning the bits of the "reduce" kernel whatever the timing, on machines where
the kernels agree and on machines where they do not (faked here by perturbing one kernel's last bit)."""

import importlib

import pytest
import torch

from graphrep.ops import CSR, aggregate, edge_softmax, segment
from graphrep.ops.reference import aggregate_reference, random_graph

cpu_sum = importlib.import_module("graphrep.ops._cpu_sum")

@pytest.fixture(autouse=True)
def _fresh_choice(monkeypatch):
    monkeypatch.setattr(cpu_sum, "_state", {})
    monkeypatch.setattr(cpu_sum, "_probe_result", None)


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
def test_each_unweighted_kernel_matches_reference(monkeypatch, dtype, graph):
    n = 300
    # "mixed": empty rows, self-loops, multi-edges; "hub": one row with thousands of entries
    ei = random_graph(n=n, e=3000) if graph == "mixed" else _skewed_graph(n, 6000)
    csr = CSR.from_edge_index(ei, n)
    x = torch.randn(n, 37, generator=torch.Generator().manual_seed(1)).to(dtype)
    xr = x.double().requires_grad_()
    ref = aggregate_reference(xr, ei, n, "sum")
    g = torch.randn(ref.shape, generator=torch.Generator().manual_seed(5), dtype=dtype)
    (ref_gx,) = torch.autograd.grad(ref, [xr], g.double())
    tol = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 1e-2}[dtype]
    for kernel in cpu_sum.KERNELS:  # the two kernels may round differently (machine-dependent): each vs the reference
        out, (gx,) = _run(monkeypatch, kernel, x, csr)
        torch.testing.assert_close(out.double(), ref, rtol=tol, atol=tol)
        torch.testing.assert_close(gx.double(), ref_gx, rtol=tol, atol=tol)
        assert out.dtype == dtype and bool((out[csr.degree() == 0] == 0).all())


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


class _FakeClock:
    """A clock that advances by a fixed cost per kernel call, so a test decides which kernel "auto" finds faster."""

    def __init__(self, monkeypatch, cost, perturb_plain=False):
        self.now, self.calls, real = 0.0, {k: 0 for k in cpu_sum.KERNELS}, cpu_sum._product

        def product(kernel, a, x):
            self.now += cost[kernel]
            self.calls[kernel] += 1
            out = real(kernel, a, x)
            return out.nextafter(torch.full_like(out, float("inf"))) if perturb_plain and kernel == "plain" else out

        monkeypatch.setattr(cpu_sum, "_product", product)
        monkeypatch.setattr(cpu_sum, "_clock", lambda: self.now)


def _steps(monkeypatch, x, csr, n_steps=cpu_sum.SAMPLES + 2):
    """A few forward + backward sums, as a short training run makes (each call samples a forward and a backward)."""
    return [_run(monkeypatch, "auto", x * (1 + i), csr) for i in range(n_steps)]


def _assert_same_bits(a, b):
    for (out_a, grads_a), (out_b, grads_b) in zip(a, b):
        assert torch.equal(out_a, out_b) and all(torch.equal(p, q) for p, q in zip(grads_a, grads_b))


@pytest.fixture
def _workload():
    n = 150
    csr = CSR.from_edge_index(random_graph(n=n, e=1500), n)
    return torch.randn(n, 8, generator=torch.Generator().manual_seed(3)), csr


@pytest.mark.parametrize("faster", cpu_sum.KERNELS)
def test_auto_gives_the_reduce_kernels_bits_whatever_the_timing(monkeypatch, _workload, faster):
    """The same seed twice under opposite timings: identical bits, and those of the "reduce" kernel."""
    if not torch.backends.mkl.is_available():
        pytest.skip("this torch has no MKL: 'auto' always takes the reduce kernel")
    x, csr = _workload
    monkeypatch.setattr(cpu_sum, "MIN_WORK", 1)  # every call is worth timing
    expected = [_run(monkeypatch, "reduce", x * (1 + i), csr) for i in range(cpu_sum.SAMPLES + 2)]
    _FakeClock(monkeypatch, {faster: 1.0, ({"reduce", "plain"} - {faster}).pop(): 2.0})
    _assert_same_bits(_steps(monkeypatch, x, csr), expected)
    settled = cpu_sum.settled()[torch.get_num_threads()]
    # the faster kernel is kept only where this machine's kernels agreed; otherwise "reduce"
    assert settled == (faster if cpu_sum.kernels_agree_on_probe() else "reduce")


def test_auto_keeps_reduce_when_the_kernels_differ_on_the_probe(monkeypatch, _workload):
    """On a machine where "plain" rounds differently (faked), nothing is timed and every call takes "reduce"."""
    x, csr = _workload
    monkeypatch.setattr(cpu_sum, "MIN_WORK", 1)
    expected = [_run(monkeypatch, "reduce", x * (1 + i), csr) for i in range(cpu_sum.SAMPLES + 2)]
    clock = _FakeClock(monkeypatch, {"plain": 1.0, "reduce": 100.0}, perturb_plain=True)
    _assert_same_bits(_steps(monkeypatch, x, csr), expected)
    assert cpu_sum.kernels_agree_on_probe() is False
    assert cpu_sum.settled() == {torch.get_num_threads(): "reduce"}
    assert clock.calls["plain"] == 1  # the probe stops at its first difference; no call was sampled


def test_auto_keeps_reduce_when_the_kernels_differ_on_the_workload(monkeypatch, _workload):
    """The probe agrees but the workload's own call does not (faked): the first sampled call settles on "reduce"."""
    x, csr = _workload
    monkeypatch.setattr(cpu_sum, "MIN_WORK", 1)
    monkeypatch.setattr(cpu_sum, "kernels_agree_on_probe", lambda: True)
    expected = [_run(monkeypatch, "reduce", x * (1 + i), csr) for i in range(cpu_sum.SAMPLES + 2)]
    _FakeClock(monkeypatch, {"plain": 1.0, "reduce": 100.0}, perturb_plain=True)
    _assert_same_bits(_steps(monkeypatch, x, csr), expected)
    assert cpu_sum.settled() == {torch.get_num_threads(): "reduce"}


def test_softmax_and_segment_sums_match_reference_on_each_kernel(monkeypatch):
    n = 120
    ei = random_graph(n=n, e=900)
    csr = CSR.from_edge_index(ei, n)
    s = torch.randn(900, 3, generator=torch.Generator().manual_seed(4))
    ptr = torch.tensor([0, 40, 40, 120])
    x = torch.randn(n, 5, generator=torch.Generator().manual_seed(6))
    dst = ei[1]
    ex = (s.double() - s.double().max()).exp()
    denom = torch.zeros(n, 3, dtype=torch.float64).index_add_(0, dst, ex)
    ref_softmax = ex / denom[dst]
    ref_segment = torch.stack([x[0:40].sum(0), torch.zeros(5), x[40:120].sum(0)]).double()
    for k in ("reduce", "plain", "auto"):
        monkeypatch.setenv(cpu_sum.ENV, k)
        torch.testing.assert_close(edge_softmax(s, csr).double(), ref_softmax, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(segment(x, ptr, "sum").double(), ref_segment, rtol=1e-5, atol=1e-5)
    # the same computation twice gives the same bits
    assert torch.equal(edge_softmax(s, csr), edge_softmax(s, csr))


def test_unknown_kernel_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(cpu_sum.ENV, "fastest")
    csr = CSR.from_edge_index(torch.tensor([[0, 1], [1, 0]]), 2)
    with pytest.raises(ValueError, match="GRAPHREP_CPU_SUM_KERNEL must be one of auto, reduce, plain"):
        aggregate(torch.ones(2, 3), csr)
