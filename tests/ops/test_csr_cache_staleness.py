"""The implicit CSR caches (``CSR.of`` on a tensor or a ``Data``, ``CSR.edge_rows_of``) never return the graph of
values an ``edge_index`` no longer holds, whichever way the values were changed (issue 21): the reference is a CSR
built from scratch from the current values."""

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from graphrep.ops import CSR

N, E = 12, 40


def _edges(seed=0):
    return np.random.RandomState(seed).randint(0, N, (2, E)).astype(np.int64)


def _rewire(arr_or_tensor):
    """Moves the sources of edges 0-9 and the destinations of edges 10-19: another graph, with the same shape,
    dtype and storage."""
    arr_or_tensor[0, :10] = (arr_or_tensor[0, :10] + 5) % N
    arr_or_tensor[1, 10:20] = (arr_or_tensor[1, 10:20] + 7) % N


def _same_graph(csr: CSR, edge_index: torch.Tensor):
    fresh = CSR.from_edge_index(edge_index.clone(), N)
    for name in ("rowptr", "col", "perm", "rowptr_t", "col_t", "perm_t"):
        assert torch.equal(getattr(csr, name), getattr(fresh, name)), name
    assert torch.equal(csr.edge_index(), edge_index)


def _mutations():
    """name -> (make an edge tensor, change its values in place); each change leaves torch's key (storage address,
    shape, strides) as it was, and all but the torch in-place edit leave its version counter as it was too."""

    def numpy_side():
        arr = _edges()
        return torch.from_numpy(arr), lambda t: _rewire(arr)

    def torch_in_place():
        return torch.from_numpy(_edges()), _rewire

    def through_data():
        return torch.from_numpy(_edges()), lambda t: _rewire(t.data)

    def inference_tensor():
        with torch.inference_mode():
            t = torch.from_numpy(_edges()).clone()

        def change(t):
            with torch.inference_mode():
                _rewire(t)

        return t, change

    return {"numpy": numpy_side, "torch in place": torch_in_place, ".data": through_data,
            "inference tensor": inference_tensor}


@pytest.mark.parametrize("how", list(_mutations()))
def test_csr_of_a_tensor_follows_its_values(how):
    ei, change = _mutations()[how]()
    first = CSR.of(ei, N)
    assert CSR.of(ei, N) is first  # unchanged values: the cached CSR
    before = ei.clone()
    change(ei)
    assert not torch.equal(ei, before)
    _same_graph(CSR.of(ei, N), ei)


@pytest.mark.parametrize("how", list(_mutations()))
def test_csr_of_a_data_follows_its_values(how):
    ei, change = _mutations()[how]()
    data = Data(edge_index=ei, num_nodes=N)
    first = CSR.of(data)
    assert CSR.of(data) is first
    change(ei)
    _same_graph(CSR.of(data), ei)


@pytest.mark.parametrize("how", list(_mutations()))
def test_edge_rows_of_follows_its_values(how):
    ei, change = _mutations()[how]()
    first = CSR.edge_rows_of(ei, N)
    assert CSR.edge_rows_of(ei, N) is first
    change(ei)
    rows = CSR.edge_rows_of(ei, N)
    want = CSR.from_edge_index(ei.clone(), N).edges_to_rows()
    for name in ("rowptr", "col", "row", "perm", "col_t"):
        assert torch.equal(getattr(rows, name), getattr(want, name)), name


def test_values_changed_back_reuse_nothing_stale():
    # A->B->A: the CSR of A must not be mistaken for B's, and B's must not outlive the change back
    arr = _edges()
    ei = torch.from_numpy(arr)
    original = arr.copy()
    CSR.of(ei, N)
    _rewire(arr)
    _same_graph(CSR.of(ei, N), ei)
    arr[:] = original
    _same_graph(CSR.of(ei, N), ei)


def test_the_checked_copy_is_the_csrs_edge_index():
    # the copy kept for the check doubles as CSR.edge_index(): no second [2, E] tensor, and not the caller's tensor
    ei = torch.from_numpy(_edges())
    csr = CSR.of(ei, N)
    kept = csr.edge_index()
    assert torch.equal(kept, ei) and kept.data_ptr() != ei.data_ptr()
