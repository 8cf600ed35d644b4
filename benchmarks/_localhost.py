"""Processes on 127.0.0.1 for the scripts and the tests: a free port, bounded waits, a session's
state, `edgemon serve` in its own process group and the dashboards it starts for its tabs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate, timeout: float, step: float = 0.2) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds have passed; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def session_state(folder: Path) -> str:
    """``state`` of the session.json in ``folder`` ('' while there is none to read)."""
    try:
        return json.loads((folder / "session.json").read_text()).get("state", "")
    except (OSError, ValueError):
        return ""


def start_server(cwd: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen, int]:
    """`edgemon serve ARGS --port P` in its own process group; returns it once it listens."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "edgemon", "serve", *args, "--port", str(port)], cwd=str(cwd),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    if not wait_for(lambda: listening(port) or proc.poll() is not None, 60):
        stop_server(proc)
        raise RuntimeError("edgemon serve did not listen within 60 s")
    if proc.poll() is not None:
        raise RuntimeError(f"edgemon serve exited: {proc.stdout.read() if proc.stdout else ''}")
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


def dashboards(server_pid: int, mode: str, folder: Path) -> list:
    """The dashboard processes (psutil) the server started for its browser tabs."""
    import psutil

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
