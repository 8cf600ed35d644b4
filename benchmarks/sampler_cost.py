"""How much the sampler costs: its thread's CPU % of one core and each source's read cost.

    .venv/bin/python benchmarks/sampler_cost.py --seconds 10 --hz 10 [--root /]

Builds the sources this machine (or a fixture/emulated tree under --root) offers,
samples them for N seconds with a sink that drops the samples, then prints the
sampler thread's CPU time as % of one core, ticks, overruns and microseconds per
read for each source. For scale, in the same run: a thread that only sleeps at the same
rate (what each wake-up costs before any work), and the CPU of one read of /proc/stat right
after such a sleep against the same read repeated at once (what a cache that went cold while
the workload ran costs).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgemon.platform.detect import detect                  # noqa: E402 - after the sys.path line
from edgemon.telemetry.base import SourceContext            # noqa: E402 - after the sys.path line
from edgemon.telemetry.registry import build_sources        # noqa: E402 - after the sys.path line
from edgemon.telemetry.sampler import Sampler               # noqa: E402 - after the sys.path line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--hz", type=float, default=10.0)
    ap.add_argument("--root", type=Path, default=Path("/"))
    args = ap.parse_args(argv)

    ctx = SourceContext(root=args.root, sample_hz=args.hz)
    platform = detect(args.root)
    sources, statuses = build_sources(ctx, platform)
    keys: set[str] = set()
    sampler = Sampler(sources, args.hz, lambda s: keys.update(s.values))
    print(f"platform: {platform.kind} {platform.model or ''} ({platform.cpu_count} cores), root {args.root}")
    for st in statuses:
        print(f"  {'ok' if st.available else '--'} {st.name}: {st.detail if st.available else st.reason}")
    print(f"sampling {len(sources)} sources at {args.hz:g} Hz for {args.seconds:g} s ...")

    proc0 = time.process_time()
    sleeper = _Sleeper(args.hz)
    sampler.start()
    time.sleep(args.seconds)
    sampler.stop()
    sleeper.stop()
    proc_cpu = time.process_time() - proc0 - sleeper.cpu_ns / 1e9

    stats = sampler.stats()
    elapsed_s = stats.elapsed_ns / 1e9
    print(f"ticks {stats.ticks} ({stats.ticks / elapsed_s:.2f}/s), overruns {stats.overruns}, "
          f"{len(keys)} metrics")
    print(f"sampler thread CPU: {100 * stats.thread_cpu_ns / stats.elapsed_ns:.3f} % of one core "
          f"({stats.thread_cpu_ns / max(stats.ticks, 1) / 1000:.0f} us per tick)")
    print(f"whole process CPU:  {100 * proc_cpu / elapsed_s:.3f} % of one core")
    print("read cost per source (us, exponential average):")
    for name, us in sampler.costs().items():
        print(f"  {name:<20} {us:10.1f}")
    print("for scale, same run:")
    print(f"  a thread that only sleeps at {args.hz:g} Hz: {100 * sleeper.cpu_ns / sleeper.elapsed_ns:.3f} % of one core "
          f"({sleeper.cpu_ns / max(sleeper.wakes, 1) / 1000:.0f} us per wake-up)")
    cold, hot = cold_and_hot_read("/proc/stat", 1.0 / args.hz)
    print(f"  one read of /proc/stat: {cold:.1f} us after a {1000 / args.hz:g} ms sleep, {hot:.1f} us repeated at once")
    return 0


class _Sleeper:
    """A thread that wakes at ``hz`` and does nothing: the floor under any sampler at that rate."""

    def __init__(self, hz: float):
        self.period = 1.0 / hz
        self.cpu_ns = self.elapsed_ns = self.wakes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sleeper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        t0, c0 = time.monotonic_ns(), time.thread_time_ns()
        while not self._stop.is_set():
            time.sleep(self.period)
            self.wakes += 1
            self.cpu_ns, self.elapsed_ns = time.thread_time_ns() - c0, time.monotonic_ns() - t0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def cold_and_hot_read(path: str, pause_s: float, reads: int = 30) -> tuple[float, float]:
    """Thread CPU (us, median) of one read of ``path`` after ``pause_s`` of sleep, and of the
    same read repeated at once."""
    fd = os.open(path, os.O_RDONLY)
    try:
        cold, hot = [], []
        for _ in range(reads):
            time.sleep(pause_s)
            t = time.thread_time_ns()
            os.pread(fd, 1 << 16, 0)
            t1 = time.thread_time_ns()
            os.pread(fd, 1 << 16, 0)
            cold.append(t1 - t)
            hot.append(time.thread_time_ns() - t1)
    finally:
        os.close(fd)
    return sorted(cold)[reads // 2] / 1000, sorted(hot)[reads // 2] / 1000


if __name__ == "__main__":
    raise SystemExit(main())
