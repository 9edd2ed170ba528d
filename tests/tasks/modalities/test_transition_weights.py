"""The venue GCN of ``modality train --kind trajectory`` reads the transition graph with mobility's weighting."""

import math

import torch
from torch_geometric.data import Data

from graphrep.tasks.modalities.training import transition_weights


def test_directions_merge_counts_compress_and_self_transitions_drop():
    # 0 -> 1 twice, 1 -> 0 once, 1 -> 1 three times, 1 -> 2 once
    graph = Data(edge_index=torch.tensor([[0, 1, 1, 1], [1, 0, 1, 2]]), edge_weight=torch.tensor([2.0, 1.0, 3.0, 1.0]),
                 num_nodes=4)
    g = transition_weights(graph)
    got = {(u, v): w for (u, v), w in zip(g.edge_index.t().tolist(), g.edge_weight.tolist())}
    expected = {(0, 1): math.log(4), (1, 0): math.log(4), (1, 2): math.log(2), (2, 1): math.log(2)}
    assert got.keys() == expected.keys()
    for key, w in expected.items():
        assert math.isclose(got[key], w, rel_tol=1e-6)
    assert g.num_nodes == 4
