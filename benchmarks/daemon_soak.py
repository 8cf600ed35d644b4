"""Soak a detached session: does the session process's memory stay flat over a long run?

Starts `edgemon run --detach` (10 Hz telemetry, the fast default numpy model; the
recorder rolls a segment every 5 minutes), optionally keeps a client attached that drains at
4 Hz like the dashboard, samples the session process's RSS every --every seconds, then
stops the session and prints the samples and the least-squares slope in MB/hour.

    .venv/bin/python benchmarks/daemon_soak.py                 # 10 minutes
    .venv/bin/python benchmarks/daemon_soak.py --minutes 60 --attach
    .venv/bin/python benchmarks/daemon_soak.py --minutes 2 --every 5 --no-attach
    .venv/bin/python benchmarks/daemon_soak.py --minutes 60 --headless --no-attach

A flat session shows a slope near 0 after the first minutes (history ring and queues
fill up to their bounds within ~2 minutes, so judge the slope after --warmup-minutes).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def slope_mb_per_hour(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(m for _, m in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return float("nan")
    cov = sum((t - mx) * (m - my) for t, m in points)
    return cov / var * 3600.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--every", type=float, default=10.0, help="RSS sample period in seconds (default 10)")
    ap.add_argument("--warmup-minutes", type=float, default=2.0, help="left out of the slope (default 2)")
    ap.add_argument("--attach", dest="attach", action="store_true", default=True,
                    help="keep a client attached, draining at 4 Hz (default)")
    ap.add_argument("--no-attach", dest="attach", action="store_false")
    ap.add_argument("--headless", action="store_true",
                    help="soak a headless session (`run --headless --detach`: status lines to session.log)")
    ap.add_argument("--model", default="mnist_1d")
    ap.add_argument("--keep", action="store_true", help="keep the recording folder")
    args = ap.parse_args()

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    sys.path.insert(0, str(REPO))
    work = Path(tempfile.mkdtemp(prefix="edgemon-soak-"))
    rec = work / "rec"
    duration_s = int(args.minutes * 60 + 120)   # stopped explicitly at the end
    mode = ["--headless"] if args.headless else []
    p = subprocess.run([sys.executable, "-m", "edgemon", "run", *mode, "--detach", "--record", str(rec),
                        "--duration", f"{duration_s}s", "--sample-hz", "10", "--model", args.model],
                       env=env, capture_output=True, text=True, cwd=work)
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        return 1
    pid = int(re.search(r"\(pid (\d+)\)", p.stdout).group(1))
    print(f"session pid {pid}, recording {rec}, {args.minutes:g} min, client attached: {args.attach}")

    stop_client = threading.Event()
    received = {"rows": 0, "samples": 0}

    def client() -> None:
        from edgemon.feeds.remote import open_remote

        feed = open_remote(rec)
        while not stop_client.wait(0.25):
            up = feed.drain()
            received["rows"] += sum(len(b) for b in up.latency)
            received["samples"] += len(up.samples)
            feed.status()
            feed.machine_state()
        feed.close()

    t = None
    if args.attach:
        t = threading.Thread(target=client, daemon=True)
        t.start()

    points: list[tuple[float, float]] = []
    t0 = time.monotonic()
    end = t0 + args.minutes * 60
    try:
        while time.monotonic() < end:
            mb = rss_mb(pid)
            if mb is None:
                print("the session process is gone", file=sys.stderr)
                return 1
            elapsed = time.monotonic() - t0
            points.append((elapsed, mb))
            print(f"{elapsed:7.0f} s  rss {mb:8.1f} MB  client rows {received['rows']:>10,}", flush=True)
            time.sleep(max(0.0, min(args.every, end - time.monotonic())))
    finally:
        stop_client.set()
        if t is not None:
            t.join(5)
        subprocess.run([sys.executable, "-m", "edgemon", "stop", str(rec)], env=env, cwd=work)
    steady = [(s, m) for s, m in points if s >= args.warmup_minutes * 60]
    print(f"RSS first {points[0][1]:.1f} MB, max {max(m for _, m in points):.1f} MB, last {points[-1][1]:.1f} MB")
    print(f"slope (all samples)          {slope_mb_per_hour(points):+.2f} MB/hour")
    print(f"slope (after {args.warmup_minutes:g} min warm-up)  {slope_mb_per_hour(steady):+.2f} MB/hour")
    segments = len(list(rec.glob("*/part-*.parquet")))
    size = sum(f.stat().st_size for f in rec.rglob("*") if f.is_file())
    print(f"recording: {segments} Parquet segments, {size / 1e6:.1f} MB in {rec}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
