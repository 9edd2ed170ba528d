"""Documents -> token graphs with PMI weights from the training documents only."""

import math

import pytest
import torch

from graphrep.data.errors import GraphrepError
from graphrep.data.modalities import DocumentToTokenGraph, TokenGraphBuilder, whitespace_tokenize
from torch_geometric.data import Data


def _edges(builder, g):
    return {(builder.vocab[int(g.x[a])], builder.vocab[int(g.x[b])]): float(w)
            for (a, b), w in zip(g.edge_index.t().tolist(), g.edge_weight)}


def test_three_word_document_pmi_by_hand():
    # training windows (w = 2): [a b], [b c], [c d]  -> W = 3, W(a)=1, W(b)=2, W(c)=2, W(d)=1
    # PMI(a,b) = log(1*3/(1*2)) = log 1.5 > 0: edge; PMI(b,c) = log(1*3/(2*2)) = log 0.75 < 0: no edge;
    # a and c never share a window in "a b c": no edge.
    builder = TokenGraphBuilder(window=2).fit(["a b c", "c d"])
    g = builder("a b c", y=1)
    assert [builder.vocab[i] for i in g.x.tolist()] == ["a", "b", "c"]
    assert _edges(builder, g) == pytest.approx({("a", "b"): math.log(1.5), ("b", "a"): math.log(1.5)})
    assert builder.pmi("b", "c") == pytest.approx(math.log(0.75))
    assert math.isnan(builder.pmi("a", "d"))
    assert builder.stats["pairs_nonpositive_pmi"] == 1 and int(g.y) == 1


def test_pmi_uses_training_documents_only():
    builder = TokenGraphBuilder(window=3).fit(["x y z", "x q", "y q"])
    # windows: [x y z], [x q], [y q]: W = 3, W(x)=2, W(y)=2, W(x,y)=1 -> PMI log(3/4) <= 0
    before = builder.pmi("x", "y")
    g = builder("x y x y x y")  # converting a test document does not change the statistics
    assert builder.pmi("x", "y") == before == pytest.approx(math.log(0.75))
    assert g.edge_index.size(1) == 0
    # an unseen word maps to <unk> and its pairs have no PMI
    g2 = builder("x newword")
    assert builder.vocab[int(g2.x[1])] == "<unk>" and g2.edge_index.size(1) == 0
    assert builder.stats["unknown_tokens"] == 1 and builder.stats["pairs_unseen_in_training"] >= 1


def test_window_counts_each_window_once_and_short_documents():
    # "a a b" with w = 3 is one window; the pair (a, b) is counted once
    builder = TokenGraphBuilder(window=3).fit(["a a b", "c"])
    assert builder.num_windows == 2
    assert builder.pmi("a", "b") == pytest.approx(math.log(1 * 2 / (1 * 1)))
    assert builder.token_windows[builder.index["a"]] == 1


def test_whitespace_tokenizer_and_transform():
    assert whitespace_tokenize("Graph-based, models: GNN's!") == ["graph", "based", "models", "gnn's"]
    builder = TokenGraphBuilder(window=2).fit(["a b", "b c"])
    g = DocumentToTokenGraph(builder)(Data(text="a b", y=torch.tensor([2])))
    assert g.num_nodes == 2 and int(g.y) == 2


@pytest.mark.parametrize("text", ["", "   ", "!!!"])
def test_empty_document_is_an_error(text):
    builder = TokenGraphBuilder().fit(["a b c"])
    with pytest.raises(GraphrepError, match="empty"):
        builder(text, where="doc 7")
    with pytest.raises(GraphrepError, match="training document 1 is empty"):
        TokenGraphBuilder().fit(["a b", text])


def test_bad_arguments():
    with pytest.raises(GraphrepError, match="window"):
        TokenGraphBuilder(window=1)
    with pytest.raises(GraphrepError, match="fit"):
        TokenGraphBuilder()("a b")
    with pytest.raises(GraphrepError, match="at least one"):
        TokenGraphBuilder().fit([])
