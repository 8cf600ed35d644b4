"""ReplayFeed loading: latency on a background thread, chunked latency search, the analysis thread,
episode jumps; the reader's chunk-by-chunk sort check."""

from __future__ import annotations

import json
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edgemon.feeds import replay as replay_mod
from edgemon.recording.reader import open_recording
from edgemon.feeds.replay import ReplayFeed, _Latency
from edgemon.recording.segments import stream_schema
from replay_helpers import EPISODE_S, SECOND_EPISODE_S, build_throttled

S = 1_000_000_000


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_throttled(tmp_path_factory.mktemp("load") / "rec")


def _digest(update):
    lat = [(b.t_end_ns.tolist(), b.duration_ns.tolist(), b.items.tolist(), b.warmup) for b in update.latency]
    return update.reset, [(s.t_ns, s.values) for s in update.samples], lat, [(e.t_ns, e.kind) for e in update.events]


def test_background_loading_replays_exactly_like_loading_at_once(folder):
    feeds = []
    for background in (False, True):
        feed = ReplayFeed(open_recording(folder), playing=False, clock=FakeClock(), background=background,
                          analyze=False)
        assert feed.wait_loaded(30) and feed.latency_loaded
        feeds.append(feed)
    for step in (None, ("seek", {"to": 50}), ("seek", {"delta_s": -7.5}), ("play", {}), ("seek", {"to": "end"})):
        if step:
            for feed in feeds:
                feed.command(step[0], **step[1])
                feed._clock.now += 3.0
        a, b = (_digest(f.drain()) for f in feeds)
        assert a == b
        assert feeds[0].status() == feeds[1].status()
    assert feeds[0].length_s == pytest.approx(100.0)


def test_latency_is_read_on_demand_with_a_bounded_cache(folder):
    feed = ReplayFeed(open_recording(folder), playing=False, clock=FakeClock(), analyze=False)
    assert feed.latency_loaded and feed._thread is None            # opening reads no latency row
    feed.command("seek", to=40)
    first = feed.drain()
    assert first.reset and sum(len(b) for b in first.latency) == 4000   # 100 rows/s, (0, 40] s
    assert len(feed._lat.chunks._cache) <= replay_mod.CACHE_PIECES


def _write_row_groups(folder, groups):
    """A recording whose latency file has one Parquet row group per item of ``groups``."""
    (folder / "latency").mkdir(parents=True)
    for name in ("telemetry", "events"):
        (folder / name).mkdir()
    schema = stream_schema("latency")
    with pq.ParquetWriter(str(folder / "latency" / "part-00000.parquet"), schema) as w:
        for t in groups:
            w.write_table(pa.table({"t_end_ns": pa.array(t, pa.int64()), "duration_ns": pa.array(t * 2),
                                    "items": pa.array(np.ones(len(t), np.int32)),
                                    "warmup": pa.array(t < 100)}, schema=schema))
    (folder / "session.json").write_text(json.dumps({"schema_version": 1, "state": "ended",
                                                     "clock": {"monotonic_ns": 0, "unix_ns": 0}}))


def test_row_groups_are_sliced_like_one_array(tmp_path):
    rng = np.random.default_rng(3)
    t = np.sort(rng.integers(0, 500, 400)).astype(np.int64)     # duplicates, also across row-group edges
    cuts = [0, 1, 50, 173, 174, 400]                            # one-row groups too
    _write_row_groups(tmp_path / "rec", [t[a:b] for a, b in zip(cuts[:-1], cuts[1:])])
    chunks = open_recording(tmp_path / "rec").latency_chunks()
    assert len(chunks.pieces) == 5 and chunks.rows == 400
    lat = _Latency(chunks)

    def joined(parts):
        if not parts:
            return [np.empty(0, np.int64)] * 4
        return [np.concatenate(c) for c in zip(*parts)]

    for lo, hi in [(-1, 500), (-1, 0), (0, 1), (49, 51), (98, 101), (172, 175), (10, 10), (398, 499), (120, 390),
                   (int(t[49]), int(t[50])), (int(t[172]), int(t[173]))]:
        tt, dd, ii, ww = joined(lat.take_between(lo, hi))
        sel = (t > lo) & (t <= hi)
        np.testing.assert_array_equal(tt, t[sel])
        np.testing.assert_array_equal(dd, t[sel] * 2)
        np.testing.assert_array_equal(ww, t[sel] < 100)
        if tt.shape[0]:
            assert ii.dtype == np.int32 and tt.dtype == np.int64 and ww.dtype == bool
        for cap in (1, 3, 60):                      # the newest rows only
            capped = joined(lat.take_between(lo, hi, cap))[0]
            np.testing.assert_array_equal(capped, t[sel][max(0, int(sel.sum()) - cap):])
    assert len(chunks._cache) <= chunks.cache_pieces


