"""Hypothesis property tests in float32 and float64: inverse maps, metric axioms, points near the ball's boundary."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import geometries as G

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)
DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 2e-3, torch.float64: 1e-8}
CURV = st.sampled_from([0.1, 1.0, 4.0])
KINDS = ["euclidean", "poincare", "lorentz", "sphere", "product"]


def make(kind, curv):
    if kind == "euclidean":
        return G.Euclidean()
    if kind == "poincare":
        return G.PoincareBall(curv)
    if kind == "lorentz":
        return G.Lorentz(1.0 / curv)  # sectional curvature -curv
    if kind == "sphere":
        return G.Sphere(curv)
    return G.Product((G.PoincareBall(curv), 2), (G.Sphere(curv), 2), (G.Lorentz(1 / curv), 2))


def points(kind, curv, seed, n, dtype, radius):
    """n points at geodesic distance <= radius / sqrt(curv) from the origin (sphere: within a quarter circle)."""
    m = make(kind, curv)
    d = 6 if kind == "product" else 3
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(n, d, dtype=torch.float64, generator=g)
    r = torch.rand(n, 1, dtype=torch.float64, generator=g) * radius / math.sqrt(curv)
    v = v / v.norm(dim=-1, keepdim=True) * r
    if kind in ("poincare", "sphere", "product"):
        v = v / 2  # stereographic expmap0 doubles lengths: d(0, exp0(v)) = 2 |v|
    return m, m.from_tangent0(v.to(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(curv=CURV, seed=st.integers(0, 2**31 - 1))
def test_exp_log_round_trip(kind, dtype, curv, seed):
    radius = 1.4 if kind in ("sphere", "product") else 3.0
    m, x = points(kind, curv, seed, 8, dtype, radius)
    _, y = points(kind, curv, seed + 1, 8, dtype, radius)
    scale = 1 / math.sqrt(curv)
    torch.testing.assert_close(m.expmap(x, m.logmap(x, y)), y, atol=TOL[dtype] * scale * 5, rtol=TOL[dtype])
    torch.testing.assert_close(m.expmap0(m.logmap0(y)), y, atol=TOL[dtype] * scale, rtol=TOL[dtype])
    # the log map has the geodesic distance as its Riemannian norm
    u = m.logmap(x, y)
    norm = m.inner(x, u, u).clamp_min(0).sqrt()
    torch.testing.assert_close(norm, m.dist(x, y), atol=TOL[dtype] * scale * 5, rtol=TOL[dtype] * 5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(curv=CURV, seed=st.integers(0, 2**31 - 1))
def test_metric_axioms(kind, dtype, curv, seed):
    radius = 1.4 if kind in ("sphere", "product") else 4.0
    m, x = points(kind, curv, seed, 8, dtype, radius)
    _, y = points(kind, curv, seed + 1, 8, dtype, radius)
    _, z = points(kind, curv, seed + 2, 8, dtype, radius)
    scale = 1 / math.sqrt(curv)
    dxy, dyx = m.dist(x, y), m.dist(y, x)
    torch.testing.assert_close(dxy, dyx, atol=TOL[dtype] * scale, rtol=TOL[dtype])
    assert torch.equal(m.dist(x, x), torch.zeros_like(dxy))
    assert (dxy >= 0).all()
    assert (m.dist(x, z) <= dxy + m.dist(y, z) + TOL[dtype] * scale).all()


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(
    curv=st.sampled_from([1e-6, 0.1, 1.0, 100.0]),
    gap=st.floats(1e-3, 0.5),
    seed=st.integers(0, 2**31 - 1),
)
def test_ball_round_trip_near_boundary(dtype, curv, gap, seed):
    """expmap0(logmap0(x)) = x for points up to 1e-3 (relative to the radius) from the boundary."""
    ball = G.PoincareBall(curv)
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(16, 5, dtype=torch.float64, generator=g)
    x = (v / v.norm(dim=-1, keepdim=True) * (1 - gap) / math.sqrt(curv)).to(dtype)
    back = ball.expmap0(ball.logmap0(x))
    torch.testing.assert_close(back, x, atol=1e-5 / math.sqrt(curv) if dtype == torch.float32 else 1e-12, rtol=1e-5)
    assert torch.isfinite(ball.dist(x, -x)).all() and (ball.dist(x, -x) > ball.dist0(x)).all()
