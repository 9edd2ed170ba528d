"""Resident batches: each equals PyG's collation of the same molecules, and a resident pre-training run equals a
DataLoader run with the same seed."""

import pytest
import torch
from torch_geometric.data import Batch

from graphrep.data import InvalidInputError
from graphrep.data.molecules.resident import ResidentBatches
from graphrep.data.molecules.shards import ShardedMolecules, featurise_shards

SMILES = ["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "[Na+].[Cl-]", "C", "C[C@H](N)C(=O)O", "O=C=O", "CCCl",
          "c1ccncc1", "C#N", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "OCC(O)CO", "C1CC1", "CCOC(=O)C", "N#CC#N"]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    path = tmp_path_factory.mktemp("resident")
    (path / "mols.csv").write_text("SMILES\n" + "".join(f"{s}\n" for s in SMILES))
    featurise_shards(path / "mols.csv", path / "shards", shard_size=4, progress=False)
    return ShardedMolecules(path / "shards")


def test_a_resident_batch_equals_pyg_collation(sharded):
    batches = ResidentBatches(sharded, [[3, 0, 10, 4], [14, 2], list(range(len(SMILES)))[::-1]])
    assert len(batches) == 3
    for indices, got in zip(batches.batch_sampler, batches):
        want = Batch.from_data_list([sharded[i] for i in indices])
        for key in ("x", "edge_index", "edge_attr", "batch", "ptr"):
            assert torch.equal(got[key], want[key]), key
        assert got.num_graphs == want.num_graphs == len(indices)
        for a, b in zip(got.to_data_list(), want.to_data_list()):  # PyG's bookkeeping is right too
            assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)


def test_resident_batches_refuse_what_they_cannot_cut(sharded):
    with pytest.raises(InvalidInputError, match="sharded corpus"):
        ResidentBatches(object(), [[0]])


@pytest.mark.slow
def test_resident_pretraining_equals_the_loader_run(sharded, tmp_path):
    from graphrep.tasks.molecules.pretraining import PretrainConfig, run_pretraining

    def run(out, resident):
        config = PretrainConfig(method="attrmask", epochs=2, batch_size=4, layers=2, hidden=8, out_dir=str(out),
                                progress=False, resident=resident, chunks=2)
        return run_pretraining(config, corpus=sharded)

    loader, resident = run(tmp_path / "loader", False), run(tmp_path / "resident", True)
    assert [r["train/loss"] for r in loader["epochs"]] == [r["train/loss"] for r in resident["epochs"]]
    assert [r["molecules"] for r in resident["epochs"]] == [7, 8, 7, 8]  # two passes of two chunks each
    a, b = (torch.load(s["checkpoint"], weights_only=True)["state_dict"] for s in (loader, resident))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_max_time_ends_a_long_run_with_its_finished_chunks_saved(sharded, tmp_path):
    from graphrep.tasks.molecules.pretraining import PretrainConfig, run_pretraining

    config = PretrainConfig(method="attrmask", epochs=10_000, batch_size=4, layers=1, hidden=8, out_dir=str(tmp_path),
                            progress=False, resident=True, chunks=2, max_time="00:00:00:02")
    summary = run_pretraining(config, corpus=sharded)
    assert 1 <= len(summary["epochs"]) < 20_000 and summary["fit_seconds"] < 30
    saved = torch.load(summary["checkpoint"], weights_only=True)
    assert saved["epoch"] == summary["epochs"][-1]["epoch"]  # the last chunk that ran is the one saved
