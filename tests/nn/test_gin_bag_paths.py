"""graphrep's GINConv and GINEConv on their float32 CPU paths (bag sums over graphrep.ops.edge_groups) equal PyG's
layers run in float64, in output and in the gradients of the inputs and of every parameter (float32 tolerance): both
flows, bipartite inputs, missing targets with size, a prebuilt CSR, empty graphs, isolated nodes, fixed and trained
eps; and the bag path is the one taken."""

import pytest
import torch
import torch_geometric.nn as pyg

import graphrep.ops._edge_relu_loops as edge_relu_loops
import graphrep.ops.edge_relu as edge_relu
import graphrep.ops.gin_sum as gin_sum
from graphrep.nn import GINConv, GINEConv
from graphrep.ops import CSR

F = 6
TOL = dict(rtol=2e-5, atol=2e-5)


@pytest.fixture
def bag_calls(monkeypatch):
    """Counts calls of the two bag-sum autograd nodes (GINE's with its edge groups, not the float64 scatter; its
    torch-op path forced, as with several threads on a large graph: at these sizes it would run its loops)."""
    monkeypatch.setattr(edge_relu_loops, "use_loops", lambda *_: False)
    n = {"gin": 0, "gine": 0}
    real_gin, real_gine = gin_sum._GinSum.apply, edge_relu._ReluEdgeSum.apply

    def gin(*args):
        n["gin"] += 1
        return real_gin(*args)

    def gine(*args):
        n["gine"] += args[6] is not None  # the groups argument
        return real_gine(*args)

    monkeypatch.setattr(gin_sum._GinSum, "apply", gin)
    monkeypatch.setattr(edge_relu._ReluEdgeSum, "apply", gine)
    return n


def _layers(kind, kw):
    torch.manual_seed(0)
    mlp = lambda: torch.nn.Sequential(torch.nn.Linear(F, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5))  # noqa: E731
    theirs = (pyg.GINEConv if kind == "gine" else pyg.GINConv)(mlp(), **kw)
    ours = (GINEConv if kind == "gine" else GINConv)(mlp(), **kw)
    for p in theirs.parameters():
        p.data.normal_()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs.double()


def _check(kind, kw, x, edges_ours, edges_theirs, attr=None, **call):
    """Our float32 layer against PyG's in float64: output and gradients of x (each tensor of a pair), edge_attr
    and the parameters."""
    ours, theirs = _layers(kind, kw)
    xs = x if isinstance(x, tuple) else (x,)
    x32 = [t.float().requires_grad_() if t is not None else None for t in xs]
    x64 = [t.double().requires_grad_() if t is not None else None for t in xs]
    pack = (lambda ts: tuple(ts)) if isinstance(x, tuple) else (lambda ts: ts[0])
    extra32 = extra64 = ()
    if kind == "gine":
        a32, a64 = attr.float().requires_grad_(), attr.double().requires_grad_()
        extra32, extra64 = (a32,), (a64,)
    o32 = ours(pack(x32), edges_ours, *extra32, **call)
    o64 = theirs(pack(x64), edges_theirs, *extra64, **call)
    assert o32.dtype == torch.float32
    torch.testing.assert_close(o32.double(), o64, **TOL)
    g = torch.randn(o64.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ins32 = [t for t in x32 if t is not None] + list(extra32) + list(ours.parameters())
    ins64 = [t for t in x64 if t is not None] + list(extra64) + list(theirs.parameters())
    for u, v in zip(torch.autograd.grad(o32, ins32, g.float(), allow_unused=True),
                    torch.autograd.grad(o64, ins64, g, allow_unused=True)):
        if u is None or v is None:  # unused on one side (eps without targets): zero or unused on the other
            assert u is v or (u if v is None else v).abs().max() == 0
            continue
        torch.testing.assert_close(u.double(), v, **TOL)


def _graph(n_src, n_dst, e, seed):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.stack([torch.randint(0, n_src, (e,), generator=gen), torch.randint(0, n_dst, (e,), generator=gen)])
    return ei, torch.randn(e, F, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("kind", ["gin", "gine"])
@pytest.mark.parametrize("case", ["plain", "train_eps", "eps", "target_to_source", "isolated", "empty", "csr",
                                  "csr_target_to_source"])
def test_equals_pyg(kind, case, bag_calls):
    n, e = 30, 150
    kw = {"train_eps": True} if case == "train_eps" else {"eps": 0.6} if case == "eps" else {}
    if "target_to_source" in case:
        kw["flow"] = "target_to_source"
    e = {"isolated": 5, "empty": 0}.get(case, e)
    ei, attr = _graph(n, n, e, seed=len(case))
    x = torch.randn(n, F, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    edges = CSR.from_edge_index(ei, n) if case.startswith("csr") else ei
    _check(kind, kw, x, edges, ei, attr)
    assert bag_calls[kind] == 1


@pytest.mark.parametrize("kind", ["gin", "gine"])
def test_bipartite_and_missing_targets(kind, bag_calls):
    ei, attr = _graph(20, 12, 70, seed=4)
    xs, xd = torch.randn(20, F, dtype=torch.float64), torch.randn(12, F, dtype=torch.float64)
    _check(kind, {"train_eps": True}, (xs, xd), ei, ei, attr)
    _check(kind, {"train_eps": True}, (xs, None), ei, ei, attr, size=(20, 12))
    assert bag_calls[kind] == 2


def test_a_new_batch_tensor_is_grouped_once_for_all_layers(monkeypatch):
    """Five layers on one edge tensor build its edge groups once (the sorts are per batch, not per layer)."""
    import graphrep.ops.edge_groups as eg

    sorts = {"n": 0}
    real = torch.argsort

    def counted(*args, **kwargs):
        sorts["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(eg.torch, "argsort", counted)
    ei, attr = _graph(25, 25, 80, seed=5)
    x = torch.randn(25, F)
    layers = [GINConv(torch.nn.Linear(F, F)) for _ in range(3)] + [GINEConv(torch.nn.Linear(F, F)) for _ in range(2)]
    for layer in layers:
        x = layer(x, ei) if isinstance(layer, GINConv) else layer(x, ei, attr.float())
    assert sorts["n"] == 2  # one stable sort by destination, one by source


def test_groups_built_in_inference_mode_serve_later_training_calls():
    """Edge groups cached during an inference-mode call (validation) are ordinary tensors: a later autograd call on
    the same edge tensor saves them for backward."""
    ei, attr = _graph(15, 15, 40, seed=6)
    x = torch.randn(15, F)
    for layer, extra in ((GINConv(torch.nn.Linear(F, F), train_eps=True), ()),
                         (GINEConv(torch.nn.Linear(F, F), train_eps=True), (attr.float(),))):
        with torch.inference_mode():
            ref = layer(x, ei, *extra)
        xg = x.clone().requires_grad_()
        out = layer(xg, ei, *extra)
        torch.testing.assert_close(out, ref)
        out.square().sum().backward()
        assert xg.grad is not None and layer.eps.grad is not None
