"""Zero-shot node classification from class names, and the training-free propagation baseline (pure functions).

Protocol: each class name is put into one or more prompt templates ("This paper is about {}."), the prompts are
embedded with the text encoder, and every node is assigned the class whose (template-averaged, L2-normalised) prompt
embedding has the highest cosine similarity with the node's embedding.

Propagation baseline (ZeroG-style, Li et al. 2024): before the cosine argmax, node text embeddings ``X`` are smoothed
``k`` times over the graph with the symmetric-normalised adjacency with self-loops
``S = D^{-1/2} (A + I) D^{-1/2}``, ``D = diag((A + I) 1)``, i.e. ``X_k = S^k X``.

Centring (``center=True``): subtract the mean node embedding of the graph, ``X_k - 1 mean(X_k)``, before the cosine
argmax. Sentence embeddings share a large common component (anisotropy); removing it is label-free and
training-free, and on Cora it is worth about as much as the propagation itself.
"""

from __future__ import annotations

import warnings
from typing import Callable, Iterable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from graphrep.data.transforms import structural

__all__ = ["DEFAULT_TEMPLATE", "clean_class_name", "read_class_descriptions", "description_embeddings",
           "check_template", "class_prompts", "cosine_scores", "class_embeddings", "normalized_adjacency",
           "symmetric_adjacency",
           "propagate", "zero_shot_predict", "held_out_class_split", "accuracy", "macro_f1", "zero_shot_scores",
           "evaluate_propagation"]

DEFAULT_TEMPLATE = "This paper is about {}."


def clean_class_name(name: str) -> str:
    """``"Rule_Learning"`` -> ``"rule learning"``: underscores to spaces, lower case (hyphens are kept)."""
    return " ".join(name.replace("_", " ").split()).lower()


def check_template(template: str) -> None:
    """A prompt template holds exactly one ``{}`` (the class name); other braces are doubled (``{{``, ``}}``).
    ``str.format`` would otherwise fail mid-run on ``"{} and {}"`` or a lone ``}``. Raises :class:`InvalidInputError`
    (a ``ValueError``)."""
    import string

    from graphrep.data.errors import InvalidInputError

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise InvalidInputError(f"{template!r}: {exc} (write literal braces as '{{{{' and '}}}}')") from None
    if fields != [""]:
        raise InvalidInputError(f"{template!r} must contain exactly one '{{}}' for the class name (literal braces as "
                                "'{{' and '}}'), found " + (", ".join("{" + f + "}" for f in fields) or "none"))


def class_prompts(class_names: Sequence[str], template: str = DEFAULT_TEMPLATE, clean: bool = True) -> list[str]:
    """One prompt per class: ``template.format(name)``, with :func:`clean_class_name` applied when ``clean``."""
    check_template(template)
    return [template.format(clean_class_name(c) if clean else c) for c in class_names]


def class_embeddings(class_names: Sequence[str], encode: Callable[[list[str]], torch.Tensor],
                     templates: str | Iterable[str] = DEFAULT_TEMPLATE, clean: bool = True) -> torch.Tensor:
    """Class embeddings ``[C, d]``: per template, L2-normalised prompt embeddings; averaged over templates and
    normalised again (the prompt-ensemble of CLIP).

    Args:
        encode: maps a list of strings to ``[n, d]`` (e.g. :meth:`graphrep.data.text.TextEncoder.encode`).
    """
    templates = [templates] if isinstance(templates, str) else list(templates)
    if not templates:
        raise ValueError("at least one prompt template is needed")
    if not class_names:
        raise ValueError("no class names given")
    embs = [F.normalize(encode(class_prompts(class_names, t, clean)).float(), dim=-1) for t in templates]
    return F.normalize(torch.stack(embs).mean(0), dim=-1)


def read_class_descriptions(path, class_names: Sequence[str]) -> list[list[str]]:
    """Descriptions per class from a JSON file ``{class name: description or [descriptions]}`` (keys starting with
    ``_`` are comments; names match exactly or after :func:`clean_class_name`). Returns one non-empty list per class,
    in ``class_names``' order.

    Raises :class:`graphrep.data.errors.InvalidInputError` naming the file and the class for unreadable JSON, a class
    without descriptions, an empty description or a key that is no class.
    """
    import json
    from pathlib import Path

    from graphrep.data.errors import DataNotFoundError, InvalidInputError

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"--class-descriptions {path}: no such file")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{path}: expected an object {{class name: description(s)}}, got {type(raw).__name__}")
    by_clean = {clean_class_name(c): i for i, c in enumerate(class_names)}
    out: list[list[str] | None] = [None] * len(class_names)
    for key, value in raw.items():
        if key.startswith("_"):
            continue
        i = by_clean.get(clean_class_name(key))
        if i is None:
            raise InvalidInputError(f"{path}: {key!r} is not a class of this graph (classes: {list(class_names)})")
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or any(not isinstance(d, str) or not d.strip() for d in items):
            raise InvalidInputError(f"{path}: class {key!r} needs a non-empty string or list of non-empty strings")
        out[i] = [d.strip() for d in items]
    missing = [c for c, d in zip(class_names, out) if d is None]
    if missing:
        raise InvalidInputError(f"{path}: no description for class(es) {missing}")
    return out


