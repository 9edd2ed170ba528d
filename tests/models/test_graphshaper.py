"""GraphShaper: variants, both backends computing the same function, alignment training on a toy TAG."""

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from graphrep.models import VARIANTS, GraphShaper
from graphrep.tasks.tag.alignment import AlignmentConfig, evaluate_zero_shot, train_alignment

D = 16


class FakeEncoder:
    """Deterministic 'text encoder': a text's vector is the sum of fixed random vectors of its words."""

    def __init__(self, dim=D):
        self.dim, self.table = dim, {}

    def _word(self, w):
        if w not in self.table:
            g = torch.Generator().manual_seed(sum(ord(c) * 31 ** i for i, c in enumerate(w)) % 2 ** 31)
            self.table[w] = torch.randn(self.dim, generator=g)
        return self.table[w]

    def encode(self, texts):
        return torch.stack([sum(self._word(w) for w in t.lower().strip(".").split()) for t in texts])


def toy_tag(n_per=12, seed=0):
    """Two communities (dense inside, one bridge); node texts name the community topic among filler words."""
    g = torch.Generator().manual_seed(seed)
    topics, filler = ["graphs", "proteins"], ["paper", "method", "results", "study", "we", "novel"]
    texts, y, edges = [], [], []
    for c in range(2):
        for i in range(n_per):
            words = [filler[j] for j in torch.randint(0, len(filler), (4,), generator=g).tolist()]
            texts.append(" ".join(words + [topics[c]]))
            y.append(c)
        base = c * n_per
        for i in range(n_per):
            for j in range(i + 1, n_per):
                if torch.rand(1, generator=g) < 0.4:
                    edges += [(base + i, base + j), (base + j, base + i)]
    edges += [(0, n_per), (n_per, 0)]
    return Data(edge_index=torch.tensor(edges).t(), y=torch.tensor(y), text=texts, class_names=topics,
                num_nodes=2 * n_per, name="toy")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_encode_nodes_and_text(variant):
    torch.manual_seed(0)
    model = GraphShaper(D, hidden_channels=8, shared_channels=8, variant=variant, text_encoder=FakeEncoder())
    data = toy_tag()
    if model.graph_channels:  # the routed gate reads graph-level features, set by the task layer
        data.graph_features = torch.zeros(model.graph_channels)
    emb, w = model.encode_nodes(data, return_weights=True)
    assert emb.shape == (24, D)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(24))
    k = len(VARIANTS[variant][0])
    if k == 1:
        assert w is None
    else:
        assert w.shape == (24, 3)
        torch.testing.assert_close(w.sum(-1), torch.ones(24))
    t = model.encode_text(["a paper on graphs", "proteins"])
    assert t.shape == (2, D)
    torch.testing.assert_close(t[1], F.normalize(FakeEncoder().encode(["proteins"]), dim=-1)[0])
    assert hasattr(data, "x") and data.x.shape == (24, D)  # computed once from data.text and stored


def test_backends_compute_the_same_function():
    torch.manual_seed(0)
    data = toy_tag()
    ours = GraphShaper(D, 8, 8, variant="gated", backend="graphrep", text_encoder=FakeEncoder(), residual=True)
    stock = GraphShaper(D, 8, 8, variant="gated", backend="pyg", text_encoder=FakeEncoder(), residual=True)
    stock.load_state_dict(ours.state_dict())
    with torch.no_grad():
        ours.gate.out.weight.normal_()
        stock.gate.out.weight.copy_(ours.gate.out.weight)
    a, wa = ours.encode_nodes(data, return_weights=True)
    b, wb = stock.encode_nodes(data, return_weights=True)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(wa, wb)


def test_uniform_fusion_is_the_mean_of_experts():
    torch.manual_seed(0)
    data = toy_tag()
    model = GraphShaper(D, 8, 8, variant="uniform", text_encoder=FakeEncoder()).eval()
    x, graph, desc = model.inputs(data)
    zs = torch.stack([e.to_shared(e(x, graph)) for e in model.experts]).mean(0)
    skip = graph.propagate(graph.propagate(x))  # residual through the default 2-hop propagated text
    torch.testing.assert_close(model(x, graph, desc).embedding, model.proj(zs) + skip)


