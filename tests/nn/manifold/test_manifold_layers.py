"""Manifold linear, activation, centroid, decoders and tangent maps against direct formulas and geoopt."""

import geoopt
import pytest
import torch

import geometries as G
from graphrep.nn.manifold import (
    DistanceClassifier,
    FermiDiracDecoder,
    FromSharedTangent,
    ManifoldActivation,
    ManifoldCentroid,
    ManifoldLinear,
    ToSharedTangent,
    fuse_in_tangent,
)

DT = torch.float64


def test_linear_on_ball_is_mobius_matvec_plus_mobius_bias():
    torch.manual_seed(0)
    ball, ref = G.PoincareBall(0.7), geoopt.PoincareBall(torch.tensor(0.7, dtype=DT))
    lin = ManifoldLinear(ball, 4, 3).double()
    with torch.no_grad():
        lin.bias.normal_(0, 0.3)
    x = ball.random(10, 4, std=0.5, dtype=DT)
    expected = ref.mobius_add(ref.mobius_matvec(lin.weight, x), ref.expmap0(lin.bias))
    torch.testing.assert_close(lin(x), expected)
    # the generic form used for Lorentz/products gives the same map on the ball
    h = ball.mobius_matvec(lin.weight, x)
    torch.testing.assert_close(ball.expmap(h, ball.transp0(h, lin.bias.expand_as(h))), expected)


def test_linear_commutes_with_the_lorentz_to_poincare_isometry():
    torch.manual_seed(1)
    k = 2.0
    lor, ball = G.Lorentz(k), G.PoincareBall(1 / k)
    lin_l = ManifoldLinear(lor, 3, 5).double()
    lin_b = ManifoldLinear(ball, 3, 5).double()
    with torch.no_grad():
        lin_l.bias.normal_(0, 0.4)
        lin_b.weight.copy_(lin_l.weight)
        lin_b.bias.copy_(lin_l.bias / 2)  # ball tangent coordinates at 0 are half the Riemannian length
    x = lor.random(7, 4, std=0.6, dtype=DT)
    torch.testing.assert_close(lor.to_poincare(lin_l(x)), lin_b(lor.to_poincare(x)))
    with pytest.raises(ValueError, match="4 coordinates"):
        lin_l(x[:, :3])


@pytest.mark.parametrize("make", [G.PoincareBall, G.Sphere, G.Lorentz, G.Euclidean])
def test_activation_and_changing_curvature(make):
    m_in = make() if make is G.Euclidean else make(0.5)
    m_out = make() if make is G.Euclidean else make(2.0)
    act = ManifoldActivation(m_in, torch.tanh, manifold_out=m_out)
    x = m_in.random(6, m_in.point_dim(3), std=0.5, dtype=DT)
    y = act(x)
    torch.testing.assert_close(m_out.to_tangent0(y), torch.tanh(m_in.to_tangent0(x)))
    torch.testing.assert_close(m_out.proj(y), y)


@pytest.mark.parametrize("make", [lambda: G.PoincareBall(0.8), lambda: G.Sphere(0.5), lambda: G.Lorentz(1.5)])
def test_centroid_of_two_points_is_the_geodesic_midpoint(make):
    m = make()
    x = m.random(5, m.point_dim(3), std=0.4, dtype=DT)
    y = m.random(5, m.point_dim(3), std=0.4, dtype=DT)
    mid = m.centroid(torch.stack([x, y], -2))
    torch.testing.assert_close(m.dist(mid, x), m.dist(x, y) / 2)
    torch.testing.assert_close(m.dist(mid, y), m.dist(x, y) / 2)


@pytest.mark.parametrize("make", [lambda: G.PoincareBall(0.8), lambda: G.Lorentz(1.5), G.Euclidean,
                                  lambda: G.Product((G.PoincareBall(), 2), (G.Lorentz(), 2))])
