"""geometries: float32-safe Riemannian manifolds with learnable curvature, built on geoopt."""
