"""``union_inputs``: several designs as one disjoint training graph, checked against a hand-built two-design case."""

import numpy as np
import pytest
import torch

from graphrep.ops import CSR
from graphrep.tasks.circuits.baselines import BaselineModel
from graphrep.tasks.circuits.training import (CircuitInputs, TransferConfig, predict, subsample_nets, train_model,
                                             union_inputs)


def _design(name, n_nodes, net_nodes, edges, y_total, mask, pairs, pair_y, prior):
    """A hand-made design: ``net_nodes`` are the node ids of its nets; node features are the node id (so that the
    union's rows can be traced), net features ``[net id, 1]``."""
    m = len(net_nodes)
    return CircuitInputs(
        name=name, x=torch.arange(n_nodes, dtype=torch.float).unsqueeze(1),
        csr=CSR.from_edge_index(torch.tensor(edges).t(), (n_nodes, n_nodes)), net_index=torch.tensor(net_nodes),
        net_x=torch.stack([torch.arange(m, dtype=torch.float), torch.ones(m)], 1),
        degree=torch.arange(1, m + 1, dtype=torch.float), y_total=torch.tensor(y_total),
        y_ground=torch.tensor(y_total) / 2, bucket=torch.arange(m), mask=torch.tensor(mask),
        pairs=torch.tensor(pairs).t(), pair_y=torch.tensor(pair_y), link_pairs=torch.tensor(pairs).t(),
        link_y=torch.ones(len(pairs)), prior_offset=prior)


@pytest.fixture()
def two():
    a = _design("a", 4, [2, 3], [(0, 2), (1, 3), (2, 3)], [0.5, 0.7], [True, False], [(0, 1)], [0.3], 0.1)
    b = _design("b", 5, [1, 3, 4], [(0, 1), (2, 3), (4, 0)], [0.2, 0.4, 0.9], [True, True, True],
                [(0, 2), (1, 2)], [0.25, 0.35], None)
    return a, b


def test_union_offsets_nodes_nets_and_pairs(two):
    a, b = two
    u = union_inputs([a, b])
    assert u.name == "a+b" and u.x.squeeze(1).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4]
    # b's node ids move by a's 4 nodes, its net ids (pairs) by a's 2 nets
    assert u.net_index.tolist() == [2, 3, 5, 7, 8]
    assert u.pairs.t().tolist() == [[0, 1], [2, 4], [3, 4]] and u.link_pairs.t().tolist() == u.pairs.t().tolist()
    expected = {(0, 2), (1, 3), (2, 3), (4, 5), (6, 7), (8, 4)}
    assert {tuple(e) for e in u.csr.edge_index().t().tolist()} == expected and u.csr.num_src == 9
    assert u.mask.tolist() == [True, False, True, True, True] and u.mask.dtype == torch.bool
    assert u.net_x[:, 0].tolist() == [0, 1, 0, 1, 2] and u.degree.tolist() == [1, 2, 1, 2, 3]
    assert u.bucket.tolist() == [0, 1, 0, 1, 2] and u.link_y.tolist() == [1, 1, 1]


def test_union_labels_relative_to_each_designs_prior(two):
    a, b = two
    u = union_inputs([a, b])
    # a's prior 0.1 is taken off a's labels; b has none (0)
    assert u.prior_offset == 0.0
    assert u.y_total.tolist() == pytest.approx([0.4, 0.6, 0.2, 0.4, 0.9])
    assert u.y_ground.tolist() == pytest.approx([0.15, 0.25, 0.1, 0.2, 0.45])
    assert u.pair_y.tolist() == pytest.approx([0.2, 0.25, 0.35])
    assert u.target("total-cap")[0].tolist() == pytest.approx([0.4, 0.2, 0.4, 0.9])
    plain = union_inputs([a, b], relative_to_prior=False)
    assert plain.prior_offset is None and plain.y_total.tolist() == pytest.approx([0.5, 0.7, 0.2, 0.4, 0.9])


def test_a_model_trained_on_the_union_predicts_with_the_held_out_designs_prior(two):
    """A held-out design's prediction is the learnt relative value plus its own prior: shifting only its prior moves
    every prediction by exactly that amount (GNN and GBM)."""
    a, b = two
    u = union_inputs([a, b])
    model = train_model(u, TransferConfig(task="total-cap", method="gnn-mse", epochs=3, hidden=4, layers=1))
    gbm = BaselineModel("gbm", "total-cap").fit(u)
    held = _design("c", 3, [0, 2], [(0, 1), (1, 2)], [0.3, 0.6], [True, True], [(0, 1)], [0.2], 0.05)
    shifted = _design("c", 3, [0, 2], [(0, 1), (1, 2)], [0.3, 0.6], [True, True], [(0, 1)], [0.2], 0.25)
    _, p = predict(model, held, "total-cap")
    _, q = predict(model, shifted, "total-cap")
    np.testing.assert_allclose(q - p, 0.2, atol=1e-6)
    np.testing.assert_allclose(gbm.predict(shifted) - gbm.predict(held), 0.2, atol=1e-9)


