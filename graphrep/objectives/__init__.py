"""Self-supervised and task losses as pure functions (and small heads)."""

from graphrep.objectives.attrmask import AttrMaskHead, AttrMaskLoss, attr_mask_loss
from graphrep.objectives.dsla import DSLALoss, discrimination_loss, dsla_loss, edit_distance_loss, margin_loss
from graphrep.objectives.graphcl import ProjectionHead, nt_xent

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
    "nt_xent",
]
