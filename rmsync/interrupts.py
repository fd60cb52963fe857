"""Ctrl-C and SIGTERM: stop cleanly, and never between starting an export and recording it.

Owns: the SIGINT/SIGTERM handlers (installed once, at the CLI's edge, before anything is
printed), the `Interrupted` exception they raise, `deferred()`, a critical section in
which a first signal waits until the section ends (a second one stops at once), and
`firm()`, a section no signal cuts short (a second one waits too), and `stopping()`,
which work done side by side inside a section asks before it begins more.
Must not: print, exit or know what the critical sections do (whoever installs the handlers
says how a waiting signal is told to the user).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
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
    firm = 0  # inside a section that no signal cuts short (`firm()`)
    pending: int | None = None


_state = _State()
_waiting = threading.Event()  # set from a signal until its section ends: any thread may ask
Told = Callable[[int, bool, bool], None]  # (signal, said before, in a firm section)
_told: list[Told] = []  # how the user hears that a signal waits (set by `install`)


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.firm or (_state.depth and _state.pending is None):
        again = _state.pending is not None  # in a firm section, every signal waits for its end
        _state.pending = _state.pending or signum  # the section is finished first
        _waiting.set()
        for tell in _told:
            tell(signum, again, bool(_state.firm))
        return
    _state.pending = None  # a second signal (`stopping()` stays true until the section ends)
    raise Interrupted(signum)


def install(waiting: Told | None = None) -> None:
    """Route SIGINT and SIGTERM to `Interrupted` (main thread only; elsewhere a no-op).
    `waiting(signum, again, firm)` is called when a signal waits for a critical section to
    end: `again` when one waits already, `firm` in a section no signal cuts short (from the
    handler: it must only write, unbuffered)."""
    if threading.current_thread() is not threading.main_thread():
        return
    _told[:] = [waiting] if waiting is not None else []
    for signum in _SIGNALS:
        signal.signal(signum, _handler)


def stopping() -> bool:
    """Whether a signal waits for the current critical section to end. Threads working for
    the section ask it before they begin more: what is under way is finished and recorded,
    what is not begun is left for the next run."""
    return _waiting.is_set()


@contextlib.contextmanager
def firm() -> Iterator[None]:
    """`deferred()`, but every signal waits for the block's end, a second one too: for work
    that, cut short, would lose what the tenant has already done (the answers to starts
    already sent). It must end soon once `stopping()` says so: send nothing more."""
    _state.firm += 1
    try:
        with deferred():
            yield
    finally:
        _state.firm -= 1


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Run the block whole: a signal that arrives inside it is raised when it ends."""
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if _state.depth == 0:
            _waiting.clear()  # nothing left under way: what comes next may begin
            if _state.pending is not None:
                signum, _state.pending = _state.pending, None
                raise Interrupted(signum)
