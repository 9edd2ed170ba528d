"""Losses as pure functions or small modules."""

from .attrmask import AttrMaskHead, AttrMaskLoss, attr_mask_loss
from .dsla import DSLALoss, discrimination_loss, dsla_loss, edit_distance_loss, margin_loss
from .graphcl import ProjectionHead, nt_xent
from .supervised import masked_bce, masked_mse

__all__ = [
    "AttrMaskHead",
    "AttrMaskLoss",
    "DSLALoss",
    "ProjectionHead",
    "attr_mask_loss",
    "discrimination_loss",
    "dsla_loss",
    "edit_distance_loss",
    "margin_loss",
    "masked_bce",
    "masked_mse",
    "nt_xent",
]
