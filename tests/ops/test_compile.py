"""A small model on the custom ops compiles with torch.compile(fullgraph=True): no graph breaks, same numbers."""

import pytest
import torch

from graphrep.ops import CSR, aggregate, edge_softmax, segment
from graphrep.ops.reference import random_graph


class TinyNet(torch.nn.Module):
    def __init__(self, f=8):
        super().__init__()
        self.lin = torch.nn.Linear(f, f)
        self.att = torch.nn.Linear(f, 1)

    def forward(self, x, csr, w, ptr):
        h = torch.relu(self.lin(aggregate(x, csr, "mean") + aggregate(x, csr, "max", w)))
        s = self.att(h)[csr.col[csr.inv_perm]].squeeze(-1)  # a score per edge, from its source
        h = h + aggregate(h, csr, "sum", edge_softmax(s, csr))
        return segment(h, ptr, "sum")


@pytest.mark.slow
def test_compile_fullgraph_matches_eager():
    torch._dynamo.reset()
    ei = random_graph(n=40, e=200, hub=50)
    csr = CSR.from_edge_index(ei, 40)
    x = torch.randn(40, 8)
    w = torch.rand(200, requires_grad=True)
    ptr = torch.tensor([0, 10, 10, 40])
    model = TinyNet()
    eager = model(x, csr, w, ptr)
    eager.sum().backward()
    g_eager = [p.grad.clone() for p in model.parameters()] + [w.grad.clone()]
    model.zero_grad()
    w.grad = None
    compiled = torch.compile(model, fullgraph=True)
    out = compiled(x, csr, w, ptr)
    out.sum().backward()
    torch.testing.assert_close(out, eager)
    for a, b in zip([p.grad for p in model.parameters()] + [w.grad], g_eager):
        torch.testing.assert_close(a, b)


def test_ops_have_fake_kernels():
    from torch._subclasses.fake_tensor import FakeTensorMode

    ei = random_graph(n=10, e=30, hub=5, empty=2)
    csr = CSR.from_edge_index(ei, 10)
    with FakeTensorMode(allow_non_fake_inputs=True):
        x = torch.empty(10, 4)
        assert aggregate(x, csr, "max").shape == (10, 4)
        assert edge_softmax(torch.empty(30, 2), csr).shape == (30, 2)
