"""A layer called again after its ``edge_index`` was edited in place (in torch, or through NumPy after
``torch.from_numpy``, which torch's version counter does not see) runs on the edited graph: its output equals PyG's
layer with the same parameters on that graph (issue 21: it had kept the first call's cached CSR)."""

import copy

import numpy as np
import pytest
import torch
import torch_geometric.nn as pyg

import graphrep.nn as gr

N, E, F = 16, 48, 8


MLP = torch.nn.Sequential(torch.nn.Linear(F, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
# layer -> (constructor given the module, graphrep.nn or torch_geometric.nn; extra forward input)
LAYERS = {
    "GCNConv": (lambda m: m.GCNConv(F, 4), False),
    "GCNConv weighted": (lambda m: m.GCNConv(F, 4), "weight"),
    "GATConv": (lambda m: m.GATConv(F, 4, heads=2), False),
    "GINConv": (lambda m: m.GINConv(copy.deepcopy(MLP), train_eps=True), False),
    "GINEConv": (lambda m: m.GINEConv(copy.deepcopy(MLP), edge_dim=3), "attr"),
    "SAGEConv": (lambda m: m.SAGEConv(F, 4), False),
    "SAGEConv max": (lambda m: m.SAGEConv(F, 4, aggr="max"), False),
}


@pytest.mark.parametrize("how", ["numpy", "torch in place"])
@pytest.mark.parametrize("layer", list(LAYERS))
def test_layer_runs_on_the_edited_graph(layer, how):
    make, extra = LAYERS[layer]
    torch.manual_seed(0)
    theirs = make(pyg)
    ours = make(gr)
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_()
    ours.load_state_dict(theirs.state_dict())
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(N, F, generator=gen)
    args = {"weight": (torch.rand(E, generator=gen) + 0.1,), "attr": (torch.randn(E, 3, generator=gen),)}.get(extra, ())
    arr = np.random.RandomState(2).randint(0, N, (2, E)).astype(np.int64)
    ei = torch.from_numpy(arr)
    torch.testing.assert_close(ours(x, ei, *args), theirs(x, ei, *args), rtol=1e-5, atol=1e-5)
    target = arr if how == "numpy" else ei
    target[0, :12] = (target[0, :12] + 3) % N  # other sources for 12 edges, other destinations for 12 more
    target[1, 20:32] = (target[1, 20:32] + 5) % N
    want = theirs(x, ei, *args)
    torch.testing.assert_close(ours(x, ei, *args), want, rtol=1e-5, atol=1e-5)
