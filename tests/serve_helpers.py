"""Helpers for `edgemon serve` in a real browser: a detached session, a server, the processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from fleet_helpers import child_env, load_benchmark

def load_chromium():
    return load_benchmark("_chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def state(folder: Path) -> str:
    try:
        return json.loads((folder / "session.json").read_text()).get("state", "")
    except (OSError, ValueError):
        return ""


def start_server(cwd: Path, *args: str) -> tuple[subprocess.Popen, int]:
    """`edgemon serve ARGS --port P` in its own process group; returns it once it listens."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "edgemon", "serve", *args, "--port", str(port)], cwd=str(cwd),
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    if not wait_for(lambda: listening() or proc.poll() is not None, 60):
        stop_server(proc)
        raise AssertionError("edgemon serve did not listen within 60 s")
    if proc.poll() is not None:
        raise AssertionError(f"edgemon serve exited: {proc.stdout.read()}")
    return proc, port


def stop_server(proc: subprocess.Popen) -> str:
    """Ctrl+C for the server (its dashboards are its children); returns its output."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


def dashboards(server_pid: int, mode: str, folder: Path) -> list[psutil.Process]:
    """The dashboard processes the server started for its browser tabs."""
    try:
        children = psutil.Process(server_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for p in children:
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        if cmd[:1] and "python" in Path(cmd[0]).name and cmd[1:4] == ["-m", "edgemon", mode] and \
                cmd[4:5] == [str(folder)]:
            out.append(p)
    return out


def session_processes(folder: Path) -> list[psutil.Process]:
    """Processes that run a session recording into ``folder`` (the detached session's daemon)."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info.get("cmdline") or []
        if any(c.startswith("edgemon.") and "daemon" in c for c in cmd[:3]) and any(str(folder) in c for c in cmd):
            out.append(p)
    return out
