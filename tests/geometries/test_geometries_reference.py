"""The manifold math agrees with geoopt's (float64, float64 curvature) away from the numerically hard regions."""

import geoopt
import pytest
import torch

import geometries as G
from geometries.math import lorentz as lmath

DT = torch.float64


def _pts(m, n, d, std, seed):
    g = torch.Generator().manual_seed(seed)
    return m.random(n, d, std=std, dtype=DT, generator=g)


@pytest.mark.parametrize("c", [0.3, 1.0, 2.5])
def test_poincare_matches_geoopt(c):
    ours, ref = G.PoincareBall(c), geoopt.PoincareBall(torch.tensor(c, dtype=DT))
    x, y = _pts(ours, 16, 4, 0.3 / c**0.5, 0), _pts(ours, 16, 4, 0.3 / c**0.5, 1)
    u = torch.randn(16, 4, dtype=DT, generator=torch.Generator().manual_seed(2)) * 0.2
    m = torch.randn(3, 4, dtype=DT, generator=torch.Generator().manual_seed(3))
    pairs = {
        "dist": (ours.dist(x, y), ref.dist(x, y)),
        "expmap": (ours.expmap(x, u), ref.expmap(x, u)),
        "logmap": (ours.logmap(x, y), ref.logmap(x, y)),
        "expmap0": (ours.expmap0(u), ref.expmap0(u)),
        "logmap0": (ours.logmap0(x), ref.logmap0(x)),
        "transp": (ours.transp(x, y, u), ref.transp(x, y, u)),
        "transp0": (ours.transp0(y, u), ref.transp0(y, u)),
        "egrad2rgrad": (ours.egrad2rgrad(x, u), ref.egrad2rgrad(x, u)),
        "inner": (ours.inner(x, u, u), ref.inner(x, u, u, keepdim=True).squeeze(-1)),
        "mobius_add": (ours.mobius_add(x, y), ref.mobius_add(x, y)),
        "mobius_matvec": (ours.mobius_matvec(m, x), ref.mobius_matvec(m, x)),
        "centroid": (ours.centroid(x), ref.weighted_midpoint(x, reducedim=[0])),
    }
    for name, (a, b) in pairs.items():
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9, msg=name)


@pytest.mark.parametrize("k", [0.3, 1.0, 2.5])
def test_sphere_matches_geoopt(k):
    ours, ref = G.Sphere(k), geoopt.SphereProjection(k=torch.tensor(k, dtype=DT))
    s = 0.5 / k**0.5
    x, y = _pts(ours, 16, 3, s, 0), _pts(ours, 16, 3, s, 1)
    u = torch.randn(16, 3, dtype=DT, generator=torch.Generator().manual_seed(2)) * s
    for name, a, b in [
        ("dist", ours.dist(x, y), ref.dist(x, y)),
        ("expmap", ours.expmap(x, u), ref.expmap(x, u)),
        ("logmap", ours.logmap(x, y), ref.logmap(x, y)),
        ("transp", ours.transp(x, y, u), ref.transp(x, y, u)),
        ("mobius_add", ours.mobius_add(x, y), ref.mobius_add(x, y)),
    ]:
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9, msg=name)


def test_sphere_distance_is_great_circle_angle():
    """Inverse stereographic projection onto the unit sphere: distance = angle between the images."""
    sp = G.Sphere(1.0)
    x, y = _pts(sp, 32, 3, 1.0, 5), _pts(sp, 32, 3, 1.0, 6)

    def lift(p):
        n2 = p.pow(2).sum(-1, keepdim=True)
        return torch.cat(((1 - n2) / (1 + n2), 2 * p / (1 + n2)), -1)

    angle = torch.arccos((lift(x) * lift(y)).sum(-1).clamp(-1, 1))
    torch.testing.assert_close(sp.dist(x, y), angle, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("k", [0.3, 1.0, 2.5])
def test_lorentz_matches_geoopt(k):
    ours, ref = G.Lorentz(k), geoopt.Lorentz(torch.tensor(k, dtype=DT))
    x, y = _pts(ours, 16, 4, 0.6, 0), _pts(ours, 16, 4, 0.6, 1)
    v = ours.proju(x, torch.randn(16, 4, dtype=DT, generator=torch.Generator().manual_seed(2)) * 0.4)
    g = torch.randn(16, 4, dtype=DT)
    g_copy = g.clone()
    for name, a, b in [
        ("dist", ours.dist(x, y), ref.dist(x, y)),
        ("expmap", ours.expmap(x, v), ref.expmap(x, v)),
        ("logmap", ours.logmap(x, y), ref.logmap(x, y)),
        ("logmap0", ours.logmap0(x), ref.logmap0(x)),
        ("transp", ours.transp(x, y, v), ref.transp(x, y, v)),
        ("egrad2rgrad", ours.egrad2rgrad(x, g), ref.egrad2rgrad(x, g.clone())),
        ("on manifold", lmath.inner(x, x), torch.full((16,), -k, dtype=DT)),
        ("tangent metric", ours.inner(x, v, v), ref.inner(x, v, v)),
        ("to_poincare", G.PoincareBall(1 / k).dist(ours.to_poincare(x), ours.to_poincare(y)), ref.dist(x, y)),
    ]:
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-8, msg=name)
    assert torch.equal(g, g_copy), "egrad2rgrad must not modify the gradient in place (geoopt's does)"


def test_euclidean_and_product():
    e = G.Euclidean()
    x, y = torch.randn(5, 3, dtype=DT), torch.randn(5, 3, dtype=DT)
    torch.testing.assert_close(e.dist(x, y), (x - y).norm(dim=-1))
    torch.testing.assert_close(e.centroid(x), x.mean(0))
    ball, sph, lor = G.PoincareBall(), G.Sphere(), G.Lorentz()
    p = G.Product((ball, 2), (sph, 3), (lor, 2), (e, 1))
    assert p.point_dim(8) == 9 and p.tangent_dim(9) == 8
    a, b = p.random(7, 9, std=0.4, dtype=DT), p.random(7, 9, std=0.4, dtype=DT)
    parts_a, parts_b = p._split(a), p._split(b)
    expected = sum(m.dist(u, v) ** 2 for m, u, v in zip([ball, sph, lor, e], parts_a, parts_b)).sqrt()
    torch.testing.assert_close(p.dist(a, b), expected)
    torch.testing.assert_close(p.from_tangent0(p.to_tangent0(a)), a)
    with pytest.raises(ValueError, match="last dimension 9"):
        p.dist(a[..., :8], b[..., :8])
    with pytest.raises(ValueError, match="pair"):
        G.Product(ball)
