"""Losses as pure functions or small modules."""

from .attrmask import AttrMaskHead, AttrMaskLoss, attr_mask_loss
from .balanced import BalancedMSE, BalancedSoftmaxLoss, balanced_softmax_loss, bmc_loss, bni_loss, gai_loss
from .dsla import DSLALoss, discrimination_loss, dsla_loss, edit_distance_loss, margin_loss
from .graphcl import ProjectionHead, nt_xent
from .scattering import alignment_loss, scattering_loss
from .supervised import masked_bce, masked_mse
from .tail import TailWeights, tail_weighted_mse, tail_weights

__all__ = [
    "AttrMaskHead",
    "AttrMaskLoss",
    "BalancedMSE",
    "BalancedSoftmaxLoss",
    "DSLALoss",
    "ProjectionHead",
    "alignment_loss",
    "attr_mask_loss",
    "balanced_softmax_loss",
    "bmc_loss",
    "bni_loss",
    "discrimination_loss",
    "dsla_loss",
    "edit_distance_loss",
    "gai_loss",
    "margin_loss",
    "masked_bce",
    "masked_mse",
    "nt_xent",
    "scattering_loss",
    "TailWeights",
    "tail_weighted_mse",
    "tail_weights",
]
