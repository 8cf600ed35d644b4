"""SIGINT and SIGTERM while the dashboard runs: end it through its own event loop, then raise
KeyboardInterrupt in the caller, as Ctrl+C does in a plain program.

A KeyboardInterrupt raised straight from a signal handler lands between any two bytecodes of
Textual; when it cuts Textual's shutdown short, the driver's input and output threads (not
daemon threads) keep running and the interpreter waits for them forever at exit: a script's
``kill`` then never ends ``edgemon run``. So the handler only asks the app to exit.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Protocol

# A third signal while the dashboard still runs (its event loop stuck, say) interrupts at once.
FORCE_AFTER_SIGNALS = 3
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ExitsOnSignal(Protocol):
    def exit_on_signal(self, signum: int) -> None:
        """Called from a signal handler: end the app soon, through its event loop."""


@contextmanager
def exit_on_signals(app: ExitsOnSignal) -> Iterator[list[int]]:
    """While the block runs, SIGINT/SIGTERM go to ``app.exit_on_signal``; yields the signals
    caught, and raises KeyboardInterrupt after the block when there was one."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught        # signal handlers can only be set from the main thread
        return

    def on_signal(signum: int, _frame: object) -> None:
        caught.append(signum)
        if len(caught) >= FORCE_AFTER_SIGNALS:
            raise KeyboardInterrupt
        app.exit_on_signal(signum)

    previous = {s: signal.signal(s, on_signal) for s in HANDLED_SIGNALS}
    try:
        yield caught
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if caught:
        raise KeyboardInterrupt
