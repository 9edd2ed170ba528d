"""relu_edge_sum equals the composed torch ops (gather, add, ReLU, index_add) in value and gradient, on graphs with
a hub, isolated nodes, multi-edges and no edges; and refuses what it does not take."""

import pytest
import torch

from graphrep.ops.edge_relu import relu_edge_sum, supports
from graphrep.ops.reference import random_graph


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