def description_embeddings(descriptions: Sequence[Sequence[str]], encode: Callable[[list[str]], torch.Tensor],
                           templates: str | Iterable[str] = DEFAULT_TEMPLATE) -> torch.Tensor:
    """Class embeddings ``[C, d]`` from several descriptions per class: each description is put into every template
    (as a class name, uncleaned) and the normalised embeddings are averaged over templates and descriptions, then
    normalised (each description weighs the same within its class)."""
    if not descriptions or any(not d for d in descriptions):
        raise ValueError("every class needs at least one description")
    flat = [d for ds in descriptions for d in ds]
    owner = torch.tensor([c for c, ds in enumerate(descriptions) for _ in ds])
    emb = class_embeddings(flat, encode, templates, clean=False)  # [sum of counts, d], one row per description
    summed = torch.zeros(len(descriptions), emb.size(1)).index_add_(0, owner, emb)
    return F.normalize(summed / torch.bincount(owner).unsqueeze(1).float(), dim=-1)


def symmetric_adjacency(edge_index: torch.Tensor, num_nodes: int):
    """The 0/1 symmetric adjacency ``A`` of ``edge_index`` read as undirected (duplicates and self-loops dropped), as a
    float32 ``scipy.sparse`` CSR matrix ``[N, N]`` with sorted column indices
    (:func:`graphrep.data.transforms.structural.symmetric_adjacency`). Memory: O(E), never O(E d)."""
    return structural.symmetric_adjacency(edge_index, num_nodes, dtype=np.float32)


def _normalized_csr(edge_index: torch.Tensor, num_nodes: int) -> sp.csr_matrix:
    """``S`` of :func:`normalized_adjacency` as a canonical ``scipy.sparse`` CSR matrix (sorted, unique entries)."""
    a = (symmetric_adjacency(edge_index, num_nodes) + sp.identity(num_nodes, dtype=np.float32, format="csr")).tocsr()
    a.sum_duplicates()  # canonical: sorted, unique (row, col), i.e. coalesced order
    deg = np.diff(a.indptr).astype(np.float64)  # A + I is 0/1, so the row sums are the entry counts
    dinv = 1.0 / np.sqrt(deg)
    a.data = (np.repeat(dinv, np.diff(a.indptr)) * dinv[a.indices]).astype(np.float32)
    return a


def normalized_adjacency(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """``S = D^{-1/2} (A + I) D^{-1/2}`` as a (coalesced) sparse COO tensor ``[N, N]``.

    ``A`` is the 0/1 symmetric adjacency of ``edge_index`` (:func:`symmetric_adjacency`), then the identity added, so
    ``S`` is symmetric with spectrum in ``(-1, 1]``. Built in O(E) memory: one CSR, scaled in place.
    """
    a = _normalized_csr(edge_index, num_nodes)
    rows = np.repeat(np.arange(num_nodes, dtype=np.int64), np.diff(a.indptr))
    idx = torch.from_numpy(np.stack([rows, a.indices.astype(np.int64)]))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(a.data), (num_nodes, num_nodes), is_coalesced=True,
                                   check_invariants=False)  # valid by construction; checking costs O(E)


def _as_csr(adj: torch.Tensor | sp.csr_matrix, dtype: torch.dtype) -> torch.Tensor:
    """``adj`` (sparse COO or CSR tensor, or scipy CSR) as a torch sparse CSR tensor of ``dtype``, with int32
    indices when they fit (fewer index bytes streamed per hop)."""
    with warnings.catch_warnings():  # torch's "sparse CSR support is in beta", once per process
        warnings.simplefilter("ignore")
        if isinstance(adj, sp.csr_matrix):
            crow, col, val = (torch.from_numpy(v) for v in (adj.indptr, adj.indices, adj.data))
        else:
            csr = adj if adj.layout == torch.sparse_csr else adj.coalesce().to_sparse_csr()
            crow, col, val = csr.crow_indices(), csr.col_indices(), csr.values()
        if crow.dtype != torch.int32 and max(int(crow[-1]), adj.shape[1]) < 2**31:
            crow, col = crow.int(), col.int()
        return torch.sparse_csr_tensor(crow, col, val.to(dtype), tuple(adj.shape), check_invariants=False)


