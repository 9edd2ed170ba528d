r"""Images as patch graphs (the Vision GNN view, Han et al. 2022): one node per ``p x p`` patch, grid edges.

An image ``[C, H, W]`` with ``H = p * R`` and ``W = p * Q`` becomes ``R * Q`` nodes in row-major order (node
``r * Q + q`` is the patch at row ``r``, column ``q``). Node features are the patch's pixels, flattened channel-major
(``C * p * p`` values), followed by a 2-D sine positional encoding of ``(r, q)`` with ``d`` channels (``d % 4 == 0``):

.. math::
    \mathrm{PE}(r, q) = [\sin(r \omega_k), \cos(r \omega_k), \sin(q \omega_k), \cos(q \omega_k)]_{k < d/4},
    \qquad \omega_k = 10000^{-4k/d}

(the transformer encoding applied to each axis with ``d/2`` channels, then concatenated, as in DETR and MAE).
Grid edges join 4-neighbouring patches, in both directions. The k-nearest-neighbour edges of ViG are rebuilt from
features inside the network (:mod:`graphrep.nn.dynamic_knn`), not here.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import BaseTransform

from graphrep.data.errors import InvalidInputError
from graphrep.data.transforms.batch_build import build_batch

__all__ = ["sine_position_encoding_2d", "grid_edges", "images_to_patch_graphs", "image_to_patch_graph",
           "ImageToPatchGraph"]


def sine_position_encoding_2d(rows: int, cols: int, dim: int) -> Tensor:
    """The 2-D sine encoding of every grid position (formula in the module docstring), row-major.

    Shapes: -> ``[rows * cols, dim]``
    """
    if dim < 0 or dim % 4:
        raise InvalidInputError(f"positional encoding size must be a non-negative multiple of 4, got {dim}")
    if dim == 0:
        return torch.zeros(rows * cols, 0)
    omega = torch.pow(10000.0, -4.0 * torch.arange(dim // 4, dtype=torch.float64) / dim)
    r = torch.arange(rows, dtype=torch.float64).repeat_interleave(cols)[:, None] * omega
    q = torch.arange(cols, dtype=torch.float64).repeat(rows)[:, None] * omega
    return torch.cat([r.sin(), r.cos(), q.sin(), q.cos()], dim=1).float()


def grid_edges(rows: int, cols: int) -> Tensor:
    """Edges between 4-neighbours of a ``rows x cols`` grid (row-major node ids), both directions, sorted.

    Shapes: -> ``[2, 2 * (rows * (cols - 1) + cols * (rows - 1))]``
    """
    ids = torch.arange(rows * cols).view(rows, cols)
    right = torch.stack([ids[:, :-1].reshape(-1), ids[:, 1:].reshape(-1)])
    down = torch.stack([ids[:-1, :].reshape(-1), ids[1:, :].reshape(-1)])
    one_way = torch.cat([right, down], dim=1)
    both = torch.cat([one_way, one_way.flip(0)], dim=1)
    order = torch.argsort(both[0] * rows * cols + both[1])
    return both[:, order]


def _check_images(images: Tensor, patch_size: int) -> tuple[int, int]:
    if not isinstance(images, Tensor):
        raise InvalidInputError(f"images must be a tensor, got {type(images).__name__}")
    if images.dim() != 4:
        raise InvalidInputError(f"images must be [B, C, H, W], got shape {tuple(images.shape)}")
    if images.numel() == 0:
        raise InvalidInputError(f"empty image batch: shape {tuple(images.shape)} has no pixels")
    if not isinstance(patch_size, int) or patch_size < 1:
        raise InvalidInputError(f"patch_size must be a positive integer, got {patch_size!r}")
    h, w = images.shape[-2:]
    if h % patch_size or w % patch_size:
        raise InvalidInputError(f"image of {h} x {w} pixels is not divisible into {patch_size} x {patch_size} patches")
    return h // patch_size, w // patch_size


def images_to_patch_graphs(images: Tensor, patch_size: int, pos_dim: int = 8, y: Tensor | None = None) -> Batch:
    """A batch of images to a ``Batch`` of patch graphs, without a Python loop over images.

    Each graph has ``R * Q`` nodes with ``x = [patch pixels, PE]``, ``pos`` (row, column) and the grid edges.

    Shapes:
        images: ``[B, C, H, W]`` (or ``[B, H, W]``, one channel), y: ``[B]`` ->
        Batch with ``x`` ``[B * R * Q, C * p * p + pos_dim]``, ``pos`` ``[B * R * Q, 2]``, ``y`` ``[B]``
    """
    if isinstance(images, Tensor) and images.dim() == 3:
        images = images.unsqueeze(1)
    rows, cols = _check_images(images, patch_size)
    b, c = images.shape[:2]
    p = patch_size
    # [B, C, R, p, Q, p] -> [B, R, Q, C, p, p]: one row of pixels per patch, channel-major.
    patches = images.float().reshape(b, c, rows, p, cols, p).permute(0, 2, 4, 1, 3, 5).reshape(b * rows * cols, -1)
    pe = sine_position_encoding_2d(rows, cols, pos_dim).to(patches.device).repeat(b, 1)
    n = rows * cols
    edges = grid_edges(rows, cols).to(patches.device)
    offsets = (torch.arange(b, device=patches.device) * n).repeat_interleave(edges.size(1))
    edge_index = edges.repeat(1, b) + offsets
    pos = torch.stack(torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij"), -1).view(n, 2)
    node_graph = torch.arange(b, device=patches.device).repeat_interleave(n)
    out = build_batch(x=torch.cat([patches, pe], dim=1), edge_index=edge_index, edge_attr=None, node_graph=node_graph,
                      edge_graph=offsets // n, num_graphs=b,
                      graph_attrs={"y": y} if y is not None else None)
    out.pos = pos.repeat(b, 1).to(patches.device)
    out._slice_dict["pos"] = out._slice_dict["x"]
    out._inc_dict["pos"] = out._inc_dict["x"]
    return out


def image_to_patch_graph(image: Tensor, patch_size: int, pos_dim: int = 8, y: int | Tensor | None = None) -> Data:
    """One image ``[C, H, W]`` or ``[H, W]`` to its patch graph (see :func:`images_to_patch_graphs`)."""
    if not isinstance(image, Tensor):
        raise InvalidInputError(f"image must be a tensor, got {type(image).__name__}")
    if image.dim() == 2:
        image = image.unsqueeze(0)
    if image.dim() != 3:
        raise InvalidInputError(f"image must be [C, H, W] or [H, W], got shape {tuple(image.shape)}")
    label = None if y is None else torch.as_tensor(y).view(1)
    g = images_to_patch_graphs(image.unsqueeze(0), patch_size, pos_dim, label)
    return Data(x=g.x, edge_index=g.edge_index, pos=g.pos, **({"y": label} if label is not None else {}))


class ImageToPatchGraph(BaseTransform):
    """PyG transform: a ``Data`` holding ``image`` (``[C, H, W]`` or ``[H, W]``) and optionally ``y`` becomes its patch
    graph (see :func:`image_to_patch_graph`)."""

    def __init__(self, patch_size: int, pos_dim: int = 8):
        self.patch_size, self.pos_dim = patch_size, pos_dim

    def forward(self, data: Data) -> Data:
        image = getattr(data, "image", None)
        if image is None:
            raise InvalidInputError("ImageToPatchGraph needs a Data with an 'image' attribute")
        return image_to_patch_graph(image, self.patch_size, self.pos_dim, getattr(data, "y", None))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(patch_size={self.patch_size}, pos_dim={self.pos_dim})"
