"""Ctrl-C and SIGTERM: stop cleanly, and never between starting an export and recording it.

Owns: the SIGINT/SIGTERM handlers (installed once, at the CLI's edge, before anything is
printed), the `Interrupted` exception they raise, and `deferred()`, a critical section in
which a first signal waits until the section ends (a second one stops at once).
Must not: print, exit or know what the critical sections do.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal asked rmsync to stop. A BaseException, so that `except Exception` lets it by,
    and not a KeyboardInterrupt, so that click does not turn it into a bare "Aborted."."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.note = ""  # what was kept, said by whoever knows (the workflow)

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as shells report a process a signal stopped: 130, 143."""
        return 128 + self.signum


class _State(threading.local):
    depth = 0
    pending: int | None = None


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.depth and _state.pending is None:
        _state.pending = signum  # finish the critical section first; a second signal won't wait
        return
    _state.pending = None
    raise Interrupted(signum)


def install() -> None:
    """Route SIGINT and SIGTERM to `Interrupted` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        signal.signal(signum, _handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Run the block whole: a signal that arrives inside it is raised when it ends."""
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if _state.depth == 0 and _state.pending is not None:
            signum, _state.pending = _state.pending, None
            raise Interrupted(signum)
