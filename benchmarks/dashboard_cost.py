"""What the dashboard costs: process CPU (% of one core) while it shows a busy session.

The feed produces 10 Hz samples and 1000 latency rows/s (FakeFeed, real time).

  .venv/bin/python benchmarks/dashboard_cost.py                 # headless (App.run_test), 20 s
  .venv/bin/python benchmarks/dashboard_cost.py --pty --seconds 30 --size 200x60
  .venv/bin/python benchmarks/dashboard_cost.py --redraw-hz 2 --ascii

Headless mode renders into Textual's headless driver (layout, compositor, no
terminal output) and reports the feed's own data generation separately, since a
real feed does not generate data. ``--pty`` runs ``python -m edgemon.tui``
in a pseudo-terminal of the given size, reads everything it writes (the bytes a
terminal or SSH link would carry) and reports that process's CPU, feed included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def headless(args) -> None:
    from edgemon.tui.app import DashboardApp
    from edgemon.feeds.demo import FakeFeed

    feed = FakeFeed(args.scenario, seconds=0.0, realtime=True, rows_per_s=args.rows, duration_s=None)
    feed_cpu = [0.0]
    drain = feed.drain

    def timed_drain():
        t = time.process_time()
        try:
            return drain()
        finally:
            feed_cpu[0] += time.process_time() - t

    feed.drain = timed_drain
    app = DashboardApp(feed, ascii=args.ascii, redraw_hz=args.redraw_hz)

    async def run() -> tuple[float, float]:
        async with app.run_test(size=args.size) as pilot:
            await pilot.pause(1.0)                  # start-up and first layout are not steady state
            feed_cpu[0] = 0.0
            polls0 = app.polls
            cpu0, wall0 = time.process_time(), time.monotonic()
            await asyncio.sleep(args.seconds)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            print(f"polls: {app.polls - polls0} in {wall:.1f} s ({(app.polls - polls0) / wall:.2f} Hz)")
            print(f"iterations shown: {app.model.iterations:,}; samples: {app.model.samples_seen:,}")
            return cpu, wall

    cpu, wall = asyncio.run(run())
    print(f"process CPU: {100 * cpu / wall:.1f} % of one core "
          f"(feed data generation {100 * feed_cpu[0] / wall:.1f} %, "
          f"dashboard {100 * (cpu - feed_cpu[0]) / wall:.1f} %)")


def in_pty(args) -> None:
    import fcntl
    import pty
    import select
    import struct
    import termios

    import psutil

    cmd = [sys.executable, "-m", "edgemon.tui", args.scenario, f"--rows={args.rows:g}"]
    if args.ascii:
        cmd.append("--ascii")
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.environ["TERM"] = "xterm-256color"
        os.execv(sys.executable, cmd)
    cols, rows = args.size
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = psutil.Process(pid)
    total = 0

    def pump(seconds: float) -> int:
        n = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    n += len(os.read(fd, 65536))
                except OSError:
                    break
        return n

    pump(3.0)                                   # start-up
    t0 = proc.cpu_times()
    wall0 = time.monotonic()
    total = pump(args.seconds)
    wall = time.monotonic() - wall0
    t1 = proc.cpu_times()
    cpu = (t1.user - t0.user) + (t1.system - t0.system)
    os.write(fd, b"q")
    pump(1.0)
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    print(f"terminal output: {total / wall / 1024:.1f} KiB/s")
    print(f"process CPU (dashboard + FakeFeed data generation): {100 * cpu / wall:.1f} % of one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scenario", default="jetson", choices=["linux", "jetson", "replay"])
    parser.add_argument("--rows", type=float, default=1000.0, help="latency rows per second")
    parser.add_argument("--size", default="80x24", help="terminal COLSxROWS")
    parser.add_argument("--redraw-hz", type=float, default=4.0, help="headless mode only")
    parser.add_argument("--ascii", action="store_true")
    parser.add_argument("--pty", action="store_true", help="run the demo in a pseudo-terminal")
    args = parser.parse_args()
    cols, rows = (int(x) for x in args.size.lower().split("x"))
    args.size = (cols, rows)
    print(f"{'pty' if args.pty else 'headless'} {args.scenario} {cols}x{rows}, {args.rows:g} latency rows/s, "
          f"10 Hz samples, {args.seconds:g} s")
    (in_pty if args.pty else headless)(args)


if __name__ == "__main__":
    main()
