"""Detached sessions with real processes: run --detach, attach (in-process and under a pty), kill the
client, reattach, stop; a SIGKILLed session process; one folder, two sessions."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import subprocess
import sys
import termios
import threading

import pytest
from detach_helpers import (
    edgemon,
    end_process,
    env,
    kill_quietly,
    latency_rows,
    pid_alive,
    session_state,
    start_detached,
    wait_for,
)

from edgemon.errors import UserError
from edgemon.view.model import DashboardModel
from edgemon.feeds.remote import open_remote

pytestmark = pytest.mark.timeout(180)


def _ls(rec, cwd) -> dict:
    p = edgemon("ls", "--json", str(rec), cwd=cwd)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert len(rows) == 1
    return rows[0]


def _one_line_error(p, *needles):
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def _controlling_tty() -> None:
    """In the child: make the pty on stdin its controlling terminal, so a hang-up sends SIGHUP."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _controlling_tty_under_nohup() -> None:
    """The same, started from a shell that ignores hang-ups (nohup, some CI runners): SIG_IGN is inherited."""
    _controlling_tty()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


class _PtyDashboard:
    """`edgemon attach DIR` on its own pseudo-terminal, as over SSH; its screen output is drained."""

    def __init__(self, rec, cwd, args=None, preexec=_controlling_tty, environ=None):
        self.master, slave = pty.openpty()
        if args is None:
            args = ["attach", str(rec)] if rec is not None else ["attach"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgemon", *args], cwd=cwd,
            env={**(environ or env()), "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"},
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            preexec_fn=preexec,
        )
        os.close(slave)
        self.output = bytearray()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def screen_has(self, text: str) -> bool:
        return text in self.text()

    def press(self, key: str, *, then_wait_for: str | None = None):
        os.write(self.master, key.encode())
        if then_wait_for:
            wait_for(lambda: self.screen_has(then_wait_for), what=f"{then_wait_for!r} on the screen")

    def hang_up(self):
        """Close the terminal's master side: what a dropped SSH connection does."""
        os.close(self.master)
        self.master = -1

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        if self.master >= 0:
            os.close(self.master)


def test_detached_session_outlives_its_clients_and_stops_cleanly(tmp_path):
    rec = tmp_path / "rec"
    pid = start_detached(rec, "--sample-hz", "10", cwd=tmp_path)
    try:
        assert _ls(rec, tmp_path)["state"] == "running"
        assert _ls(rec, tmp_path)["detached"] is True
        log = rec / "session.log"
        assert log.is_file()

        # An in-process client: the history first, then live samples and latency.
        feed = open_remote(rec)
        assert feed.can_detach
        first = feed.drain()
        assert first.reset
        wait_for(lambda: feed.drain().samples, what="live samples")
        wait_for(lambda: latency_rows(feed) > 0, what="live latency")
        assert feed.status().state == "running"
        assert feed.meta.get("record_path") == str(rec)

        # The same folder cannot be recorded twice.
        _one_line_error(edgemon("run", "--detach", "--duration", "5s", "--record", str(rec), cwd=tmp_path),
                        "being recorded")

        # A dashboard on a pty is SIGKILLed: the session goes on.
        dash = _PtyDashboard(rec, tmp_path)
        try:
            wait_for(lambda: f"client attached (pid {dash.proc.pid})" in log.read_text(), what="the dashboard")
            dash.proc.kill()
            dash.proc.wait(10)
            wait_for(lambda: f"client detached (pid {dash.proc.pid})" in log.read_text(), what="the drop")
        finally:
            dash.close()
        feed.drain()
        wait_for(lambda: latency_rows(feed) > 0, what="latency after the dashboard was killed")

        # A dashboard whose terminal hangs up (SSH drop) exits by itself, even where it was
        # started ignoring hang-ups; the session goes on.
        dash = _PtyDashboard(rec, tmp_path, preexec=_controlling_tty_under_nohup)
        try:
            wait_for(lambda: f"client attached (pid {dash.proc.pid})" in log.read_text(), what="the dashboard")
            dash.hang_up()
            dash.proc.wait(30)
        finally:
            dash.close()
        assert pid_alive(pid)
        assert _ls(rec, tmp_path)["state"] == "running"

        # Detach this client and attach again: the history comes first.
        assert "goes on" in feed.command("detach")
        again = open_remote(rec)
        snap = again.drain()
        assert snap.reset and snap.state is not None
        model = DashboardModel()
        model.apply(snap)
        assert model.samples_seen and model.iterations
        assert any(e.kind == "worker_hello" for e in model.events)
        again.close()

        # Quit a dashboard choosing "stop" in its dialog: the session ends, its recording is closed.
        dash = _PtyDashboard(rec, tmp_path)
        try:
            wait_for(lambda: f"client attached (pid {dash.proc.pid})" in log.read_text(), what="the dashboard")
            wait_for(lambda: dash.screen_has("quit"), what="the footer")
            dash.press("q", then_wait_for="detach")
            dash.press("s")
            assert dash.proc.wait(60) == 0
            wait_for(lambda: dash.screen_has(f"recording: {rec} (ended"), what="where the recording is")
        finally:
            dash.close()
    finally:
        end_process(pid)
    wait_for(lambda: not pid_alive(pid), what="the session process to exit")
    assert session_state(rec) == "ended"
    assert not (rec / "control.sock").exists()
    assert _ls(rec, tmp_path)["state"] == "ended"
    meta = json.loads((rec / "session.json").read_text())
    assert meta["end"]["reason"] == "stopped by user"
    assert "command stop" in (rec / "session.log").read_text()

    from edgemon.recording.reader import open_recording

    recording = open_recording(rec)
    assert recording.latency().num_rows > 0 and recording.telemetry().num_rows > 0
    kinds = recording.events().column("kind").to_pylist()
    assert "session_start" in kinds and kinds[-1] == "session_end"
    assert not list(rec.glob("*/*.arrows")), "closed: every tail became Parquet"

    _one_line_error(edgemon("attach", str(rec), cwd=tmp_path), "has ended", "edgemon replay")
    _one_line_error(edgemon("stop", str(rec), cwd=tmp_path), "has ended")


