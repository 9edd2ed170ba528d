"""One GraphCL step for every caller: the molecule pre-training module computes exactly graphcl_loss, which is NT-Xent
of the projected views, and weighted graphs keep their edge weights through the augmentations."""

import torch
from torch_geometric.data import Batch, Data

from graphrep.data import smiles_to_data
from graphrep.data.transforms import augment
from graphrep.models import GraphCLModel
from graphrep.models.graphcl import graphcl_loss
from graphrep.objectives import nt_xent


def _molecules():
    return Batch.from_data_list([smiles_to_data(s, features="pretrain") for s in ("CCO", "c1ccccc1O", "CC(=O)N", "CCCl")])


def test_the_molecule_module_uses_graphcl_loss_which_is_nt_xent_of_the_views():
    torch.manual_seed(0)
    model = GraphCLModel(encoder={"num_layers": 2, "hidden": 16})
    batch = _molecules()
    got = model.objective(batch, torch.Generator().manual_seed(5))["loss"]
    same = graphcl_loss(model.encoder, model.projection, batch, ("dropN", "subgraph"), 0.2, 0.1,
                        torch.Generator().manual_seed(5))
    assert torch.equal(got, same)  # the same computation twice
    g = torch.Generator().manual_seed(5)  # by hand, from the definition
    v1, v2 = augment(batch, "dropN", 0.2, generator=g), augment(batch, "subgraph", 0.2, generator=g)
    ref = nt_xent(model.projection(model.encoder(v1)), model.projection(model.encoder(v2)), 0.1)
    assert torch.allclose(got, ref, atol=1e-6)


def test_edge_weights_follow_their_edges_through_the_augmentations():
    # a path 0-1-2-3 (both directions) per graph; node feature = its local id, weight of edge (a, b) = 10 a + b
    pairs = [(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2)]
    graphs = [Data(x=torch.arange(4.0).view(-1, 1).repeat(1, 2), edge_index=torch.tensor(pairs).t(),
                   edge_weight=torch.tensor([10.0 * a + b for a, b in pairs])) for _ in range(3)]
    batch = Batch.from_data_list(graphs)
    views = []

    def encoder(view):
        views.append(view)
        from torch_geometric.nn import global_mean_pool

        return global_mean_pool(view.x, view.batch, size=view.num_graphs)

    loss = graphcl_loss(encoder, torch.nn.Identity(), batch, ("dropN", "permE"), 0.4, 0.5,
                        torch.Generator().manual_seed(1))
    assert torch.isfinite(loss) and len(views) == 2
    for view in views:
        assert view.edge_attr is None and view.edge_weight.numel() == view.edge_index.size(1)
        src, dst = view.x[view.edge_index[0], 0], view.x[view.edge_index[1], 0]
        assert torch.equal(view.edge_weight, 10 * src + dst)  # each kept edge kept its own weight
    assert views[0].num_nodes == 9 and views[1].edge_index.size(1) == 12  # one node, one bond per graph
