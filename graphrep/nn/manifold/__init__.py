"""Layers for hyperbolic, spherical and product-manifold GNNs, built on :mod:`geometries`."""

from .activation import ManifoldActivation
from .centroid import ManifoldCentroid
from .conv import ManifoldGCNConv
from .decoder import DistanceClassifier, FermiDiracDecoder
from .linear import ManifoldLinear
from .tangent import FromSharedTangent, ToSharedTangent, fuse_in_tangent

__all__ = [
    "ManifoldLinear",
    "ManifoldActivation",
    "ManifoldGCNConv",
    "ManifoldCentroid",
    "FermiDiracDecoder",
    "DistanceClassifier",
    "ToSharedTangent",
    "FromSharedTangent",
    "fuse_in_tangent",
]
