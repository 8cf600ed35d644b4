"""The live throttling classifier finds the episodes `edgemon analyze` finds: same start, end,
domain, cause and evidence, on recordings written by the real Recorder and fed in the order a
session sees them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from analysis_helpers import back_to_back, build_session
from throttle_helpers import compare, online_changes

from edgemon.analysis.throttle_online import ThrottleChange, ThrottleClassifier
from edgemon.datatypes import EventKind

from test_analysis_throttling import CEIL, TRIPS
from test_analysis_throttling import _busy_sample as _busy


def _thermal(t):
    hot = 60 <= t < 90
    return _busy(t, cpu=1036.0 if hot else 1479.0, temp=98.0 if hot else 70.0)


def _short_dips_and_gaps(t):
    # 0.5 s dip (dropped), then 11.0-13.0 and 13.8-20.0 (merged across a 0.8 s gap), then 40-40.6 (dropped)
    low = 10 <= t < 10.5 or 11 <= t < 13 or 13.8 <= t < 20 or 40 <= t < 40.6
    return _busy(t, gpu_freq_mhz=700.0 if low else 921.6)


def _gaps_at_the_merge_limit(t):
    # 10-13 and 14.5-18: 1.5 s apart, two episodes; 25-28 and 29-32: 1.0 s apart, merged
    low = 10 <= t < 13 or 14.5 <= t < 18 or 25 <= t < 28 or 29 <= t < 32
    return _busy(t, emc_freq_mhz=800.0 if low else 1600.0)


def _emc_demand_then_saturated(t):
    # 10-40 s: 1065.6 MHz at 55 % load (the governor following demand); 60-80 s: 800 MHz at 95 % (held down)
    if 10 <= t < 40:
        return _busy(t, emc_freq_mhz=1065.6, emc_util_pct=55.0)
    if 60 <= t < 80:
        return _busy(t, emc_freq_mhz=800.0, emc_util_pct=95.0)
    return _busy(t, emc_util_pct=40.0)


def _mode_then_drop(t):
    return _busy(t, cpu=1200.0 if t >= 31 else 1479.0)


def _power_cap(t):
    capped = 40 <= t < 55
    return _busy(t, gpu_freq_mhz=600.0 if capped else 921.6, gpu_clock_event_reasons=float(0x4) if capped else 0.0)


def _no_ceiling(t):
    return _busy(t, cpu=900.0 if 30 <= t < 70 else 1479.0)


def _sparse_iterations(t):
    return _busy(t, cpu=1000.0 if 20 <= t < 50 else 1479.0, proc_worker_cpu_pct=2.0)


def _sparse_latency():
    # 50 ms iterations every 400 ms: busy only near them (the slack is 0.25 s at 10 Hz)
    t_end = np.arange(0.45, 100, 0.4)
    return t_end, np.full(t_end.shape, 50.0)


SCENARIOS = {
    "thermal 60-90 s": dict(meta={"clock_ceilings": CEIL, "trip_points": TRIPS}, sample=_thermal),
    "short dips dropped, gaps merged": dict(meta={"clock_ceilings": CEIL}, sample=_short_dips_and_gaps),
    "gaps at the merge limit": dict(meta={"clock_ceilings": CEIL}, sample=_gaps_at_the_merge_limit),
    "power mode lowers the ceiling: no episode": dict(
        meta={"clock_ceilings": CEIL}, sample=lambda t: _busy(t, cpu=1036.0 if t >= 50 else 1479.0),
        events=[(50.0, "power_mode", {"to_id": 1, "name": "5W", "ok": True,
                                      "ceilings": {"cpu0_freq_mhz": 1036, "gpu_freq_mhz": 921.6}})]),
    "failed power mode keeps the ceiling": dict(
        meta={"clock_ceilings": CEIL}, sample=lambda t: _busy(t, cpu=1036.0 if t >= 50 else 1479.0),
        events=[(50.0, "power_mode", {"to_id": 1, "name": "5W", "ok": False, "ceilings": {"cpu0_freq_mhz": 1036}})]),
    "drop right after a power-mode change": dict(
        meta={"clock_ceilings": CEIL}, sample=_mode_then_drop,
        events=[(30.0, "power_mode", {"to_id": 2, "name": "MAXN", "ok": True, "ceilings": CEIL})]),
    "drop after jetson_clocks": dict(
        meta={"clock_ceilings": CEIL}, sample=_mode_then_drop,
        events=[(30.2, "jetson_clocks", {"on": False, "ok": True})]),
    "idle worker dip: no episode": dict(
        meta={"clock_ceilings": CEIL},
        sample=lambda t: _busy(t, cpu=345.6 if 40 <= t < 70 else 1479.0,
                               proc_worker_cpu_pct=1.0 if 40 <= t < 70 else 100.0),
        latency=(np.concatenate([back_to_back(0, 40, 10.0)[0], back_to_back(70, 100, 10.0)[0]]),
                 np.full(7000, 10.0))),
    "idle core and GPU are the governor": dict(
        meta={"clock_ceilings": {**CEIL, "cpu1_freq_mhz": 1479}},
        sample=lambda t: _busy(t, cpu1_freq_mhz=102.0 if 20 <= t < 80 else 1479.0,
                               cpu1_util_pct=2.0 if 20 <= t < 80 else 90.0,
                               gpu_freq_mhz=76.8 if 20 <= t < 80 else 921.6,
                               gpu_util_pct=0.0 if 20 <= t < 80 else 99.0)),
    "memory controller: demand scaling is no episode, held down while saturated is": dict(
        meta={"clock_ceilings": CEIL}, sample=_emc_demand_then_saturated),
    "offline core ignored": dict(
        meta={"clock_ceilings": {**CEIL, "cpu1_freq_mhz": 1479}},
        sample=lambda t: _busy(t, cpu1_freq_mhz=0.0 if 30 <= t < 60 else (700.0 if 60 <= t < 65 else 1479.0)),
        events=[(30.0, "core_online", {"cpu": 1, "online": False, "ok": True}),
                (60.0, "core_online", {"cpu": 1, "online": True, "ok": True})]),
    "power cap flag": dict(meta={"clock_ceilings": CEIL}, sample=_power_cap),
    "rail at its limit": dict(
        meta={"clock_ceilings": CEIL, "power_limits": {"power_vdd_in_mw": 10000}},
        sample=lambda t: _busy(t, gpu_freq_mhz=600.0 if 40 <= t < 55 else 921.6,
                               power_vdd_in_mw=9900.0 if 38 <= t < 55 else 6000.0)),
    "no recorded ceiling: the highest seen stands in": dict(meta={}, sample=_no_ceiling),
    "watch: the machine's load is what is busy": dict(
        meta={"clock_ceilings": CEIL, "kind": "watch"}, latency=None,
        sample=lambda t: _busy(t, cpu=1000.0 if 20 <= t < 60 else 1479.0, proc_worker_cpu_pct=float("nan"),
                               cpu_util_pct=5.0 if 40 <= t < 50 else 90.0)),
    "command: its GPU load counts too": dict(
        meta={"clock_ceilings": CEIL, "kind": "command"}, latency=None,
        sample=lambda t: _busy(t, gpu_freq_mhz=600.0 if 20 <= t < 60 else 921.6, proc_worker_cpu_pct=3.0,
                               gpu_util_pct=0.0 if 40 <= t < 45 else 97.0)),
    "busy only near sparse iterations": dict(meta={"clock_ceilings": CEIL}, sample=_sparse_iterations,
                                             latency=_sparse_latency()),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_live_episodes_are_the_analysis_episodes(tmp_path, name):
    spec = dict(SCENARIOS[name])
    spec.setdefault("latency", back_to_back(0, 100, 10.0))
    if spec["latency"] is None:
        del spec["latency"]
    folder = build_session(tmp_path / "s", **spec)
    offline, online = compare(folder)
    assert online == offline


def test_the_scenarios_cover_every_kind_of_outcome(tmp_path):
    """The comparison above would pass vacuously on sessions with no episodes: check what they hold."""
    causes = set()
    counts = {}
    for name, spec in SCENARIOS.items():
        spec = dict(spec)
        spec.setdefault("latency", back_to_back(0, 100, 10.0))
        if spec["latency"] is None:
            del spec["latency"]
        offline, _ = compare(build_session(tmp_path / name.replace(" ", "_").replace(":", ""), **spec))
        counts[name] = len(offline)
        causes |= {e["cause"] for e in offline}
    assert counts["thermal 60-90 s"] == 1 and counts["short dips dropped, gaps merged"] == 1
    assert counts["gaps at the merge limit"] == 3
    assert counts["watch: the machine's load is what is busy"] == 2, "idle 40-50 s splits the drop"
    assert counts["command: its GPU load counts too"] == 2
    assert counts["power mode lowers the ceiling: no episode"] == 0
    assert causes >= {"thermal", "power", "power_mode", "user_action", "unknown"}


def test_random_sessions_match(tmp_path):
    """Clocks that drop and recover at random times, busy and idle stretches, two domains."""
    rng = np.random.default_rng(13)
    for k in range(6):
        cpu_low = rng.uniform(0, 120, size=(8, 1)) + np.array([[0.0, 1.0]]) * rng.uniform(0.2, 6, size=(8, 1))
        gpu_low = rng.uniform(0, 120, size=(6, 1)) + np.array([[0.0, 1.0]]) * rng.uniform(0.2, 6, size=(6, 1))
        idle = rng.uniform(0, 120, size=(3, 1)) + np.array([[0.0, 1.0]]) * rng.uniform(1, 8, size=(3, 1))

        def inside(t, spans):
            return bool(((spans[:, 0] <= t) & (t < spans[:, 1])).any())

        def sample(t, cpu_low=cpu_low, gpu_low=gpu_low, idle=idle):
            hot = inside(t, cpu_low)
            return _busy(t, cpu=1100.0 if hot else 1479.0, temp=98.5 if hot else 60.0,
                         gpu_freq_mhz=500.0 if inside(t, gpu_low) else 921.6,
                         proc_worker_cpu_pct=0.0 if inside(t, idle) else 100.0)

        t_end, dur = back_to_back(0, 120, 20.0)
        keep = np.array([not inside(x - 0.01, idle) for x in t_end])
        folder = build_session(tmp_path / f"r{k}", duration_s=120.0, meta={"clock_ceilings": CEIL, "trip_points": TRIPS},
                               sample=sample, latency=(t_end[keep], dur[keep]))
        offline, online = compare(folder)
        assert online == offline, f"session {k}"
        assert offline, "each random session has episodes"


def test_begin_comes_early_with_the_cause_known_so_far(tmp_path):
    folder = build_session(tmp_path / "s", meta={"clock_ceilings": CEIL, "trip_points": TRIPS}, sample=_thermal,
                           latency=back_to_back(0, 100, 10.0))
    changes, data = online_changes(folder)
    begin, end = [c for c in changes if c.domain == "cpu"]
    assert begin.kind == "begin" and end.kind == "end"
    assert data.rel_s(begin.start_ns) == pytest.approx(60.0, abs=1e-6)
    assert begin.cause == "thermal" and begin.clock == "cpu0_freq_mhz"
    assert begin.clock_mhz == 1036.0 and begin.ceiling_mhz == 1479.0
    assert begin.drop_pct == pytest.approx((1479 - 1036) / 1479 * 100)
    ev = begin.to_event()
    assert ev.kind == EventKind.THROTTLE_BEGIN and ev.t_ns == begin.start_ns
    assert ev.details["domain"] == "cpu" and ev.details["cause"] == "thermal"
    ev = end.to_event()
    assert ev.kind == EventKind.THROTTLE_END and ev.details["duration_s"] == pytest.approx(30.0, abs=1e-3)


def test_begin_is_emitted_within_about_two_seconds_of_the_drop():
    """Live: the flag goes up once the run is min_episode_s long and the busy check is settled."""
    clf = ThrottleClassifier({"clock_ceilings": CEIL}, sample_dt_s=0.1)
    s = 1_000_000_000
    first_begin = None
    for k in range(400):
        t = k * s // 10
        changes = clf.add_latency([t], [s // 20])
        changes += clf.add_sample(t, _busy(k / 10, cpu=900.0 if k >= 200 else 1479.0))
        for c in changes:
            if c.kind == "begin" and first_begin is None:
                first_begin = (t, c)
    assert first_begin is not None
    at, change = first_begin
    assert change.start_ns == 200 * s // 10
    assert (at - change.start_ns) / s <= 2.0
    assert clf.active["cpu"].cause == "unknown"
    assert not clf.finish() == []     # the open episode is closed at the end


def test_memory_stays_bounded_over_a_long_session():
    clf = ThrottleClassifier({"clock_ceilings": CEIL}, sample_dt_s=0.1)
    s = 1_000_000_000
    for k in range(36_000):          # an hour at 10 Hz, throttled half the time, hot all the time
        t = k * s // 10
        clf.add_latency(np.arange(t - s // 10, t, s // 1000), np.full(100, s // 1000))
        clf.add_sample(t, _busy(k / 10, cpu=900.0 if (k // 600) % 2 else 1479.0, temp=98.0,
                                gpu_clock_event_reasons=4.0))
    assert len(clf._pending) < 20 and len(clf._busy) < 20 and len(clf._recent) < 40
    assert len(clf._runs) <= 3


def test_change_without_numbers_has_no_drop():
    c = ThrottleChange("begin", "gpu", 5, None, "unknown", (), (), "", math.nan, math.nan, math.nan)
    assert math.isnan(c.drop_pct)
    assert c.to_event().details["drop_pct"] is None
