"""Graph transforms: structural descriptors, edge drop / feature mask, and batched D-SLA perturbation, node masking
(AttrMasking) and GraphCL augmentations.

The batched ones act on a whole ``torch_geometric.data.Batch`` with tensor operations (no Python loop per graph) and take a
``torch.Generator`` for reproducible sampling.
"""

from graphrep.data.transforms.corrupt import drop_edges, mask_features
from graphrep.data.transforms.graphcl import AUGMENTATIONS, augment, drop_nodes, mask_nodes, perturb_edges, subgraph
from graphrep.data.transforms.masking import apply_node_mask, mask_atoms
from graphrep.data.transforms.perturb import (
    BondDistribution,
    DSLAPerturbation,
    PerturbationConfig,
    bond_distribution,
    dsla_perturb,
)
from graphrep.data.transforms.perturb_reference import dsla_perturb_reference, dsla_perturb_reference_batch

__all__ = [
    "drop_edges",
    "mask_features",
    "AUGMENTATIONS",
    "augment",
    "drop_nodes",
    "mask_nodes",
    "perturb_edges",
    "subgraph",
    "BondDistribution",
    "DSLAPerturbation",
    "PerturbationConfig",
    "apply_node_mask",
    "bond_distribution",
    "dsla_perturb",
    "dsla_perturb_reference",
    "dsla_perturb_reference_batch",
    "mask_atoms",
]
