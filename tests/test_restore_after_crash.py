"""`edgemon restore DIR` after a killed session puts back the power mode and cores it found.

A board that outlives the session: the emulated Nano runs on its own
(`python -m edgemon.emulate nano DIR`), the session reads it through `--sysfs-root`
and finds its tools inside that root, exactly as it would a board's mounted filesystem.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def _mode(root: str) -> str:
    out = subprocess.run([str(Path(root) / "bin" / "nvpmodel"), "-q"], capture_output=True, text=True,
                         timeout=10).stdout
    return out


def _online(root: str) -> str:
    return (Path(root) / "sys/devices/system/cpu/online").read_text().strip()


def test_restore_after_a_killed_session(tmp_path):
    board = subprocess.Popen([sys.executable, "-m", "edgemon.emulate", "nano", str(tmp_path / "board")],
                             stdout=subprocess.PIPE, text=True, env=_env(), start_new_session=True)
    daemon_pid = None
    try:
        first = board.stdout.readline()
        root = re.search(r"--sysfs-root (\S+)", first).group(1)
        assert "MAXN" in _mode(root) and _online(root) == "0-3"
        rec = tmp_path / "rec"
        p = subprocess.run([sys.executable, "-m", "edgemon", "run", "--detach", "--sysfs-root", root,
                            "--record", str(rec), "--duration", "60s"],
                           capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=90)
        assert p.returncode == 0, p.stderr
        daemon_pid = int(re.search(r"\(pid (\d+)\)", p.stdout).group(1))

        from edgemon.feeds.remote import open_remote

        feed = open_remote(rec)
        try:
            view = feed.machine_state()
            assert view is not None and view.power_mode_id == 0
            msg = feed.command("power_mode", id=1)   # 5W: cores 2-3 go offline
        finally:
            feed.close()
        assert "5W" in (msg or ""), msg
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "5W" not in _mode(root):
            time.sleep(0.2)
        assert "5W" in _mode(root) and _online(root) == "0-1"

        # a crash: no chance to restore
        children = psutil.Process(daemon_pid).children(recursive=True)
        os.kill(daemon_pid, signal.SIGKILL)
        for c in children:
            c.kill()
        time.sleep(0.5)
        assert "5W" in _mode(root), "the killed session must not have restored anything"

        # The tools are found under the root the user gives, never taken from the recording:
        # without the session's --sysfs-root, restore says which to pass and changes nothing.
        r = subprocess.run([sys.executable, "-m", "edgemon", "restore", str(rec)], capture_output=True,
                           text=True, env=_env(), cwd=tmp_path, timeout=60)
        assert r.returncode == 2 and f"--sysfs-root {root}" in r.stderr, r.stdout + r.stderr
        assert "5W" in _mode(root)
        r = subprocess.run([sys.executable, "-m", "edgemon", "restore", str(rec), "--sysfs-root", root],
                           capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "MAXN" in _mode(root)
        assert _online(root) == "0-3"
    finally:
        if daemon_pid and psutil.pid_exists(daemon_pid):
            os.kill(daemon_pid, signal.SIGKILL)
        os.killpg(board.pid, signal.SIGTERM)
        board.wait(10)
