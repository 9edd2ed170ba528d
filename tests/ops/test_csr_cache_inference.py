"""The CSR cached on a graph (``CSR.of``) and its derived CSRs, first built under ``torch.inference_mode()`` (Lightning
validates in it), must still serve autograd on the same graph afterwards (issue 15, finding 0)."""

import pytest
import torch
from torch_geometric.data import Data

from graphrep.ops import CSR, aggregate
from graphrep.ops.reference import aggregate_reference


def _data(inference_edges: bool) -> Data:
    g = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 9, (2, 30), generator=g)
    if inference_edges:
        with torch.inference_mode():
            ei = ei.clone()  # an inference tensor, as in a graph built during validation
    return Data(edge_index=ei, num_nodes=9)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("inference_edges", [False, True])
@pytest.mark.parametrize("view", ["plain", "transpose", "self_loops"])
def test_cached_csr_built_in_inference_mode_then_autograd(reduce, inference_edges, view):
    data = _data(inference_edges)

    def graph():
        csr = CSR.of(data)
        return {"plain": csr, "transpose": csr.transpose(), "self_loops": csr.with_self_loops()}[view]

    with torch.inference_mode():
        aggregate(torch.randn(9, 3), graph(), reduce)
    x = torch.randn(9, 4, dtype=torch.float64, requires_grad=True)
    w = torch.rand(graph().num_edges, dtype=torch.float64, requires_grad=True) if reduce == "sum" else None
    out = aggregate(x, graph(), reduce, edge_weight=w)
    out.square().sum().backward()
    ref = aggregate_reference(x.detach(), graph().edge_index(), 9, reduce,
                              None if w is None else w.detach())
    torch.testing.assert_close(out.detach(), ref)
    assert x.grad is not None and torch.isfinite(x.grad).all()
