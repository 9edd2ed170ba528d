"""Methods, one file each, composing ``nn`` parts and ``objectives``: self-supervised pre-training of molecule encoders
(D-SLA, AttrMasking, GraphCL)."""

from .attrmask import AttrMaskModel
from .base import DEFAULT_ENCODER, PretrainingModel, step_seed
from .dsla import DSLAModel
from .graphcl import GraphCLModel

#: ``graphrep pretrain --method NAME`` -> module class
PRETRAINING_METHODS: dict[str, type[PretrainingModel]] = {
    "dsla": DSLAModel, "attrmask": AttrMaskModel, "graphcl": GraphCLModel}

__all__ = ["AttrMaskModel", "DEFAULT_ENCODER", "DSLAModel", "GraphCLModel", "PRETRAINING_METHODS",
           "PretrainingModel", "step_seed"]
