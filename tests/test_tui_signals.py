"""SIGINT/SIGTERM while a dashboard runs: the app ends through its own event loop (Textual restores
the terminal and stops its threads), then KeyboardInterrupt reaches the caller; exit 130."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time

import pytest
from detach_helpers import env
from replay_helpers import build_throttled
from tui_helpers import make_app, run_async

from edgemon.tui.app import SIGNAL_EXIT_CODE
from edgemon.tui.signals import FORCE_AFTER_SIGNALS, exit_on_signals

LEAVE_ALT_SCREEN = b"\x1b[?1049l"     # what Textual writes when it shuts down in order


class _App:
    def __init__(self) -> None:
        self.asked: list[int] = []

    def exit_on_signal(self, signum: int) -> None:
        self.asked.append(signum)


def test_a_signal_asks_the_app_to_exit_and_interrupts_only_after_the_block():
    app = _App()
    before = signal.getsignal(signal.SIGTERM)
    reached_end_of_block = False
    with pytest.raises(KeyboardInterrupt):
        with exit_on_signals(app) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)            # the handler has run by now, and raised nothing here
            reached_end_of_block = True
    assert reached_end_of_block and caught == [signal.SIGTERM] and app.asked == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is before


def test_no_signal_no_interrupt_and_handlers_restored():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with exit_on_signals(_App()) as caught:
        pass
    assert caught == []
    assert {s: signal.getsignal(s) for s in before} == before


def test_repeated_signals_interrupt_at_once_when_the_app_does_not_end():
    app = _App()
    with pytest.raises(KeyboardInterrupt):
        with exit_on_signals(app):
            for _ in range(FORCE_AFTER_SIGNALS):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.02)
            pytest.fail("the last signal should have interrupted the block")
    assert len(app.asked) == FORCE_AFTER_SIGNALS - 1


@run_async
async def test_the_app_exits_with_130_through_its_loop():
    app, _feed = make_app("linux")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.exit_on_signal(signal.SIGTERM)
        await pilot.pause(0.2)
    assert app.return_value == SIGNAL_EXIT_CODE and app.exit_signal == signal.SIGTERM


@run_async
async def test_a_signal_before_mount_exits_at_mount():
    app, _feed = make_app("linux")
    app.exit_on_signal(signal.SIGINT)       # Textual not started yet: nothing to schedule on
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
    assert app.return_value == SIGNAL_EXIT_CODE


def _replay_on_pty(folder, cwd):
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "edgemon", "replay", str(folder)], cwd=cwd,
                            env={**env(), "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"},
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = bytearray()

    def drain():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            out.extend(chunk)

    threading.Thread(target=drain, daemon=True).start()
    return proc, out, master


@pytest.mark.timeout(300)
@pytest.mark.parametrize("when", ["first output", "footer shown", "footer shown + 0.3 s", "footer shown + 0.7 s"])
def test_sigterm_ends_a_real_dashboard_cleanly_at_any_moment(tmp_path, when):
    """A KeyboardInterrupt raised inside Textual could leave its threads running and the process
    hanging at exit; each moment here must end with 130 and the terminal given back."""
    folder = build_throttled(tmp_path / "rec")
    proc, out, master = _replay_on_pty(folder, tmp_path)
    try:
        deadline = time.monotonic() + 60
        needle = b"\x1b" if when == "first output" else b"quit"
        while needle not in out and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
        assert needle in out, bytes(out[-2000:])
        if "+" in when:
            time.sleep(float(when.split("+ ")[1].split(" ")[0]))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == SIGNAL_EXIT_CODE
        time.sleep(0.1)
        assert LEAVE_ALT_SCREEN in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