def test_sparse_centroid_matches_dense(make):
    m = make()
    d = m.point_dim(4) if not isinstance(m, G.Product) else 5
    x = m.random(6, d, std=0.5, dtype=DT)
    w = torch.rand(6, dtype=DT) + 0.1
    cen = ManifoldCentroid(m)
    batch = torch.tensor([0, 0, 1, 1, 1, 3])
    pooled = cen(x, batch, weight=w)
    for g, members in [(0, [0, 1]), (1, [2, 3, 4]), (3, [5])]:
        torch.testing.assert_close(pooled[g], m.centroid(x[members], w[members]))
    torch.testing.assert_close(pooled[2], m.origin(d, dtype=DT))  # empty group
    edge_index = torch.tensor([[1, 2, 3, 0, 5], [0, 0, 0, 4, 4]])
    ew = torch.rand(5, dtype=DT) + 0.1
    neigh = cen(x, edge_index=edge_index, edge_weight=ew)
    torch.testing.assert_close(neigh[0], m.centroid(x[[1, 2, 3]], ew[:3]))
    torch.testing.assert_close(neigh[4], m.centroid(x[[0, 5]], ew[3:]))
    with pytest.raises(ValueError, match="exactly one"):
        cen(x)


def test_fermi_dirac_decoder():
    ball = G.PoincareBall()
    x = ball.random(5, 2, dtype=DT)
    ei = torch.tensor([[0, 1, 2], [3, 4, 2]])
    logits = FermiDiracDecoder(ball, r=2.0, t=0.5)(x, ei)
    expected = 1 / (torch.exp((ball.dist(x[ei[0]], x[ei[1]]) ** 2 - 2.0) / 0.5) + 1)
    torch.testing.assert_close(torch.sigmoid(logits), expected)
    assert torch.sigmoid(logits[2]) == pytest.approx(1 / (torch.exp(torch.tensor(-4.0)) + 1).item())


def test_distance_classifier_trains_with_riemannian_adam():
    torch.manual_seed(0)
    ball = G.PoincareBall(1.0, learnable=True)
    centers = ball.random(3, 2, std=1.5)
    labels = torch.arange(3).repeat_interleave(20)
    x = ball.expmap(centers[labels], 0.05 * torch.randn(60, 2)).detach()
    clf = DistanceClassifier(ball, 2, 3)
    opt = geoopt.optim.RiemannianAdam(clf.parameters(), lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(clf(x), labels).backward()
        opt.step()
    assert (clf(x).argmax(-1) == labels).float().mean() == 1.0
    # the prototypes stay on the ball: projecting again moves them by rounding at most (proj recomputes the norm of a
    # point already scaled onto the boundary, which may land an ulp outside: not a bit-exact fixed point)
    torch.testing.assert_close(ball.proj(clf.prototypes.detach()), clf.prototypes.detach(), rtol=1e-6, atol=0)


def test_shared_tangent_maps_and_fusion():
    torch.manual_seed(0)
    ball, sph, lor = G.PoincareBall(), G.Sphere(), G.Lorentz()
    xs = [ball.random(4, 3, dtype=DT), sph.random(4, 3, dtype=DT), lor.random(4, 4, dtype=DT)]
    to = [ToSharedTangent(m, 3) for m in (ball, sph, lor)]
    back = [FromSharedTangent(m, 3) for m in (ball, sph, lor)]
    for t, b, x in zip(to, back, xs):
        torch.testing.assert_close(b(t(x)), x)
    w = torch.softmax(torch.randn(4, 3, dtype=DT), -1)
    fused = fuse_in_tangent(xs, to, w)
    torch.testing.assert_close(fused, sum(w[:, i : i + 1] * to[i](xs[i]) for i in range(3)))
    proj = ToSharedTangent(lor, 3, 8).double()
    assert proj(xs[2]).shape == (4, 8)
    with pytest.raises(ValueError, match="weights must have shape"):
        fuse_in_tangent(xs, to, w[:, :2])
