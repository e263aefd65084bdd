"""Signals during a change to a server become an exception, so every `finally` that puts it back runs.

SIGINT (Ctrl-C), SIGTERM (a CI runner's cancel, `kill`), SIGHUP (the terminal closed, an ssh session
dropped) and SIGQUIT (Ctrl-\\) all end a capture or a `--verify` the same way: the server is restored,
then the command exits 2. Only SIGKILL cannot be caught; the state files are for that one.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from query_audit.errors import QueryAuditError

CLEANUP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class Interrupted(QueryAuditError):
    """A signal arrived while the server was changed; what was changed was put back before this surfaced."""


@contextmanager
def signals_raise_interrupted(what: str = "the server's log settings were restored"):
    """Each of CLEANUP_SIGNALS raises Interrupted in the main thread, naming the signal and `what`."""

    def handler(signum, frame):
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}; {what}")

    previous = {sig: signal.signal(sig, handler) for sig in CLEANUP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def signals_blocked():
    """Putting things back must not itself be interrupted half-way by a second Ctrl-C."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, set(CLEANUP_SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def signals_deferred():
    """CLEANUP_SIGNALS that arrive inside the block are delivered when it ends, to the handlers in force.

    For starting a child: blocking them (signals_blocked) would do the same for this process, but a child
    inherits the blocked mask through exec, so a `--run` command and everything it starts would never see
    the SIGTERM that ends them, only the SIGKILL after the grace period. Only the main thread runs Python's
    signal handlers, so elsewhere there is nothing to defer."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived = []
    previous = {sig: signal.signal(sig, lambda signum, frame: arrived.append(signum)) for sig in CLEANUP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)  # None: a handler not set from Python
        for signum in dict.fromkeys(arrived):
            signal.raise_signal(signum)
