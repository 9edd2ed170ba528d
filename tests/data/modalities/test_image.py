"""Images -> patch graphs: nodes, features, grid edges, batching, and bad input."""

import math

import pytest
import torch

from graphrep.data.errors import GraphrepError
from graphrep.data.modalities import (ImageToPatchGraph, grid_edges, image_to_patch_graph, images_to_patch_graphs,
                                      sine_position_encoding_2d)
from torch_geometric.data import Data


def test_4x4_image_2x2_patches_nodes_and_grid_edges():
    img = torch.arange(16.0).view(4, 4)
    g = image_to_patch_graph(img, 2, pos_dim=4)
    # row-major patches, pixels row-major inside each patch
    expected_pixels = torch.tensor([[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]], dtype=torch.float)
    assert g.num_nodes == 4
    assert torch.equal(g.x[:, :4], expected_pixels)
    # 2x2 grid: 0-1, 2-3 (right), 0-2, 1-3 (down), both directions
    assert sorted(map(tuple, g.edge_index.t().tolist())) == [(0, 1), (0, 2), (1, 0), (1, 3), (2, 0), (2, 3), (3, 1),
                                                              (3, 2)]
    assert g.pos.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    # pos_dim 4: [sin r, cos r, sin q, cos q] with omega_0 = 1
    pe = g.x[:, 4:]
    for node, (r, q) in enumerate(g.pos.tolist()):
        assert torch.allclose(pe[node], torch.tensor([math.sin(r), math.cos(r), math.sin(q), math.cos(q)]))


def test_sine_encoding_frequencies():
    pe = sine_position_encoding_2d(3, 5, 8)
    # node (r, q) = (2, 3) is row-major index 13; second frequency 10000^(-4/8) = 0.01
    w = 10000 ** -0.5
    expected = [math.sin(2), math.sin(2 * w), math.cos(2), math.cos(2 * w), math.sin(3), math.sin(3 * w),
                math.cos(3), math.cos(3 * w)]
    assert torch.allclose(pe[13], torch.tensor(expected), atol=1e-6)


def test_grid_edges_count_and_symmetry():
    e = grid_edges(3, 4)
    assert e.size(1) == 2 * (3 * 3 + 4 * 2)
    pairs = set(map(tuple, e.t().tolist()))
    assert all((b, a) in pairs for a, b in pairs)
    assert all(abs(a - b) in (1, 4) for a, b in pairs)


def test_batch_equals_per_image_and_multichannel():
    torch.manual_seed(0)
    images = torch.rand(3, 2, 4, 6)
    batch = images_to_patch_graphs(images, 2, pos_dim=8, y=torch.tensor([1, 2, 3]))
    assert batch.num_graphs == 3 and batch.x.shape == (3 * 6, 2 * 4 + 8)
    for i, g in enumerate(batch.to_data_list()):
        ref = image_to_patch_graph(images[i], 2, pos_dim=8)
        assert torch.equal(g.x, ref.x) and torch.equal(g.edge_index, ref.edge_index)
        assert int(g.y) == i + 1
    # channel-major patch pixels: first channel's 2x2 block first
    assert torch.equal(batch.x[0, :4], images[0, 0, :2, :2].reshape(-1))


def test_transform():
    g = ImageToPatchGraph(2, pos_dim=0)(Data(image=torch.ones(4, 4), y=torch.tensor([3])))
    assert g.x.shape == (4, 4) and int(g.y) == 3


@pytest.mark.parametrize("image,patch,message", [
    (torch.zeros(0, 4), 2, "empty"),
    (torch.zeros(1, 0, 4, 4), 2, "empty"),
    (torch.zeros(5, 4), 2, "not divisible"),
    (torch.zeros(4, 4), 0, "patch_size"),
    (torch.zeros(2, 2, 4, 4, 1), 2, "must be"),
])
def test_bad_images(image, patch, message):
    with pytest.raises(GraphrepError, match=message):
        image_to_patch_graph(image, patch) if image.dim() != 4 else images_to_patch_graphs(image, patch)
