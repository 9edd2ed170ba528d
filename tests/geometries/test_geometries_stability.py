"""Finite values and gradients in the hard places: origin, boundary, huge inputs, zero vectors, extreme curvature."""

import itertools

import pytest
import torch

import geometries as G
from geometries.math import lorentz as lmath

DTYPES = [torch.float32, torch.float64]
CURVATURES = [1e-6, 1.0, 1e2]


def manifolds(curv):
    # learnable, so that gradients with respect to the curvature are checked too
    return {
        "euclidean": G.Euclidean(),
        "poincare": G.PoincareBall(curv, learnable=True),
        "lorentz": G.Lorentz(1.0 / curv, learnable=True),
        "sphere": G.Sphere(curv, learnable=True),
        "product": G.Product((G.PoincareBall(curv, learnable=True), 3), (G.Sphere(curv, learnable=True), 3)),
    }


def hard_tangents(m, n_dim, dtype):
    """Intrinsic tangent vectors: zero, tiny, unit, 30 and norm 1e4 (far past any boundary)."""
    base = torch.randn(n_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    base = base / base.norm()
    scales = torch.tensor([0.0, 1e-12, 1e-3, 1.0, 30.0, 1e4], dtype=torch.float64)
    return (scales[:, None] * base).to(dtype)


def all_ops(m, x, y, u):
    """Every public operation, summed into one scalar."""
    ux = m.proju(x, m.transp0(x, u))
    outs = [
        m.expmap0(u),
        m.logmap0(x),
        m.expmap(x, ux),
        m.logmap(x, y),
        m.dist(x, y),
        m.dist(x, x),
        m.dist0(x),
        m.proj(x * 3),
        m.transp(x, y, ux),
        m.transp0back(x, ux),
        m.egrad2rgrad(x, u),
        m.inner(x, ux, ux),
        m.to_tangent0(x),
        m.centroid(torch.stack([x, y], -2)),
    ]
    if m.gyrovector and not isinstance(m, G.Product):
        w = torch.eye(x.shape[-1], dtype=x.dtype) * 0.5
        outs += [m.mobius_add(x, y), m.mobius_matvec(w, x), m.mobius_matvec(torch.zeros_like(w), x)]
    return outs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("curv", CURVATURES)
def test_finite_values_and_gradients(curv, dtype):
    for name, m in manifolds(curv).items():
        d = 6
        v = hard_tangents(m, d, dtype)
        # points: origin, near origin, moderate, at (and pushed past) the boundary / antipode
        x = m.from_tangent0(v)
        y = m.from_tangent0(v.flip(0) * 0.5)
        u = torch.cat((torch.zeros_like(x[..., :1]), v), -1)[..., : x.shape[-1]] if name == "lorentz" else v
        for leaf in (x, y, u):
            leaf.requires_grad_(True)
        outs = all_ops(m, x, y, u)
        for i, o in enumerate(outs):
            assert torch.isfinite(o).all(), f"{name} c={curv} {dtype}: op {i} not finite: {o}"
        total = sum(o.sum() for o in outs)
        params = list(m.parameters())
        grads = torch.autograd.grad(total, [x, y, u, *params], allow_unused=True)
        for g in grads:
            assert g is None or torch.isfinite(g).all(), f"{name} c={curv} {dtype}: non-finite gradient"


@pytest.mark.parametrize("dtype", DTYPES)
def test_boundary_points_stay_inside(dtype):
    for c in CURVATURES:
        ball = G.PoincareBall(c)
        x = ball.expmap0(torch.full((4, 3), 1e4, dtype=dtype))
        assert (c**0.5 * x.norm(dim=-1) < 1).all()
        torch.testing.assert_close(ball.proj(x), x, atol=0, rtol=1e-6)  # idempotent
        sphere = G.Sphere(c)
        # tangent length pi/2/sqrt(k) reaches the antipode of the origin (at infinity): it is clamped
        x = sphere.expmap0(torch.full((1, 3), torch.pi / 2 / 3**0.5 / c**0.5, dtype=dtype))
        assert torch.isfinite(x).all()
        lor = G.Lorentz(1 / c)
        x = lor.expmap0(torch.tensor([[0.0, 1e4, 0.0]], dtype=dtype))
        assert torch.isfinite(x).all()
        # on the hyperboloid up to rounding of x0 ** 2 (x0 ~ e^12 / 2 at the float32 cap)
        err = (lmath.inner(x, x) + lor.k.to(dtype)).abs()
        assert (err <= 4 * torch.finfo(dtype).eps * x[..., 0] ** 2 + 1e-6).all()


def test_zero_vectors_have_identity_jacobian_at_origin():
    for m in manifolds(1.0).values():
        d = 6
        v = torch.zeros(d, dtype=torch.float64)
        jac = torch.autograd.functional.jacobian(lambda t: m.to_tangent0(m.from_tangent0(t)), v)
        torch.testing.assert_close(jac, torch.eye(d, dtype=torch.float64))


def test_gradients_at_equal_points_are_zero_not_nan():
    for m, dtype in itertools.product(manifolds(1.0).values(), DTYPES):
        x = m.from_tangent0(torch.full((2, 6), 0.3, dtype=dtype)).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(m.dist(x, x.detach()).sum(), x)
        assert torch.equal(g, torch.zeros_like(g))


def test_transport_between_close_points_near_boundary_float32():
    """In float32 geoopt's gyration cancels to noise here (inf momentum in RiemannianAdam); ours matches float64."""
    ball = G.PoincareBall(1.25)  # exact in float32
    g = torch.Generator().manual_seed(0)
    d = torch.randn(64, 2, dtype=torch.float64, generator=g)
    x = d / d.norm(dim=-1, keepdim=True) * (1 - 3e-5) / 1.25**0.5
    y = x + 1e-4 * torch.randn(64, 2, dtype=torch.float64, generator=g)
    gap = 2e-5 + 1e-4 * torch.rand(64, 1, dtype=torch.float64, generator=g)
    y = y / y.norm(dim=-1, keepdim=True) * (1 - gap) / 1.25**0.5
    v = torch.randn(64, 2, dtype=torch.float64, generator=g) * 1e-3
    out = ball.transp(x.float(), y.float(), v.float())
    assert torch.isfinite(out).all()
    ref = ball.transp(x.float().double(), y.float().double(), v.float().double())  # same rounded inputs, float64
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-9)
    assert ((ball.inner(y, ref, ref) / ball.inner(x, v, v) - 1).abs() < 0.05).all()  # isometry, up to input rounding


