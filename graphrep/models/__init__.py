"""Methods, one file each, composing ``nn`` parts and ``objectives``: GraphShaper (geometry-aware experts aligned with
text) and self-supervised pre-training of molecule encoders (D-SLA, AttrMasking, GraphCL)."""

from .attrmask import AttrMaskModel
from .base import DEFAULT_ENCODER, PretrainingModel, step_seed
from .circuitgcl import CircuitEncoder, CircuitGCL, CircuitHead
from .dsla import DSLAModel
from .graphcl import GraphCLModel
from .graphshaper import VARIANTS, GraphShaper, GraphShaperOutput
from .modality import GraphClassifier, GraphEncoder, NextVenueModel
from .trajmoe import TrajMoE, TrajMoEConfig

#: ``graphrep pretrain --method NAME`` -> module class
PRETRAINING_METHODS: dict[str, type[PretrainingModel]] = {
    "dsla": DSLAModel, "attrmask": AttrMaskModel, "graphcl": GraphCLModel}

__all__ = ["AttrMaskModel", "CircuitEncoder", "CircuitGCL", "CircuitHead", "DEFAULT_ENCODER", "DSLAModel",
           "GraphCLModel", "GraphShaper", "GraphShaperOutput", "PRETRAINING_METHODS", "PretrainingModel", "TrajMoE",
           "TrajMoEConfig", "VARIANTS", "step_seed"]
__all__ += ["GraphClassifier", "GraphEncoder", "NextVenueModel"]
