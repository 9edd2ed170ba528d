"""aggregate against the float64 reference (torch.scatter_reduce), on the default backend of each device."""

import pytest
import torch

from graphrep.ops import CSR, aggregate
from graphrep.ops.reference import aggregate_reference, random_graph

REDUCES = ["sum", "mean", "max", "min"]


def _grads(out, inputs, g):
    return torch.autograd.grad(out, inputs, g)


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_reference_values_and_grads(device, reduce, weighted, dtype):
    n, e, f = 60, 400, 37  # hub, empty rows, self-loops, multi-edges; F not a power of two
    ei = random_graph(n=n, e=e, device=device)
    csr = CSR.from_edge_index(ei, n)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, f, generator=gen, dtype=dtype).to(device).requires_grad_()
    w = (torch.rand(e, generator=gen, dtype=dtype) + 0.5).to(device).requires_grad_() if weighted else None
    out = aggregate(x, csr, reduce, w)
    ref = aggregate_reference(x, ei, n, reduce, w)
    assert out.dtype == dtype and out.shape == (n, f)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.double(), ref, **tol)
    g = torch.randn(n, f, generator=gen, dtype=torch.float64).to(device)
    inputs = [x] + ([w] if weighted else [])
    for a, b in zip(_grads(out, inputs, g.to(dtype)), _grads(ref, inputs, g)):
        torch.testing.assert_close(a.double(), b.double(), **tol)


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_accumulates_in_fp32(device, reduce, dtype):
    n, e, f = 60, 400, 20
    ei = random_graph(n=n, e=e, device=device)
    csr = CSR.from_edge_index(ei, n)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(n, f, generator=gen).to(dtype).to(device).requires_grad_()
    w = (torch.rand(e, generator=gen) + 0.5).to(dtype).to(device).requires_grad_()
    out = aggregate(x, csr, reduce, w)
    ref = aggregate_reference(x, ei, n, reduce, w)
    assert out.dtype == dtype
    # a single rounding of the float64 result: error within one unit in the last place of the output dtype
    eps = torch.finfo(dtype).eps
    err = (out.double() - ref).abs()
    assert bool((err <= eps * ref.abs() + 1e-6).all()), float(err.max())
    g = torch.randn(n, f, generator=gen, dtype=torch.float64).to(device)
    gx, gw = _grads(out, [x, w], g.to(dtype))
    rx, rw = _grads(ref, [x, w], g)
    torch.testing.assert_close(gx.double(), rx.double(), rtol=4 * eps, atol=4 * eps)
    torch.testing.assert_close(gw.double(), rw.double(), rtol=8 * eps, atol=8 * eps * rw.abs().max().item())


@pytest.mark.parametrize("reduce", REDUCES)
def test_gradcheck_float64_weighted(device, reduce):
    # no multi-edges here: gradcheck's finite differences are undefined at max/min ties
    ei = random_graph(n=14, e=40, hub=12, empty=3, loops=3, multi=0, device=device)
    csr = CSR.from_edge_index(ei, 14)
    x = torch.randn(14, 3, dtype=torch.float64, device=device, requires_grad=True)
    w = (torch.rand(40, dtype=torch.float64, device=device) + 0.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: aggregate(x, csr, reduce, w), (x, w))


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_ties_share_gradient_like_scatter_reduce(device, reduce):
    # three copies of edge 0 -> 1 and a different edge 2 -> 1: node 1's extremum is reached three times
    ei = torch.tensor([[0, 0, 2, 0], [1, 1, 1, 1]], device=device)
    x = torch.tensor([[1.0, -1.0], [0.0, 0.0], [0.5, 0.5]], device=device, requires_grad=True)
    out = aggregate(x, CSR.from_edge_index(ei, 3), reduce)
    out.sum().backward()
    if reduce == "max":
        assert out[1].tolist() == [1.0, 0.5]
        assert x.grad.tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]
    else:
        assert out[1].tolist() == [0.5, -1.0]
        assert x.grad.tolist() == [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]]


