"""The routed GraphShaper (text, propagation, signed experts): its skip path follows the gate."""

import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from graphrep.models import GraphShaper
from graphrep.nn.experts import PropagationGraph


def _data():
    ei = to_undirected(torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]]))
    d = Data(x=torch.nn.functional.normalize(torch.randn(6, 16), dim=-1), edge_index=ei, num_nodes=6)
    d.graph_features = torch.tensor([0.5, 0.5])
    return d


def test_untrained_routed_model_is_the_chosen_view():
    torch.manual_seed(0)
    d = _data()
    model = GraphShaper(16, 8, 8, variant="routed")
    assert model.expert_names == ("text", "euclidean", "signed")
    x, graph, desc, glob = model.inputs(d)
    g = PropagationGraph.build(d.edge_index, 6)
    views = [x, g.propagate(g.propagate(x)), x - 0.5 * g.propagate(x)]
    for k, view in enumerate(views):
        with torch.no_grad():
            model.gate.out.bias.zero_()
            model.gate.out.bias[k] = 60.0  # a one-hot gate on expert k
        out = model(x, graph, desc, glob)
        torch.testing.assert_close(out.embedding, view, atol=1e-5, rtol=1e-5)


def test_routed_model_needs_graph_features():
    d = _data()
    del d.graph_features
    model = GraphShaper(16, 8, 8, variant="routed")
    try:
        model.inputs(d)
    except ValueError as e:
        assert "graph_features" in str(e)
    else:
        raise AssertionError("routed model accepted a graph without graph_features")
