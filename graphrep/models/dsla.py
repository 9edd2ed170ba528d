"""D-SLA pre-training (Kim et al., "Graph Self-supervised Learning with Accurate Discrepancy Learning", NeurIPS 2022).

Per step, for a batch of ``B`` molecules:

1. :func:`~graphrep.data.transforms.dsla_perturb` builds ``C`` candidates per molecule (the original, 3 perturbations of
   its 3-hop subgraph with 20/40/60 % of the bonds replaced, and optionally a strong whole-graph perturbation), every
   candidate with 80 % of its perturbed atoms masked, and the edit distance of each;
2. the GIN encodes all ``B * C`` candidates: ``h`` [B, C, D];
3. a score head (MLP D-D-D-1) scores them: ``s`` [B, C];
4. :func:`~graphrep.objectives.dsla_loss` = CE(s, original) + 0.7 * edit-distance term + 0.5 * margin term (margin 5).

New bonds are typed from the pre-training corpus' empirical (bond type, direction) distribution, stored in the
hyper-parameters so that a checkpoint is self-contained.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from ..data.transforms import BondDistribution, PerturbationConfig, bond_distribution, dsla_perturb
from ..objectives import dsla_loss
from .base import PretrainingModel


def score_head(dim: int) -> nn.Sequential:
    """D-SLA's discriminator: ``Linear(D, D) - ReLU - Linear(D, D) - ReLU - Linear(D, 1)``. Shapes: [M, D] -> [M, 1]."""
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 1))


def corpus_bond_distribution(dataset) -> BondDistribution:
    """:func:`bond_distribution` of a collated in-memory dataset in one tensor pass (any iterable of graphs works)."""
    store = getattr(dataset, "_data", None)
    if store is not None and getattr(store, "edge_attr", None) is not None and store.edge_attr.numel():
        return bond_distribution(store.edge_attr)  # each bond's two directions share their attributes
    return bond_distribution(dataset)


class DSLAModel(PretrainingModel):
    """D-SLA: the GIN ``encoder`` + ``score_head``; see the module docstring.

    Args:
        bond_attrs, bond_probs: the empirical bond distribution (rows of (type, direction) and their probabilities);
            :meth:`from_corpus` estimates it.
        strong: add the strongly perturbed candidate (the paper's molecule setting uses it).
        edit_weight, margin_weight, margin: the loss weights (paper: 0.7, 0.5, 5).
    """

    method = "dsla"

    def __init__(self, bond_attrs: list[list[int]], bond_probs: list[float], encoder: dict | None = None,
                 lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0, num_candidates: int = 4,
                 edge_ratio: float = 0.2, mask_ratio: float = 0.8, num_hops: int = 3, strong: bool = True,
                 edit_weight: float = 0.7, margin_weight: float = 0.5, margin: float = 5.0):
        super().__init__(encoder, lr, weight_decay, seed)
        self.save_hyperparameters()
        self.bond_dist = BondDistribution(torch.tensor(bond_attrs, dtype=torch.long),
                                          torch.tensor(bond_probs, dtype=torch.float64))
        self.config = PerturbationConfig(num_candidates=num_candidates, edge_ratio=edge_ratio, mask_ratio=mask_ratio,
                                         num_hops=num_hops, strong=strong)
        self.score_head = score_head(self.dim)

    @classmethod
    def from_corpus(cls, dataset, **kwargs) -> "DSLAModel":
        dist = corpus_bond_distribution(dataset)
        return cls(dist.attrs.tolist(), dist.probs.tolist(), **kwargs)

    def objective(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        C = self.config.total_candidates
        cand = dsla_perturb(batch, self.config, bond_dist=self.bond_dist, generator=generator)
        h = self.encoder(cand)  # [B * C, D], graph-major
        B = cand.num_graphs // C
        hp = self.hparams
        out = dsla_loss(self.score_head(h).view(B, C), h.view(B, C, -1), cand.edit_distance.view(B, C),
                        edit_weight=hp.edit_weight, margin_weight=hp.margin_weight, margin=hp.margin,
                        strong=self.config.strong)
        return {"loss": out.loss, "discrimination": out.discrimination, "edit": out.edit, "margin": out.margin,
                "accuracy": out.accuracy}