@pytest.mark.parametrize("reduce", REDUCES)
def test_empty_rows_are_zero_with_zero_grad(device, reduce):
    ei = torch.tensor([[0, 1], [1, 1]], device=device)  # nodes 0 and 2 receive nothing
    x = (torch.randn(3, 4, device=device) - 5).requires_grad_()  # all negative: max would be < 0
    w = torch.ones(2, device=device, requires_grad=True)
    out = aggregate(x, CSR.from_edge_index(ei, 3), reduce, w)
    assert torch.equal(out[0], torch.zeros(4, device=device)) and torch.equal(out[2], out[0])
    out[[0, 2]].sum().backward()
    assert torch.count_nonzero(x.grad) == 0 and torch.count_nonzero(w.grad) == 0


@pytest.mark.parametrize("reduce", REDUCES)
def test_bitwise_deterministic(device, reduce):
    n, e = 3000, 60000
    ei = random_graph(n=n, e=e, hub=20000, seed=3, device=device)
    csr = CSR.from_edge_index(ei, n)
    gen = torch.Generator().manual_seed(4)
    x0 = torch.randn(n, 33, generator=gen).to(device)
    w0 = torch.rand(e, generator=gen).to(device)
    g = torch.randn(n, 33, generator=gen).to(device)
    runs = []
    for _ in range(2):
        x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
        out = aggregate(x, csr, reduce, w)
        out.backward(g)
        runs.append((out, x.grad, w.grad))
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_bipartite_and_feature_shapes(device):
    ei = torch.tensor([[0, 4, 4, 2], [1, 0, 1, 1]], device=device)
    csr = CSR.from_edge_index(ei, (5, 2))
    x = torch.randn(5, 2, 3, device=device)
    out = aggregate(x, csr, "mean")
    assert out.shape == (2, 2, 3)
    torch.testing.assert_close(out[1], (x[0] + x[4] + x[2]) / 3)
    torch.testing.assert_close(aggregate(x[:, 0, 0], csr, "sum"), torch.stack([x[4, 0, 0], x[[0, 4, 2], 0, 0].sum()]))


def test_rejects_bad_input():
    csr = CSR.from_edge_index(torch.tensor([[0, 1], [1, 2]]), 3)
    x = torch.randn(3, 2)
    with pytest.raises(ValueError, match="reduce must be one of"):
        aggregate(x, csr, "prod")
    with pytest.raises(ValueError, match="3 source nodes"):
        aggregate(torch.randn(4, 2), csr)
    with pytest.raises(ValueError, match=r"edge_weight must have shape \[2\]"):
        aggregate(x, csr, edge_weight=torch.ones(3))
    with pytest.raises(ValueError, match="floating-point"):
        aggregate(torch.ones(3, 2, dtype=torch.long), csr)
    with pytest.raises(ValueError, match="CSR"):
        aggregate(x, torch.tensor([[0, 1], [1, 2]]))
    with pytest.raises(ValueError, match="backend must be one of"):
        aggregate(x, csr, backend="cuda")


