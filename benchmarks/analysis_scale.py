"""Does the analysis scale to a 3-hour stress session? Times `analyze`, ReplayFeed open and seek.

    .venv/bin/python benchmarks/analysis_scale.py [--hours 3] [--rate 1000] [--hz 10] [--metrics 40]
                                                  [--dir DIR] [--keep]

Writes a recording with the Recorder's layout (session.json + Parquet segments of 300 s,
the schemas of ``edgemon.recording.segments.stream_schema``, zstd) directly with pyarrow:
3 h x 16,000 inferences/s (``--rate``; the default model's rate on a 2-core x86 VM) = 173 million
latency rows, 3 h x 10 Hz = 108,000 telemetry rows
of ``--metrics`` columns, with thermal throttling, a power-mode change, a slowdown and two
latency levels in it so every analysis has work to do. Then, each in a fresh process so
one's memory does not count against the other:

* ``open_recording`` + ``analyze``: wall time and peak RSS (``ru_maxrss``), plus the
  numpy peak seen by tracemalloc and the Arrow pool's peak (Arrow memory is not traced);
* ``ReplayFeed(recording)``: wall time to open; then a seek to the middle + the drain that
  refills the dashboard (120 s of history: ~1200 samples, ~120,000 latency rows).

Targets: analyze < 500 MB peak RSS (memory must not grow with the rows); replay open < 2 s;
seek < 200 ms. ``benchmarks/real_rate.py`` is the benchmark the README quotes: the same at the
measured rate with edgemon's own Recorder, against DuckDB in the same run. (An earlier default
of 1,000 rows/s hid that memory grew with the number of rows.)
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

SEGMENT_S = 300


def _metric_names(n: int) -> list[str]:
    base = [f"cpu{i}_freq_mhz" for i in range(6)] + [f"cpu{i}_util_pct" for i in range(6)] + [
        "cpu_util_pct", "gpu_freq_mhz", "gpu_util_pct", "emc_freq_mhz", "emc_util_pct", "temp_cpu_c", "temp_gpu_c",
        "temp_soc0_c", "temp_soc1_c", "temp_tj_c", "power_total_mw", "power_vdd_in_mw", "power_vdd_cpu_gpu_cv_mw",
        "power_vdd_soc_mw", "ram_used_mb", "ram_total_mb", "swap_used_mb", "swap_total_mb", "fan0_pwm_pct",
        "fan0_rpm", "load1", "proc_monitor_cpu_pct", "proc_worker_cpu_pct", "proc_worker_rss_mb"]
    names = base[:n]
    while len(names) < n:
        names.append(f"extra{len(names)}_value")
    return names


def generate(folder: Path, hours: float, rate: int, hz: float, n_metrics: int) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from edgemon.recording.segments import stream_schema

    rng = np.random.default_rng(1)
    S = 1_000_000_000
    t0 = 10 * S
    total_s = hours * 3600.0
    for k in ("telemetry", "latency", "events"):
        (folder / k).mkdir(parents=True, exist_ok=True)
    names = _metric_names(n_metrics)
    n_seg = int(np.ceil(total_s / SEGMENT_S))
    throttled = lambda ts: (np.sin(ts / 900.0) > 0.6)  # noqa: E731 - ~20 % of the time, in long episodes
    rows_lat = rows_tel = 0
    for seg in range(n_seg):
        a_s, b_s = seg * SEGMENT_S, min(total_s, (seg + 1) * SEGMENT_S)
        # telemetry
        ts = np.arange(a_s, b_s, 1.0 / hz)
        thr = throttled(ts)
        cols = {"t_ns": pa.array((t0 + ts * S).astype(np.int64), pa.int64())}
        for name in names:
            if name.endswith("_freq_mhz"):
                top = {"gpu_freq_mhz": 921.6, "emc_freq_mhz": 1600.0}.get(name, 1479.0)
                v = np.where(thr, top * 0.7, top)
            elif name.startswith("temp_"):
                v = np.where(thr, 97.5, 70.0) + rng.normal(0, 0.3, ts.shape)
            elif name.startswith("power_"):
                v = 5000.0 + rng.normal(0, 50, ts.shape)
            elif name.endswith("_pct"):
                v = 90.0 + rng.normal(0, 2, ts.shape)
            else:
                v = 1000.0 + rng.normal(0, 1, ts.shape)
            cols[name] = pa.array(v, pa.float64())
        table = pa.table(cols, schema=stream_schema("telemetry", names))
        pq.write_table(table, str(folder / "telemetry" / f"part-{seg:05d}.parquet"), compression="zstd",
                       row_group_size=max(1, min(table.num_rows, 1 << 20)))
        rows_tel += table.num_rows
        # latency: back to back at `rate`/s; two levels (70/30) and 20 % slower after 2/3 of the run
        n = int(round((b_s - a_s) * rate))
        t_end = t0 + ((a_s + (np.arange(n) + 1) / rate) * S).astype(np.int64)
        base = np.where(rng.random(n) < 0.7, 0.8e6, 0.95e6)
        slow = np.where((t_end - t0) / S > total_s * 2 / 3, 1.2, 1.0)
        dur = (base * slow * rng.lognormal(0, 0.02, n)).astype(np.int64)
        table = pa.table({"t_end_ns": pa.array(t_end), "duration_ns": pa.array(dur),
                          "items": pa.array(np.ones(n, np.int32)), "warmup": pa.array(np.zeros(n, bool))},
                         schema=stream_schema("latency"))
        pq.write_table(table, str(folder / "latency" / f"part-{seg:05d}.parquet"), compression="zstd",
                       row_group_size=max(1, min(table.num_rows, 1 << 20)))
        rows_lat += n
    ceilings = {f"cpu{i}_freq_mhz": 1479 for i in range(6)} | {"gpu_freq_mhz": 921.6, "emc_freq_mhz": 1600}
    ev_t = [t0 + int(x * S) for x in (1.0, total_s / 2, total_s - 1.0)]
    ev = pa.table({"t_ns": pa.array(ev_t, pa.int64()),
                   "kind": ["session_start", "power_mode", "mark"],
                   "details": [json.dumps({}), json.dumps({"to_id": 0, "name": "MAXN", "ok": True, "ceilings": ceilings}),
                               json.dumps({"note": "end"})]}, schema=stream_schema("events"))
    pq.write_table(ev, str(folder / "events" / "part-00000.parquet"), compression="zstd")
    meta = {"schema_version": 1, "host": "bench", "state": "ended", "edgemon_version": "bench",
            "clock": {"monotonic_ns": t0, "unix_ns": 1_700_000_000 * S, "wall_time": "2023-11-14T22:13:20.000Z"},
            "ended_monotonic_ns": t0 + int(total_s * S),
            "workload": {"runner": "synthetic", "model": "bench", "batch": 1},
            "clock_ceilings": ceilings,
            "trip_points": {"temp_cpu_c": 99.0}, "idle_baseline_mw": 1000}
    (folder / "session.json").write_text(json.dumps(meta, indent=2))
    return {"latency_rows": rows_lat, "telemetry_rows": rows_tel, "metrics": len(names), "segments": n_seg}


CHILD_ANALYZE = r"""
import json, resource, sys, time, tracemalloc
sys.path.insert(0, sys.argv[2])
trace = sys.argv[3] == "1"
if trace:
    tracemalloc.start()
