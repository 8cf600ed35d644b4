"""The terminal driver: Textual's Linux driver, whose input thread sleeps until there is input.

Textual's input thread wakes ten times a second (``select`` with a 0.1 s timeout) only to
see whether it should exit and whether an escape sequence has timed out. On the 2-core VM
those wake-ups were ~0.14 % of a core, about a tenth of what the whole dashboard process
costs at 80x24 (benchmarks/monitor_cost.py). Here the thread waits without a timeout, except
when Textual's key parser holds a partial escape sequence (then until that sequence's own
deadline, as a lone Esc must still arrive), and the exit event wakes it through a pipe.

Everything else, and the reading itself, is Textual's (``textual==8.2.8`` is pinned).
"""

from __future__ import annotations

import os
import selectors
import threading
from codecs import getincrementaldecoder

from textual._loop import loop_last
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver

FALLBACK_TIMEOUT_S = 0.1    # Textual's own wake-up period


class WakingEvent(threading.Event):
    """A ``threading.Event`` whose ``set`` also writes a byte to a pipe a selector can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def set(self) -> None:
        super().set()
        if self.write_fd < 0:
            return            # closed: its number may belong to another file by now
        try:
            os.write(self.write_fd, b"x")
        except OSError:       # a full pipe is readable already
            pass

    def drain(self) -> None:
        if self.read_fd < 0:
            return
        try:
            while os.read(self.read_fd, 256):
                pass
        except OSError:       # empty (non-blocking)
            pass

    def close(self) -> None:
        fds, self.read_fd, self.write_fd = (self.read_fd, self.write_fd), -1, -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)


def parser_deadline_s(parser: XTermParser) -> float | None:
    """Seconds until the parser's pending escape sequence times out; None when none is pending.

    ``_timeout_time`` is Textual's own (``textual._parser.Parser``, on ``get_time``'s clock);
    were it ever gone, the input thread falls back to Textual's 0.1 s wake-ups rather than
    miss a lone Esc."""
    if not hasattr(parser, "_timeout_time"):
        return FALLBACK_TIMEOUT_S
    deadline = parser._timeout_time
    if deadline is None:
        return None
    return max(0.0, deadline - get_time())


class QuietLinuxDriver(LinuxDriver):
    """Textual's Linux driver with an input thread that only wakes for input, exit or an Esc timeout."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.waking_exit = WakingEvent()
        self.exit_event = self.waking_exit      # what Textual sets to end the input thread

    def close(self) -> None:
        super().close()
        self.waking_exit.close()

    def run_input_thread(self) -> None:
        """Textual's ``LinuxDriver.run_input_thread`` with the wake pipe and the timeout above."""
        exit_event = self.waking_exit
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(exit_event.read_fd, selectors.EVENT_READ)
        fileno = self.fileno
        EVENT_READ = selectors.EVENT_READ
        parser = XTermParser(self._debug)
        feed = parser.feed
        tick = parser.tick
        decode = getincrementaldecoder("utf-8")().decode
        read = os.read

        def process_selector_events(selector_events, final: bool = False) -> None:
            for last, (key, mask) in loop_last(selector_events):
                if key.fd != fileno:
                    exit_event.drain()
                    continue
                if mask & EVENT_READ:
                    unicode_data = decode(read(fileno, 1024 * 4), final=final and last)
                    if not unicode_data:
                        break      # stdin piped and at its end
                    for event in feed(unicode_data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not exit_event.is_set():
                process_selector_events(selector.select(parser_deadline_s(parser)))
            selector.unregister(self.fileno)
            selector.unregister(exit_event.read_fd)
            process_selector_events(selector.select(FALLBACK_TIMEOUT_S), final=True)   # as Textual: a last tick
        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass


def terminal_driver(chosen: type[Driver]) -> type[Driver]:
    """The driver an app of edgemon's runs on: Textual's choice ``chosen``, except its Linux
    driver, which becomes :class:`QuietLinuxDriver` (one set through TEXTUAL_DRIVER is kept)."""
    return QuietLinuxDriver if chosen is LinuxDriver else chosen
