"""relu_edge_sum equals the composed torch ops (gather, add, ReLU, index_add) in value and gradient, on graphs with
a hub, isolated nodes, multi-edges and no edges, on both of its paths (the compiled loops and the torch ops); the two
paths agree; the loops give the same bits on every run and thread count; and it refuses what it does not take."""

import pytest
import torch

import graphrep.ops._edge_relu_loops as loops
import graphrep.ops.edge_relu as edge_relu
from graphrep.ops.edge_relu import relu_edge_sum, supports
from graphrep.ops.reference import random_graph


_NODES = {"loops": edge_relu._ReluEdgeSumLoops, "torch_ops": edge_relu._ReluEdgeSum}
_REAL_APPLY = {which: node.apply for which, node in _NODES.items()}


@pytest.fixture(autouse=True, params=["loops", "torch_ops"])
def path(request, monkeypatch):
    """Every test runs on each path, and fails if the other one ran."""
    monkeypatch.setattr(loops, "use_loops", lambda *_: request.param == "loops")
    other = _NODES["torch_ops" if request.param == "loops" else "loops"]

    def refused(*args):
        raise AssertionError(f"the {request.param} path was asked for, but the other one ran")

    monkeypatch.setattr(other, "apply", refused)
    return request.param


def _reference(x, e, ei, num_dst):
    """float64 composition: out[i] = sum_{j -> i} relu(x_j + e_ji)."""
    m = (x.double()[ei[0]] + e.double()).relu()
    return torch.zeros(num_dst, x.size(1), dtype=torch.float64).index_add_(0, ei[1], m)


