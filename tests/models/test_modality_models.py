"""Every encoder runs on converted graphs with no modality code; batching and GraphCL pre-training on them."""

import pytest
import torch
from torch_geometric.data import Batch

from graphrep.data.modalities import TokenGraphBuilder, images_to_patch_graphs, transition_graph
from graphrep.models.modality import CONV_KINDS, GraphClassifier, GraphEncoder, NextVenueModel
from graphrep.tasks.modalities.training import Split, fit, graphcl_pretrain


@pytest.mark.parametrize("conv,knn", [(c, None) for c in CONV_KINDS] + [("gin", 3), ("sage", 3)])
def test_batched_graph_embeddings_equal_per_graph(conv, knn):
    torch.manual_seed(0)
    images = torch.rand(3, 1, 4, 6)
    batch = images_to_patch_graphs(images, 2, pos_dim=4)
    enc = GraphEncoder(in_channels=8, conv=conv, knn=knn, hidden=16, layers=2).eval()
    together = enc(batch)
    assert together.shape == (3, 16) and torch.isfinite(together).all()
    for i in range(3):
        alone = enc(images_to_patch_graphs(images[i:i + 1], 2, pos_dim=4))
        assert torch.allclose(together[i], alone[0], atol=1e-4)


def test_token_graphs_with_ids_and_pmi_weights():
    builder = TokenGraphBuilder(window=2).fit(["a b c", "c d", "a b d"])
    batch = builder.batch(["a b c", "c d a b"], [0, 1])
    enc = GraphEncoder(num_embeddings=len(builder.vocab), conv="gcn", hidden=8, layers=1).eval()
    out = enc(batch)
    # the PMI weights reach the GCN: changing them changes the output
    batch2 = batch.clone()
    batch2.edge_weight = batch.edge_weight * 3
    assert out.shape == (2, 8) and not torch.allclose(out, enc(batch2))


def test_graphcl_pretraining_keeps_edge_weights_and_learns():
    torch.manual_seed(0)
    builder = TokenGraphBuilder(window=2).fit(["a b c d e", "c d e f", "a b d f", "b c e"])
    graphs = [builder(t) for t in ["a b c d e", "c d e f", "a b d f", "b c e"] * 4]
    seen = []
    enc = GraphEncoder(num_embeddings=len(builder.vocab), conv="gcn", hidden=16, layers=2)
    original = enc.nodes

    def spy(data):
        seen.append(getattr(data, "edge_weight", None) is not None)
        return original(data)
    enc.nodes = spy
    res = graphcl_pretrain(enc, lambda idx: Batch.from_data_list([graphs[int(i)] for i in idx]), len(graphs),
                           epochs=15, batch_size=16, lr=1e-2)
    assert all(seen) and len(res["losses"]) == 15
    assert res["losses"][-1] < res["losses"][0]


def test_fit_learns_a_separable_image_task():
    torch.manual_seed(0)
    # class = which half of the image is bright
    n = 60
    y = torch.arange(n) % 2
    images = torch.rand(n, 1, 4, 4) * 0.1
    images[y == 0, :, :2] += 1
    images[y == 1, :, 2:] += 1
    split = Split(torch.arange(40).numpy(), torch.arange(40, 50).numpy(), torch.arange(50, 60).numpy())
    model = GraphClassifier(2, in_channels=8, conv="gin", hidden=16, layers=1)
    res = fit(model, lambda idx: (images_to_patch_graphs(images[idx], 2, 4), y[idx]), split, epochs=20, lr=1e-2,
              batch_size=20)
    assert res["test_acc"] == 1.0


def test_next_venue_model_with_and_without_graph():
    g = transition_graph([[(0, 0), (1, 1), (2, 2)], [(2, 0), (0, 1)]])
    history = torch.tensor([[-1, 0, 1], [2, 0, 1]])
    for graph in (None, g):
        logits = NextVenueModel(3, 8, graph=graph)(history)
        assert logits.shape == (2, 3) and torch.isfinite(logits).all()
