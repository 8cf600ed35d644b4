"""ReplayFeed: playhead advance, seek resets with history, speed, event jumps, bounds (fake wall clock)."""

from __future__ import annotations

import numpy as np
import pytest

from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.recording.reader import open_recording
from edgemon.feeds.replay import ReplayFeed
from edgemon.recording.writer import Recorder

S = 1_000_000_000
TEL_STEP = S // 10       # telemetry every 100 ms
LAT_STEP = S // 20       # one inference every 50 ms
LENGTH_S = 300
EVENT_AT_S = (30, 150, 151)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replay") / "rec"
    rec = Recorder(folder, {"host": "h"}, flush_s=3600, roll_s=3600, fsync=False).open()
    base = rec.meta["clock"]["monotonic_ns"]
    for k in range(LENGTH_S * 10 + 1):
        values = {"cpu_util_pct": float(k)}
        if k % 2 == 0:
            values["temp_cpu_c"] = 40.0 + k / 100  # a metric missing from every other row
        rec.on_sample(Sample(base + k * TEL_STEP, values))
    t = base + LAT_STEP * np.arange(1, LENGTH_S * 20 + 1, dtype=np.int64)
    warm = 200  # first 10 s are warm-up
    rec.on_latency(LatencyBatch.from_lists(t[:warm], np.full(warm, 7), np.ones(warm), warmup=True))
    rec.on_latency(LatencyBatch.from_lists(t[warm:], np.arange(len(t) - warm), np.ones(len(t) - warm)))
    for i, s in enumerate(EVENT_AT_S):
        rec.on_event(Event(base + s * S, "mark", {"n": i}))
    rec.close()
    return open_recording(folder), base


def _feed(recording, **kw):
    rec, base = recording
    clock = FakeClock()
    return ReplayFeed(rec, clock=clock, **kw), clock, base


def _rows(update):
    return sum(len(b) for b in update.latency)


def test_first_drain_resets_then_plays_at_wall_speed(recording):
    feed, clock, base = _feed(recording)
    assert feed.status().length_s == pytest.approx(LENGTH_S)
    first = feed.drain()
    assert first.reset and [s.t_ns for s in first.samples] == [base]
    assert first.samples[0].values == {"cpu_util_pct": 0.0, "temp_cpu_c": 40.0}

    clock.now += 1.0
    u = feed.drain()
    assert not u.reset
    assert [s.t_ns for s in u.samples] == [base + k * TEL_STEP for k in range(1, 11)]
    assert "temp_cpu_c" not in u.samples[0].values  # null stays missing, not NaN
    assert _rows(u) == 20 and all(b.warmup for b in u.latency)
    assert u.latency[0].t_end_ns.dtype == np.int64 and u.latency[0].items.dtype == np.int32
    assert feed.drain().samples == []  # no wall time passed, nothing new

    st = feed.status()
    assert st.state == "replay" and st.playing and st.speed == 1.0
    assert st.position_s == pytest.approx(1.0) and st.t_ns == base + S


def test_speed_pause_and_toggle(recording):
    feed, clock, base = _feed(recording)
    feed.drain()
    assert feed.command("speed", factor=10) == "speed 10x"
    clock.now += 1.0
    assert len(feed.drain().samples) == 100
    feed.command("pause")
    clock.now += 5.0
    assert feed.drain().samples == [] and not feed.status().playing
    feed.command("toggle")
    clock.now += 0.5
    assert len(feed.drain().samples) == 50 and feed.status().position_s == pytest.approx(15.0)
    assert feed.command("speed", factor=5000) == "speed 1000x"
    assert feed.command("speed", factor=0.01) == "speed 1x"
    assert "number" in feed.command("speed", factor="fast")


