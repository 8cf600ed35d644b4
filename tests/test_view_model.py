from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgemon.datatypes import Event, EventKind, LatencyBatch, Sample
from edgemon.feeds.base import FeedStatus, FeedUpdate
from edgemon.view.model import DashboardModel
from edgemon.view.status_line import status_line, summary_table
from tui_helpers import T0_NS, FakeFeed

NS = 1_000_000_000


def synthetic_second(sec: int, rng: np.random.Generator, rows: int = 1000) -> FeedUpdate:
    """One second of a busy session: 10 samples, 1000 latency rows, one event."""
    base = T0_NS + sec * NS
    samples = [Sample(base + k * NS // 10, {"cpu0_util_pct": 50.0, "cpu_util_pct": 50.0, "temp_cpu_c": 60.0,
                                             "ram_used_mb": 1000.0, "power_total_mw": 5000.0})
               for k in range(10)]
    t_end = base + np.arange(rows, dtype=np.int64) * (NS // rows)
    durations = rng.lognormal(np.log(1e6), 0.2, rows).astype(np.int64)
    latency = [LatencyBatch.from_lists(t_end, durations, np.ones(rows))]
    events = [Event(base, EventKind.MARK, {"note": f"s{sec}"})]
    return FeedUpdate(samples, latency, events)


def test_an_hour_of_updates_keeps_memory_at_capacity():
    model = DashboardModel(history_capacity=600, throughput_capacity_s=120, max_events=50)
    rng = np.random.default_rng(0)
    sizes = []
    for sec in range(3600):
        model.apply(synthetic_second(sec, rng, rows=100 if sec % 60 else 1000))
        model.observe(FeedStatus("running", elapsed_s=sec + 1, t_ns=T0_NS + (sec + 1) * NS))
        if sec in (300, 3599):
            sizes.append(model.memory_bytes())
    assert sizes[0] == sizes[1]
    assert all(len(s) == 600 for s in model.history.series.values())
    assert len(model.events) == 50
    assert model.samples_seen == 36000
    assert model.latency_window.slot_count <= 11
    assert model.event_counts[EventKind.MARK] == 3600
    assert model.latency_all.count == model.iterations


def test_apply_fake_feed_and_derived_values():
    feed = FakeFeed("linux", seconds=60)
    model = DashboardModel()
    model.apply(feed.drain())
    status = feed.status()
    model.observe(status)
    assert model.iterations > 0 and model.warmup_iterations > 0
    assert model.latency_all.count == model.iterations     # warm-up left out of the histogram
    assert model.latest["cpu_util_pct"] == pytest.approx(model.history.get("cpu_util_pct").last())
    now, _ = model.throughput_now()
    assert now == pytest.approx(feed.rows_per_s)
    assert model.throughput_mean() == pytest.approx(feed.rows_per_s, rel=0.05)
    assert model.relative_s(T0_NS + 20 * NS) == pytest.approx(20.0)
    stats = model.latency_stats()
    assert stats.min_ms <= stats.p50_ms <= stats.p90_ms <= stats.p99_ms <= stats.p999_ms <= stats.max_ms


def test_reset_update_drops_everything_first():
    model = DashboardModel()
    rng = np.random.default_rng(1)
    model.apply(synthetic_second(0, rng))
    model.observe(FeedStatus("replay", position_s=1, t_ns=T0_NS + NS))
    fresh = synthetic_second(5, rng)
    fresh.reset = True
    model.apply(fresh)
    assert model.samples_seen == 10
    assert model.iterations == 1000
    assert [e.details["note"] for e in model.events] == ["s5"]
    assert model.origin_ns is None      # re-learnt from the next status


def test_crash_event_is_kept_and_reported():
    feed = FakeFeed("crashed", seconds=60)
    model = DashboardModel()
    model.apply(feed.drain())
    status = feed.status()
    model.observe(status)
    assert model.crash is not None and model.crash.kind == EventKind.WORKER_CRASHED
    line = status_line(model, status)
    assert line.startswith("crashed ")
    assert "SIGKILL" in line
    assert "worker crashed" in summary_table(model, status)


def test_status_line_and_summary_show_the_numbers():
    feed = FakeFeed("jetson", seconds=30)
    model = DashboardModel()
    model.apply(feed.drain())
    status = feed.status()
    model.observe(status)
    stats = model.latency_stats()
    line = status_line(model, status)
    assert "running 00:30 (09:30 left)" in line
    assert f"{model.iterations:,} it" in line
    assert f"p99 {stats.p99_ms:.1f}" in line or f"p99 {stats.p99_ms:.2f}" in line
    assert "W" in line and "C" in line
    table = summary_table(model, status)
    for label in ("count", "min", "mean", "median", "p90", "p95", "p99", "p99.9", "max", "throughput"):
        assert f"\n  {label} " in table or f"\n{label} " in table
    assert f"{model.iterations:,}" in table


def test_status_line_before_any_data():
    model = DashboardModel()
    status = FeedStatus("starting")
    line = status_line(model, status)
    assert line.startswith("starting 00:00")
    assert "p50" not in line
    assert "count" in summary_table(model, status)


def test_view_package_does_not_import_textual():
    code = ("import sys; import edgemon.view.model, edgemon.view.status_line, edgemon.view.histogram, "
            "edgemon.view.series, edgemon.view.metric_groups, edgemon.tui; "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_meta_accessors_read_nested_and_flat_session_descriptions():
    from edgemon.view import meta

    nested = {"host": "nano", "workload": {"runner": "tensorrt", "model": "m.engine"},
              "platform": {"kind": "jetson", "model": "NVIDIA Jetson Nano Developer Kit", "hostname": "nano"}}
    flat = {"runner": "numpy", "model": "matmul", "board": "generic"}
    assert meta.workload(nested) == "tensorrt m.engine"
    assert meta.is_jetson(nested) and not meta.is_jetson(flat)
    assert meta.board(nested) == "NVIDIA Jetson Nano Developer Kit"
    assert meta.workload(flat) == "numpy matmul"
    assert meta.host({}) == "?" and meta.workload({}) == ""


def test_summary_reports_model_build_and_first_inference_on_their_own():
    model = DashboardModel()
    model.apply(FeedUpdate(events=[
        Event(T0_NS, EventKind.WORKER_HELLO, {"runner": "tflite", "build_ms": 812.5}),
        Event(T0_NS + NS, EventKind.WARMUP_DONE, {"iterations": 50, "seconds": 0.4, "first_inference_ms": 31.25}),
    ]))
    status = FeedStatus("ended", elapsed_s=10, t_ns=T0_NS + 10 * NS)
    model.observe(status)
    line = [ln for ln in summary_table(model, status).splitlines() if ln.startswith("start-up")]
    assert line == ["start-up     model build 812 ms, first inference 31.2 ms"]
    assert "start-up" not in summary_table(DashboardModel(), status)  # nothing known, nothing shown


def _rows(start_s: float, end_s: float, per_s: int = 100) -> LatencyBatch:
    """Back-to-back 10 ms iterations from start_s to end_s (seconds after T0_NS)."""
    n = int(round((end_s - start_s) * per_s))
    t_end = T0_NS + int(start_s * NS) + (np.arange(n, dtype=np.int64) + 1) * (NS // per_s)
    return LatencyBatch.from_lists(t_end, np.full(n, NS // per_s), np.ones(n))


def test_headless_throughput_leaves_out_rests_cooldown_and_idle_baseline():
    """A profile: idle baseline 0-5 s, repetition 1 from 5 s, rest, repetition 2 from 30 s (fresh workers)."""
    model = DashboardModel()
    phase = EventKind.PHASE
    model.apply(FeedUpdate([], [], [Event(T0_NS, phase, {"name": "idle_baseline", "at": "start"}),
                                    Event(T0_NS + 5 * NS, phase, {"name": "repetition", "at": "start", "index": 1}),
                                    Event(T0_NS + 6 * NS, EventKind.WORKER_HELLO, {})]))
    model.apply(FeedUpdate([], [_rows(7, 17)], []))
    model.apply(FeedUpdate([], [], [Event(T0_NS + 17 * NS, phase, {"name": "rest", "at": "start"})]))
    # the next worker's hello and its first rows in one update (events are applied first)
    model.apply(FeedUpdate([], [_rows(32, 42)], [Event(T0_NS + 31 * NS, EventKind.WORKER_HELLO, {})]))
    assert model.items == 2000
    assert model.throughput_mean() == pytest.approx(100.0)          # 2000 items in 20 s, not in 35 s


def test_headless_throughput_leaves_out_paused_time():
    model = DashboardModel()
    model.apply(FeedUpdate([], [_rows(0, 10)], [Event(T0_NS, EventKind.WORKER_HELLO, {})]))
    model.apply(FeedUpdate([], [], [Event(T0_NS + 10 * NS, EventKind.PAUSE, {"iterations": 1000})]))
    model.apply(FeedUpdate([], [_rows(13, 20)], [Event(T0_NS + 13 * NS, EventKind.RESUME, {"iterations": 1000})]))
    assert model.throughput_mean() == pytest.approx(100.0)          # 1700 items in 17 s, not in 20 s
