"""``key_positions``: the same answer as a hash table over the names, whether the queries are the key objects, equal
strings held as other objects, or no key at all."""

import numpy as np
import pandas as pd
import pytest

from graphrep.data.circuits.positions import key_positions
from graphrep.data.circuits.source import object_array


def _copy(s: str) -> str:
    """An equal string that is another object (slicing or concatenation of a literal may return the same one)."""
    out = "".join(list(s))
    assert out == s and (out is not s or len(s) < 2)
    return out


def _reference(keys: dict, queries: np.ndarray) -> np.ndarray:
    return pd.Index(list(keys)).get_indexer(queries)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_hash_table_of_the_names(seed):
    rng = np.random.default_rng(seed)
    names = [f"u{k}_{'x' * int(rng.integers(0, 20))}" for k in range(500)]
    keys = {n: "cell" for n in names}
    picks = rng.integers(0, len(names), 300)
    queries = [names[i] if rng.random() < 0.5 else _copy(names[i]) for i in picks]  # the key or an equal string
    queries += [f"only_in_spef_{k}" for k in range(20)]
    queries = object_array([queries[i] for i in rng.permutation(len(queries))])
    got = key_positions(keys, queries)
    assert got.dtype.kind == "i"
    np.testing.assert_array_equal(got, _reference(keys, queries))
    assert (got[[q.startswith("only_in_spef") for q in queries.tolist()]] == -1).all()


def test_shared_objects_need_no_table_of_names(monkeypatch):
    names = [f"inst_{k}" for k in range(100)]
    keys = dict.fromkeys(names, "cell")
    built = []
    original = pd.Index.__new__

    def watch(cls, data=None, *args, **kwargs):
        built.append(np.asarray(data).dtype.kind)
        return original(cls, data, *args, **kwargs)

    monkeypatch.setattr(pd.Index, "__new__", watch)
    got = key_positions(keys, object_array(names[::-1] + ["absent"]))
    assert got.tolist() == list(range(99, -1, -1)) + [-1]
    assert built and all(kind == "i" for kind in built)  # only the integer table of the addresses
    got = key_positions(keys, object_array([_copy("inst_7")]))
    assert got.tolist() == [7] and {"O", "U"} & set(built)  # an equal string held as another object: by value


def test_empty_inputs():
    assert key_positions({}, object_array(["a"])).tolist() == [-1]
    assert key_positions({"a": 1}, object_array([])).tolist() == []
