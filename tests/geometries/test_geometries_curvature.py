"""Learnable curvature stays in its sign range, mixes dtypes correctly and trains with geoopt's optimizers."""

import geoopt
import pytest
import torch

import geometries as G

MANIFOLDS = [G.PoincareBall, G.Sphere, G.Lorentz]


@pytest.mark.parametrize("cls", MANIFOLDS)
def test_curvature_stays_positive_under_large_gradient_steps(cls):
    m = cls(1.0, learnable=True)
    opt = torch.optim.SGD(m.parameters(), lr=100.0)
    for _ in range(50):
        opt.zero_grad()
        m.curv().sum().backward()  # gradient pushes the magnitude towards (and past) zero
        opt.step()
        assert m.curv().item() > 0
    assert m.curvature.sign().item() == (1 if cls is G.Sphere else -1)
    x = m.random(4, 3, std=2.0)
    assert torch.isfinite(m.dist(x, x.flip(0))).all()


@pytest.mark.parametrize("cls", MANIFOLDS)
def test_float32_curvature_in_float64_computation(cls):
    m = cls(0.3, learnable=True)  # float32 parameter
    assert m.curv.raw.dtype == torch.float32
    x = m.random(6, 4, std=0.5, dtype=torch.float64)
    y = m.random(6, 4, std=0.5, dtype=torch.float64)
    d = m.dist(x, y)
    assert d.dtype == torch.float64
    exact = cls(m.curv(torch.float64).item())  # same magnitude, fixed, float64 buffer
    torch.testing.assert_close(d, exact.dist(x, y), atol=1e-12, rtol=1e-12)
    d.sum().backward()
    assert m.curv.raw.grad is not None and m.curv.raw.grad.dtype == torch.float32
    assert torch.isfinite(m.curv.raw.grad)


@pytest.mark.parametrize("cls", MANIFOLDS)
def test_riemannian_adam_optimises_points_and_curvature(cls):
    torch.manual_seed(0)
    m = cls(1.0, learnable=True)
    target = m.random(8, 3, std=1.0)
    p = geoopt.ManifoldParameter(m.random(8, 3, std=0.1), manifold=m)
    opt = geoopt.optim.RiemannianAdam([p, *m.parameters()], lr=0.05)
    start = m.dist(p, target).mean().item()
    for _ in range(150):
        opt.zero_grad()
        m.dist(p, target.detach()).pow(2).mean().backward()
        opt.step()
    end = m.dist(p, target).mean().item()
    assert end < 0.1 * start
    assert torch.allclose(m.proj(p.detach()), p.detach(), atol=1e-5)
    assert m.curv().item() > 0


def test_invalid_curvature_is_rejected():
    for bad in [0.0, -1.0, float("nan"), float("inf")]:
        with pytest.raises(ValueError, match="curvature c"):
            G.PoincareBall(bad)
    with pytest.raises(ValueError, match="floor"):
        G.Sphere(1e-9, learnable=True)
    with pytest.raises(ValueError, match="curvature k must hold finite numbers > 0"):
        G.Lorentz(torch.tensor([1.0, -2.0]))
    assert float(G.Sphere(1e-9).k) == pytest.approx(1e-9)  # fixed curvature has no floor
