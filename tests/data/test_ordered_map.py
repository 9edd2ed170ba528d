"""``ordered_map``: results in the stream's order whatever the threads' timing, a bounded look-ahead (what lets a
producer reuse a ring of buffers), an error raised at its item's turn, nothing left running after it closes."""

import random
import threading
import time

import pytest

from graphrep.data.ordered_map import ordered_map, usable_cpus, worker_count


def _slow_square(x):
    time.sleep(random.Random(x).random() * 0.004)  # later items often finish first
    return x * x


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_results_come_in_the_order_of_the_items(workers):
    assert list(ordered_map(_slow_square, range(40), workers)) == [x * x for x in range(40)]
    assert list(ordered_map(_slow_square, [], workers)) == []


def test_one_worker_runs_in_the_calling_thread():
    here = threading.current_thread()
    assert set(ordered_map(lambda _: threading.current_thread(), range(5), 1)) == {here}
    assert here not in set(ordered_map(lambda _: threading.current_thread(), range(5), 2))


@pytest.mark.parametrize("workers", [2, 3])
def test_an_item_is_taken_only_after_the_result_workers_plus_one_before_it_is_consumed(workers):
    """The contract a ring of ``workers + 1`` buffers relies on: when item ``k`` is taken, the consumer has finished
    with result ``k - workers - 1`` (and everything before it)."""
    consumed = []
    taken_when = {}

    def items():
        for k in range(30):
            taken_when[k] = len(consumed)
            yield k

    for r in ordered_map(_slow_square, items(), workers):
        time.sleep(0.001)
        consumed.append(r)
    assert consumed == [k * k for k in range(30)]
    for k, done in taken_when.items():
        assert done >= k - workers, (k, done)  # results 0 .. k - workers - 1 consumed
        assert done <= k  # and it does look ahead: never waits for more than it needs


def test_an_error_is_raised_at_its_turn_after_the_results_before_it():
    def fn(x):
        if x == 6:
            raise KeyError("bad item 6")
        return _slow_square(x)

    got = []
    with pytest.raises(KeyError, match="bad item 6"):
        for r in ordered_map(fn, range(20), 3):
            got.append(r)
    assert got == [x * x for x in range(6)]


def test_closing_early_cancels_the_rest_and_waits_for_the_running():
    started, finished = [], []

    def fn(x):
        started.append(x)
        time.sleep(0.02)
        finished.append(x)
        return x

    gen = ordered_map(fn, range(100), 3)
    assert next(gen) == 0
    gen.close()
    assert sorted(started) == sorted(finished)  # nothing still running once closed
    assert len(started) <= 5  # the rest were never started
    time.sleep(0.05)
    assert len(started) == len(finished) <= 5


def test_worker_count():
    assert worker_count(3, cap=2) == 3  # an explicit count is taken as given
    assert 1 <= worker_count(None, cap=4) == min(4, usable_cpus())
    assert worker_count(None, cap=1) == 1
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads must be an integer"):
            worker_count(bad, cap=4)
