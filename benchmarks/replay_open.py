"""How fast does `edgemon replay` open a long session, and what does the background work cost?

    .venv/bin/python benchmarks/replay_open.py [--hours 3] [--dir DIR] [--keep] [--reuse]

Writes the same synthetic recording as ``benchmarks/analysis_scale.py`` (3 h x 16,000
inferences/s, 10 Hz telemetry of 40 metrics; ``--reuse`` keeps an existing one in ``--dir``),
then, each in a fresh process so caches and memory do not carry over:

* ``ReplayFeed`` as the CLI opens it (the latency is read on demand by time, the analysis
  runs on a background thread): time to the first drain (the first frame), time until the
  analysis (timeline, ``a`` screen) is ready, then three seeks + the drain that refills the
  dashboard (120 s of history, at most 500,000 latency rows), CPU and peak RSS;
* the same with ``analyze=False``.

``benchmarks/real_rate.py`` runs the same replay measurements at the measured rate, beside
analyze, report and DuckDB.

Targets: first frame < 2 s; seek + drain < 200 ms. Times include imports. A loaded machine
inflates every number; the script prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
mode = sys.argv[3]
t0 = time.perf_counter()
from edgemon.recording.reader import open_recording
from edgemon.feeds.replay import ReplayFeed
kw = {} if mode == "background" else {"background": False, "analyze": False}
feed = ReplayFeed(open_recording(sys.argv[1]), playing=False, **kw)
first = feed.drain()
out = {"first_frame_s": time.perf_counter() - t0, "first_samples": len(first.samples)}
while not feed.latency_loaded:
    time.sleep(0.005)
out["latency_s"] = time.perf_counter() - t0
seeks = []
for to in (feed.length_s / 2, feed.length_s * 0.9, 60.0):
    t = time.perf_counter()
    feed.command("seek", to=to)
    up = feed.drain()
    seeks.append({"to_s": to, "ms": (time.perf_counter() - t) * 1000, "samples": len(up.samples),
                  "latency_rows": sum(len(b) for b in up.latency)})
out["seeks"] = seeks
if mode == "background":
    feed.wait_loaded()
    out["analysis_s"] = time.perf_counter() - t0
    out["analysis_state"] = feed.analysis_state
    tl = feed.timeline()
    out["episodes"] = len(tl.episodes)
    out["marks"] = len(tl.marks)
ru = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_s"] = ru.ru_utime + ru.ru_stime
out["maxrss_mb"] = ru.ru_maxrss / 1024
print(json.dumps(out))
"""


def _child(folder: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(REPO), mode], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--rate", type=int, default=16000, help="inferences per second (default: 16000)")
    ap.add_argument("--dir", type=Path, default=None, help="where the recording goes (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the recording")
    ap.add_argument("--reuse", action="store_true", help="use the recording already in --dir")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)

    sys.path.insert(0, str(REPO / "benchmarks"))
    from analysis_scale import generate

    base = args.dir or Path(tempfile.mkdtemp(prefix="edgemon-replay-"))
    folder = base / "session"
    if not (args.reuse and (folder / "session.json").exists()):
        if folder.exists():
            shutil.rmtree(folder)
        t = time.perf_counter()
        info = generate(folder, args.hours, args.rate, 10.0, 40)
        print(f"recording: {info['latency_rows']:,} latency rows, {info['telemetry_rows']:,} telemetry rows, "
              f"{info['segments']} segments; written in {time.perf_counter() - t:.1f} s")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    try:
        for r in range(args.rounds):
            for mode in ("background", "at-once"):
                res = _child(folder, mode)
                line = (f"[{r + 1}] {mode:<10} first frame {res['first_frame_s']:.2f} s, latency in "
                        f"{res['latency_s']:.2f} s")
                if "analysis_s" in res:
                    line += (f", analysis {res['analysis_state']} in {res['analysis_s']:.2f} s "
                             f"({res['episodes']} episodes, {res['marks']} marks)")
                line += f"; CPU {res['cpu_s']:.2f} s, peak RSS {res['maxrss_mb']:.0f} MB"
                print(line)
                print("      seeks + drain: " + ", ".join(f"{s['ms']:.1f} ms ({s['latency_rows']:,} rows)"
                                                        for s in res["seeks"]))
        print(f"load average after {os.getloadavg()[0]:.1f}")
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