@pytest.mark.parametrize("reduce", ["sum", "max", "min"])
def test_cpu_chunked_backward_matches_reference(monkeypatch, reduce):
    """Small chunks so the CPU backward walks several row groups and splits the hub row into sub-chunks."""
    from graphrep.ops import _cpu

    monkeypatch.setattr(_cpu, "_CHUNK_VALUES", 16 * 37)  # 16 edges per chunk; the hub has 150
    monkeypatch.setattr(_cpu, "_DOT_CHUNK_VALUES", 16 * 37)  # the edge-weight gradients' chunks, too
    n, e = 60, 400
    ei = random_graph(n=n, e=e)
    csr = CSR.from_edge_index(ei, n)
    x = torch.randn(n, 37, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(e, dtype=torch.float64) + 0.5).requires_grad_()
    out = aggregate(x, csr, reduce, w, backend="torch")
    ref = aggregate_reference(x, ei, n, reduce, w)
    g = torch.randn(n, 37, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad(out, [x, w], g), torch.autograd.grad(ref, [x, w], g)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("heads", [2, 3, 8])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bipartite", [False, True])
def test_per_head_weights_match_reference(monkeypatch, heads, reduce, dtype, bipartite):
    """GAT's call: per-head weights [E, H] on ``CSR.per_head``. The weights' gradient takes the wide-row path (dot
    products over the copied graph's edges, read back per head); values and every gradient against the float64
    reference on the copies' own edge list, with chunks of 16 edges so the products walk several."""
    from graphrep.ops import _cpu

    calls = []
    dots = _cpu._dots
    monkeypatch.setattr(_cpu, "_dots", lambda *a: calls.append(a[4]) or dots(*a))  # a[4]: the heads per row
    monkeypatch.setattr(_cpu, "_DOT_CHUNK_VALUES", 16 * heads * 5)
    gen = torch.Generator().manual_seed(heads)
    if bipartite:
        n_src, n_dst, e = 25, 40, 180
        ei = torch.stack([torch.randint(0, n_src, (e,), generator=gen), torch.randint(0, n_dst, (e,), generator=gen)])
    else:
        n_src = n_dst = 30
        ei = random_graph(n=30, e=200)  # a hub, empty rows, self-loops, multi-edges
        e = ei.size(1)
    base = CSR.from_edge_index(ei, (n_src, n_dst))
    copies = base.per_head(heads)
    assert base.head_layout is None and copies.head_layout.heads == heads
    x = torch.randn(n_src, heads, 5, generator=gen, dtype=dtype).requires_grad_()
    w = (torch.rand(e, heads, generator=gen, dtype=dtype) + 0.5).requires_grad_()
    out = aggregate(x.view(-1, 5), copies, reduce, w.view(-1), backend="torch")
    ref = aggregate_reference(x.view(-1, 5), copies.edge_index(), n_dst * heads, reduce, w.view(-1))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.double(), ref.double(), **tol)
    g = torch.randn(n_dst * heads, 5, generator=gen, dtype=dtype)
    for a, b in zip(_grads(out, [x, w], g), _grads(ref, [x, w], g.double())):
        torch.testing.assert_close(a.double(), b.double(), **tol)
    assert heads in calls, "the weights' gradient did not take the per-head path"


@pytest.mark.parametrize("reduce", ["max", "min"])
@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_nan_values_and_gradients_follow_scatter_reduce(reduce, backend):
    # NaN inputs: NaN outputs; every message into a NaN output gets a NaN gradient (x and weight), others are exact
    ei = random_graph(n=16, e=60, hub=12, empty=2, seed=4, loops=2, multi=2)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(16, 6, generator=gen, dtype=torch.float64)
    x[3, 1] = x[7, :] = x[11, 4] = float("nan")
    x.requires_grad_()
    w = (torch.rand(60, generator=gen, dtype=torch.float64) + 0.5).requires_grad_()
    out = aggregate(x, CSR.from_edge_index(ei, 16), reduce, w, backend=backend)
    ref = aggregate_reference(x, ei, 16, reduce, w)
    assert bool(torch.isnan(ref).any())
    torch.testing.assert_close(out, ref, equal_nan=True)
    g = torch.randn(16, 6, generator=gen, dtype=torch.float64)
    for a, b in zip(_grads(out, [x, w], g), _grads(ref, [x, w], g)):
        assert bool(torch.isnan(b).any()) and not bool(torch.isnan(b).all())
        torch.testing.assert_close(a, b, equal_nan=True)


def test_eager_path_and_custom_op_agree_bitwise():
    # plain calls run an autograd.Function, dispatch modes (and torch.compile) the custom op: same kernels
    from torch.utils._python_dispatch import TorchDispatchMode

    class Seen(TorchDispatchMode):
        ops = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.add(str(func))
            return func(*args, **(kwargs or {}))

    ei = random_graph(n=40, e=200, hub=50)
    csr = CSR.from_edge_index(ei, 40)
    x = torch.randn(40, 5, requires_grad=True)
    w = torch.rand(200, requires_grad=True)
    results = []
    for mode in (None, Seen()):
        if mode is not None:
            mode.__enter__()
        out = aggregate(x, csr, "max", w) + aggregate(x, csr, "mean")
        results.append((out, *torch.autograd.grad(out.square().sum(), [x, w])))
        if mode is not None:
            mode.__exit__(None, None, None)
    assert "graphrep.csr_reduce.default" in Seen.ops
    for a, b in zip(*results):
        assert torch.equal(a, b)