t = time.perf_counter()
import pyarrow as pa
from edgemon.recording.reader import open_recording
from edgemon.analysis.summary import analyze
rec = open_recording(sys.argv[1])
r = analyze(rec)
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
out = {"wall_s": wall, "cpu_user_s": ru.ru_utime, "cpu_sys_s": ru.ru_stime, "maxrss_mb": ru.ru_maxrss / 1024,
       "arrow_pool_peak_mb": pa.default_memory_pool().max_memory() / 2**20,
       "count": r["latency_ms"]["count"], "episodes": r["throttling"]["episode_count"],
       "levels": r["levels"]["count"], "change_points": len(r["change_points"]["points"]),
       "mj_per_item": r["energy"]["mj_per_item"], "problems": r["problems"]}
if trace:
    out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
print(json.dumps(out))
"""

CHILD_REPLAY = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
t = time.perf_counter()
from edgemon.recording.reader import open_recording
from edgemon.feeds.replay import ReplayFeed
rec = open_recording(sys.argv[1])
feed = ReplayFeed(rec, playing=False, analyze=False)
open_s = time.perf_counter() - t          # first frame: latency rows still loading in the background
feed.wait_loaded()
loaded_s = time.perf_counter() - t        # every latency row ready for seeks
seeks = []
for to in (feed.length_s / 2, feed.length_s * 0.9, 60.0):
    t = time.perf_counter()
    feed.command("seek", to=to)
    up = feed.drain()
    seeks.append({"to_s": to, "ms": (time.perf_counter() - t) * 1000, "samples": len(up.samples),
                  "latency_rows": sum(len(b) for b in up.latency)})
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"open_s": open_s, "loaded_s": loaded_s, "seeks": seeks, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--rate", type=int, default=16000, help="inferences per second (default: 16000)")
    ap.add_argument("--hz", type=float, default=10.0, help="telemetry samples per second")
    ap.add_argument("--metrics", type=int, default=40)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the recording (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the recording")
    args = ap.parse_args(argv)

    base = args.dir or Path(tempfile.mkdtemp(prefix="edgemon-scale-"))
    folder = base / "session"
    if folder.exists():
        shutil.rmtree(folder)
    t = time.perf_counter()
    info = generate(folder, args.hours, args.rate, args.hz, args.metrics)
    gen_s = time.perf_counter() - t
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before the runs "
          "(a busy machine inflates every time below)")
    print(f"recording: {folder}")
    print(f"  {info['latency_rows']:,} latency rows, {info['telemetry_rows']:,} telemetry rows x "
          f"{info['metrics']} metrics, {info['segments']} segments per stream; written in {gen_s:.1f} s")
    print(f"  size on disk {size / 2**20:.1f} MiB "
          + ", ".join(f"{k} {sum(p.stat().st_size for p in (folder / k).glob('*')) / 2**20:.1f} MiB"
                      for k in ("latency", "telemetry", "events")))
    try:
        a = _child(CHILD_ANALYZE, str(folder), str(REPO), "0")
        print(f"analyze: {a['wall_s']:.2f} s wall (target < 10 s; CPU {a['cpu_user_s']:.2f} s user + "
              f"{a['cpu_sys_s']:.2f} s sys, imports and reading included), peak RSS {a['maxrss_mb']:.0f} MB "
              f"(target < 1536 MB), Arrow pool peak {a['arrow_pool_peak_mb']:.0f} MB")
        print(f"  {a['count']:,} iterations, {a['episodes']} throttling episodes, {a['levels']} latency levels, "
              f"{a['change_points']} change points, {a['mj_per_item']:.3f} mJ/item; problems: {a['problems']}")
        tr = _child(CHILD_ANALYZE, str(folder), str(REPO), "1")
        print(f"  with tracemalloc: numpy/Python peak {tr['tracemalloc_peak_mb']:.0f} MB "
              f"(wall {tr['wall_s']:.2f} s under tracing)")
        r = _child(CHILD_REPLAY, str(folder), str(REPO))
        print(f"replay: first frame {r['open_s']:.2f} s, all latency rows {r['loaded_s']:.2f} s wall "
              f"(target < 2 s; CPU {r['cpu_s']:.2f} s incl. the seeks), "
              f"peak RSS {r['maxrss_mb']:.0f} MB")
        for s in r["seeks"]:
            print(f"  seek to {s['to_s']:.0f} s + drain: {s['ms']:.1f} ms (target < 200 ms); "
                  f"{s['samples']} samples, {s['latency_rows']:,} latency rows of history")
        print(f"load average after the runs {os.getloadavg()[0]:.1f}")
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
