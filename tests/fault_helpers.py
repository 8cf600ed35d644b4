"""Disks that fail on purpose, for tests/test_recording_faults.py.

* :func:`tmpfs`: a small RAM file system (disk full); needs root (or CAP_SYS_ADMIN), else the
  test is skipped with the reason.
* :func:`loop_ext4`: a small ext4 image on a loop device, mounted ``errors=remount-ro`` so that
  ``trigger_fs_error`` makes the kernel remount it read-only under a running writer (what an SD
  card error does), or freezable with ``fsfreeze`` -- never the real disk.
* :func:`blocking_writes_env`: an environment whose Python blocks every recording write after
  the first few forever (a disk that never answers), through a sitecustomize import hook that
  touches only ``edgemon.recording.writer``.
* :class:`Edgemon`: `edgemon ...` as a child process whose output is read line by line.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO


def _run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


@contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    r = _run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)])
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}): needs root")
    try:
        yield path
    finally:
        _unmount(path)


def _unmount(path: Path) -> None:
    if _run(["umount", str(path)]).returncode != 0:
        _run(["umount", "-l", str(path)])


def fill(folder: Path, leave_bytes: int) -> None:
    """Fill ``folder``'s file system until about ``leave_bytes`` are free."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave_bytes))


@contextmanager
def loop_ext4(tmp_path: Path, size_mb: int = 32):
    """``(mountpoint, sysfs folder of the file system)``; skipped where loop mounts are not allowed."""
    for tool in ("mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            pytest.skip(f"no {tool} here")
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(size_mb << 20)
    r = _run(["mkfs.ext4", "-q", "-F", str(image)])
    if r.returncode != 0:
        pytest.skip(f"mkfs.ext4 failed: {r.stderr.strip()}")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = _run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mnt)])
    if r.returncode != 0:
        pytest.skip(f"cannot mount a loop device here ({r.stderr.strip() or r.returncode}): needs root and /dev/loop*")
    try:
        dev = next((line.split()[0] for line in Path("/proc/mounts").read_text().splitlines()
                    if line.split()[1] == str(mnt)), "")
        yield mnt, Path("/sys/fs/ext4") / Path(dev).name
    finally:
        _run(["fsfreeze", "-u", str(mnt)])     # never leave it frozen, whatever happened
        _unmount(mnt)


_BLOCKING_SITE = r'''
import importlib.abc, importlib.util, sys, threading

AFTER = int(__AFTER__)


class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "edgemon.recording.writer":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        real_exec = spec.loader.exec_module

        def exec_module(module):
            real_exec(module)
            real_write = module._Tail.write
            calls = [0]

            def write(self, batch):
                calls[0] += 1
                if calls[0] > AFTER:
                    threading.Event().wait()       # a disk that never answers
                return real_write(self, batch)

            module._Tail.write = write

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _Hook())
'''


def blocking_writes_env(tmp_path: Path, after: int = 3) -> dict[str, str]:
    site = tmp_path / "blocking_site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_BLOCKING_SITE.replace("__AFTER__", str(after)))
    return edgemon_env(extra_path=[str(site)])


def edgemon_env(extra_path=()) -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([*extra_path, str(REPO), *filter(None, [e.get("PYTHONPATH")])])
    return e


class Edgemon:
    """`python -m edgemon ARGS` with its merged output read line by line on a thread."""

    @staticmethod
    def argv_prefix() -> list[str]:
        return [sys.executable, "-m", "edgemon"]

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen([*self.argv_prefix(), *args], cwd=cwd, env=env or edgemon_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self._q: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def _collect(self, until, deadline: float) -> str | None:
        """Take lines as they come until ``until(line)``, the end of the output, or ``deadline``."""
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                self._q.put(None)       # the end stays the end for the next caller
                return None
            self.lines.append(line)
            if until(line):
                return line
        return None

    def wait_for(self, text: str, timeout: float = 120.0) -> str:
        """The first line containing ``text`` (from the start); fails after ``timeout`` or at EOF."""
        found = next((line for line in self.lines if text in line), None)
        found = found or self._collect(lambda line: text in line, time.monotonic() + timeout)
        if found is None:
            raise AssertionError(f"no line with {text!r} in:\n" + "\n".join(self.lines))
        return found

    def finish(self, timeout: float = 120.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("edgemon did not end:\n" + "\n".join(self.lines)) from None
        self._collect(lambda line: False, time.monotonic() + 10)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