def test_seek_resets_with_120_s_of_history(recording):
    feed, clock, base = _feed(recording, playing=False)
    feed.drain()
    feed.command("seek", delta_s=200)
    u = feed.drain()
    assert u.reset
    ts = [s.t_ns for s in u.samples]
    assert ts[0] == base + 80 * S + TEL_STEP and ts[-1] == base + 200 * S  # (playhead-120 s, playhead]
    assert len(ts) == 1200
    lat_t = np.concatenate([b.t_end_ns for b in u.latency])
    assert lat_t[0] > base + 80 * S and lat_t[-1] == base + 200 * S and len(lat_t) == 2400
    assert [e.details["n"] for e in u.events] == [0, 1, 2]  # every event so far, for the log
    assert not feed.drain().reset

    feed.command("seek", delta_s=-150)  # back to 50 s: less than 120 s of history exists
    u = feed.drain()
    assert u.reset and u.samples[0].t_ns == base and u.samples[-1].t_ns == base + 50 * S
    warm = [b.warmup for b in u.latency]
    assert warm == [True, False]  # split where warm-up ends
    assert sum(len(b) for b in u.latency if b.warmup) == 200


def test_bounds(recording):
    feed, clock, base = _feed(recording)
    feed.drain()
    feed.command("seek", delta_s=-50)
    assert feed.status().position_s == 0.0
    feed.command("seek", to="end")
    st = feed.status()
    assert st.position_s == pytest.approx(LENGTH_S) and not st.playing and st.message == "end of recording"
    u = feed.drain()
    assert u.reset and u.samples[-1].t_ns == base + LENGTH_S * S
    clock.now += 10
    assert feed.drain().samples == []
    feed.command("seek", to="start")
    assert feed.status().position_s == 0.0
    feed.command("seek", to="end")
    feed.command("play")  # at the end, play starts over
    assert feed.status().position_s == 0.0 and feed.status().playing
    assert "start" in feed.command("seek", to="middle")
    assert "delta_s" in feed.command("seek")
    assert "not available" in feed.command("mark", note="x")


def test_playing_stops_at_the_end(recording):
    feed, clock, base = _feed(recording)
    feed.drain()
    feed.command("speed", factor=1000)
    clock.now += 10.0  # 10 000 s of recording: beyond the end
    u = feed.drain()
    assert u.reset  # more than the history window passed: refill instead of a flood
    assert u.samples[-1].t_ns == base + LENGTH_S * S
    assert not feed.status().playing and feed.status().remaining_s == 0.0


def test_next_and_prev_event(recording):
    feed, clock, base = _feed(recording, playing=False)
    feed.drain()
    assert feed.command("prev_event") == "no earlier event"
    assert feed.command("next_event").startswith("mark at")
    assert feed.status().t_ns == base + 30 * S and feed.drain().reset
    feed.command("next_event")
    feed.command("next_event")
    assert feed.status().t_ns == base + 151 * S
    assert feed.command("next_event") == "no later event"
    feed.command("prev_event")
    assert feed.status().t_ns == base + 150 * S
    feed.command("seek", delta_s=10)
    feed.command("prev_event")
    assert feed.status().t_ns == base + 151 * S


def test_reload_follows_a_growing_recording(tmp_path):
    folder = tmp_path / "live"
    writer = Recorder(folder, {}, flush_s=3600, roll_s=3600, fsync=False).open()
    try:
        base = writer.meta["clock"]["monotonic_ns"]
        writer.on_sample(Sample(base + S, {"a": 1.0}))
        writer.flush()
        clock = FakeClock()
        feed = ReplayFeed(open_recording(folder), clock=clock, playing=False)
        assert feed.status().length_s == pytest.approx(1.0)
        writer.on_sample(Sample(base + 5 * S, {"a": 2.0}))
        writer.flush()
        feed.reload()
        feed.command("seek", to="end")
        u = feed.drain()
        assert [s.values["a"] for s in u.samples] == [1.0, 2.0]
        assert feed.status().length_s == pytest.approx(5.0)
    finally:
        writer.close()