def test_reader_sorts_parts_that_overlap_in_time(tmp_path):
    folder = tmp_path / "rec"
    (folder / "latency").mkdir(parents=True)
    for name in ("telemetry", "events"):
        (folder / name).mkdir()
    for part, times in enumerate(([50, 60, 70], [10, 20, 30], [30, 31])):
        table = pa.table({"t_end_ns": pa.array(times, pa.int64()), "duration_ns": pa.array([1] * len(times), pa.int64()),
                          "items": pa.array([1] * len(times), pa.int32()),
                          "warmup": pa.array([False] * len(times))}, schema=stream_schema("latency"))
        pq.write_table(table, str(folder / "latency" / f"part-{part:05d}.parquet"))
    (folder / "session.json").write_text(json.dumps({"schema_version": 1, "state": "ended",
                                                     "clock": {"monotonic_ns": 0, "unix_ns": 0}}))
    rec = open_recording(folder)
    assert rec.latency().column("t_end_ns").to_pylist() == [10, 20, 30, 30, 31, 50, 60, 70]
    feed = ReplayFeed(rec, playing=False, analyze=False)
    feed.command("seek", to="end")
    assert [int(x) for b in feed.drain().latency for x in b.t_end_ns] == [10, 20, 30, 30, 31, 50, 60, 70]


def test_episode_jumps(folder):
    feed = ReplayFeed(open_recording(folder), playing=False, clock=FakeClock())
    assert feed.wait_loaded(60) and feed.analysis_state == "ready", feed.analysis_error
    assert feed.analysis()["throttling"]["episode_count"] == 2
    assert feed.command("prev_episode") == "no earlier throttling episode"
    msg = feed.command("next_episode")
    assert msg.startswith("episode 1/2 at") and "gpu throttled -33% (unknown cause)" in msg
    assert feed.status().position_s == pytest.approx(SECOND_EPISODE_S[0], abs=1e-6)
    assert feed.drain().reset
    assert "cpu throttled -30% (thermal)" in feed.command("next_episode")
    assert feed.status().position_s == pytest.approx(EPISODE_S[0], abs=1e-6)
    assert feed.command("next_episode") == "no later throttling episode"
    feed.command("seek", delta_s=5)                   # inside the second episode: back to its start ...
    feed.command("prev_episode")
    assert feed.status().position_s == pytest.approx(EPISODE_S[0], abs=1e-6)
    feed.command("prev_episode")                      # ... and from its start to the one before
    assert feed.status().position_s == pytest.approx(SECOND_EPISODE_S[0], abs=1e-6)


def test_episode_keys_while_analysing_and_without_analysis(folder, monkeypatch):
    import edgemon.analysis.summary as summary

    gate = threading.Event()
    real = summary.analyze

    def slow(*args, **kw):
        assert gate.wait(30)
        return real(*args, **kw)

    monkeypatch.setattr(summary, "analyze", slow)
    feed = ReplayFeed(open_recording(folder), playing=False, clock=FakeClock())
    assert "still analysing" in feed.command("next_episode")
    assert feed.timeline().state == "analysing" and feed.analysis() is None
    assert [m.kind for m in feed.timeline().marks] == ["mark", "control", "crash"]    # marks need no analysis
    gate.set()
    assert feed.wait_loaded(60)
    assert feed.timeline().state == "ready" and len(feed.timeline().episodes) == 2

    off = ReplayFeed(open_recording(folder), playing=False, analyze=False)
    assert off.analysis_state == "off" and off.timeline().state == "unavailable"
    assert off.command("next_episode").startswith("throttling episodes:")


def test_a_failing_analysis_is_reported_not_raised(folder, monkeypatch):
    import edgemon.analysis.summary as summary

    def broken(*args, **kw):
        raise ValueError("bad\nthings")

    monkeypatch.setattr(summary, "analyze", broken)
    feed = ReplayFeed(open_recording(folder), playing=False)
    assert feed.wait_loaded(30)
    assert feed.analysis_state == "failed" and feed.analysis_error == "ValueError: bad things"
    assert feed.timeline().state == "unavailable" and feed.timeline().note == "ValueError: bad things"
    assert feed.drain().samples                       # the replay itself is unaffected


def test_recording_without_clocks_has_no_episodes(tmp_path):
    from analysis_helpers import back_to_back, build_session

    folder = build_session(tmp_path / "s", sample=lambda t: {"ram_used_mb": 1.0}, latency=back_to_back(0, 10, 10.0),
                           duration_s=10, events=[(5.0, "mark", {"note": "x"})])
    feed = ReplayFeed(open_recording(folder), playing=False)
    assert feed.wait_loaded(30) and feed.analysis_state == "ready"
    tl = feed.timeline()
    assert tl.state == "unavailable" and "clock" in tl.note and tl.episodes == ()
    assert [m.kind for m in tl.marks] == ["mark"]
    assert "no CPU, GPU or EMC clock" in feed.command("next_episode")


def test_analysis_in_a_child_process_as_edgemon_replay_does(folder, tmp_path):
    """`edgemon replay` analyses in a child process: the same timeline, and its failure is one line."""
    here = ReplayFeed(open_recording(folder), playing=False, clock=FakeClock())
    child = ReplayFeed(open_recording(folder), playing=False, clock=FakeClock(), analysis_process=True)
    assert here.wait_loaded(60) and child.wait_loaded(120)
    assert child.analysis_state == "ready", child.analysis_error
    assert child.timeline().episodes == here.timeline().episodes and len(child.timeline().episodes) == 2
    assert child.analysis()["latency_ms"]["count"] == here.analysis()["latency_ms"]["count"]

    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    rec = open_recording(broken)
    (broken / "session.json").write_text("{not json")             # the child finds it unreadable
    feed = ReplayFeed(rec, playing=False, analysis_process=True)
    assert feed.wait_loaded(120) and feed.analysis_state == "failed"
    assert "session.json" in feed.analysis_error and "Traceback" not in feed.analysis_error
    assert feed.drain().samples                                     # the replay itself goes on
