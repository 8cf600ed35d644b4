"""`edgemon run --headless` as a process the fidelity benchmarks can start, pause, stop and read back."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import _abtest as ab

EDGEMON = [sys.executable, "-m", "edgemon"]


def monitor_cmd(hz: float, record: Path, *workload: str) -> list[str]:
    """A headless session that runs until stopped, recording to ``record``."""
    return [*EDGEMON, "run", "--headless", "--sample-hz", str(hz), "--record", str(record),
            "--status-every", "1h", "--duration", "24h", *workload]


def idle_workload() -> list[str]:
    """The monitor's own workload when it runs beside another: one cheap numpy call per second."""
    return ["--runner", "numpy", "--model", "mnist_1d", "--opt", "sleep_ms=1000"]


def start_monitor(cmd: list[str], cwd: Path, settle_s: float) -> subprocess.Popen:
    """Start it in its own process group (so a turn can stop it whole) and let it settle."""
    mon = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    time.sleep(settle_s)
    if mon.poll() is not None:
        raise SystemExit(f"edgemon run failed to start:\n{mon.stderr.read()}")
    return mon


def worker_groups(mon: subprocess.Popen) -> list[int]:
    """The session's runners: each leads its own process group."""
    import psutil

    return [c.pid for c in psutil.Process(mon.pid).children()]


def stop_monitor(mon: subprocess.Popen, *groups: int) -> None:
    ab.resume([mon.pid, *groups], group=True)
    mon.send_signal(signal.SIGINT)
    try:
        mon.wait(60)
    except subprocess.TimeoutExpired:
        mon.kill()


def recorded_iterations(record: Path) -> ab.Iterations:
    """The measured (not warm-up) iterations of a recording."""
    from edgemon.recording.reader import open_recording

    lat = open_recording(record).latency()
    keep = ~np.asarray(lat.column("warmup").to_numpy(zero_copy_only=False), dtype=bool)
    t_end = lat.column("t_end_ns").to_numpy()[keep]
    dur = lat.column("duration_ns").to_numpy()[keep]
    return ab.Iterations.of(t_end - dur, t_end, lat.column("items").to_numpy()[keep])


def session_on_off(cmd: list[str], record: Path, cwd: Path, settle_s: float, a, log) -> ab.Comparison:
    """``edgemon run`` with its runner going throughout while its session process takes turns
    being stopped and running; the runner's iterations read back from the recording. ``a`` has
    the benchmark's cycles, slice and guard."""
    mon = start_monitor(cmd, cwd, settle_s)
    with ab.resumed_on_exit([mon.pid]):  # the session process only; its runner leads its own group
        sched = ab.take_turns(ab.toggled("session", [mon.pid]), a.cycles, a.slice, log)
    stop_monitor(mon)
    return ab.compare_on_off("3. edgemon run: its runner with the session process running vs stopped",
                             recorded_iterations(record), sched, "session", a.guard)