def _case(n_src, n_dst, e, f, seed, dtype):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.stack([torch.randint(0, n_src, (e,), generator=gen), torch.randint(0, n_dst, (e,), generator=gen)])
    x = torch.randn(n_src, f, generator=gen, dtype=torch.float64).to(dtype)
    attr = torch.randn(e, f, generator=gen, dtype=torch.float64).to(dtype)
    return x, attr, ei


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(40, 40, 300, 16), (30, 50, 120, 5), (20, 20, 0, 8), (60, 60, 3, 4)])
def test_value_and_gradients_match_the_composed_ops(dtype, shape):
    n_src, n_dst, e, f = shape  # (60, 60, 3, 4): most nodes isolated; (20, 20, 0, 8): no edges at all
    x, attr, ei = _case(n_src, n_dst, e, f, seed=sum(shape), dtype=dtype)
    x.requires_grad_()
    attr.requires_grad_()
    out = relu_edge_sum(x, attr, ei, n_dst)
    assert out.dtype == dtype and out.shape == (n_dst, f)
    xr, ar = x.detach().double().requires_grad_(), attr.detach().double().requires_grad_()
    ref = _reference(xr, ar, ei, n_dst)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.double(), ref, **tol)
    g = torch.randn(n_dst, f, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    gx, ga = torch.autograd.grad(out, (x, attr), g.to(dtype))
    rx, ra = torch.autograd.grad(ref, (xr, ar), g)
    torch.testing.assert_close(gx.double(), rx, **tol)
    torch.testing.assert_close(ga.double(), ra, **tol)


def test_hub_and_multi_edges_and_an_edge_index_from_the_reference_generator():
    ei = random_graph(n=50, e=400, hub=150, seed=3)
    x, attr, _ = _case(50, 50, 0, 9, seed=4, dtype=torch.float64)
    attr = torch.randn(ei.size(1), 9, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    x.requires_grad_()
    attr.requires_grad_()
    out = relu_edge_sum(x, attr, ei, 50)
    ref = _reference(x, attr, ei, 50)
    torch.testing.assert_close(out, ref)
    for a, b in zip(torch.autograd.grad(out.square().sum(), (x, attr)),
                    torch.autograd.grad(ref.square().sum(), (x, attr))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("root", ["x", "other", "none"])
@pytest.mark.parametrize("eps_grad", [True, False])
def test_root_term_and_eps(root, eps_grad):
    n = 30
    x, attr, ei = _case(n, n, 100, 5, seed=9, dtype=torch.float64)
    r = x if root == "x" else torch.randn(n, 5, dtype=torch.float64) if root == "other" else None
    eps = torch.tensor([0.3], dtype=torch.float64, requires_grad=eps_grad)
    leaves = [t.requires_grad_() for t in {id(t): t for t in (x, attr, r) if t is not None}.values()]
    leaves += [eps] if eps_grad and r is not None else []
    out = relu_edge_sum(x, attr, ei, n, r, eps if r is not None else None)
    ref = _reference(x, attr, ei, n) + ((1 + eps) * r if r is not None else 0)
    torch.testing.assert_close(out, ref)
    g = torch.randn(n, 5, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad(out, leaves, g), torch.autograd.grad(ref, leaves, g)):
        torch.testing.assert_close(a, b)


def test_only_the_gradients_asked_for():
    x, attr, ei = _case(10, 10, 30, 4, seed=6, dtype=torch.float32)
    attr.requires_grad_()
    out = relu_edge_sum(x, attr, ei, 10)  # x needs no gradient
    (ga,) = torch.autograd.grad(out.sum(), (attr,))
    assert ga.shape == attr.shape


def test_refuses_bad_inputs_loudly():
    x, attr, ei = _case(10, 8, 30, 4, seed=7, dtype=torch.float32)
    with pytest.raises(ValueError, match="edge_attr must have shape"):
        relu_edge_sum(x, attr[:-1], ei, 8)
    with pytest.raises(ValueError, match="refers to node"):
        relu_edge_sum(x, attr, ei, 3)  # destinations up to 7
    with pytest.raises(ValueError, match="negative"):
        relu_edge_sum(x, attr, ei - 20, 8)
    with pytest.raises(ValueError, match="float32/float64"):
        relu_edge_sum(x.half(), attr.half(), ei, 8)
    with pytest.raises(ValueError, match="float32/float64"):
        relu_edge_sum(x, attr.double(), ei, 8)
    assert not supports(x.bfloat16(), attr.bfloat16()) and supports(x, attr)
    with pytest.raises(ValueError, match="root must be"):
        relu_edge_sum(x, attr, ei, 8, x)  # 10 rows, 8 targets
    with pytest.raises(ValueError, match="eps must be"):
        relu_edge_sum(x, attr, ei, 8, x[:8], torch.zeros(2))


def test_no_double_backward():
    x, attr, ei = _case(10, 10, 30, 4, seed=8, dtype=torch.float64)
    x.requires_grad_()
    (gx,) = torch.autograd.grad(relu_edge_sum(x, attr, ei, 10).square().sum(), (x,), create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|double backward|twice"):
        gx.sum().backward()


def test_nan_messages_propagate_as_relu_does():
    x, attr, ei = _case(6, 6, 20, 3, seed=10, dtype=torch.float32)
    x[ei[0, 0], 1] = float("nan")
    out = relu_edge_sum(x, attr, ei, 6)
    ref = _reference(x, attr, ei, 6)
    assert torch.equal(out.isnan(), ref.isnan()) and out.isnan().any()
    torch.testing.assert_close(out.nan_to_num(), ref.float().nan_to_num())


def _ties_and_nans(dtype):
    """Messages that are exactly 0 (x_j = -e_ji: gradient 0, as torch's ReLU), NaN (passes value and gradient)."""
    x, attr, ei = _case(8, 8, 30, 5, seed=11, dtype=dtype)
    attr[0] = -x[ei[0, 0]]  # edge 0's message is exactly zero in every feature
    x[ei[0, 5], 2] = float("nan")
    return x, attr, ei


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zero_and_nan_messages_take_torchs_relu_gradient(dtype):
    x, attr, ei = _ties_and_nans(dtype)
    x.requires_grad_()
    attr.requires_grad_()
    out = relu_edge_sum(x, attr, ei, 8)
    xr, ar = x.detach().clone().requires_grad_(), attr.detach().clone().requires_grad_()
    ref = torch.zeros(8, 5, dtype=dtype).index_add_(0, ei[1], (xr[ei[0]] + ar).relu())
    g = torch.randn(8, 5, dtype=dtype, generator=torch.Generator().manual_seed(3))
    ours, theirs = torch.autograd.grad(out, (x, attr), g), torch.autograd.grad(ref, (xr, ar), g)
    assert torch.equal(out.isnan(), ref.isnan()) and out.isnan().any()
    for a, b in zip(ours, theirs):
        assert torch.equal(a.isnan(), b.isnan())
        torch.testing.assert_close(a.nan_to_num(), b.nan_to_num())
    assert (ours[1][0] == 0).all()  # the zero message's edge gets no gradient


def test_loops_give_the_same_bits_on_every_run_and_thread_count(path):
    if path != "loops":
        pytest.skip("the loops' contract")
    x, attr, ei = _case(200, 200, 2000, 32, seed=12, dtype=torch.float32)
    root = torch.randn(200, 32)
    eps = torch.tensor([0.25], requires_grad=True)
    runs = []
    threads = torch.get_num_threads()
    try:
        for n in (1, 2, 1):
            torch.set_num_threads(n)
            xs, es = x.clone().requires_grad_(), attr.clone().requires_grad_()
            out = relu_edge_sum(xs, es, ei, 200, root, eps)
            runs.append((out, *torch.autograd.grad(out, (xs, es, eps), torch.ones_like(out))))
    finally:
        torch.set_num_threads(threads)
    for other in runs[1:]:
        assert all(torch.equal(a, b) for a, b in zip(runs[0], other))


def test_the_two_paths_agree_on_a_molecule_sized_batch(path, monkeypatch):
    """float32, 3,000 edges of 64 features with the root term and eps: the loops against the torch ops (different
    summation order: agreement to rounding)."""
    if path != "loops":
        pytest.skip("compares both paths once")
    x, attr, ei = _case(1500, 1500, 3000, 64, seed=13, dtype=torch.float32)
    eps = torch.tensor([0.1])
    results = {}
    for which, node in _NODES.items():
        monkeypatch.setattr(loops, "use_loops", lambda *_, w=which: w == "loops")
        monkeypatch.setattr(node, "apply", _REAL_APPLY[which])  # the fixture refused one of them
        xs, es = x.clone().requires_grad_(), attr.clone().requires_grad_()
        out = relu_edge_sum(xs, es, ei, 1500, xs, eps)
        results[which] = (out, *torch.autograd.grad(out.square().sum(), (xs, es)))
    for a, b in zip(results["loops"], results["torch_ops"]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)


def test_use_loops_policy(path, monkeypatch):
    if path != "loops":
        pytest.skip("the policy once")
    monkeypatch.undo()  # the real policy, not the fixture's
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert loops.use_loops()
        torch.set_num_threads(2)
        assert not loops.use_loops()
    finally:
        torch.set_num_threads(threads)


def test_inference_mode_then_training_on_one_edge_tensor():
    """A validation call under inference mode caches the edge lists or groups; a later training call on the same
    edge tensor gets the same values and its gradients (they are not inference tensors)."""
    x, attr, ei = _case(15, 15, 40, 6, seed=14, dtype=torch.float32)
    eps = torch.tensor([0.2])
    with torch.inference_mode():
        ref = relu_edge_sum(x, attr, ei, 15, x, eps)
    xs = x.clone().requires_grad_()
    out = relu_edge_sum(xs, attr, ei, 15, xs, eps)
    torch.testing.assert_close(out, ref)
    (gx,) = torch.autograd.grad(out.sum(), (xs,))
    assert not gx.is_inference() and gx.abs().sum() > 0


def test_the_loops_compile_where_numba_has_no_cache_directory(path, monkeypatch):
    """numba refuses ``cache=True`` when it finds no writable cache location: the module then compiles per process
    instead of failing to import."""
    if path != "loops":
        pytest.skip("the loops' module once")
    import importlib

    import numba

    real = numba.njit

    def no_cache(*args, **kwargs):
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return real(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", no_cache)
    try:
        uncached = importlib.reload(loops)
        monkeypatch.setattr(uncached, "use_loops", lambda *_: True)  # the reload restored the real policy
        x, attr, ei = _case(12, 12, 40, 3, seed=15, dtype=torch.float64)
        assert type(uncached.forward_loop._cache).__name__ == "NullCache"  # numba's "no disk cache"
        out = relu_edge_sum(x, attr, ei, 12)
        torch.testing.assert_close(out, _reference(x, attr, ei, 12))
    finally:
        monkeypatch.setattr(numba, "njit", real)
        importlib.reload(loops)
