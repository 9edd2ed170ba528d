"""``without_cycle_collection``: the collector is off while the function runs and as it was afterwards, also when
the function raises; the function's result and arguments pass through."""

from __future__ import annotations

import gc

import pytest

from graphrep.data.gc_pause import without_cycle_collection


@without_cycle_collection
def _inside(x, *, y):
    return gc.isenabled(), x + y


@without_cycle_collection
def _fails():
    raise KeyError("boom")


def test_paused_inside_and_restored_after():
    was = gc.isenabled()
    gc.enable()
    try:
        assert _inside(1, y=2) == (False, 3)
        assert gc.isenabled()
        with pytest.raises(KeyError):
            _fails()
        assert gc.isenabled()
        gc.disable()  # a caller that paused it itself keeps it paused
        assert _inside(0, y=0) == (False, 0)
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
