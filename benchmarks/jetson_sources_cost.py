#!/usr/bin/env python3
"""Cost of reading every Jetson source at 10 Hz, per emulated board and per source.

For each board, starts the emulated board (its physics and its tegrastats stand-in run
in their own processes, so they are not counted), builds exactly the sources a real
board gets, samples them at --hz for --seconds, and prints this process's CPU time
(sampler thread + tegrastats reader thread) as % of one core, plus microseconds per
read for each source. Target: under 1 % of one core.

    python benchmarks/jetson_sources_cost.py --seconds 20 [--boards nano,agx-orin]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgemon.emulate import BOARDS, EmulatedBoard           # noqa: E402 - after the sys.path line
from edgemon.platform.detect import detect                  # noqa: E402 - after the sys.path line
from edgemon.telemetry.base import SourceContext            # noqa: E402 - after the sys.path line
from edgemon.telemetry.registry import build_sources        # noqa: E402 - after the sys.path line
from edgemon.telemetry.sampler import Sampler               # noqa: E402 - after the sys.path line


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def measure(board: str, seconds: float, hz: float) -> tuple[float, dict[str, float], int, int]:
    with EmulatedBoard(board) as b:
        ctx = SourceContext(root=b.root, sample_hz=hz, executables=dict(b.executables))
        sources, _ = build_sources(ctx, detect(b.root))
        sources = [s for s in sources if s.name != "process"]  # not a Jetson source
        got = []
        sampler = Sampler(sources, hz, lambda s: got.append(len(s.values)))
        sampler.start()
        time.sleep(2.0)  # let tegrastats start and every source prime
        c0, t0, th0 = cpu_s(), time.monotonic(), sampler.stats().thread_cpu_ns
        time.sleep(seconds)
        c1, t1, th1 = cpu_s(), time.monotonic(), sampler.stats().thread_cpu_ns
        sampler.stop()
        thread_pct = 100.0 * (th1 - th0) / 1e9 / (t1 - t0)
        return 100.0 * (c1 - c0) / (t1 - t0), thread_pct, sampler.costs(), len(got), max(got or [0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--hz", type=float, default=10.0)
    ap.add_argument("--boards", default=",".join(BOARDS))
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, {args.hz:g} Hz, {args.seconds:g} s per board")
    for board in args.boards.split(","):
        pct, thread_pct, costs, ticks, metrics = measure(board, args.seconds, args.hz)
        per = "  ".join(f"{k} {v:.0f}us" for k, v in sorted(costs.items(), key=lambda kv: -kv[1]))
        print(f"{board:<10} {pct:5.2f} % of one core (sampler thread {thread_pct:.2f} %; {ticks} samples, "
              f"{metrics} metrics)  wall time per read: {per}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