def _random_design(n_nodes=300, n_nets=80, n_edges=600, seed=0):
    """A random design: nets are nodes ``100..100+n_nets``, features random, some nets unlabelled."""
    gen = torch.Generator().manual_seed(seed)
    edges = torch.randint(0, n_nodes, (2, n_edges), generator=gen)
    pairs = torch.randint(0, n_nets, (2, 40), generator=gen)
    return CircuitInputs(
        name="r", x=torch.randn(n_nodes, 5, generator=gen), csr=CSR.from_edge_index(edges, (n_nodes, n_nodes)),
        net_index=torch.arange(100, 100 + n_nets), net_x=torch.randn(n_nets, 3, generator=gen),
        degree=torch.ones(n_nets), y_total=torch.rand(n_nets, generator=gen), y_ground=torch.rand(n_nets, generator=gen),
        bucket=torch.zeros(n_nets, dtype=torch.long), mask=torch.rand(n_nets, generator=gen) > 0.2, pairs=pairs,
        pair_y=torch.rand(40, generator=gen), link_pairs=pairs, link_y=torch.ones(40), prior_offset=0.05)


def test_subsample_nets_keeps_the_outputs_of_the_kept_nets():
    """On the kept nets, a model gives the same outputs on the subgraph as on the whole graph (``hops`` = layers)."""
    inputs = _random_design()
    torch.manual_seed(0)
    cfg = TransferConfig(task="total-cap", method="gnn-mse", epochs=1, hidden=8, layers=2)
    model = train_model(inputs, cfg)
    part = subsample_nets(inputs, 0.5, hops=2, seed=3)
    assert part.x.size(0) < inputs.x.size(0) and part.prior_offset == 0.05
    assert int(part.mask.sum()) == round(0.5 * int(inputs.mask.sum()))
    _, p_part = predict(model, part, "total-cap")
    _, p_full = predict(model, inputs, "total-cap")
    # the kept nets, identified by their net features (unique rows) in the full design
    full_rows = {tuple(r): k for k, r in enumerate(inputs.net_x[inputs.mask].tolist())}
    idx = [full_rows[tuple(r)] for r in part.net_x[part.mask].tolist()]
    np.testing.assert_allclose(p_part, p_full[idx], rtol=1e-5, atol=1e-6)
    # pairs: those with both nets kept, renumbered to the same net features
    kept = [tuple(r) for r in part.net_x.tolist()]
    full_pairs = {(tuple(inputs.net_x[a].tolist()), tuple(inputs.net_x[b].tolist())) for a, b in inputs.pairs.t().tolist()}
    part_pairs = [(kept[a], kept[b]) for a, b in part.pairs.t().tolist()]
    assert part_pairs and set(part_pairs) <= full_pairs
    again = subsample_nets(inputs, 0.5, hops=2, seed=3)
    assert torch.equal(again.x, part.x) and torch.equal(again.mask, part.mask)


@pytest.mark.slow
def test_cli_trains_one_model_on_several_designs(design_dir, tmp_path):
    """``--train a,b`` gives the model that training_set + train_model give in process (the benchmark's path)."""
    import json
    import shutil

    from graphrep.cli import main
    from graphrep.data.circuits.dataset import load_design
    from graphrep.data.circuits.graph import build_graph
    from graphrep.tasks.circuits.training import metrics, prepare, training_set

    other = tmp_path / "tiny2"
    shutil.copytree(design_dir, other)
    spef = other / "top.spef"  # other labels, so that training on the first design alone would differ
    spef.write_text(spef.read_text().replace("*D_NET *1 5.0", "*D_NET *1 50.0").replace("*D_NET *2 4.0", "*D_NET *2 0.4"))
    run = tmp_path / "run"
    assert main(["circuit", "train", "--train", f"{design_dir},{other}", "--eval", str(design_dir), "--task",
                 "total-cap", "--method", "gnn-mse", "--epochs", "30", "--hidden", "8", "--layers", "2",
                 "--out", str(run)]) == 0
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["train_designs"] == [str(design_dir), str(other)] and "+" in saved["train"]
    parts = [prepare(build_graph(load_design(d))[0], seed=0) for d in (design_dir, other)]
    cfg = TransferConfig(task="total-cap", method="gnn-mse", epochs=30, hidden=8, layers=2)
    y, p = predict(train_model(training_set(parts, None, 2), cfg), parts[0], "total-cap")
    assert saved["eval"][str(design_dir)]["mae"] == pytest.approx(metrics("total-cap", y, p)["mae"], rel=1e-5)
    _, alone = predict(train_model(parts[0], cfg), parts[0], "total-cap")
    assert saved["eval"][str(design_dir)]["mae"] != pytest.approx(metrics("total-cap", y, alone)["mae"], rel=1e-3)
    assert main(["circuit", "train", "--train", str(design_dir), "--eval", str(design_dir), "--max-train-nets",
                 "1"]) == 2
