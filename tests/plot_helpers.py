"""A synthetic 10-minute Jetson-like session with known throttling episodes and events, written
by the real Recorder, for the figure tests (tests/test_plot.py) and a look by eye."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis_helpers import build_session

CEIL = {f"cpu{n}_freq_mhz": 1479.0 for n in range(4)} | {"gpu_freq_mhz": 921.6, "emc_freq_mhz": 1600.0}
TRIPS = {"temp_cpu_c": 80.0, "temp_gpu_c": 80.0}
THERMAL = (120.0, 240.0)       # cpu clocks capped while the CPU zone sits at its trip point
POWER_MODE_AT = 400.0          # a power-mode change that lowers the GPU ceiling
MARK_AT = 60.0


def _sample(t: float) -> dict[str, float]:
    hot = THERMAL[0] <= t < THERMAL[1]
    cpu = 1036.0 if hot else 1479.0
    gpu = 921.6 if t < POWER_MODE_AT else (500.0 if t < POWER_MODE_AT + 30 else 624.0)   # settles after the switch
    temp = 80.5 if hot else 55.0 + 20.0 * (1 - np.exp(-t / 60.0))
    d = {f"cpu{n}_freq_mhz": cpu for n in range(4)}
    d |= {f"cpu{n}_util_pct": 95.0 for n in range(4)}
    d |= {"gpu_freq_mhz": gpu, "gpu_util_pct": 80.0, "emc_freq_mhz": 1600.0, "temp_cpu_c": temp,
          "temp_gpu_c": temp - 3.0, "power_total_mw": 9000.0 - (2500.0 if hot else 0.0),
          "power_cpu_mw": 3000.0 - (1500.0 if hot else 0.0), "ram_used_mb": 2100.0 + t,
          "ram_total_mb": 3964.0, "swap_used_mb": 10.0, "proc_worker_rss_mb": 350.0, "proc_worker_cpu_pct": 100.0}
    return d


def build_throttled_session(folder: Path, duration_s: float = 600.0) -> Path:
    """``folder``: latency 2 ms (3 ms while thermally throttled), 10 Hz telemetry, a mark and a
    power-mode change; the analysis finds a thermal CPU episode and a power-mode GPU episode."""
    t_end = np.arange(1, int(duration_s * 1000 / 2.0)) * 0.002
    dur = np.full(t_end.shape, 2.0)
    dur[(t_end >= THERMAL[0]) & (t_end < THERMAL[1])] = 3.0
    rng = np.random.default_rng(7)
    dur *= rng.lognormal(0.0, 0.05, t_end.shape)
    dur[rng.integers(0, t_end.size, 40)] = 40.0          # rare stalls: a visible p99.9 and maximum
    return build_session(
        folder, meta={"clock_ceilings": CEIL, "trip_points": TRIPS, "platform": {"kind": "jetson"},
                      "workload": {"runner": "numpy", "model": "mnist_1d", "batch": 1}},
        duration_s=duration_s, sample=_sample, latency=(t_end, dur), warmup_rows=50,
        events=[(MARK_AT, "mark", {"note": "door opened"}),
                (POWER_MODE_AT, "power_mode", {"ok": True, "to_id": 1, "name": "10W",
                                               "ceilings": {**CEIL, "gpu_freq_mhz": 624.0}})],
    )
