"""Shared fixtures: where ``../shared/data`` lives, and a skip that says so when it is absent.

Without CUDA, Triton kernels run in Triton's interpreter, which must be switched on before triton is first imported
anywhere in the session (torch.compile and several graphrep modules import it), so it is set here, at the root.
"""

import os
from pathlib import Path

# Before torch's OpenMP runtime starts: sleeping rather than spinning idle threads (see graphrep/cli.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets beside the checkout (``../shared/data``); skips the test, naming the path, when missing."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (expected ../shared/data beside the checkout)")
    return SHARED_DATA


def pytest_collection_modifyitems(items):
    """Every test that takes the ``shared_data`` fixture carries the ``shared_data`` marker (``-m "not shared_data"``
    then deselects all of them), also where a decorator was forgotten."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()) and item.get_closest_marker("shared_data") is None:
            item.add_marker(pytest.mark.shared_data)


@pytest.fixture(autouse=True)
def offline_downloads(monkeypatch):
    """No test depends on whether the network is reachable: the resolver's downloader fails as if offline (tests of
    the download path install their own ``fetch_url``)."""
    import urllib.error

    def offline(url, dest):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr("graphrep.data.resolve.fetch_url", offline)


@pytest.fixture
def interrupt_run():
    """``interrupt_run(cmd, signum, wait_for=None, delay=0.0, env=None, cwd=None) -> (returncode, lines)``: start
    ``cmd``, wait until the file ``wait_for`` exists (a checkpoint: the loop is training; 240 s at most) or ``delay``
    seconds, send ``signum``, and return the exit code and the non-empty lines of its stderr."""
    import subprocess
    import time

    def run(cmd, signum, wait_for=None, delay=0.0, env=None, cwd=None):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
        if wait_for is None:
            time.sleep(delay)
        else:
            deadline = time.monotonic() + 240
            while not wait_for.is_file() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
        return proc.returncode, [line for line in err.strip().splitlines() if line.strip()]

    return run


@pytest.fixture
def stop_engine_at(monkeypatch):
    """``stop_engine_at(call)``: ``Engine.stop_requested`` answers True at its ``call``-th call (loops ask once per
    step), as after Ctrl-C; ``monkeypatch.undo()`` ends it."""
    from graphrep.train.engine import Engine

    def arm(call: int):
        calls = {"n": 0}

        def stop(self):
            calls["n"] += 1
            return calls["n"] == call

        monkeypatch.setattr(Engine, "stop_requested", stop)

    return arm
