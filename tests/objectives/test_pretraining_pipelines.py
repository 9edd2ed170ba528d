"""The call sequences the pre-training models use (transform -> encoder -> head -> loss), with the package GIN (small):
D-SLA learns to single out the original, AttrMasking and GraphCL give gradients to the encoder."""

import torch
from torch import nn
from torch_geometric.data import Batch, Data

from graphrep.data import smiles_to_data
from graphrep.data.transforms import DSLAPerturbation, PerturbationConfig, augment, bond_distribution, mask_atoms
from graphrep.nn.molecule.gin import GINEncoder
from graphrep.objectives import AttrMaskHead, ProjectionHead, attr_mask_loss, dsla_loss, nt_xent

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CN1CCC[C@H]1c1cccnc1", "O=C(O)c1ccccc1OC(C)=O", "CC(C)Cc1ccccc1"]
DIM = 32


def mol(smiles):
    d = smiles_to_data(smiles, features="pretrain")
    return Data(x=d.x, edge_index=d.edge_index, edge_attr=d.edge_attr)


def encoder():
    return GINEncoder(features="pretrain", num_layers=2, hidden=DIM, dropout=0.0)


def test_dsla_call_sequence_learns_to_find_the_original():
    torch.manual_seed(0)
    mols = [mol(s) for s in SMILES]
    perturb = DSLAPerturbation(bond_distribution(mols), PerturbationConfig(strong=True), seed=0)
    C = perturb.config.total_candidates
    enc = encoder()
    score = nn.Sequential(nn.Linear(DIM, DIM), nn.ReLU(), nn.Linear(DIM, DIM), nn.ReLU(), nn.Linear(DIM, 1))
    opt = torch.optim.Adam([*enc.parameters(), *score.parameters()], lr=1e-2)
    batch = Batch.from_data_list(mols)
    losses, accuracy = [], []
    for _ in range(100):
        cand = perturb(batch)  # B * C graphs, graph-major
        h = enc(cand)  # [B*C, D], mean-pooled graph embeddings
        B = cand.num_graphs // C
        out = dsla_loss(
            score(h).view(B, C), h.view(B, C, -1), cand.edit_distance.view(B, C), strong=perturb.config.strong
        )
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.discrimination.item())
        accuracy.append(out.accuracy.item())
    # chance: CE ln 5 = 1.61, accuracy 1/5
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10
    assert sum(accuracy[-10:]) / 10 > 0.4


def test_attrmask_and_graphcl_call_sequences_reach_the_encoder():
    mols = [mol(s) for s in SMILES]
    batch = Batch.from_data_list(mols)
    gen = torch.Generator().manual_seed(0)
    enc, head, proj = encoder(), AttrMaskHead(DIM), ProjectionHead(DIM)

    masked, idx, target = mask_atoms(batch, 0.15, generator=gen)
    out = attr_mask_loss(head(enc.node_embeddings(masked), idx), target)
    out.loss.backward()
    assert enc.convs[0].mlp[0].weight.grad.abs().sum() > 0

    enc.zero_grad()
    v1, v2 = augment(batch, "dropN", generator=gen), augment(batch, "subgraph", generator=gen)
    z1, z2 = proj(enc(v1)), proj(enc(v2))
    nt_xent(z1, z2, temperature=0.1).backward()
    assert enc.convs[0].mlp[0].weight.grad.abs().sum() > 0
