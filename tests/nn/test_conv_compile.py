"""``torch.compile(layer, fullgraph=True)`` (inductor) of each fused layer called with a plain ``edge_index``, as
PyG's own layers compile (issue 21: it failed on the Python-side CSR cache). The compiled layer builds the CSR inside
the compiled code, so it equals the eager layer within tolerance, gradients included, also after the edges change
in place between calls."""

import pytest
import torch

import graphrep.nn as gr

N, E, F = 12, 40, 6

LAYERS = {
    "GCNConv": lambda: gr.GCNConv(F, 4),
    "GATConv": lambda: gr.GATConv(F, 3, heads=2),
    "GINConv": lambda: gr.GINConv(torch.nn.Linear(F, 4), train_eps=True),
    "SAGEConv": lambda: gr.SAGEConv(F, 4, aggr="max"),
}


@pytest.mark.slow
@pytest.mark.parametrize("layer", list(LAYERS))
def test_layer_compiles_fullgraph_with_an_edge_index(layer):
    torch._dynamo.reset()
    torch.manual_seed(0)
    module = LAYERS[layer]()
    x = torch.randn(N, F, requires_grad=True)
    ei = torch.randint(0, N, (2, E), generator=torch.Generator().manual_seed(1))
    compiled = torch.compile(module, fullgraph=True)  # inductor; fullgraph: a graph break raises
    for step in range(2):
        if step == 1:  # new values, same shape: no recompilation, and the compiled CSR must follow them
            ei[0, :15] = (ei[0, :15] + 4) % N
        eager = module(x, ei)
        (gx_eager,) = torch.autograd.grad(eager.square().sum(), x)
        out = compiled(x, ei)
        (gx,) = torch.autograd.grad(out.square().sum(), x)
        torch.testing.assert_close(out, eager, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(gx, gx_eager, rtol=1e-5, atol=1e-5)
