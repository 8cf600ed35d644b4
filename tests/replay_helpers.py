"""A synthetic recording with known throttling episodes and events, for the replay timeline,
the dashboard's replay keys and its snapshots (written with the real Recorder).

Rows are stamped from a fixed monotonic origin (the clock anchor in session.json is set to
it), not from the moment the test ran: the dashboard buckets throughput and histories by
whole seconds of that clock, so a random sub-second phase would change the pictures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from analysis_helpers import back_to_back
from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.recording.writer import Recorder

S = 1_000_000_000
T0_NS = 5_000 * S
LENGTH_S = 100.0
EPISODE_S = (60.0, 90.0)        # cpu0 throttled (thermal: temp_cpu_c 98 C, trip 99 C)
SECOND_EPISODE_S = (20.0, 25.0)  # gpu throttled, nothing explains it (unknown)
CEILINGS = {"cpu0_freq_mhz": 1479, "gpu_freq_mhz": 921.6, "emc_freq_mhz": 1600}
EVENTS = [
    (10.0, "power_mode", {"from_id": 0, "to_id": 1, "name": "10W", "ok": False}),   # failed: no mark
    (30.0, "mark", {"note": "door opened"}),
    (45.0, "fan", {"pct": 80.0, "ok": True}),
    (75.0, "warmup_done", {"iterations": 10}),                                    # no mark kind
    (95.0, "worker_crashed", {"reason": "killed by SIGKILL", "signal": 9}),
]


def sample(t: float) -> dict[str, float]:
    hot = EPISODE_S[0] <= t < EPISODE_S[1]
    slow_gpu = SECOND_EPISODE_S[0] <= t < SECOND_EPISODE_S[1]
    return {
        "cpu0_freq_mhz": 1036.0 if hot else 1479.0, "cpu0_util_pct": 90.0,
        "gpu_freq_mhz": 614.4 if slow_gpu else 921.6, "gpu_util_pct": 95.0,
        "emc_freq_mhz": 1600.0, "temp_cpu_c": 98.0 if hot else 70.0,
        "proc_worker_cpu_pct": 100.0, "power_total_mw": 9000.0,
        "ram_used_mb": 2000.0, "ram_total_mb": 8000.0,
    }


def build_throttled(folder: Path) -> Path:
    """100 s, 10 Hz telemetry, 100 inferences/s of 10 ms; episodes at 20-25 s (gpu) and 60-90 s (cpu)."""
    meta = {"host": "synthetic", "clock_ceilings": CEILINGS, "trip_points": {"temp_cpu_c": 99.0},
            "workload": {"runner": "numpy", "model": "matmul"}}
    rec = Recorder(folder, meta, flush_s=3600, roll_s=3600, fsync=False).open()
    for k in range(int(LENGTH_S * 10)):
        rec.on_sample(Sample(T0_NS + k * S // 10, sample(k / 10)))
    t_end_s, dur_ms = back_to_back(0, LENGTH_S, 10.0)
    t_end = T0_NS + np.round(t_end_s * S).astype(np.int64)
    rec.on_latency(LatencyBatch(t_end, np.full(t_end.shape, int(dur_ms[0] * 1e6), dtype=np.int64),
                                np.ones(t_end.shape, dtype=np.int32), False))
    for t_s, kind, details in EVENTS:
        rec.on_event(Event(T0_NS + int(round(t_s * S)), kind, dict(details)))
    rec.close({"reason": "test"})
    path = folder / "session.json"
    session = json.loads(path.read_text())
    session["clock"]["monotonic_ns"] = T0_NS
    session["ended_monotonic_ns"] = T0_NS + int(LENGTH_S * S)
    path.write_text(json.dumps(session, indent=2))
    return folder