@pytest.mark.parametrize("cls", [G.PoincareBall, G.Lorentz, G.Sphere])
def test_stale_points_after_curvature_grows(cls):
    """Parameters stored for the old curvature lie off the manifold once a learnable curvature grows."""
    m = cls(1.0, learnable=True)
    x = m.random(8, 3, std=5.0)  # near the boundary / far out
    y = m.random(8, 3, std=5.0)
    with torch.no_grad():
        m.curv.raw.add_(3.0)  # curvature magnitude x ~20
    u = m.proju(x, torch.randn_like(x))
    for out in (m.expmap(x, u), m.logmap(x, y), m.transp(x, y, u), m.dist(x, y), m.egrad2rgrad(x, u), m.proj(x)):
        assert torch.isfinite(out).all()


def test_lorentz_distance_far_from_origin_float32():
    """Points ~10 curvature radii out: the Minkowski form of the distance cancels to noise in float32."""
    lor = G.Lorentz(1.0)
    g = torch.Generator().manual_seed(0)
    v = torch.randn(32, 3, dtype=torch.float64, generator=g)
    v = v / v.norm(dim=-1, keepdim=True) * 10
    w = v + 0.05 * torch.randn(32, 3, dtype=torch.float64, generator=g)
    x, y = lor.from_tangent0(v), lor.from_tangent0(w)
    ref = lor.dist(x, y)
    torch.testing.assert_close(lor.dist(x.float(), y.float()).double(), ref, rtol=1e-3, atol=2e-3)  # Minkowski form: 2e-2
    assert (ref > 0.01).all()


def test_lorentz_tangent_metric_and_transport_far_from_origin_float32():
    """Riemannian Adam needs |grad|^2 >= 0 and a finite transported momentum at points ~11 radii out."""
    lor = G.Lorentz(1.0)
    g = torch.Generator().manual_seed(1)
    v = torch.randn(32, 2, dtype=torch.float64, generator=g)
    v = v / v.norm(dim=-1, keepdim=True) * 11
    x = lor.from_tangent0(v)
    y = lor.from_tangent0(v + 0.01 * torch.randn(32, 2, dtype=torch.float64, generator=g))
    u = lor.proju(x, torch.randn(32, 3, dtype=torch.float64, generator=g))
    xf, yf, uf = x.float(), y.float(), u.float()
    sq = lor.inner(xf, uf, uf)
    assert (sq >= 0).all()
    # same float32-rounded inputs in float64 (the rounding itself moves u by ~x0 * 6e-8 relative)
    torch.testing.assert_close(sq.double(), lor.inner(xf.double(), uf.double(), uf.double()), rtol=1e-3, atol=1e-6)
    out = lor.transp(xf, yf, uf)
    ref = lor.transp(xf.double(), yf.double(), uf.double())
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-3)
