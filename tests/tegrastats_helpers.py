"""A stand-in ``tegrastats`` executable for tests (a real subprocess, scripted by a plan).

``make_fake_tegrastats(tmp_path, runs)`` writes ``tmp_path/fake/tegrastats``; each time
it is started it appends ``{"pid", "argv"}`` to ``starts.jsonl`` and performs run
number k of ``runs`` (the last run repeats). A run is a list of steps:

* ``("line", text)``  print text + newline on stdout (flushed)
* ``("raw", text)``   print text without newline (flushed)
* ``("err", text)``   print text + newline on stderr
* ``("sleep", s)``    sleep s seconds; ``("sleep", "interval")`` sleeps ``--interval`` ms
* ``("exit", code)``  exit with code
* ``("child",)``      start a grandchild that sleeps (pid recorded as ``child``)
* ``("ignore_term",)`` ignore SIGTERM from now on
* ``("forever",)``    sleep until killed
A run that ends without exit/forever exits 0.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

_SCRIPT = r'''#!{python}
import json, os, signal, subprocess, sys, time
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "plan.json")) as f:
    runs = json.load(f)
log = os.path.join(here, "starts.jsonl")
try:
    with open(log) as f:
        k = sum(1 for _ in f)
except OSError:
    k = 0
rec = {{"pid": os.getpid(), "argv": sys.argv[1:]}}
with open(log, "a") as f:
    f.write(json.dumps(rec) + "\n")
interval = 1.0
if "--interval" in sys.argv:
    interval = int(sys.argv[sys.argv.index("--interval") + 1]) / 1000.0
for step in runs[min(k, len(runs) - 1)]:
    op = step[0]
    if op == "line":
        sys.stdout.write(step[1] + "\n"); sys.stdout.flush()
    elif op == "raw":
        sys.stdout.write(step[1]); sys.stdout.flush()
    elif op == "err":
        sys.stderr.write(step[1] + "\n"); sys.stderr.flush()
    elif op == "sleep":
        time.sleep(interval if step[1] == "interval" else step[1])
    elif op == "exit":
        sys.exit(step[1])
    elif op == "child":
        c = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(log + ".child", "a") as f:
            f.write(str(c.pid) + "\n")
    elif op == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif op == "forever":
        while True:
            time.sleep(1)
'''


def make_fake_tegrastats(tmp_path: Path, runs: list[list[tuple]]) -> Path:
    folder = tmp_path / "fake"
    folder.mkdir(exist_ok=True)
    (folder / "plan.json").write_text(json.dumps(runs))
    exe = folder / "tegrastats"
    exe.write_text(_SCRIPT.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


def starts(exe: Path) -> list[dict]:
    log = exe.parent / "starts.jsonl"
    if not log.exists():
        return []
    return [json.loads(x) for x in log.read_text().splitlines() if x.strip()]


def child_pids(exe: Path) -> list[int]:
    log = exe.parent / "starts.jsonl.child"
    if not log.exists():
        return []
    return [int(x) for x in log.read_text().split()]


def wait_for(predicate, timeout: float = 10.0, step: float = 0.02):
    """Poll until ``predicate()`` is truthy; return its value (or the last one on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def is_running(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill_quietly(pid: int) -> None:
    """Test clean-up for a grandchild the test itself caused (by its recorded pid)."""
    try:
        os.kill(pid, 9)
    except OSError:
        pass
