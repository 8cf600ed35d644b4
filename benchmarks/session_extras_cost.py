#!/usr/bin/env python3
"""What the session process pays for throttling live and for attach-ready state, per second of a
session at the rates real users hit, next to the recorder it already runs (same run, same data).

Feeds one scripted session (10 Hz samples of an Orin-like board: 6 cores, GPU, EMC, 9 zones,
4 rails; the default model's 16,000 iterations/s in runner-sized 100 ms batches; throttled half
of the time, hot all of it) through, each on its own and timed with process CPU time:

  1. the recorder's appends (``Recorder.on_sample`` / ``on_latency``, buffering only; the
     baseline the session always paid);
  2. the live throttling classifier (``ThrottleClassifier.add_sample`` / ``add_latency``);
  3. the server's dashboard model (``DashboardModel.apply`` + ``observe`` every 4 Hz tick), which
     an attaching dashboard gets whole;
  4. one attach snapshot (``DashboardModel.state`` + encoding), its size.

Prints microseconds per second of session and the share of one core.

    python benchmarks/session_extras_cost.py --seconds 600
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from edgemon.analysis.throttle_online import ThrottleClassifier
from edgemon.datatypes import LatencyBatch, Sample
from edgemon.feeds.base import FeedStatus, FeedUpdate
from edgemon.recording.writer import Recorder
from edgemon.view.model import DashboardModel

S = 1_000_000_000
CEIL = {**{f"cpu{n}_freq_mhz": 1510.0 for n in range(6)}, "gpu_freq_mhz": 624.75, "emc_freq_mhz": 2133.0}
TRIPS = {"temp_cpu_c": 99.0, "temp_gpu_c": 99.0, "temp_tj_c": 99.0}


def script(seconds: int, rate: int):
    """(samples, batches) of the scripted session."""
    rng = np.random.default_rng(0)
    t0 = 10 * S
    samples, batches = [], []
    per_batch = rate // 10
    for k in range(seconds * 10):
        t = t0 + k * S // 10
        throttled = (k // 300) % 2 == 1
        v = {f"cpu{n}_freq_mhz": 1208.0 if throttled else 1510.0 for n in range(6)}
        v.update({f"cpu{n}_util_pct": 90.0 + rng.normal() for n in range(6)})
        v.update({"gpu_freq_mhz": 510.0 if throttled else 624.75, "gpu_util_pct": 95.0, "emc_freq_mhz": 2133.0,
                  "emc_util_pct": 40.0, "cpu_util_pct": 90.0, "proc_worker_cpu_pct": 100.0,
                  "ram_used_mb": 3600.0, "ram_total_mb": 7620.0, "power_total_mw": 9500.0})
        v.update({f"temp_{z}_c": 97.5 + rng.normal(0, 0.2) for z in ("cpu", "gpu", "tj", "soc0", "soc1", "soc2",
                                                                   "cv0", "cv1", "cv2")})
        v.update({f"power_{r}_mw": 2000.0 for r in ("vdd_in", "vdd_cpu_gpu_cv", "vdd_soc", "vdd_ddr")})
        samples.append(Sample(t, v))
        t_end = t - S // 10 + (np.arange(1, per_batch + 1) * (S // 10)) // per_batch
        batches.append(LatencyBatch(t_end.astype(np.int64), np.full(per_batch, 55_000, dtype=np.int64),
                                    np.ones(per_batch, dtype=np.int32)))
    return samples, batches


def cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=600, help="length of the scripted session")
    ap.add_argument("--rate", type=int, default=16_000, help="iterations per second")
    a = ap.parse_args()
    samples, batches = script(a.seconds, a.rate)
    meta = {"clock_ceilings": CEIL, "trip_points": TRIPS, "clock": {"monotonic_ns": 10 * S}}

    with tempfile.TemporaryDirectory() as tmp:
        rec = Recorder(Path(tmp) / "rec", {"host": "bench"}, flush_s=3600, roll_s=3600, fsync=False).open()

        def record():
            for s, b in zip(samples, batches):
                rec.on_sample(s)
                rec.on_latency(b)
        t_rec = cpu(record)
        rec.close({"reason": "benchmark"})

    clf = ThrottleClassifier(meta, sample_dt_s=0.1)
    changes = []

    def classify():
        for s, b in zip(samples, batches):
            changes.extend(clf.add_latency(b.t_end_ns, b.duration_ns))
            changes.extend(clf.add_sample(s.t_ns, s.values))
    t_clf = cpu(classify)
    changes.extend(clf.finish())

    model = DashboardModel()

    def ticks():
        for i in range(0, len(samples), 2):     # 4 Hz ticks of ~2.5 samples: 2 here
            model.apply(FeedUpdate(samples[i:i + 2], batches[i:i + 2], []))
            t_ns = samples[min(i + 1, len(samples) - 1)].t_ns
            model.observe(FeedStatus(state="running", elapsed_s=(t_ns - 10 * S) / S, t_ns=t_ns))
    t_model = cpu(ticks)

    from edgemon.daemon.server import encode_state

    size = 0

    def snapshot():
        nonlocal size
        size = len(encode_state(model.state()))
    t_snap = cpu(snapshot)

    secs = a.seconds
    print(f"{secs} s scripted session: 10 Hz samples ({len(samples[0].values)} metrics), {a.rate}/s iterations")
    for name, t in (("recorder appends (baseline)", t_rec), ("live throttling classifier", t_clf),
                    ("server dashboard model, 4 Hz ticks", t_model)):
        print(f"  {name:<36} {t / secs * 1e6:8.0f} us per session second = {t / secs * 100:6.3f} % of one core")
    print(f"  attach snapshot: {t_snap * 1e3:.1f} ms of CPU, {size / 1e6:.2f} MB on the socket")
    print(f"  episodes found: {sum(1 for c in changes if c.kind == 'end')} "
          f"(cpu and gpu, {secs // 60} scripted drops of 30 s each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
