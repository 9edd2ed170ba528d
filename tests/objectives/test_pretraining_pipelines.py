"""The call sequences the pre-training models use (transform -> encoder -> head -> loss), with a tiny stand-in GIN:
D-SLA learns to single out the original, AttrMasking and GraphCL give gradients to the encoder."""

import torch
from rdkit import Chem
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GINEConv, global_mean_pool

from graphrep.data.transforms import DSLAPerturbation, PerturbationConfig, augment, bond_distribution, mask_atoms
from graphrep.objectives import AttrMaskHead, ProjectionHead, attr_mask_loss, dsla_loss, nt_xent

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CN1CCC[C@H]1c1cccnc1", "O=C(O)c1ccccc1OC(C)=O", "CC(C)Cc1ccccc1"]
BONDS = {Chem.BondType.SINGLE: 0, Chem.BondType.DOUBLE: 1, Chem.BondType.TRIPLE: 2, Chem.BondType.AROMATIC: 3}


def mol(smiles):
    m = Chem.MolFromSmiles(smiles)
    ei, ea = [], []
    for b in m.GetBonds():
        u, v = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        ei += [(u, v), (v, u)]
        ea += [(BONDS[b.GetBondType()], 0)] * 2
    return Data(
        x=torch.tensor([[a.GetAtomicNum() - 1, 0] for a in m.GetAtoms()]),
        edge_index=torch.tensor(ei).t(),
        edge_attr=torch.tensor(ea),
    )


class TinyGIN(nn.Module):
    """Stand-in for graphrep.nn's GIN: atom/bond embeddings, GINE layers. Returns node embeddings."""

    def __init__(self, dim=32, layers=2):
        super().__init__()
        self.atom = nn.ModuleList([nn.Embedding(120, dim), nn.Embedding(4, dim)])
        self.bond = nn.ModuleList([nn.ModuleList([nn.Embedding(6, dim), nn.Embedding(3, dim)]) for _ in range(layers)])
        self.convs = nn.ModuleList(
            [GINEConv(nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))) for _ in range(layers)]
        )

    def forward(self, x, edge_index, edge_attr):
        h = self.atom[0](x[:, 0]) + self.atom[1](x[:, 1])
        for conv, (bt, bd) in zip(self.convs, self.bond):
            h = torch.relu(conv(h, edge_index, bt(edge_attr[:, 0]) + bd(edge_attr[:, 1])))
        return h


def test_dsla_call_sequence_learns_to_find_the_original():
    torch.manual_seed(0)
    mols = [mol(s) for s in SMILES]
    perturb = DSLAPerturbation(bond_distribution(mols), PerturbationConfig(strong=True), seed=0)
    C = perturb.config.total_candidates
    enc = TinyGIN()
    score = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = torch.optim.Adam([*enc.parameters(), *score.parameters()], lr=1e-2)
    batch = Batch.from_data_list(mols)
    losses, accuracy = [], []
    for _ in range(100):
        cand = perturb(batch)  # B * C graphs, graph-major
        h = global_mean_pool(enc(cand.x, cand.edge_index, cand.edge_attr), cand.batch)  # [B*C, D]
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
    enc, head, proj = TinyGIN(), AttrMaskHead(32), ProjectionHead(32)

    masked, idx, target = mask_atoms(batch, 0.15, generator=gen)
    out = attr_mask_loss(head(enc(masked.x, masked.edge_index, masked.edge_attr), idx), target)
    out.loss.backward()
    assert enc.convs[0].nn[0].weight.grad.abs().sum() > 0

    enc.zero_grad()
    v1, v2 = augment(batch, "dropN", generator=gen), augment(batch, "subgraph", generator=gen)
    z1 = proj(global_mean_pool(enc(v1.x, v1.edge_index, v1.edge_attr), v1.batch, size=v1.num_graphs))
    z2 = proj(global_mean_pool(enc(v2.x, v2.edge_index, v2.edge_attr), v2.batch, size=v2.num_graphs))
    nt_xent(z1, z2, temperature=0.1).backward()
    assert enc.convs[0].nn[0].weight.grad.abs().sum() > 0
