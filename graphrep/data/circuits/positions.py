"""Where strings sit in a dict's key order, found by object identity first: the lookup that keeps a million-net graph
build linear.

The graph builder asks, for each distinct pin owner, its position among the netlist's instances (a dict of millions
of names). A hash table over the names (``pandas.Index(names).get_indexer``) hashes and compares Python strings that
lie scattered over a heap of several GB: each probe is a cache and TLB miss, so its cost per name grows with the heap
(``benchmarks/scale.py``'s designs, in one process: 0.72 s for 1.3M names at 300K nets, 3.3-3.6 s for 4.5M at 1M;
by address 0.30 s and 1.1-1.3 s). The readers of this package put the very key object of ``Netlist.instances`` in
each pin, so most owners are found by their address: a hash table over 64-bit integers, which never reads the
strings. Whatever is not found that way (an owner only the SPEF names, or an equal string held as another object, as
a reader outside this package may make) is looked up by value, and the table of names is built only when such an
owner is among the keys.
"""

from __future__ import annotations

import numpy as np


def key_positions(keys: dict, queries: np.ndarray) -> np.ndarray:
    """``[n]`` the position of each of ``queries`` ([n], an object array of hashables) in the key order of ``keys``,
    -1 for one that is not a key; equal to ``pandas.Index(list(keys)).get_indexer(queries)``.

    Cost: one pass over the keys' addresses and a hash table of integers; the keys are compared as values only when a
    query is not one of the key objects but equals one of them."""
    import pandas as pd

    key_ids = np.fromiter(map(id, keys), dtype=np.int64, count=len(keys))
    query_ids = np.fromiter(map(id, queries.tolist()), dtype=np.int64, count=len(queries))
    at = pd.Index(key_ids).get_indexer(query_ids)  # distinct dict keys are distinct objects: the ids are unique
    miss = np.flatnonzero(at < 0)
    if len(miss):
        asked = queries[miss]
        equal = np.fromiter(map(keys.__contains__, asked.tolist()), dtype=bool, count=len(miss))
        if equal.any():
            at[miss[equal]] = pd.Index(list(keys)).get_indexer(asked[equal])
    return at
