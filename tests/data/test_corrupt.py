"""Seeded augmentations: determinism, drop rates, undirected consistency."""

import pytest
import torch
from torch_geometric.utils import is_undirected, to_undirected

from graphrep.data.transforms.corrupt import drop_edges, mask_features


def test_drop_edges_seeded_and_rate():
    ei = torch.randint(0, 500, (2, 20000), generator=torch.Generator().manual_seed(0))
    out1, keep1 = drop_edges(ei, 0.3, generator=7)
    out2, keep2 = drop_edges(ei, 0.3, generator=torch.Generator().manual_seed(7))
    assert torch.equal(out1, out2) and torch.equal(keep1, keep2)
    assert torch.equal(out1, ei[:, keep1])
    assert abs(keep1.float().mean().item() - 0.7) < 0.02
    assert not torch.equal(keep1, drop_edges(ei, 0.3, generator=8)[1])
    assert drop_edges(ei, 0.0, generator=1)[0].shape == ei.shape and drop_edges(ei, 1.0, generator=1)[0].size(1) == 0


def test_drop_edges_force_undirected():
    ei = to_undirected(torch.randint(0, 200, (2, 3000), generator=torch.Generator().manual_seed(1)))
    out, keep = drop_edges(ei, 0.5, force_undirected=True, generator=3)
    assert is_undirected(out) and 0.4 < keep.float().mean().item() < 0.6
    # plain dropping breaks symmetry
    assert not is_undirected(drop_edges(ei, 0.5, generator=3)[0])


def test_mask_features_modes():
    x = torch.randn(400, 300) + 5
    for mode, shape in [("column", (1, 300)), ("entry", (400, 300)), ("node", (400, 1))]:
        out, mask = mask_features(x, 0.25, mode=mode, generator=0)
        assert mask.shape == shape and abs(mask.float().mean().item() - 0.75) < 0.08
        assert torch.equal(out, torch.where(mask, x, torch.zeros(())))
        assert torch.equal(out, mask_features(x, 0.25, mode=mode, generator=0)[0])


def test_errors():
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        drop_edges(torch.zeros(2, 3, dtype=torch.long), 1.5)
    with pytest.raises(ValueError, match=r"\[2, E\]"):
        drop_edges(torch.zeros(3, 3, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match="mode"):
        mask_features(torch.zeros(2, 2), 0.1, mode="rows")
    with pytest.raises(TypeError, match="generator"):
        mask_features(torch.zeros(2, 2), 0.1, generator="seed")
