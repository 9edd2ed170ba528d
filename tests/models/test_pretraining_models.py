"""Pre-training modules: each objective equals its hand-written call sequence, randomness is a function of
(seed, epoch, batch, rank), and bad batches (no bonds, single atoms, empty graphs, empty batch) are handled."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from graphrep.data import smiles_to_data
from graphrep.data.transforms import PerturbationConfig, augment, dsla_perturb, mask_atoms
from graphrep.models import PRETRAINING_METHODS, AttrMaskModel, DSLAModel, GraphCLModel, step_seed
from graphrep.models.base import usable_graphs
from graphrep.objectives import attr_mask_loss, dsla_loss, nt_xent

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CN1CCC[C@H]1c1cccnc1", "O=C(O)c1ccccc1OC(C)=O", "CC(C)Cc1ccccc1"]
TINY = {"num_layers": 2, "hidden": 16}


def mol(smiles):
    d = smiles_to_data(smiles, features="pretrain")
    return Data(x=d.x, edge_index=d.edge_index, edge_attr=d.edge_attr)


def batch_of(smiles):
    return Batch.from_data_list([mol(s) for s in smiles])


def make(method, **kwargs):
    corpus = [mol(s) for s in SMILES]
    torch.manual_seed(0)
    return PRETRAINING_METHODS[method].from_corpus(corpus, encoder=TINY, **kwargs)


def test_step_seed_is_a_fixed_function_of_its_arguments():
    base = step_seed(0, 1, 2, 0)
    assert base == step_seed(0, 1, 2, 0) and 0 <= base < 2**63
    others = {step_seed(1, 1, 2, 0), step_seed(0, 2, 2, 0), step_seed(0, 1, 3, 0), step_seed(0, 1, 2, 1),
              step_seed(0, 2, 1, 0)}
    assert base not in others and len(others) == 5


def test_dsla_objective_is_the_documented_call_sequence():
    model = make("dsla")
    batch = batch_of(SMILES)
    out = model.objective(batch, torch.Generator().manual_seed(7))
    cand = dsla_perturb(batch, PerturbationConfig(strong=True), bond_dist=model.bond_dist,
                        generator=torch.Generator().manual_seed(7))
    h = model.encoder(cand)
    ref = dsla_loss(model.score_head(h).view(6, 5), h.view(6, 5, -1), cand.edit_distance.view(6, 5),
                    edit_weight=0.7, margin_weight=0.5, margin=5.0, strong=True)
    assert torch.allclose(out["loss"], ref.loss) and torch.allclose(out["edit"], ref.edit)
    # the bond distribution is the corpus' (type, direction) frequencies, kept in the hyper-parameters
    assert abs(sum(model.hparams.bond_probs) - 1) < 1e-12 and [0, 0] in model.hparams.bond_attrs


def test_attrmask_and_graphcl_objectives_are_their_call_sequences():
    batch = batch_of(SMILES)
    model = make("attrmask")
    out = model.objective(batch, torch.Generator().manual_seed(3))
    masked, idx, target = mask_atoms(batch, 0.15, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(out["loss"], attr_mask_loss(model.head(model.encoder.node_embeddings(masked), idx),
                                                      target).loss)
    model = make("graphcl")
    out = model.objective(batch, torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)
    v1, v2 = augment(batch, "dropN", 0.2, generator=g), augment(batch, "subgraph", 0.2, generator=g)
    ref = nt_xent(model.projection(model.encoder(v1)), model.projection(model.encoder(v2)), 0.1)
    assert torch.allclose(out["loss"], ref)


@pytest.mark.parametrize("method", sorted(PRETRAINING_METHODS))
def test_step_randomness_depends_only_on_seed_epoch_batch(method):
    model = make(method)
    batch = batch_of(SMILES)
    a = model.objective(batch, model.step_generator(5))["loss"]
    b = model.objective(batch, model.step_generator(5))["loss"]
    c = model.objective(batch, model.step_generator(6))["loss"]
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("method", sorted(PRETRAINING_METHODS))
@pytest.mark.parametrize("smiles", [["C"], ["[Na+].[Cl-]", "C", "O"], ["C", "CCO", "[Na+].[Cl-]", "c1ccccc1"]],
                         ids=["one-single-atom", "no-bonds", "mixed"])
def test_molecules_without_bonds_and_single_atoms(method, smiles):
    model = make(method)
    out = model.objective(batch_of(smiles), torch.Generator().manual_seed(0))
    if method != "dsla" and len(smiles) == 1:
        assert out is None  # GraphCL: no negatives; AttrMasking: one atom cannot be batch-normalised
        return
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    if method == "dsla" and "c1ccccc1" not in smiles:
        assert float(out["edit"].detach()) == 0.0  # nothing was perturbable: no edit-distance pairs


def test_empty_graphs_are_dropped_and_empty_batches_skipped():
    empty = Data(x=torch.zeros((0, 2), dtype=torch.long), edge_index=torch.zeros((2, 0), dtype=torch.long),
                 edge_attr=torch.zeros((0, 2), dtype=torch.long))
    assert usable_graphs(None) is None
    assert usable_graphs(Batch.from_data_list([empty])) is None
    kept = usable_graphs(Batch.from_data_list([mol("CCO"), empty, mol("C")]))
    assert kept.num_graphs == 2 and kept.x.size(0) == 4
    assert usable_graphs(Batch.from_data_list([mol("C")])) is None  # one atom in all
    model = make("dsla")
    assert model.training_step(Batch.from_data_list([empty, empty]), 0) is None
    assert model.skipped_batches == 1


def test_pretraining_needs_pretrain_features():
    with pytest.raises(ValueError, match="features='pretrain'"):
        AttrMaskModel(encoder={"features": "ogb"})
    with pytest.raises(ValueError, match="augmentations"):
        GraphCLModel(augmentations=("dropN", "rotate"))


def test_every_method_shares_the_encoder_configuration():
    models = [make(m) for m in sorted(PRETRAINING_METHODS)]
    keys = [set(k for k in m.state_dict() if k.startswith("encoder.")) for m in models]
    assert keys[0] == keys[1] == keys[2]
    assert isinstance(models[1], DSLAModel) and models[1].encoder_config["hidden"] == 16