def propagate(x: torch.Tensor, edge_index: torch.Tensor | None, k: int, adj: torch.Tensor | None = None
              ) -> torch.Tensor:
    """``S^k x`` with ``S`` from :func:`normalized_adjacency` (``k = 0`` returns ``x``).

    ``adj``: ``S`` when the caller has it (sparse COO as :func:`normalized_adjacency` returns it, or sparse CSR);
    else it is built from ``edge_index``.

    On the CPU (float32 / float64 ``x``, no autograd) each hop is one CSR sparse-dense product (MKL) written in place
    (``addmm_``) into a preallocated [N, d] buffer: hop ``t`` reads whole d-rows of hop ``t - 1``'s output at each
    row's neighbours and writes its rows in order. ``k`` hops allocate the output and, for ``k >= 2``, one more
    [N, d] buffer, whatever ``k`` (the hops alternate between the two so that the last one writes the output); the
    COO product allocated a new output and a temporary of the same size per hop, and the fresh memory the kernel
    hands over page by page is most of the system time at scale (``benchmarks/scale.py``).

    Measured and not used (``benchmarks/scale.py``'s power-law graph at 300,000 and 1,000,000 nodes, 384
    columns, one core): column blocks (propagating [N, b] slices through all hops, one reused [N, b] buffer): at 10^6
    nodes a float32 block fits the 32 MiB L3 only for b <= 8 (there scipy's kernel took twice the user CPU time of
    whole rows), and at b = 48-192 (row segments of 192-768 bytes, the CSR streamed d / b times per hop) the hops took
    15-70 % more user CPU time than whole rows; b = 192 saves a quarter of the fresh memory, which pays back only when
    the host is slow to back it; buffers in transparent huge pages (NumPy's allocator, or torch's with
    ``THP_MEM_ALLOC_ENABLE=1``): 5-15 % less user CPU time, but on the virtual machine measured fresh 2 MiB pages
    cost 3-4x the system time of the same bytes in 4 KiB pages; reordering the nodes by degree (hubs together):
    10-30 % faster hops, but the permuted copies of the input and the output cost as much, and two more [N, d]
    buffers.

    Elsewhere (GPU, other dtypes, autograd through ``x``) the hops run as ``adj @ out``.

    Shapes:
        - **x:** ``[N, d]``; **edge_index:** ``[2, E]`` (unused when ``adj`` is given); **output:** ``[N, d]``
    """
    if k < 0:
        raise ValueError(f"number of propagation rounds must be >= 0, got {k}")
    if not k:
        return x
    if adj is None and edge_index is None:
        raise ValueError("propagate needs edge_index or adj")
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or x.dim() != 2 or \
            (x.requires_grad and torch.is_grad_enabled()) or x.size(0) == 0:
        adj = normalized_adjacency(edge_index, x.size(0)) if adj is None else adj
        adj, out = adj.to(device=x.device, dtype=x.dtype), x
        for _ in range(k):
            out = adj @ out
        return out
    if adj is not None and (adj.dim() != 2 or adj.size(0) != adj.size(1) or adj.size(1) != x.size(0)):
        raise ValueError(f"adjacency of shape {tuple(adj.shape)} does not fit {x.size(0)} nodes")
    adj = _as_csr(_normalized_csr(edge_index, x.size(0)) if adj is None else adj, x.dtype)
    cur = x if x.stride(-1) == 1 and x.stride(0) >= x.size(1) else x.contiguous()
    out = torch.empty(x.shape, dtype=x.dtype)
    bufs = (out, torch.empty_like(out) if k >= 2 else None)
    for t in range(k):
        dst = bufs[(k - 1 - t) % 2]  # the last hop writes out; a hop never writes the matrix it reads
        dst.addmm_(adj, cur, beta=0)  # beta=0: dst's old values are ignored, NaN included
        cur = dst
    return out


def cosine_scores(node_emb: torch.Tensor, class_emb: torch.Tensor) -> torch.Tensor:
    r""":math:`\cos(x_i, t_c)` in float32. Shapes: node_emb ``[N, d]``, class_emb ``[C, d]`` -> ``[N, C]``."""
    return F.normalize(node_emb.float(), dim=-1) @ F.normalize(class_emb.float(), dim=-1).t()


