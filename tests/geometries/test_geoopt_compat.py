"""geoopt's call forms and properties on geometries' classes (the checks of geoopt's own test suite for the
stereographic, Lorentz, Euclidean and product manifolds, restated; no geoopt test file is needed)."""

import geoopt
import pytest
import torch

import geometries as G

DT = torch.float64


def _points(m, n=20, d=6, seed=0, scale=0.9):
    """Points of a stereographic model, up to ``scale`` of its radius (or of 1 for flat/huge radii)."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(n, d, dtype=DT, generator=g)
    v = v / v.norm(dim=-1, keepdim=True) * torch.rand(n, 1, dtype=DT, generator=g) * scale
    r = m.radius.to(DT)
    r = torch.where(torch.isfinite(r), r, torch.ones_like(r)).clamp_max(100)
    return m.projx(v * r)


STEREO = {
    "ball": lambda: G.PoincareBall(0.7),
    "sphere": lambda: G.Sphere(0.7),
    "stereo-neg": lambda: G.Stereographic(torch.tensor(-0.7, dtype=DT), learnable=True),
    "stereo-flat": lambda: G.Stereographic(torch.tensor(0.0, dtype=DT), learnable=True),
    "stereo-rows": lambda: G.Stereographic(torch.linspace(-1, 1, 20, dtype=DT)[:, None], learnable=True),
}


def test_classes_are_geoopt_classes():
    assert isinstance(G.PoincareBall(), geoopt.PoincareBall)
    assert isinstance(G.Sphere(), geoopt.SphereProjection) and G.SphereProjection is G.Sphere
    assert isinstance(G.Stereographic(), geoopt.Stereographic)
    assert isinstance(G.Lorentz(), geoopt.Lorentz)
    assert isinstance(G.Euclidean(), geoopt.Euclidean)
    assert isinstance(G.ProductManifold((G.Sphere(), 2)), geoopt.ProductManifold)
    assert isinstance(G.StereographicProductManifold((G.Sphere(), 2)), geoopt.StereographicProductManifold)
    ball = G.PoincareBall(2.0)
    assert float(ball.k) == -2.0 and float(ball.c) == 2.0 and float(ball.radius) == pytest.approx(2**-0.5)


@pytest.mark.parametrize("kind", list(STEREO))
def test_gyrovector_identities(kind):
    m = STEREO[kind]()
    a, b = _points(m, seed=1), _points(m, seed=2)
    tol = dict(atol=1e-8, rtol=1e-6)
    # left cancellation, zero, negation
    torch.testing.assert_close(m.mobius_add(-a, m.mobius_add(a, b)), b, **tol)
    torch.testing.assert_close(m.mobius_add(torch.zeros_like(a), b), b, **tol)
    torch.testing.assert_close(m.mobius_add(a, -a), torch.zeros_like(a), **tol)
    torch.testing.assert_close(m.mobius_add(-b, -a), -m.mobius_add(b, a), **tol)
    # (a [+] b) [-] b = a and (a (+) b) [-]_co b = a
    torch.testing.assert_close(m.mobius_sub(m.mobius_coadd(a, b), b), a, atol=1e-7, rtol=1e-5)
    torch.testing.assert_close(m.mobius_cosub(m.mobius_add(a, b), b), a, atol=1e-7, rtol=1e-5)
    # n additions = scalar multiplication by n; scalar multiplication is associative and distributive
    y = torch.zeros_like(a)
    for _ in range(3):
        y = m.mobius_add(a, y)
    torch.testing.assert_close(y, m.mobius_scalar_mul(torch.tensor(3.0, dtype=DT), a), atol=1e-7, rtol=1e-5)
    r1, r2 = torch.tensor(0.3, dtype=DT), torch.tensor(-0.6, dtype=DT)
    torch.testing.assert_close(m.mobius_scalar_mul(r1 * r2, a), m.mobius_scalar_mul(r1, m.mobius_scalar_mul(r2, a)),
                               **tol)
    torch.testing.assert_close(m.mobius_scalar_mul(r1 + r2, a),
                               m.mobius_add(m.mobius_scalar_mul(r1, a), m.mobius_scalar_mul(r2, a)), **tol)


@pytest.mark.parametrize("kind", list(STEREO))
def test_maps_geodesics_transport(kind):
    m = STEREO[kind]()
    a, b = _points(m, seed=3), _points(m, seed=4)
    tol = dict(atol=1e-8, rtol=1e-6)
    torch.testing.assert_close(m.expmap(x=a, u=m.logmap(a, b)), b, **tol)
    v = m.logmap0(a)
    torch.testing.assert_close(m.expmap0(v), a, **tol)
    torch.testing.assert_close(m.norm(torch.zeros_like(v), v, keepdim=True), m.dist0(a, keepdim=True), **tol)
    # geodesic end points and constant speed
    torch.testing.assert_close(m.geodesic(torch.tensor(0.0, dtype=DT), a, b), a, **tol)
    torch.testing.assert_close(m.geodesic(torch.tensor(1.0, dtype=DT), a, b), b, **tol)
    t = torch.linspace(0, 1, 13, dtype=DT).view(13, 1, 1)
    g = m.geodesic(t, a, b)
    seg = m.dist(g[:-1], g[1:], keepdim=True)
    torch.testing.assert_close(seg, (m.dist(a, b, keepdim=True) / 12).expand_as(seg), atol=5e-6, rtol=1e-5)
    gu = m.geodesic_unit(t, a, b)
    torch.testing.assert_close(m.dist(gu[:1], gu, keepdim=True), t.expand(13, 20, 1), atol=1e-8, rtol=1e-6)
    # transport: from the origin equals transp0, and preserves the metric
    v0, u0 = torch.rand_like(a) + 1e-5, torch.rand_like(a) + 1e-5
    torch.testing.assert_close(m.transp0(a, v0), m.transp(torch.zeros_like(a), a, v0), **tol)
    torch.testing.assert_close(m.inner(a, m.transp0(a, v0), m.transp0(a, u0), keepdim=True),
                               m.inner(torch.zeros_like(a), v0, u0, keepdim=True), **tol)
    torch.testing.assert_close(m.inner(b, m.transp(a, b, v0), m.transp(a, b, u0), keepdim=True),
                               m.inner(a, v0, u0, keepdim=True), atol=1e-7, rtol=1e-6)
    # Mobius matvec = mobius_fn_apply of the matrix; chains; zero matrix gives the origin
    mat = torch.randn(3, a.shape[-1], dtype=DT, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(m.mobius_fn_apply(lambda x: x @ mat.T, a), m.mobius_matvec(mat, a), **tol)
    sq = torch.randn(6, 6, dtype=DT, generator=torch.Generator().manual_seed(6)) * 0.3
    torch.testing.assert_close(m.mobius_fn_apply_chain(a, lambda x: x @ sq.T, lambda x: x @ sq.T),
                               m.mobius_matvec(sq, m.mobius_matvec(sq, a)), atol=1e-7, rtol=1e-5)
    assert torch.equal(m.mobius_matvec(torch.zeros(3, 6, dtype=DT), a), torch.zeros(20, 3, dtype=DT))
    # distance to a gyroplane through a along a unit direction equals the distance travelled
    w = torch.rand_like(a)
    wr = w / m.norm(a, w, keepdim=True)
    z = m.expmap(a, wr)
    torch.testing.assert_close(m.dist2plane(z, a, wr), m.dist(a, z), atol=4e-4, rtol=4e-4)
    # stereographic projection round trip, antipode
    torch.testing.assert_close(m.sproj(m.inv_sproj(a)), a, **tol)


@pytest.mark.parametrize("kind", ["ball", "sphere", "stereo-neg"])
def test_gradients_reach_points_and_curvature(kind):
    m = STEREO[kind]()
    a = _points(m, seed=7).detach().requires_grad_(True)
    b = _points(m, seed=8)
    out = m.dist(m.mobius_add(a, b), m.expmap0(m.logmap0(b))) + m.dist2plane(a, b, b - a).sum()
    out.sum().backward()
    assert torch.isfinite(a.grad).all()
    params = list(m.parameters())
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in params)


def test_antipode_and_sphere_lift():
    sp = G.Sphere(0.7)
    a = _points(sp, seed=9)
    torch.testing.assert_close(sp.inv_sproj(sp.antipode(a)), -sp.inv_sproj(a), atol=1e-9, rtol=1e-9)
    ball = G.PoincareBall(0.7)
    assert torch.equal(ball.antipode(a), -a)


@pytest.mark.parametrize("lincomb", [True, False])
def test_weighted_midpoint_forms(lincomb):
    for k in (-1.0, 0.0, 1.0):
        m = G.Stereographic(k, learnable=True)
        a = m.random(2, 3, 10, std=0.3).detach().requires_grad_(True)
        mid = m.weighted_midpoint(a, lincomb=lincomb)
        assert mid.shape == (10,) and torch.isfinite(mid).all()
        mid_r = m.weighted_midpoint(a, reducedim=[0], lincomb=lincomb)
        assert mid_r.shape == (3, 10)
        w = torch.randn(2, 3)
        mid_w = m.weighted_midpoint(a, w, reducedim=[0], lincomb=lincomb, posweight=True)
        assert mid_w.shape == (3, 10) and torch.isfinite(mid_w).all()
        (mid.sum() + mid_r.sum() + mid_w.sum()).backward()
        assert torch.isfinite(a.grad).all() and torch.isfinite(m.k.grad).all()
    # with unit weights on the ball it is the gyro-midpoint graphrep's centroid computes
    ball = G.PoincareBall(0.5)
    x = ball.random(5, 4, std=0.4, dtype=DT)
    torch.testing.assert_close(ball.weighted_midpoint(x, reducedim=[0]), ball.centroid(x, dim=-2))


def test_dim_and_project_keywords():
    ball = G.PoincareBall(1.0)
    x, y = _points(ball, seed=10), _points(ball, seed=11)
    xt, yt = x.T.contiguous(), y.T.contiguous()
    torch.testing.assert_close(ball.dist(xt, yt, dim=0), ball.dist(x, y))
    torch.testing.assert_close(ball.mobius_add(xt, yt, dim=0).T, ball.mobius_add(x, y))
    torch.testing.assert_close(ball.expmap(xt, yt, dim=0).T, ball.expmap(x, y))
    torch.testing.assert_close(ball.lambda_x(xt, dim=0, keepdim=True).T, ball.lambda_x(x, keepdim=True))
    far = ball.expmap(x, y * 1e3, project=False)
    assert (far.norm(dim=-1) <= 1.0 + 1e-12).all() and not torch.equal(far, ball.projx(far))


def test_random_and_wrapped_normal_and_origin():
    ball = G.PoincareBall(1.0)
    p = ball.random_normal(50, 4, std=0.5)
    assert isinstance(p, geoopt.ManifoldTensor) and p.manifold is ball and p.dtype == torch.get_default_dtype()
    mean = ball.expmap0(torch.full((4,), 0.2))
    w = ball.wrapped_normal(1000, 4, mean=mean, std=0.1)
    assert ball.dist(w, mean).mean() < 0.5 and ball.dist(w.mean(0), mean) < 0.1
    o = ball.origin(3, 4)
    assert isinstance(o, geoopt.ManifoldTensor) and torch.equal(o, torch.zeros(3, 4))
    with pytest.raises(ValueError):
        ball.origin(())
    lor = G.Lorentz(torch.Tensor([2.0]))
    r = lor.random_normal((10, 500))
    torch.testing.assert_close(lor.logmap0(r).mean(-1), torch.zeros(10), atol=0.1, rtol=0.1)
    torch.testing.assert_close(lor.origin(10, 10), lor.projx(torch.zeros(10, 10)))


def _lorentz_points(k, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(50, 10, dtype=DT, generator=g)
    a = a / a.norm(dim=-1, keepdim=True) * (torch.rand(1, dtype=DT, generator=g) * k) ** 0.5
    return geoopt.manifolds.lorentz.math.project(a, k=torch.tensor(k, dtype=DT))


@pytest.mark.parametrize("k", [1.0, 4.0, 9.0])
def test_lorentz_call_forms(k):
    man = G.Lorentz(k=torch.tensor([k], dtype=DT))
    a, b = man.projx(_lorentz_points(k, 1)), man.projx(_lorentz_points(k, 2))
    assert man._check_point_on_manifold(a)[0]
    assert man._check_vector_on_tangent(a, man.proju(a, b))[0]
    torch.testing.assert_close(man.expmap(a, man.logmap(a, b), project=False), b)
    v = man.logmap0(a)
    torch.testing.assert_close(man.expmap0(v), a)
    torch.testing.assert_close(man.norm(v, keepdim=True), man.dist0(a, keepdim=True))
    zero = man.origin(50, 10)
    torch.testing.assert_close(man.inner0(a), man.inner(None, a, zero))
    torch.testing.assert_close(man.logmap0back(a), man.logmap(a, zero))
    # unit-speed geodesic
    u = man.proju(a, b)
    u = u / man.norm(u, keepdim=True)
    t = torch.linspace(0, 1, 13, dtype=DT).view(13, 1, 1)
    g = man.geodesic_unit(t, a, u)
    torch.testing.assert_close(man.dist(g[:1], g, keepdim=True)[1:], t.expand(13, 50, 1)[1:], atol=1e-8, rtol=1e-6)
    # transport: through the origin equals directly; preserves the (Minkowski) metric of tangent vectors
    v0 = man.proju(a, torch.rand_like(a) + 1e-5)
    torch.testing.assert_close(man.transp0(b, man.transp0back(a, v0)), man.transp(zero, b, man.transp(a, zero, v0)))
    v1 = man.transp(a, b, v0)
    torch.testing.assert_close(man.inner(None, v1, v1), man.inner(None, v0, v0), atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(man.inner(b, v1, v1), man.inner(a, v0, v0), atol=1e-8, rtol=1e-8)


def test_lorentz_adam_converges_on_points_from_randn():
    lor = G.Lorentz(k=torch.Tensor([1.0]))
    torch.manual_seed(42)
    with torch.no_grad():
        x = geoopt.ManifoldParameter(torch.randn(8, 4) * 0.3, manifold=lor).proj_()
    target = lor.projx(torch.randn(8, 4) * 0.3)
    opt = geoopt.optim.RiemannianAdam([x], lr=0.05)
    for _ in range(120):
        opt.zero_grad()
        lor.dist(x, target).pow(2).sum().backward()
        opt.step()
    assert lor.dist(x, target).max() < 1e-2


def test_euclidean_ndim_and_product_call_forms():
    for ndim in (0, 1, 2):
        e = G.Euclidean(ndim=ndim)
        p, q = e.random_normal(2, 2, 2, 2, 2), e.random_normal(2, 2, 2, 2, 2)
        assert e.inner(p, q, q).dim() == 5 - ndim and e.inner(p, q, q, keepdim=True).dim() == 5
        assert e.norm(p, q).dim() == 5 - ndim and e.dist(p, q).dim() == 5 - ndim
    assert G.Euclidean().ndim == 1  # graphrep's default (geoopt's is 0)

    pman = G.ProductManifold((G.Sphere(), 10), (G.Sphere(), (3, 2)), (G.Euclidean(ndim=0), ()))
    assert pman.n_elements == 17 and pman.name == "(Sphere)x(Sphere)x(Euclidean)"
    parts = [G.Sphere().random_normal(5, 10), G.Sphere().random_normal(5, 3, 2), G.Euclidean(0).random_normal(5)]
    packed = pman.pack_point(*parts)
    assert packed.shape == (5, 17)
    for old, new in zip(parts, pman.unpack_tensor(packed)):
        assert torch.equal(old, new)
    tangent = pman.proju(packed, torch.randn_like(packed))
    assert pman.inner(packed, tangent).shape == (5,) and pman.inner(packed, tangent, keepdim=True).shape == (5, 1)
    assert pman.component_inner(packed, tangent).shape == (5, 17)
    r = pman.random(4, 17)
    assert [t.shape for t in r.unpack_tensor()] == [(4, 10), (4, 3, 2), (4,)]
    fp = G.ProductManifold.from_point(*[geoopt.ManifoldTensor(t, manifold=m) for t, m in
                                        zip(parts, (G.Sphere(), G.Sphere(), G.Euclidean(0)))], batch_dims=1)
    assert fp.n_elements == 17
    # graphrep's Product: an int is the intrinsic dimension (Lorentz adds the time coordinate)
    assert G.Product((G.Lorentz(), 3), (G.Sphere(), 2)).n_elements == 6
    assert G.ProductManifold((G.Lorentz(), 3), (G.Sphere(), 2)).n_elements == 5


def test_stereographic_product_matches_its_factors():
    factors = ((G.PoincareBall(), 2), (G.Sphere(), 2), (G.Stereographic(), 2))
    pman = G.StereographicProductManifold(*factors)
    x, y = pman.random(4, 6), pman.random(4, 6)
    t, r = torch.randn(4, 1), torch.randn(4, 1)
    m1, w1 = torch.randn(6, 6), torch.randn(6)

    def per_factor(fn):
        return torch.cat([fn(i, m) for i, (m, _) in enumerate(factors)], -1)

    take = pman.take_submanifold_value
    for kind in ("mobius_add", "mobius_coadd", "mobius_sub", "mobius_cosub"):
        z = getattr(pman, kind)(x, y)
        assert pman._check_point_on_manifold(z)[0]
        torch.testing.assert_close(z, per_factor(lambda i, m: getattr(m, kind)(take(x, i), take(y, i))))
    torch.testing.assert_close(pman.mobius_scalar_mul(r, x), per_factor(lambda i, m: m.mobius_scalar_mul(r, take(x, i))))
    torch.testing.assert_close(pman.mobius_pointwise_mul(w1, x),
                               per_factor(lambda i, m: m.mobius_pointwise_mul(take(w1, i), take(x, i))))
    torch.testing.assert_close(pman.mobius_matvec(m1, x),
                               per_factor(lambda i, m: m.mobius_matvec(pman.take_submanifold_matrix(m1, i), take(x, i))))
    torch.testing.assert_close(pman.geodesic(t, x, y), per_factor(lambda i, m: m.geodesic(t, take(x, i), take(y, i))))
    torch.testing.assert_close(pman.antipode(x), per_factor(lambda i, m: m.antipode(take(x, i))))
    d = torch.stack([m.dist2plane(take(x, i), take(y, i), take(w1, i)) for i, (m, _) in enumerate(factors)], -1)
    torch.testing.assert_close(pman.dist2plane(x, y, w1), d.pow(2).sum(-1).sqrt())
    with pytest.raises(TypeError, match="not a stereographic"):
        G.StereographicProductManifold((G.Lorentz(), 3))
