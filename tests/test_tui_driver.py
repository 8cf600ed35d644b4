"""The dashboard's terminal driver: Textual's Linux driver whose input thread sleeps until input.

Textual's own input thread wakes ten times a second; edgemon.tui.driver waits without a
timeout unless an escape sequence is pending, and its exit event wakes the thread through a
pipe. These tests run the real input thread on a pipe standing in for the terminal.
"""

from __future__ import annotations

import asyncio
import os
import select
import selectors
import signal
import threading
import time

import pytest
from textual import events
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

from edgemon.feeds.demo import FakeFeed
from edgemon.tui.app import DashboardApp
from edgemon.tui.driver import FALLBACK_TIMEOUT_S, QuietLinuxDriver, WakingEvent, parser_deadline_s


def readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def test_parser_deadline_is_none_without_a_pending_escape_and_the_escape_timeout_with_one():
    parser = XTermParser(False)
    assert parser_deadline_s(parser) is None
    assert list(parser.feed("a"))                  # a plain key: nothing pending after it
    assert parser_deadline_s(parser) is None
    assert list(parser.feed("\x1b")) == []         # a lone Esc waits for what may follow it
    pending = parser_deadline_s(parser)
    assert pending is not None and 0.0 <= pending <= 1.0


def test_parser_deadline_falls_back_to_textuals_period_without_the_attribute():
    assert parser_deadline_s(object()) == FALLBACK_TIMEOUT_S


def test_waking_event_makes_its_pipe_readable_until_drained():
    event = WakingEvent()
    try:
        assert not readable(event.read_fd)
        event.set()
        assert event.is_set() and readable(event.read_fd)
        event.drain()
        assert not readable(event.read_fd) and event.is_set()
        event.clear()
        assert not event.is_set()
    finally:
        event.close()
    other_r, other_w = os.pipe()      # may reuse the closed pipe's numbers
    try:
        event.set()                   # after close: only the flag, no byte written anywhere
        assert event.is_set() and not readable(other_r)
    finally:
        os.close(other_r)
        os.close(other_w)


class _Driver(QuietLinuxDriver):
    """The real input thread, its terminal a pipe; messages collected instead of posted."""

    def __init__(self, fileno: int) -> None:
        async def make():
            return QuietLinuxDriver.__init__(self, app=None)   # type: ignore[arg-type] - no app: messages are collected here
        asyncio.run(make())
        self.fileno = fileno
        self.messages: list = []

    def process_message(self, message) -> None:
        self.messages.append(message)


@pytest.fixture
def signals_kept():
    """The Linux driver installs SIGTSTP/SIGCONT handlers when made: put the test's back."""
    kept = {s: signal.getsignal(s) for s in (signal.SIGTSTP, signal.SIGCONT)}
    yield
    for s, handler in kept.items():
        signal.signal(s, handler)


def wait_for(predicate, what: str, limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)


def test_input_thread_waits_without_timeout_reads_keys_times_out_a_lone_escape_and_wakes_on_exit(
        monkeypatch, signals_kept):
    timeouts: list = []
    real_select = selectors.SelectSelector.select

    def recording_select(self, timeout=None):
        timeouts.append(timeout)
        return real_select(self, timeout)

    monkeypatch.setattr(selectors.SelectSelector, "select", recording_select)
    term_r, term_w = os.pipe()
    driver = _Driver(term_r)
    thread = threading.Thread(target=driver.run_input_thread, daemon=True)
    try:
        thread.start()
        wait_for(lambda: timeouts, "the input thread waiting")
        assert timeouts[0] is None                   # idle: no wake-up until input or exit
        os.write(term_w, b"a")
        wait_for(lambda: any(isinstance(m, events.Key) and m.key == "a" for m in driver.messages), "the key a")
        os.write(term_w, b"\x1b")
        wait_for(lambda: any(isinstance(m, events.Key) and m.key == "escape" for m in driver.messages),
                 "a lone Esc, once its sequence timed out")
        assert any(t is not None for t in timeouts)  # the Esc's own deadline was waited for
        wait_for(lambda: timeouts[-1] is None, "idle again after the Esc")
        driver.exit_event.set()
        thread.join(20)
        assert not thread.is_alive()                 # woken by the exit event's pipe, not a timeout
    finally:
        driver.exit_event.set()
        thread.join(5)
        driver.waking_exit.close()
        os.close(term_r)
        os.close(term_w)


def test_dashboard_runs_on_the_quiet_driver_unless_textual_driver_names_another(monkeypatch):
    app = DashboardApp(FakeFeed("linux"))
    assert app.get_driver_class() is QuietLinuxDriver
    assert issubclass(QuietLinuxDriver, LinuxDriver)
    import textual.constants

    monkeypatch.setattr(textual.constants, "DRIVER", "textual.drivers.headless_driver:HeadlessDriver")
    from textual.drivers.headless_driver import HeadlessDriver

    assert app.get_driver_class() is HeadlessDriver
