"""A function mapped over a stream on worker threads, its results taken in the stream's order, few items ahead.

For the block readers: each block of a file is read by numpy code that releases the GIL for most of its time (byte
scans, hash tables, gathers), then its rows are added to the result in file order. Mapping the first part over
threads overlaps the blocks' numpy work; taking the results in order keeps the output identical to the serial one
(the same computation per block, committed in the same order: bit-for-bit the same arrays).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one, else ``os.cpu_count()``)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def worker_count(threads: int | None, cap: int) -> int:
    """``threads`` checked (an int >= 1), or for ``None`` the usable CPUs, at most ``cap``."""
    if threads is None:
        return max(1, min(cap, usable_cpus()))
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1 or None, got {threads!r}")
    return threads


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``fn(item)`` for each of ``items``, yielded in the order of ``items``.

    ``workers`` 1: in the calling thread, one item at a time (``map``). Otherwise on ``workers`` threads, with at most
    ``workers`` items taken from ``items`` and not yet yielded when the next one is taken: an item is taken only after
    the consumer has finished with the result ``workers + 1`` places before it, so a producer that reuses a ring of
    ``workers + 1`` buffers never writes into one still being read or consumed.

    An exception raised by ``fn`` is raised here at its item's turn (the results before it are yielded first); the
    items not started are cancelled and the running ones finish before this generator closes (also when the consumer
    stops early), so nothing reads a buffer after the call that owns it has returned."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ordered_map") as pool:
        pending: deque = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                del item  # no reference kept here to an item once it is submitted
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
