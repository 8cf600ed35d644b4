"""Helpers for the detached-session tests: start sessions, wait on conditions, a scripted session."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.feeds.base import FeedStatus, FeedUpdate

REPO = Path(__file__).resolve().parent.parent
WAIT_S = 30.0   # a guard against hangs, never a performance expectation


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def edgemon(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgemon", *args], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=timeout)


def wait_for(pred, timeout: float = WAIT_S, what: str = "condition", every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def start_detached(rec: Path | None, *extra: str, cwd: Path, duration: str = "60s") -> int:
    """`edgemon run --detach`; returns the session process pid (from its own message)."""
    record = ["--record", str(rec)] if rec is not None else []
    p = edgemon("run", "--detach", "--duration", duration, *record, *extra, cwd=cwd)
    assert p.returncode == 0, p.stderr + p.stdout
    m = re.search(r"\(pid (\d+)\)", p.stdout)
    assert m, p.stdout
    assert "edgemon attach " in p.stdout and "edgemon stop " in p.stdout
    if rec is not None:
        assert f"edgemon attach {rec}" in p.stdout
    return int(m.group(1))


def kill_quietly(pid: int, sig: int = 9) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def end_process(pid: int, grace_s: float = 15.0) -> None:
    """Test cleanup: let a session process finish on its own, else SIGKILL it."""
    deadline = time.monotonic() + grace_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    kill_quietly(pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (not yet reaped by its parent) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def session_state(rec: Path) -> str:
    return json.loads((rec / "session.json").read_text())["state"]


def latency_rows(feed) -> int:
    """Drain ``feed`` once; number of latency rows received (as digests from a detached session)."""
    update = feed.drain()
    return sum(len(b) for b in update.latency) + sum(g.rows for g in update.digests)


class ScriptedSession:
    """Stands in for a LiveSession behind a SessionServer: the test pushes what drain() returns."""

    def __init__(self):
        self.meta = {"host": "test", "workload": {"runner": "numpy", "model": "mnist_1d"}}
        self.commands: list[tuple[str, dict]] = []
        self.state = "running"
        self._lock = threading.Lock()
        self._pending = FeedUpdate()
        self.t_ns = time.monotonic_ns()

    def push(self, *, samples: int = 0, rows: int = 0, events: list[str] = ()) -> None:
        with self._lock:
            for _ in range(samples):
                self.t_ns += 100_000_000
                self._pending.samples.append(Sample(self.t_ns, {"cpu_util_pct": 50.0, "ram_used_mb": 100.0}))
            if rows:
                t = self.t_ns + np.arange(rows, dtype=np.int64) * 1000
                self._pending.latency.append(LatencyBatch.from_lists(t, np.full(rows, 50_000), np.ones(rows)))
            for kind in events:
                self._pending.events.append(Event(self.t_ns, kind, {"note": kind}))

    def drain(self) -> FeedUpdate:
        with self._lock:
            up, self._pending = self._pending, FeedUpdate()
        return up

    def status(self) -> FeedStatus:
        return FeedStatus(state=self.state, elapsed_s=1.0, t_ns=time.monotonic_ns())

    def machine_state(self):
        return None

    @property
    def source_statuses(self) -> list:
        from edgemon.telemetry.base import SourceStatus

        return [SourceStatus("procstat", True), SourceStatus("nvml", False, "no NVIDIA driver")]

    def command(self, cmd, **kw) -> str:
        from edgemon.feeds.commands import as_command, wire_name

        cmd = as_command(cmd, kw)
        self.commands.append((wire_name(cmd), cmd.kwargs()))
        return f"did {wire_name(cmd)}"
