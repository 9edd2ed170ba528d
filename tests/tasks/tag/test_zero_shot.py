"""Zero-shot evaluator: metrics vs sklearn, propagation vs dense formula, toy graphs with known answers."""

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score

from graphrep.tasks.tag.zero_shot import (DEFAULT_TEMPLATE, accuracy, class_embeddings, class_prompts,
                                      evaluate_propagation, held_out_class_split, macro_f1, normalized_adjacency,
                                      propagate, zero_shot_predict, zero_shot_scores)


def test_prompts_and_class_embeddings():
    assert class_prompts(["Rule_Learning", "Human-Computer Interaction"]) == [
        "This paper is about rule learning.", "This paper is about human-computer interaction."]
    assert class_prompts(["A_b"], "{} papers", clean=False) == ["A_b papers"]
    assert class_prompts(["x"]) == [DEFAULT_TEMPLATE.format("x")]
    with pytest.raises(ValueError, match="must contain"):
        class_prompts(["a"], "no slot")
    # fake encoder: one-hot per distinct prompt word count; two templates are averaged then normalised
    table = {"x a": [1.0, 0.0], "y a": [0.0, 2.0]}
    emb = class_embeddings(["A"], lambda ts: torch.tensor([table[t] for t in ts]), templates=["x {}", "y {}"])
    torch.testing.assert_close(emb, torch.tensor([[2 ** -0.5, 2 ** -0.5]]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_sklearn(seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 5, (200,), generator=g)
    pred = torch.where(torch.rand(200, generator=g) < 0.5, y, torch.randint(0, 6, (200,), generator=g))
    assert accuracy(pred, y) == pytest.approx(float((pred == y).float().mean()))
    assert macro_f1(pred, y) == pytest.approx(f1_score(y.numpy(), pred.numpy(), average="macro"))
    labels = list(range(7))  # class 6 absent from both: counts as 0, as in sklearn
    assert macro_f1(pred, y, labels) == pytest.approx(
        f1_score(y.numpy(), pred.numpy(), labels=labels, average="macro", zero_division=0))
    with pytest.raises(ValueError, match="differ in length"):
        accuracy(pred[:3], y)


def test_normalized_adjacency_matches_dense():
    ei = torch.tensor([[0, 1, 1, 2, 3, 3], [1, 0, 2, 1, 3, 0]])  # 0-1, 1-2, 0-3 (one direction), self-loop at 3
    s = normalized_adjacency(ei, 5).to_dense()
    a = torch.zeros(5, 5)
    for i, j in [(0, 1), (1, 2), (0, 3)]:
        a[i, j] = a[j, i] = 1
    a += torch.eye(5)
    dinv = a.sum(1).rsqrt()
    torch.testing.assert_close(s, dinv[:, None] * a * dinv[None, :])
    x = torch.randn(5, 3)
    torch.testing.assert_close(propagate(x, ei, 3), torch.linalg.matrix_power(s, 3) @ x)
    torch.testing.assert_close(propagate(x, ei, 0), x)


def test_toy_graph_known_answer():
    # Two communities (cliques 0-3 and 4-7, joined by edge 3-4). Class embeddings e0, e1.
    # Text alone: nodes 2 and 6 carry misleading text (pointing to the other class) -> 6/8 correct.
    # After one round of propagation, each node sees mostly its clique's text -> all 8 correct.
    edges = [(i, j) for c in (range(4), range(4, 8)) for i in c for j in c if i < j] + [(3, 4)]
    ei = torch.tensor(edges).t()
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    cls = torch.eye(2)
    x = cls[y].clone()
    x[2], x[6] = cls[1], cls[0]
    pred, scores = zero_shot_predict(x, cls)
    assert pred.tolist() == [0, 0, 1, 0, 1, 1, 0, 1] and scores.shape == (8, 2)
    res = evaluate_propagation(x, cls, y, ei, ks=[0, 1, 2])
    assert res[0]["accuracy"] == pytest.approx(0.75)
    assert res[0]["macro_f1"] == pytest.approx(0.75)
    assert res[1] == {"accuracy": 1.0, "macro_f1": 1.0} and res[2]["accuracy"] == 1.0
    # masked evaluation only scores the chosen nodes
    mask = torch.tensor([True, False, True, False, False, False, False, False])
    assert zero_shot_scores(x, cls, y, mask)["accuracy"] == pytest.approx(0.5)


def test_evaluate_propagation_steps_are_cumulative():
    g = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 30, (2, 80), generator=g)
    x, cls = torch.randn(30, 8, generator=g), torch.randn(4, 8, generator=g)
    y = torch.randint(0, 4, (30,), generator=g)
    res = evaluate_propagation(x, cls, y, ei, ks=[3, 1])
    xn = torch.nn.functional.normalize(x, dim=-1)
    for k in (1, 3):
        assert res[k] == zero_shot_scores(propagate(xn, ei, k), cls, y)


def test_candidates_and_held_out_split():
    cls = torch.eye(4)
    x = torch.tensor([[1.0, 0.0, 0.9, 0.0], [0.0, 1.0, 0.0, 0.8], [0.0, 0.0, 0.0, 1.0]])
    pred, scores = zero_shot_predict(x, cls, candidates=[2, 3])
    # node 0 is closest to class 0, but only 2 and 3 are allowed -> 2; node 1 -> 3; node 2 -> 3
    assert pred.tolist() == [2, 3, 3] and torch.isinf(scores[:, :2]).all()
    y = torch.tensor([2, 3, 2])
    res = zero_shot_scores(x, cls, y, candidates=[2, 3])
    assert res["accuracy"] == pytest.approx(2 / 3)
    assert res["macro_f1"] == pytest.approx(f1_score(y.numpy(), pred.numpy(), labels=[2, 3], average="macro"))
    with pytest.raises(ValueError, match="candidates"):
        zero_shot_predict(x, cls, candidates=[5])
    seen, unseen = held_out_class_split(7, 3, seed=0)
    assert len(unseen) == 3 and sorted(seen + unseen) == list(range(7))
    assert held_out_class_split(7, 3, seed=0) == (seen, unseen)
    assert len({tuple(held_out_class_split(7, 3, seed=s)[1]) for s in range(5)}) > 1
    with pytest.raises(ValueError, match="num_unseen"):
        held_out_class_split(3, 3, seed=0)


def test_centring_removes_a_shared_component():
    """Every node carries a large common direction that is closest to class 2's prompt: uncentred, all nodes go to
    class 2; centred, each node goes to its own class."""
    classes = torch.eye(3)
    classes[2] = torch.tensor([0.6, 0.6, 0.53])
    y = torch.tensor([0, 0, 1, 1])
    x = torch.stack([classes[0], classes[0], classes[1], classes[1]]) * 0.3 + torch.tensor([0.5, 0.5, 1.0])
    ei = torch.zeros(2, 0, dtype=torch.long)
    plain = evaluate_propagation(x, classes, y, ei, ks=[0])[0]
    centred = evaluate_propagation(x, classes, y, ei, ks=[0], center=True)[0]
    assert plain["accuracy"] == 0.0 and centred["accuracy"] == 1.0
    mean = F.normalize(x, dim=-1).mean(0)
    manual = zero_shot_scores(F.normalize(x, dim=-1) - mean, classes, y)
    assert centred == manual


def _normalized_adjacency_dense_path(edge_index, n):
    """normalized_adjacency as it was (scipy diag products, then a torch coalesce): the reference for the O(E) build."""
    import numpy as np
    import scipy.sparse as sp

    ei = edge_index.numpy()
    keep = ei[0] != ei[1]
    r, c = ei[0][keep], ei[1][keep]
    a = sp.coo_matrix((np.ones(2 * r.size), (np.concatenate([r, c]), np.concatenate([c, r]))), shape=(n, n)).tocsr()
    a.data[:] = 1.0
    a = a + sp.identity(n, format="csr")
    dinv = 1.0 / np.sqrt(np.asarray(a.sum(axis=1)).ravel())
    s = (sp.diags(dinv) @ a @ sp.diags(dinv)).tocoo().astype(np.float32)
    idx = torch.from_numpy(np.stack([s.row, s.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(s.data), (n, n), check_invariants=True).coalesce()


def test_normalized_adjacency_built_in_place_matches_the_diag_product_version():
    g = torch.Generator().manual_seed(1)
    ei = torch.cat([torch.randint(0, 40, (2, 300), generator=g), torch.tensor([[3, 3, 7], [3, 5, 5]])], 1)
    new, old = normalized_adjacency(ei, 45), _normalized_adjacency_dense_path(ei, 45)
    assert new.is_coalesced()
    assert torch.equal(new.indices(), old.indices())
    assert torch.allclose(new.values(), old.values(), rtol=1e-6, atol=0)
    x = torch.randn(45, 5, generator=g)
    assert torch.allclose(new @ x, old @ x, atol=1e-6)
