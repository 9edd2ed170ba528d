"""graphrep's GCNConv, SAGEConv, GINConv, GINEConv and GATConv are drop-ins for PyG's: the call forms of PyG 2.8's own
layer tests (test/nn/conv/test_{gcn,sage,gin,gat}_conv.py), restated here, give PyG's outputs (same parameters),
and the hot forms run on graphrep's fused kernels while the others run on PyG's machinery."""

import copy
import warnings

import pytest
import torch
import torch_geometric
import torch_geometric.nn as pyg
from torch.nn import Linear, ReLU, Sequential
from torch.utils._python_dispatch import TorchDispatchMode
from torch_geometric.utils import to_torch_csc_tensor

import graphrep.nn.conv as gr
from graphrep.ops import CSR

EI = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])
EI_STAR = torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]])


class _Kernels(TorchDispatchMode):
    """Records whether graphrep's aggregation kernel ran."""

    def __init__(self):
        super().__init__()
        self.fused = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.fused |= "graphrep.csr_reduce" in str(func)
        return func(*args, **(kwargs or {}))


def _pair(name, *args, **kwargs):
    """(graphrep layer, PyG layer) with the same, non-trivial parameters."""
    torch.manual_seed(0)
    theirs = getattr(pyg, name)(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    ours = getattr(gr, name)(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_()
    ours.load_state_dict(theirs.state_dict())
    return ours.eval(), theirs.eval()


def _run(ours, theirs, args, kwargs, fused):
    with _Kernels() as k:
        a = ours(*args, **kwargs)
    b = theirs(*args, **kwargs)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert k.fused == fused, f"expected the {'fused' if fused else 'PyG'} path"
    return a


def _x(*shape, seed=1):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _csc(ei, size, value=None):
    return to_torch_csc_tensor(ei, value, size=size).t()


X4, X2_16, X4_16 = _x(4, 16), _x(2, 16, seed=2), _x(4, 16, seed=3)
X8, X2_8 = _x(4, 8, seed=4), _x(2, 8, seed=5)
W6 = torch.rand(6, generator=torch.Generator().manual_seed(6))

CASES = {
    # GCN (test_gcn_conv, test_gcn_conv_flow, test_static_gcn_conv, test_gcn_conv_with_sparse_input_feature)
    "gcn edge_index": (("GCNConv", 16, 32), (X4_16, EI_STAR), {}, True),
    "gcn weights": (("GCNConv", 16, 32), (X4_16, EI_STAR, W6), {}, True),
    "gcn adj_t": (("GCNConv", 16, 32), (X4_16, _csc(EI_STAR, (4, 4))), {}, False),
    "gcn weighted adj_t": (("GCNConv", 16, 32), (X4_16, _csc(EI_STAR, (4, 4), W6)), {}, False),
    "gcn flow": (("GCNConv", 16, 32), (X4_16, EI_STAR[:, :3].flip(0)), {}, True, {"flow": "target_to_source"}),
    "gcn static": (("GCNConv", 16, 32), (_x(3, 4, 16), EI_STAR), {}, False),
    "gcn sparse x": (("GCNConv", 16, 32), (X4_16.to_sparse(), EI_STAR), {}, False),
    "gcn no norm": (("GCNConv", 16, 32, False, False, False, False), (X4_16, EI_STAR, W6), {}, True),
    # MessagePassing arguments every layer accepts (issue 21: GCN and GAT had reduced by sum whatever `aggr` said)
    "gcn aggr mean": (("GCNConv", 16, 32), (X4_16, EI_STAR, W6), {}, True, {"aggr": "mean"}),
    "gcn aggr max": (("GCNConv", 16, 32), (X4_16, EI_STAR), {}, True, {"aggr": "max"}),
    "gcn aggr min flow": (("GCNConv", 16, 32), (X4_16, EI_STAR, W6), {}, True,
                          {"aggr": "min", "flow": "target_to_source"}),
    "gcn aggr softmax": (("GCNConv", 16, 32), (X4_16, EI_STAR), {}, False, {"aggr": "softmax"}),
    "gcn node_dim 0": (("GCNConv", 16, 32), (X4_16, EI_STAR), {}, True, {"node_dim": 0}),
    # SAGE (test_sage_conv, test_lstm_aggr_sage_conv, test_multi_aggr_sage_conv)
    "sage mean": (("SAGEConv", 8, 32), (X8, EI), {}, True),
    "sage sum project": (("SAGEConv", 8, 32), (X8, EI), {}, True, {"aggr": "sum", "project": True}),
    "sage size": (("SAGEConv", 8, 32), (X8, EI), {"size": (4, 4)}, True),
    "sage adj_t": (("SAGEConv", 8, 32), (X8, _csc(EI, (4, 4))), {}, False),
    "sage bipartite": (("SAGEConv", (8, 16), 32), ((X8, X2_16), EI), {}, True),
    "sage bipartite size": (("SAGEConv", (8, 16), 32), ((X8, X2_16), EI), {"size": (4, 2)}, True),
    "sage x_dst None": (("SAGEConv", (8, 16), 32), ((X8, None), EI), {"size": (4, 2)}, True),
    "sage bipartite adj_t": (("SAGEConv", (8, 16), 32), ((X8, X2_16), _csc(EI, (4, 2))), {}, False),
    "sage max flow": (("SAGEConv", 8, 32), (X8, EI), {}, True, {"aggr": "max", "flow": "target_to_source"}),
    "sage min normalize": (("SAGEConv", 8, 32), (X8, EI), {}, True, {"aggr": "min", "normalize": True}),
    "sage lstm": (("SAGEConv", 8, 32), (X8, EI), {}, False, {"aggr": "lstm"}),
    "sage multi": (("SAGEConv", 8, 32), (X8, EI), {}, False, {"aggr": ["mean", "max", "sum", "std"]}),
    # GIN/GINE (test_gin_conv, test_gine_conv, test_gine_conv_edge_dim, test_static_gin(e)_conv)
    "gin": (("GINConv", "mlp"), (X4_16, EI), {}, True, {"train_eps": True}),
    "gin size": (("GINConv", "mlp"), (X4_16, EI), {"size": (4, 4)}, True, {"train_eps": True}),
    "gin adj_t": (("GINConv", "mlp"), (X4_16, _csc(EI, (4, 4))), {}, False, {"train_eps": True}),
    "gin bipartite": (("GINConv", "mlp"), ((X4_16, X2_16), EI), {}, True, {"eps": 0.3}),
    "gin x_dst None": (("GINConv", "mlp"), ((X4_16, None), EI, (4, 2)), {}, True, {"eps": 0.3}),
    "gin static": (("GINConv", "mlp"), (_x(3, 4, 16), EI_STAR), {}, False, {"train_eps": True}),
    "gine": (("GINEConv", "mlp"), (X4_16, EI, _x(4, 16, seed=7)), {}, True, {"train_eps": True}),
    "gine size": (("GINEConv", "mlp"), (X4_16, EI, _x(4, 16, seed=7)), {"size": (4, 4)}, True, {"eps": 0.5}),
    "gine bipartite": (("GINEConv", "mlp"), ((X4_16, X2_16), EI, _x(4, 16, seed=7)), {}, True, {}),
    "gine x_dst None": (("GINEConv", "mlp"), ((X4_16, None), EI, _x(4, 16, seed=7), (4, 2)), {}, True, {}),
    "gine edge_dim": (("GINEConv", "mlp"), (X4_16, EI, _x(4, 8, seed=7)), {}, True, {"edge_dim": 8}),
    "gine flow": (("GINEConv", "mlp"), (X4_16, EI, _x(4, 16, seed=7)), {}, True, {"flow": "target_to_source"}),
    "gine static": (("GINEConv", "mlp"), (_x(3, 4, 16), EI_STAR, _x(6, 16, seed=7)), {}, False, {}),
    # GAT (test_gat_conv, test_gat_conv_with_edge_attr, test_gat_conv_empty_edge_index)
    "gat": (("GATConv", 8, 32), (X8, EI), {}, True, {"heads": 2}),
    "gat residual size": (("GATConv", 8, 32), (X8, EI), {"size": (4, 4)}, True, {"heads": 2, "residual": True}),
    "gat adj_t": (("GATConv", 8, 32), (X8, _csc(EI, (4, 4))), {}, False, {"heads": 2}),
    "gat bipartite": (("GATConv", (8, 16), 32), ((X8, X2_16), EI), {}, True, {"heads": 2, "residual": True}),
    "gat bipartite size": (("GATConv", (8, 16), 32), ((X8, X2_16), EI), {"size": (4, 2)}, True, {"heads": 2}),
    "gat x_dst None": (("GATConv", (8, 16), 32), ((X8, None), EI), {"size": (4, 2)}, True, {"heads": 2}),
    "gat shared lin bipartite": (("GATConv", 8, 32), ((X8, X2_8), EI), {}, True, {"heads": 2}),
    "gat no loops concat False": (("GATConv", 8, 32), (X8, EI), {}, True,
                                  {"heads": 3, "concat": False, "add_self_loops": False}),
    "gat edge weight fill 0.5": (("GATConv", 8, 32), (X8, EI, W6[:4]), {}, True,
                                 {"heads": 2, "edge_dim": 1, "fill_value": 0.5}),
    "gat edge_attr fill mean": (("GATConv", 8, 32), (X8, torch.tensor([[0, 1, 2, 3], [1, 0, 1, 1]]), _x(4, 4)), {},
                                True, {"heads": 2, "edge_dim": 4, "fill_value": "mean"}),
    "gat edge_attr fill add, loop in input": (("GATConv", 8, 32), (X8, torch.tensor([[0, 1, 1, 3], [1, 1, 0, 1]]),
                                                                   _x(4, 4)), {}, True,
                                              {"heads": 2, "edge_dim": 4, "fill_value": "add"}),
    "gat flow": (("GATConv", 8, 32), (X8, EI), {}, False, {"heads": 2, "flow": "target_to_source"}),
    "gat aggr mean": (("GATConv", 8, 32), (X8, EI), {}, True, {"heads": 2, "aggr": "mean"}),
    "gat aggr max bipartite": (("GATConv", (8, 16), 32), ((X8, X2_16), EI), {}, True, {"heads": 2, "aggr": "max"}),
    "gat aggr softmax": (("GATConv", 8, 32), (X8, EI), {}, False, {"heads": 2, "aggr": "softmax"}),
    "gat empty": (("GATConv", 8, 32), (_x(0, 8), torch.empty(2, 0, dtype=torch.long)), {}, True, {"heads": 2}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_call_form_matches_pyg(case):
    spec = CASES[case]
    (name, *ctor), args, kwargs, fused = spec[:4]
    options = spec[4] if len(spec) > 4 else {}
    if ctor == ["mlp"]:
        ctor = [Sequential(Linear(16, 32), ReLU(), Linear(32, 32))]
    ours, theirs = _pair(name, *ctor, **options)
    _run(ours, theirs, args, kwargs, fused)


def test_a_csr_gives_the_edge_index_result_on_both_paths():
    csr = CSR.from_edge_index(EI, (4, 2))
    ours, theirs = _pair("SAGEConv", (8, 16), 32)
    want = theirs((X8, X2_16), EI)
    torch.testing.assert_close(ours((X8, X2_16), csr), want)
    ours.register_message_forward_hook(lambda *a: None)  # hooks: PyG's path, given the CSR's edges and size
    torch.testing.assert_close(ours((X8, X2_16), csr), want)
    with pytest.raises(ValueError, match=r"size=\(4, 3\) but the CSR is for 4 -> 2"):
        ours((X8, X2_16), csr, size=(4, 3))


def test_hooks_decomposed_layers_and_explain_run_on_pyg_path():
    ours, theirs = _pair("GCNConv", 16, 32)
    seen = []
    ours.register_message_forward_pre_hook(lambda m, inp: seen.append(inp[0]["x_j"].shape))
    torch.testing.assert_close(ours(X4_16, EI_STAR), theirs(X4_16, EI_STAR))
    assert seen == [(10, 32)]  # 6 edges + 4 self-loops, messages materialised by PyG
    ours, theirs = _pair("GCNConv", 16, 32)
    ours.decomposed_layers = theirs.decomposed_layers = 2
    _run(ours, theirs, (X4_16, EI_STAR), {}, fused=False)


def test_gnnexplainer_gets_edge_gradients():
    from torch_geometric.explain import Explainer, GNNExplainer

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = gr.GCNConv(16, 8), gr.GATConv(8, 3)

        def forward(self, x, edge_index):
            return self.c2(self.c1(x, edge_index).relu(), edge_index)

    torch.manual_seed(0)
    explainer = Explainer(Net(), GNNExplainer(epochs=3), explanation_type="model", edge_mask_type="object",
                          model_config=dict(mode="multiclass_classification", task_level="node",
                                            return_type="raw"))
    explanation = explainer(X4_16, EI_STAR, index=0)
    assert explanation.edge_mask.shape == (6,)
    assert bool((explanation.edge_mask > 0).any())  # 0-hop/1-hop edges of node 0 got gradients


def test_return_attention_weights_match_pyg():
    ours, theirs = _pair("GATConv", 8, 32, heads=2, edge_dim=4)
    ea = _x(4, 4)
    ei = torch.tensor([[0, 1, 2, 3], [1, 0, 1, 1]])
    (a, (ei_a, al_a)), (b, (ei_b, al_b)) = (m(X8, ei, ea, return_attention_weights=True) for m in (ours, theirs))
    torch.testing.assert_close(a, b)
    assert torch.equal(ei_a, ei_b)
    torch.testing.assert_close(al_a, al_b)
    res = ours(X8, _csc(EI, (4, 4)), return_attention_weights=True)  # PyG's path: a sparse adjacency back
    assert res[1][0].is_sparse or res[1][0].layout != torch.strided


def test_same_state_dict_and_repr_as_pyg():
    for name, args in [("GCNConv", (16, 32)), ("SAGEConv", ((8, 16), 32)), ("GATConv", (8, 32))]:
        ours, theirs = _pair(name, *args)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())


def test_torchscript_compiles_pyg_layer_sharing_parameters():
    ours, theirs = _pair("SAGEConv", (8, 16), 32)
    with warnings.catch_warnings():  # torch.jit.script is deprecated in this torch
        warnings.simplefilter("ignore")
        jit = torch.jit.script(ours)
    torch.testing.assert_close(jit((X8, X2_16), EI), theirs((X8, X2_16), EI))
    torch.testing.assert_close(jit((X8, None), EI, size=(4, 2)), theirs((X8, None), EI, size=(4, 2)))
    with torch.no_grad():
        ours.lin_l.weight.add_(1.0)  # parameters are shared, not copied
    torch.testing.assert_close(jit((X8, X2_16), EI), ours((X8, X2_16), EI))


def test_pinned_pyg_version():
    # TorchScript support calls PyG's private MessagePassing._set_jittable_templates (graphrep/nn/conv/fused.py),
    # and the fused path mirrors PyG 2.8.1's forward() of each layer: re-run this file when upgrading PyG.
    assert torch_geometric.__version__ == "2.8.1"


def test_gcn_norm_is_left_to_pyg_and_the_csr_normalisation_matches_it():
    # graphrep's CSR normalisation had been exported as `gcn_norm` with another contract (a CSR in): PyG's name stays
    # PyG's, and csr_gcn_norm gives PyG's edges and weights, edge order included (loops kept/replaced as PyG does)
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    assert "gcn_norm" not in gr.__all__
    with pytest.raises(AttributeError, match="csr_gcn_norm"):
        gr.gcn_norm  # noqa: B018
    ei = torch.tensor([[0, 1, 1, 2, 3, 3, 2], [1, 0, 1, 3, 2, 0, 2]])  # with two self-loops, one weighted
    w = torch.rand(7, dtype=torch.float64, generator=torch.Generator().manual_seed(8)) + 0.2
    for weight, improved in [(None, False), (w, False), (w, True)]:
        want_ei, want_w = gcn_norm(ei, weight, 4, improved=improved, dtype=torch.float64)
        graph, got_w = gr.csr_gcn_norm(CSR.from_edge_index(ei, 4), weight, improved=improved, dtype=torch.float64)
        assert torch.equal(graph.edge_index(), want_ei)
        torch.testing.assert_close(got_w, want_w)
