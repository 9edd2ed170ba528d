"""Ctrl-C delivered where it cannot break the process: never inside an import or a finaliser.

Python turns SIGINT into a ``KeyboardInterrupt`` at the next bytecode, wherever that is. Two places lose it or worse
(measured: ``graphrep train`` sent SIGINT 0.3-6 s after its start, 24 tries on a 2-core machine, 3 wrong):

- inside an import (``torch``, ``lightning`` and friends take seconds to import): the exception can leave a
  half-initialised module in ``sys.modules`` (a later import of it failed with ``RecursionError``: exit 1, "internal
  error"), or a library that guards an optional import with a broad ``except`` swallows it (exit 0, nothing printed,
  the whole run done);
- inside a ``__del__``: Python reports it as "Exception ignored" and goes on (exit 0 after the whole run).

:func:`install` replaces the SIGINT handler with one that raises at once everywhere else and, inside an import or a
finaliser, only records the signal and asks again every :data:`RETRY_S` seconds (``_thread.interrupt_main`` from a
timer thread) until the main thread is out of it. :func:`pending` says whether a SIGINT was received and not yet
handled (:func:`acknowledge`): :class:`graphrep.train.engine.Engine` stops its loops at their next step boundary on
it, so a ``KeyboardInterrupt`` that some library swallowed anyway is not lost either. Standard library only: the CLI
installs it before anything heavy is imported.
"""

from __future__ import annotations

import _thread
import signal
import threading

__all__ = ["install", "uninstall", "pending", "acknowledge", "RETRY_S"]

#: seconds between two deliveries of a deferred SIGINT
RETRY_S = 0.02

_pending: int | None = None
_retry: threading.Timer | None = None


def _unsafe(frame) -> bool:
    """Whether ``frame`` or a caller runs an import (``importlib``'s frozen bootstrap) or a ``__del__``."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith("<frozen importlib") or code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def _handler(signum, frame):
    global _pending, _retry
    _pending = signum
    if not _unsafe(frame):
        raise KeyboardInterrupt
    if _retry is None or not _retry.is_alive():
        _retry = threading.Timer(RETRY_S, _deliver_again, kwargs={"signum": signum})
        _retry.daemon = True
        _retry.start()


def _deliver_again(signum: int) -> None:
    # only while this handler is still the one installed and nobody handled the signal meanwhile
    if _pending is not None and signal.getsignal(signal.SIGINT) is _handler:
        _thread.interrupt_main(signum)


def install():
    """Make SIGINT wait until no import or finaliser runs (main thread only); forget any earlier one. Returns the
    handler it replaces (for :func:`uninstall`)."""
    acknowledge()
    return signal.signal(signal.SIGINT, _handler)


def uninstall(previous) -> None:
    """Put ``previous`` back (the value :func:`install` returned)."""
    acknowledge()
    signal.signal(signal.SIGINT, previous)


def pending() -> int | None:
    """The signal number of a SIGINT received since :func:`install` and not yet :func:`acknowledge`\\ d, else None."""
    return _pending


def acknowledge() -> None:
    """The interrupt has been handled (printed, or turned into a stop of the loop)."""
    global _pending
    _pending = None
