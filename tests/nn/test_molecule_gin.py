"""The molecule GIN layer equals its formula computed edge by edge; the encoder pools as documented."""

import torch
from torch_geometric.data import Batch

from graphrep.data import smiles_to_data
from graphrep.nn.molecule import GINEdgeConv, GINEncoder


def loop_reference(conv: GINEdgeConv, x, edge_index, edge_attr, self_loop_vec):
    out = []
    for i in range(x.size(0)):
        total = x[i] + self_loop_vec
        for e in range(edge_index.size(1)):
            if edge_index[1, e] == i:
                total = total + x[edge_index[0, e]] + conv.bond_embedding(edge_attr[e:e + 1])[0]
        out.append(total)
    return conv.mlp(torch.stack(out))


def test_gin_layer_matches_per_node_loop_for_both_feature_sets():
    torch.manual_seed(0)
    for features in ("ogb", "pretrain"):
        data = smiles_to_data("CC(=O)Oc1ccccc1C(=O)O", features)
        conv = GINEdgeConv(16, features).double()
        if conv.self_loop is not None:
            torch.nn.init.normal_(conv.self_loop)
            loop_vec = conv.self_loop
        else:
            loop_vec = conv.bond_embedding(torch.tensor([[4, 0]]))[0]
        x = torch.randn(data.num_nodes, 16, dtype=torch.float64)
        expected = loop_reference(conv, x, data.edge_index, data.edge_attr, loop_vec)
        torch.testing.assert_close(conv(x, data.edge_index, data.edge_attr), expected)


def test_encoder_mean_pools_per_graph():
    torch.manual_seed(0)
    encoder = GINEncoder(features="ogb", num_layers=2, hidden=8, dropout=0.0).eval()
    graphs = [smiles_to_data(s) for s in ("CCO", "c1ccccc1", "C")]
    batch = Batch.from_data_list(graphs)
    pooled = encoder(batch)
    nodes = encoder.node_embeddings(batch)
    for g in range(3):
        torch.testing.assert_close(pooled[g], nodes[batch.batch == g].mean(0))
        torch.testing.assert_close(pooled[g], encoder(Batch.from_data_list([graphs[g]]))[0], atol=1e-6, rtol=1e-5)
    assert encoder.out_dim == 8 and GINEncoder(jk="concat", num_layers=2, hidden=8).out_dim == 24