def test_a_killed_session_process_reads_as_died_and_recover_fixes_it(tmp_path):
    rec = tmp_path / "rec"
    pid = start_detached(rec, cwd=tmp_path)
    try:
        feed = open_remote(rec)
        feed.drain()
        os.kill(pid, signal.SIGKILL)
        assert feed.wait_end(20)
        st = feed.status()
        assert st.state == "crashed" and "edgemon recover" in st.message   # reported, not raised
    finally:
        kill_quietly(pid)
    wait_for(lambda: not pid_alive(pid), what="the session process to go")
    assert (rec / "control.sock").exists(), "a killed session leaves its socket behind"
    row = _ls(rec, tmp_path)
    assert row["state"] == "died" and "edgemon recover" in row["hint"]
    text = edgemon("ls", str(rec), cwd=tmp_path).stdout
    assert "died" in text and "edgemon recover" in text

    _one_line_error(edgemon("attach", str(rec), cwd=tmp_path), "died", "stale", "edgemon recover")
    with pytest.raises(UserError, match="died"):
        open_remote(rec)

    p = edgemon("recover", str(rec), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert _ls(rec, tmp_path)["state"] == "crashed"


def test_bad_detach_requests_fail_before_anything_starts(tmp_path):
    _one_line_error(edgemon("run", "--detach", "--model", "nope", cwd=tmp_path), "nope")
    _one_line_error(edgemon("run", "--detach", "--no-record", cwd=tmp_path), "--no-record")
    _one_line_error(edgemon("run", "--detach", "--hang-timeout", "soon", cwd=tmp_path), "--hang-timeout")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "thing.txt").write_text("x")
    _one_line_error(edgemon("run", "--detach", "--record", str(tmp_path / "full"), cwd=tmp_path), "not empty")
    assert not (tmp_path / "recordings").exists(), "nothing was started"


def test_stop_also_ends_a_headless_session_running_in_a_terminal(tmp_path):
    rec = tmp_path / "rec"
    proc = subprocess.Popen([sys.executable, "-m", "edgemon", "run", "--headless", "--duration", "60s",
                             "--record", str(rec)], cwd=tmp_path, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: (rec / "session.json").exists() and _ls(rec, tmp_path)["state"] == "running",
                 what="the headless session")
        assert _ls(rec, tmp_path)["detached"] is False
        _one_line_error(edgemon("attach", str(rec), cwd=tmp_path), "runs in a terminal")
        p = edgemon("stop", str(rec), cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert session_state(rec) == "ended"


def test_default_folder_latest_detach_from_the_dashboard_and_stop(tmp_path):
    pid = start_detached(None, cwd=tmp_path)
    try:
        rows = json.loads(edgemon("ls", "--json", cwd=tmp_path).stdout)
        assert len(rows) == 1 and rows[0]["state"] == "running" and rows[0]["detached"]
        rec = tmp_path / "recordings" / rows[0]["name"]
        log = rec / "session.log"
        # `edgemon attach` with no folder finds the running session; "detach" in the quit dialog leaves it running.
        dash = _PtyDashboard(None, tmp_path)
        try:
            wait_for(lambda: f"client attached (pid {dash.proc.pid})" in log.read_text(), what="the dashboard")
            wait_for(lambda: dash.screen_has("quit"), what="the footer")
            dash.press("q", then_wait_for="detach")
            dash.press("d")
            assert dash.proc.wait(60) == 0
            wait_for(lambda: dash.screen_has("goes on in the background"), what="the parting message")
        finally:
            dash.close()
        assert pid_alive(pid) and session_state(rec) == "running"
        p = edgemon("stop", cwd=tmp_path)            # latest
        assert p.returncode == 0, p.stderr
        assert "stopped" in p.stdout and rows[0]["name"] in p.stdout
    finally:
        end_process(pid)
    assert session_state(rec) == "ended"


def test_headless_detached_session_writes_status_lines_to_its_log(tmp_path):
    rec = tmp_path / "rec"
    pid = start_detached(rec, "--headless", "--status-every", "1s", cwd=tmp_path, duration="2s")
    try:
        wait_for(lambda: not pid_alive(pid), what="the session to end by itself")
    finally:
        end_process(pid)
    text = (rec / "session.log").read_text()
    assert "running 00:0" in text, text          # a status line
    assert "latency (ms" in text                 # the summary at the end
    assert "session ended: duration reached" in text
    assert session_state(rec) == "ended"


def test_sigterm_to_edgemon_run_stops_the_session_it_started(tmp_path):
    """Scripts that kill `edgemon run` expect the test to end, as it did in-process; only a hang-up detaches."""
    rec = tmp_path / "rec"
    dash = _PtyDashboard(None, tmp_path, args=["run", "--duration", "60s", "--record", str(rec)])
    try:
        wait_for(lambda: (rec / "session.log").exists() and "client attached" in (rec / "session.log").read_text(),
                 what="the dashboard")
        pid = json.loads((rec / "session.json").read_text())["writer_pid"]
        wait_for(lambda: dash.screen_has("quit"), what="the footer")
        dash.proc.send_signal(signal.SIGTERM)
        assert dash.proc.wait(60) == 130
    finally:
        dash.close()
    wait_for(lambda: not pid_alive(pid), what="the session process to end")
    assert session_state(rec) == "ended"
