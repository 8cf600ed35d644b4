#!/usr/bin/env python3
"""What edgemon's monitor costs while it measures, next to glances in the same run.

Runs, one after another on this machine, each for --seconds:
  1. `edgemon run --headless` (sampling at --hz, recording on) -> CPU % of one core of the
     monitor process only (the worker is its child and is excluded);
  2. `edgemon run` with the dashboard in a pseudo-terminal of --size: the dashboard process
     and the session process it attaches to (sampler + recorder + socket), each alone;
  3. `glances --stdout ...` at the same rate, if glances is installed (pip install glances);
and measures `edgemon --help` start-up time (best of 10).
Memory: the monitor's RSS at start and end of each run (for a long soak, pass --seconds 3600).

    python benchmarks/monitor_cost.py --seconds 60
"""

from __future__ import annotations

import argparse
import os
import pty
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import fcntl

import psutil

EDGEMON = [sys.executable, "-m", "edgemon"]


def measure(proc: psutil.Process, seconds: float, settle: float = 5.0) -> dict:
    """CPU % of one core of `proc` alone (not its children) over [settle, settle+seconds]."""
    time.sleep(settle)
    t0, c0 = time.monotonic(), proc.cpu_times()
    rss0 = proc.memory_info().rss
    rss_max = rss0
    end = t0 + seconds
    while time.monotonic() < end:
        time.sleep(min(1.0, end - time.monotonic()))
        try:
            rss_max = max(rss_max, proc.memory_info().rss)
        except psutil.Error:
            break
    t1, c1 = time.monotonic(), proc.cpu_times()
    busy = (c1.user - c0.user) + (c1.system - c0.system)
    return {
        "cpu_pct": 100.0 * busy / (t1 - t0),
        "rss_start_mb": rss0 / 2**20,
        "rss_end_mb": proc.memory_info().rss / 2**20,
        "rss_max_mb": rss_max / 2**20,
    }


def stop(p: subprocess.Popen | int, pid: int | None = None) -> None:
    pid = pid or p.pid
    try:
        os.kill(pid, 2)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, 9)
    if isinstance(p, subprocess.Popen):
        p.wait()


def run_headless(args, rec_dir) -> dict:
    p = subprocess.Popen([*EDGEMON, "run", "--headless", "--sample-hz", str(args.hz), "--record", rec_dir,
                          "--status-every", "10s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return measure(psutil.Process(p.pid), args.seconds)
    finally:
        stop(p)


def run_dashboard(args, rec_dir) -> dict:
    cols, rows = (int(x) for x in args.size.split("x"))
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.execvp(sys.executable, [*EDGEMON, "run", "--sample-hz", str(args.hz), "--record", rec_dir])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    received = [0]

    def drain():  # a terminal that reads everything, as fast as a local one
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            received[0] += len(data)

    threading.Thread(target=drain, daemon=True).start()
    try:
        dash = psutil.Process(pid)
        session = None
        deadline = time.monotonic() + 30
        while session is None and time.monotonic() < deadline:  # the detached session process
            session = next((c for c in dash.children(recursive=True)
                            if "edgemon.daemon.process" in " ".join(c.cmdline())), None)
            time.sleep(0.2)
        t0 = time.monotonic()
        results: dict = {}
        threads = [threading.Thread(target=lambda: results.__setitem__("dash", measure(dash, args.seconds)))]
        if session is not None:
            threads.append(threading.Thread(
                target=lambda: results.__setitem__("session", measure(session, args.seconds))))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        res = results["dash"]
        res["terminal_kib_per_s"] = received[0] / 1024 / (time.monotonic() - t0)
        return res, results.get("session")
    finally:
        try:
            os.write(fd, b"q")
            time.sleep(1)
            os.write(fd, b"s")  # the quit dialog: stop the session (d would detach)
        except OSError:
            pass
        time.sleep(3)
        stop(pid, pid)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def run_glances(args) -> dict | None:
    exe = shutil.which("glances")
    if not exe:
        return None
    p = subprocess.Popen([exe, "--stdout", "cpu.total,mem.used,load", "-t", str(1.0 / args.hz)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return measure(psutil.Process(p.pid), args.seconds)
    finally:
        stop(p)


def help_time() -> float:
    best = float("inf")
    for _ in range(10):
        t = time.perf_counter()
        subprocess.run([*EDGEMON, "--help"], stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--hz", type=float, default=10)
    ap.add_argument("--size", default="120x40", help="dashboard terminal COLSxROWS")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}; {args.seconds:.0f} s per run, {args.hz:g} Hz")
    with tempfile.TemporaryDirectory() as tmp:
        dash, session = run_dashboard(args, os.path.join(tmp, "d"))
        rows = [("edgemon headless", run_headless(args, os.path.join(tmp, "h"))),
                (f"edgemon dashboard {args.size}", dash),
                ("  its session process", session),
                ("glances --stdout", run_glances(args))]
    print(f"{'process':<28} {'CPU % of 1 core':>16} {'RSS start':>10} {'RSS end':>9} {'RSS max':>9}")
    for name, r in rows:
        if r is None:
            print(f"{name:<28} {'not measured (glances: pip install glances)':>16}")
            continue
        extra = f"   terminal output {r['terminal_kib_per_s']:.1f} KiB/s" if "terminal_kib_per_s" in r else ""
        print(f"{name:<28} {r['cpu_pct']:16.2f} {r['rss_start_mb']:9.1f}M {r['rss_end_mb']:8.1f}M "
              f"{r['rss_max_mb']:8.1f}M{extra}")
    print(f"`edgemon --help`: {help_time() * 1000:.0f} ms (best of 10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