def test_training_reduces_the_loss_is_seeded_and_classifies_the_toy_graph():
    data = toy_tag()
    runs = []
    for _ in range(2):
        torch.manual_seed(123)  # model init
        model = GraphShaper(D, 16, 16, variant="gated", residual=True, text_encoder=FakeEncoder())
        cfg = AlignmentConfig(epochs=40, lr=1e-2, batch_size=16, neighbour_positives=True,
                              hard_negatives={"num_hard": 4, "num_mix": 2, "num_self_mix": 2}, gate_entropy=0.01,
                              seed=7)
        hist = train_alignment(model, data, cfg)
        runs.append((hist, model.encode_nodes(data)))
    (h, emb), (h2, emb2) = runs
    assert len(h["loss"]) == 40 and h["loss"][-1] < h["loss"][0]
    assert h["loss"] == h2["loss"]
    torch.testing.assert_close(emb, emb2)
    res = evaluate_zero_shot(model, data, templates="{}")
    assert res["accuracy"] == 1.0 and res["pred"].shape == (24,) and res["weights"].shape == (24, 3)


def test_train_nodes_and_bad_settings():
    data = toy_tag()
    model = GraphShaper(D, 8, 8, variant="euclidean", text_encoder=FakeEncoder())
    hist = train_alignment(model, data, AlignmentConfig(epochs=2, batch_size=None), train_nodes=data.y == 0)
    assert len(hist["loss"]) == 2
    with pytest.raises(ValueError, match="at least 2 training nodes"):
        train_alignment(model, data, AlignmentConfig(epochs=1), train_nodes=torch.tensor([3]))
    with pytest.raises(ValueError, match="batch_size"):
        train_alignment(model, data, AlignmentConfig(epochs=1, batch_size=1))
    with pytest.raises(ValueError, match="unknown GraphShaper variant"):
        GraphShaper(D, variant="mixture")
    with pytest.raises(ValueError, match=r"\[N, 16\] text embeddings"):
        model(torch.randn(24, 5), model.inputs(data)[1])
    no_text = Data(edge_index=data.edge_index, num_nodes=24)
    with pytest.raises(ValueError, match="needs node texts"):
        model.encode_nodes(no_text)


def test_propagated_skip_with_a_silent_projection_is_the_training_free_baseline():
    """With the projection's output zeroed, skip_hops=k gives exactly the ZeroG propagation of the text embeddings."""
    from graphrep.tasks.tag.zero_shot import propagate

    torch.manual_seed(0)
    data = toy_tag()
    model = GraphShaper(D, 8, 8, variant="gated", skip_hops=2, text_encoder=FakeEncoder())
    with torch.no_grad():
        model.proj[-1].weight.zero_()
        model.proj[-1].bias.zero_()
    emb = model.encode_nodes(data)
    x = F.normalize(FakeEncoder().encode(data.text), dim=-1)
    torch.testing.assert_close(emb, F.normalize(propagate(x, data.edge_index, 2), dim=-1), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="skip_hops"):
        GraphShaper(D, skip_hops=-1)


def test_multi_source_training_mixes_graphs_in_one_infonce_batch():
    from graphrep.objectives.contrastive import InfoNCE

    graphs = [toy_tag(seed=0), toy_tag(n_per=7, seed=1)]
    torch.manual_seed(0)
    model = GraphShaper(D, 8, 8, variant="euclidean", text_encoder=FakeEncoder(), zero_init=False)
    # reference first-step loss: one InfoNCE over both graphs' nodes, each encoded on its own graph
    with torch.no_grad():
        embs, txts = [], []
        for g in graphs:
            x, graph, _ = model.inputs(g)
            embs.append(model(x, graph).embedding)
            txts.append(x)
        ref = float(InfoNCE(0.07)(torch.cat(embs), torch.cat(txts)))
        separate = [float(InfoNCE(0.07)(e, t)) for e, t in zip(embs, txts)]
    cfg = AlignmentConfig(epochs=1, batch_size=None, edge_drop=0.0, feature_mask=0.0, max_nodes=None)
    hist = train_alignment(model, graphs, cfg)
    assert hist["loss"][0] == pytest.approx(ref, rel=1e-5)
    assert all(abs(hist["loss"][0] - s) > 1e-3 for s in separate)  # negatives cross graphs

    # sampled subgraphs (max_nodes below the graph sizes) are seeded
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        m = GraphShaper(D, 8, 8, variant="gated", text_encoder=FakeEncoder())
        runs.append(train_alignment(m, graphs, AlignmentConfig(epochs=5, lr=1e-2, batch_size=16, max_nodes=10,
                                                               seed=3))["loss"])
    assert runs[0] == runs[1] and all(v == v for v in runs[0])
    with pytest.raises(ValueError, match="one graph"):
        train_alignment(m, graphs, AlignmentConfig(epochs=1), train_nodes=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="max_nodes"):
        train_alignment(m, graphs, AlignmentConfig(epochs=1, max_nodes=1))
