"""Helpers for `edgemon serve` in a real browser: a detached session, a server, the processes.
The server and the waits are benchmarks/_localhost.py's, which browser_views.py uses too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psutil
from fleet_helpers import child_env, load_benchmark

_local = load_benchmark("_localhost")
free_port = _local.free_port
wait_for = _local.wait_for
state = _local.session_state
dashboards = _local.dashboards
stop_server = _local.stop_server


def load_chromium():
    return load_benchmark("_chromium")


def start_server(cwd: Path, *args: str) -> tuple[subprocess.Popen, int]:
    """`edgemon serve ARGS --port P` with the tests' environment; returns it once it listens."""
    return _local.start_server(cwd, child_env(), *args)


def session_processes(folder: Path) -> list[psutil.Process]:
    """Processes that run a session recording into ``folder`` (the detached session's daemon)."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info.get("cmdline") or []
        if any(c.startswith("edgemon.") and "daemon" in c for c in cmd[:3]) and any(str(folder) in c for c in cmd):
            out.append(p)
    return out
