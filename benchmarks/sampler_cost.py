"""How much the sampler costs: its thread's CPU % of one core and each source's read cost.

    .venv/bin/python benchmarks/sampler_cost.py --seconds 10 --hz 10 [--root /]

Builds the sources this machine (or a fixture/emulated tree under --root) offers,
samples them for N seconds with a sink that drops the samples, then prints the
sampler thread's CPU time as % of one core, ticks, overruns and microseconds per
read for each source.
"""

from __future__ import annotations

import argparse
import sys
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
    sampler.start()
    time.sleep(args.seconds)
    sampler.stop()
    proc_cpu = time.process_time() - proc0

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
