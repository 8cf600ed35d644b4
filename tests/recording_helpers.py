"""Helpers for tests/test_recording_*.py: a child process that records, and small builders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# A real recorder in a child process. Modes:
#   stream  FOLDER ROLL_S      hand one sample + one latency row to the recorder every ~10 ms
#                              forever, printing "row I T_NS" after each hand-over
#   batches FOLDER N           N synchronous flushes of 10 samples each, then die without close()
#   hold    FOLDER             write and flush 5 samples, print "ready", keep the session open
#                              until stdin closes, then close() normally
CHILD = r'''
import os, sys, time
from pathlib import Path
from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.recording.writer import Recorder

mode, folder = sys.argv[1], Path(sys.argv[2])
if mode == "stream":
    rec = Recorder(folder, {"host": "child"}, flush_s=0.2, roll_s=float(sys.argv[3])).open()
    print("open", flush=True)
    i = 0
    while True:
        t = time.monotonic_ns()
        rec.on_sample(Sample(t, {"i": float(i)}))
        rec.on_latency(LatencyBatch.from_lists([t], [i], [1]))
        if i % 50 == 0:
            rec.on_event(Event(t, "mark", {"i": i}))
        print(f"row {i} {t}", flush=True)
        i += 1
        time.sleep(0.01)
elif mode == "batches":
    rec = Recorder(folder, {"host": "child"}, flush_s=3600, roll_s=3600).open()
    n = int(sys.argv[3])
    for b in range(n):
        for k in range(10):
            rec.on_sample(Sample(1_000 + b * 10 + k, {"i": float(b * 10 + k)}))
        rec.flush()
    print("done", flush=True)
    os._exit(0)  # like a crash: no close(), no roll
elif mode == "hold":
    rec = Recorder(folder, {"host": "child"}, flush_s=3600, roll_s=3600).open()
    for k in range(5):
        rec.on_sample(Sample(1_000 + k, {"i": float(k)}))
    rec.flush()
    print("ready", flush=True)
    sys.stdin.read()
    rec.close({"reason": "stdin closed"})
    print("closed", flush=True)
'''


def child_env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def start_child(tmp_path: Path, *args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    script = tmp_path / "recording_child.py"
    script.write_text(CHILD)
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=str(tmp_path),
    )


def run_child(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    script = tmp_path / "recording_child.py"
    script.write_text(CHILD)
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, env=child_env(),
        cwd=str(tmp_path), timeout=timeout,
    )
