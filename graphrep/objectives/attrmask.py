"""Attribute masking (Hu et al., "Strategies for Pre-training Graph Neural Networks", ICLR 2020).

Mask ``int(0.15 * n + 1)`` atoms per molecule (``graphrep.data.transforms.mask_atoms``), encode the masked graph, and
predict each masked atom's type from its node embedding with a linear head:

    L = mean_{m in masked} CE(W h_m + b, atom_type_m),    W: [119, D] (atom types 0..118; the MASK index 119 is never a
    target).
"""

from __future__ import annotations

from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor, nn

#: Classes of the atom-type predictor: atom-type indices 0..118 (pretrain-gnns' ``Linear(emb_dim, 119)``); the MASK
#: index 119 is an input token, never a target.
NUM_ATOM_CLASSES = 119


class AttrMaskLoss(NamedTuple):
    """Loss (scalar) and accuracy of the masked-atom predictions."""

    loss: Tensor
    accuracy: Tensor


def attr_mask_loss(logits: Tensor, target: Tensor) -> AttrMaskLoss:
    """Cross-entropy of the masked atoms' predicted types.

    Shapes:
        logits: [M, num_classes], target: [M] class indices -> scalars
    """
    if logits.dim() != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"logits must be [M, K] and target [M], got {tuple(logits.shape)}, {tuple(target.shape)}")
    if target.numel() == 0:
        raise ValueError("attr_mask_loss got no masked atoms")
    if bool((target < 0).any()) or bool((target >= logits.size(1)).any()):
        raise ValueError(f"targets must be class indices in 0..{logits.size(1) - 1}")
    loss = F.cross_entropy(logits, target)
    accuracy = (logits.argmax(dim=1) == target).float().mean()
    return AttrMaskLoss(loss, accuracy.detach())


class AttrMaskHead(nn.Module):
    """Linear atom-type classifier on the embeddings of the masked nodes.

    Shapes:
        node_emb: [N, D], masked_idx: [M] -> logits [M, num_classes]
    """

    def __init__(self, dim: int = 300, num_classes: int = NUM_ATOM_CLASSES) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, num_classes)

    def forward(self, node_emb: Tensor, masked_idx: Tensor) -> Tensor:
        return self.linear(node_emb[masked_idx])
