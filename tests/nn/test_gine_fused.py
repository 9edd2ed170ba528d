"""graphrep's GINEConv on its one-node CPU path (graphrep.ops.edge_relu) equals PyG's GINEConv in output and in the
gradients of x, edge_attr and every parameter: empty graphs, isolated nodes, edge_dim != in_channels, bipartite
inputs, a prebuilt CSR, both flows, each on the op's compiled loops and on its torch ops; and the path asked for
is the one taken."""

import pytest
import torch
import torch_geometric.nn as pyg

import graphrep.ops._edge_relu_loops as edge_relu_loops
import graphrep.ops.edge_relu as edge_relu
from graphrep.nn import GINEConv
from graphrep.ops import CSR

F = 6


def _mlp(f_in=F):
    return torch.nn.Sequential(torch.nn.Linear(f_in, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5))


def _pair(kw, f_in=F):
    torch.manual_seed(0)
    theirs = pyg.GINEConv(_mlp(f_in), **kw)
    ours = GINEConv(_mlp(f_in), **kw)
    for p in theirs.parameters():
        p.data.normal_()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours.double(), theirs.double()


def _graph(n_src, n_dst, e, d, seed):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.stack([torch.randint(0, n_src, (e,), generator=gen), torch.randint(0, n_dst, (e,), generator=gen)])
    return ei, torch.randn(e, d, generator=gen, dtype=torch.float64)


def _check(ours, theirs, x, ei_ours, attr, ei_theirs=None, **call):
    """Output and gradients (x or its pair, edge_attr, parameters) of both layers, in float64."""
    xs = tuple(t.clone().requires_grad_() if t is not None else None for t in (x if isinstance(x, tuple) else (x,)))
    xt = tuple(t.clone().requires_grad_() if t is not None else None for t in (x if isinstance(x, tuple) else (x,)))
    a1, a2 = attr.clone().requires_grad_(), attr.clone().requires_grad_()
    o1 = ours(xs if isinstance(x, tuple) else xs[0], ei_ours, a1, **call)
    o2 = theirs(xt if isinstance(x, tuple) else xt[0], ei_theirs if ei_theirs is not None else ei_ours, a2, **call)
    torch.testing.assert_close(o1, o2, rtol=1e-10, atol=1e-10)
    g = torch.randn(o1.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    ins1 = [t for t in xs if t is not None] + [a1] + list(ours.parameters())
    ins2 = [t for t in xt if t is not None] + [a2] + list(theirs.parameters())
    for u, v in zip(torch.autograd.grad(o1, ins1, g, allow_unused=True),
                    torch.autograd.grad(o2, ins2, g, allow_unused=True)):
        if u is None or v is None:
            assert u is None and v is None or (u if v is None else v).abs().max() == 0
            continue
        torch.testing.assert_close(u, v, rtol=1e-10, atol=1e-10)


@pytest.fixture(params=["loops", "torch_ops"])
def calls(request, monkeypatch):
    """Runs the case on one of the op's two paths (the compiled loops, the torch ops) and counts that path's calls,
    so each case proves it ran there."""
    monkeypatch.setattr(edge_relu_loops, "use_loops", lambda *_: request.param == "loops")
    node = edge_relu._ReluEdgeSumLoops if request.param == "loops" else edge_relu._ReluEdgeSum
    n = {"calls": 0}
    real = node.apply

    def counted(*args):
        n["calls"] += 1
        return real(*args)

    monkeypatch.setattr(node, "apply", counted)
    return n


@pytest.mark.parametrize("case", ["plain", "edge_dim", "isolated", "empty", "target_to_source", "eps"])
def test_equals_pyg_in_output_and_gradients(case, calls):
    n, e, d, kw = 30, 120, F, {"train_eps": True}
    if case == "edge_dim":
        d, kw = 3, {"train_eps": True, "edge_dim": 3}
    elif case == "isolated":
        e = 4  # most nodes have no edge at all
    elif case == "empty":
        e = 0
    elif case == "target_to_source":
        kw = {"flow": "target_to_source"}
    elif case == "eps":
        kw = {"eps": 0.7}
    ours, theirs = _pair(kw)
    ei, attr = _graph(n, n, e, d, seed=len(case))
    x = torch.randn(n, F, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    _check(ours, theirs, x, ei, attr)
    assert calls["calls"] == 1


def test_edge_dim_differs_from_in_channels_with_a_wider_input(calls):
    ours, theirs = _pair({"edge_dim": 11}, f_in=F)
    ei, attr = _graph(25, 25, 90, 11, seed=3)
    _check(ours, theirs, torch.randn(25, F, dtype=torch.float64), ei, attr)
    assert calls["calls"] == 1


def test_bipartite_size_and_missing_targets(calls):
    ours, theirs = _pair({"train_eps": True})
    ei, attr = _graph(20, 12, 70, F, seed=4)
    xs, xd = torch.randn(20, F, dtype=torch.float64), torch.randn(12, F, dtype=torch.float64)
    _check(ours, theirs, (xs, xd), ei, attr)
    _check(ours, theirs, (xs, None), ei, attr, size=(20, 12))
    assert calls["calls"] == 2


@pytest.mark.parametrize("flow", ["source_to_target", "target_to_source"])
def test_prebuilt_csr(flow, calls):
    ours, theirs = _pair({"flow": flow})
    ei, attr = _graph(30, 30, 100, F, seed=5)
    csr = CSR.from_edge_index(ei, 30)
    _check(ours, theirs, torch.randn(30, F, dtype=torch.float64), csr, attr, ei_theirs=ei)
    assert calls["calls"] == 1


def test_wrong_edge_attr_width_is_pygs_error():
    ours, _ = _pair({})
    ei, attr = _graph(10, 10, 20, F + 1, seed=6)
    with pytest.raises(ValueError, match="edge_dim"):
        ours(torch.randn(10, F, dtype=torch.float64), ei, attr)


def test_half_precision_takes_the_csr_path(calls):
    ours, theirs = _pair({})
    ours, theirs = ours.bfloat16(), theirs.bfloat16()
    ei, attr = _graph(10, 10, 20, F, seed=7)
    x = torch.randn(10, F, dtype=torch.bfloat16)
    torch.testing.assert_close(ours(x, ei, attr.bfloat16()), theirs(x, ei, attr.bfloat16()), rtol=2e-2, atol=2e-2)
    assert calls["calls"] == 0
