"""SIGINT, SIGTERM and SIGHUP during a create: stop, clean up, say so.

While a create runs, each of these signals raises :class:`~nestkube.errors.Interrupted` in
the main thread, after stopping the engine commands the worker threads are waiting on, so the
pipeline's cleanup runs and removes what the create made. During cleanup the signals are
ignored: a second Ctrl-C must not leave half of it undone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from nestkube import _exec
from nestkube.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


def _raise(signum: int, frame: FrameType | None) -> None:
    _exec.abort_others()
    raise Interrupted(signum)


def _install(handler: _Handler) -> dict[int, _Handler]:
    """Install ``handler`` for SIGNALS; the previous handlers, or {} off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # only the main thread may set handlers; a library caller's own choice
    return {s: signal.signal(s, handler) for s in SIGNALS}


def _restore(previous: dict[int, _Handler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@contextlib.contextmanager
def raising() -> Iterator[dict[int, _Handler]]:
    """Turn SIGNALS into Interrupted for the duration of the block; yields the handlers it
    replaced (see :func:`pass_on`)."""
    previous = _install(_raise)
    try:
        yield previous
    finally:
        _restore(previous)
        _exec.resume()


def pass_on(previous: dict[int, _Handler], signum: int) -> None:
    """Give ``signum`` to the handler a library caller had installed, if it had one.

    Called after cleanup: a program with its own SIGTERM handler (a benchmark stopping all
    its runs, say) gets its signal as if nestkube had not been there.
    """
    handler = previous.get(signum)
    if callable(handler) and handler is not signal.default_int_handler:
        handler(signum, None)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Ignore SIGNALS for the duration of the block (cleanup must finish)."""
    previous = _install(signal.SIG_IGN)
    try:
        yield
    finally:
        _restore(previous)