def zero_shot_predict(node_emb: torch.Tensor, class_emb: torch.Tensor, candidates: Sequence[int] | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine argmax: ``pred_i = argmax_{c in candidates} cos(x_i, t_c)`` (all classes by default).

    Shapes:
        - **node_emb:** ``[N, d]``; **class_emb:** ``[C, d]``
        - **output:** ``(pred [N] int64, scores [N, C])``; ``pred`` holds class indices of ``class_emb``, scores are
          the cosine similarities (``-inf`` for classes outside ``candidates``)
    """
    if node_emb.dim() != 2 or class_emb.dim() != 2 or node_emb.size(1) != class_emb.size(1):
        raise ValueError(f"node and class embeddings must be [N, d] and [C, d] with the same d, got "
                         f"{tuple(node_emb.shape)} and {tuple(class_emb.shape)}")
    scores = cosine_scores(node_emb, class_emb)
    if candidates is not None:
        cand = torch.as_tensor(list(candidates), dtype=torch.long, device=scores.device)
        if cand.numel() == 0 or cand.min() < 0 or cand.max() >= class_emb.size(0):
            raise ValueError(f"candidates must be a non-empty subset of 0..{class_emb.size(0) - 1}, "
                             f"got {cand.tolist()}")
        allowed = torch.zeros(class_emb.size(0), dtype=torch.bool, device=scores.device)
        allowed[cand] = True
        scores = scores.masked_fill(~allowed, float("-inf"))
    return scores.argmax(dim=-1), scores


def held_out_class_split(num_classes: int, num_unseen: int, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split of the classes ``0..C-1`` into ``(seen, unseen)`` (each sorted) for the held-out-class protocol:
    train on nodes of seen classes, classify nodes of unseen classes among the unseen class names only."""
    if not 0 < num_unseen < num_classes:
        raise ValueError(f"num_unseen must be in [1, {num_classes - 1}], got {num_unseen}")
    perm = torch.randperm(num_classes, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(perm[num_unseen:]), sorted(perm[:num_unseen])


def _check_pair(pred: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pred, y = torch.as_tensor(pred).reshape(-1).long(), torch.as_tensor(y).reshape(-1).long()
    if pred.numel() != y.numel():
        raise ValueError(f"predictions ({pred.numel()}) and labels ({y.numel()}) differ in length")
    if y.numel() == 0:
        raise ValueError("no labels to score")
    return pred, y


def accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``pred == y``."""
    pred, y = _check_pair(pred, y)
    return float((pred == y).double().mean())


from graphrep.train.metrics import macro_f1  # noqa: E402  the one macro-F1 (symmetric: (pred, y) order is fine)


def zero_shot_scores(node_emb: torch.Tensor, class_emb: torch.Tensor, y: torch.Tensor,
                     mask: torch.Tensor | None = None, candidates: Sequence[int] | None = None) -> dict[str, float]:
    """``{"accuracy", "macro_f1"}`` of the cosine-argmax prediction over all nodes or those in ``mask``, choosing among
    ``candidates`` (default all classes).

    Macro-F1 averages over the candidate classes (all ``C`` classes by default).
    """
    pred, _ = zero_shot_predict(node_emb, class_emb, candidates)
    if mask is not None:
        pred, y = pred[mask], y[mask]
    labels = range(class_emb.size(0)) if candidates is None else candidates
    return {"accuracy": accuracy(pred, y), "macro_f1": macro_f1(pred, y, labels=labels)}


def evaluate_propagation(node_emb: torch.Tensor, class_emb: torch.Tensor, y: torch.Tensor, edge_index: torch.Tensor,
                         ks: Iterable[int] = (0, 1, 2, 3, 4), mask: torch.Tensor | None = None,
                         candidates: Sequence[int] | None = None, center: bool = False) -> dict[int, dict[str, float]]:
    """Zero-shot scores after ``k`` rounds of :func:`propagate` for each ``k`` in ``ks`` (``k = 0``: text only).

    Node embeddings are L2-normalised before propagating, so every node enters with the same weight. ``mask`` and
    ``candidates`` restrict the scored nodes and the candidate classes (:func:`zero_shot_scores`); propagation always
    runs over the whole graph. With ``center`` the mean over all nodes of the propagated embeddings is subtracted
    before scoring (module docstring).
    """
    ks = sorted(set(int(k) for k in ks))
    if ks and ks[0] < 0:
        raise ValueError(f"propagation rounds must be >= 0, got {ks[0]}")
    x = F.normalize(node_emb.float(), dim=-1)
    adj = normalized_adjacency(edge_index, x.size(0)) if ks and ks[-1] > 0 else None
    out, done = {}, 0
    for k in ks:
        x = propagate(x, edge_index, k - done, adj)
        done = k
        out[k] = zero_shot_scores(x - x.mean(0, keepdim=True) if center else x, class_emb, y, mask, candidates)
    return out
