"""gin_sum equals the composed torch ops (index_add of x_j plus (1 + eps) * root) in value and in the gradients of
x, root and eps, float32 against a float64 reference; for an edge tensor and a CSR, bipartite graphs, empty graphs;
and refuses what it does not take."""

import pytest
import torch

from graphrep.ops import CSR
from graphrep.ops.gin_sum import gin_sum, supports
from graphrep.ops.reference import random_graph

TOL = dict(rtol=1e-5, atol=1e-5)


def _reference(x, ei, num_dst, root=None, eps=None):
    out = torch.zeros(num_dst, x.size(1), dtype=x.dtype).index_add(0, ei[1], x[ei[0]])
    return out if root is None else out + (1 + eps) * root


@pytest.mark.parametrize("root", ["x", "other", "none"])
@pytest.mark.parametrize("graph", ["tensor", "csr"])
def test_value_and_gradients_match_the_composed_ops(root, graph):
    n = 40
    ei = random_graph(n=n, e=300, hub=80, seed=4)  # a hub, isolated nodes, multi-edges
    gen = torch.Generator().manual_seed(5)
    x64 = torch.randn(n, 9, generator=gen, dtype=torch.float64).requires_grad_()
    r64 = torch.randn(n, 9, generator=gen, dtype=torch.float64).requires_grad_()
    eps64 = torch.tensor([0.4], dtype=torch.float64, requires_grad=True)
    g = torch.randn(n, 9, generator=gen, dtype=torch.float64)
    x32, r32, eps32 = (t.detach().float().requires_grad_() for t in (x64, r64, eps64))
    edges = CSR.from_edge_index(ei, n) if graph == "csr" else ei
    if root == "none":
        out, ref = gin_sum(x32, edges, n), _reference(x64, ei, n)
        leaves32, leaves64 = [x32], [x64]
    elif root == "x":
        out, ref = gin_sum(x32, edges, n, x32, eps32), _reference(x64, ei, n, x64, eps64)
        leaves32, leaves64 = [x32, eps32], [x64, eps64]
    else:
        out, ref = gin_sum(x32, edges, n, r32, eps32), _reference(x64, ei, n, r64, eps64)
        leaves32, leaves64 = [x32, r32, eps32], [x64, r64, eps64]
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), ref, **TOL)
    for a, b in zip(torch.autograd.grad(out, leaves32, g.float()), torch.autograd.grad(ref, leaves64, g)):
        torch.testing.assert_close(a.double(), b, **TOL)


def test_bipartite_and_empty_graphs():
    gen = torch.Generator().manual_seed(6)
    ei = torch.stack([torch.randint(0, 20, (70,), generator=gen), torch.randint(0, 12, (70,), generator=gen)])
    xs = torch.randn(20, 5, generator=gen, dtype=torch.float64).requires_grad_()
    xd = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    eps = torch.tensor([-0.2], dtype=torch.float64)
    for edges in (ei, CSR.from_edge_index(ei, (20, 12))):
        xs32 = xs.detach().float().requires_grad_()
        out = gin_sum(xs32, edges, 12, xd.float(), eps.float())
        ref = _reference(xs, ei, 12, xd, eps)
        torch.testing.assert_close(out.double(), ref, **TOL)
        torch.testing.assert_close(torch.autograd.grad(out.sum(), xs32)[0].double(),
                                   torch.autograd.grad(ref.sum(), xs)[0], **TOL)
    empty = torch.empty(2, 0, dtype=torch.long)
    x = torch.randn(7, 3).requires_grad_()
    out = gin_sum(x, empty, 7, x, torch.tensor([0.5]))
    torch.testing.assert_close(out, 1.5 * x)
    torch.testing.assert_close(torch.autograd.grad(out.sum(), x)[0], torch.full((7, 3), 1.5))
    assert gin_sum(x, empty, 0).shape == (0, 3)


def test_refuses_bad_inputs_loudly():
    ei = torch.tensor([[0, 1, 2], [1, 2, 3]])
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="float32"):
        gin_sum(x.double(), ei, 4)
    assert not supports(x.double()) and not supports(x.half()) and supports(x)
    with pytest.raises(ValueError, match="refers to node"):
        gin_sum(x, ei, 3)
    with pytest.raises(ValueError, match="root must be"):
        gin_sum(x, ei, 4, x[:3])
    with pytest.raises(ValueError, match="eps must be"):
        gin_sum(x, ei, 4, x, torch.zeros(2))
    with pytest.raises(ValueError, match="CSR is for"):
        gin_sum(x, CSR.from_edge_index(ei, 4), 5)


def test_no_double_backward():
    x = torch.randn(5, 2, requires_grad=True)
    ei = torch.tensor([[0, 1, 2], [1, 2, 3]])
    (gx,) = torch.autograd.grad(gin_sum(x, ei, 5, x).square().sum(), (x,), create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|double backward|twice"):
        gx.sum().backward()
