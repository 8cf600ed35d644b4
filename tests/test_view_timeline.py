"""Replay timeline data: episodes and marks from the analysis of a recording, and what each cell shows."""

from __future__ import annotations

import pytest

from edgemon.recording.reader import open_recording
from edgemon.feeds.replay import ReplayFeed
from edgemon.view.timeline import (
    Episode,
    Mark,
    Timeline,
    cells,
    episodes_from_throttling,
    marks_from_events,
    playhead_cell,
)
from replay_helpers import EPISODE_S, LENGTH_S, SECOND_EPISODE_S, build_throttled


@pytest.fixture(scope="module")
def timeline(tmp_path_factory):
    folder = build_throttled(tmp_path_factory.mktemp("timeline") / "rec")
    feed = ReplayFeed(open_recording(folder), playing=False)
    assert feed.wait_loaded(60), "analysis thread did not finish"
    assert feed.analysis_state == "ready", feed.analysis_error
    return feed.timeline()


def test_episodes_come_from_the_analysis_of_the_recording(timeline):
    assert timeline.state == "ready" and timeline.length_s == pytest.approx(LENGTH_S)
    gpu, cpu = timeline.episodes
    assert (gpu.domain, gpu.cause, gpu.clock) == ("gpu", "unknown", "gpu_freq_mhz")
    assert (gpu.start_s, gpu.end_s) == pytest.approx(SECOND_EPISODE_S, abs=1e-6)
    assert (cpu.domain, cpu.cause, cpu.clock) == ("cpu", "thermal", "cpu0_freq_mhz")
    assert (cpu.start_s, cpu.end_s) == pytest.approx(EPISODE_S, abs=1e-6)
    assert cpu.clock_mhz == 1036.0 and cpu.ceiling_mhz == 1479.0
    assert cpu.drop_pct == pytest.approx(443 / 1479 * 100)
    assert cpu.letter == "T" and gpu.letter == "?"
    assert cpu.describe() == "cpu throttled -30% (thermal)"


def test_marks_are_the_events_that_matter(timeline):
    # the failed power-mode change and warmup_done make no mark
    assert [(m.at_s, m.kind) for m in timeline.marks] == [(30.0, "mark"), (45.0, "control"), (95.0, "crash")]
    assert timeline.marks[0].label == "mark: door opened"


def test_cells_of_a_recording_one_cell_per_second(timeline):
    row = cells(timeline, 100)
    thermal = [i for i, c in enumerate(row) if c.cause == "thermal"]
    assert thermal == list(range(60, 90))
    assert [i for i, c in enumerate(row) if c.cause == "unknown"] == list(range(20, 25))
    assert [i for i, c in enumerate(row) if c.start] == [20, 60]
    assert {i: c.mark for i, c in enumerate(row) if c.mark} == {30: "mark", 45: "control", 95: "crash"}


def test_cells_when_narrower_than_the_session(timeline):
    row = cells(timeline, 10)       # 10 s per cell
    assert [c.cause for c in row] == [None, None, "unknown", None, None, None, "thermal", "thermal", "thermal", None]
    assert [c.mark for c in row] == [None, None, None, "mark", "control", None, None, None, None, "crash"]


def test_a_short_episode_still_shows_and_overlaps_pick_the_larger_share():
    tl = Timeline(100.0, (Episode(10.0, 10.2, "gpu", "power"), Episode(10.5, 14.0, "cpu", "thermal"),
                          Episode(50.0, 60.0, "cpu", "power_mode")))
    row = cells(tl, 20)             # 5 s per cell
    assert row[2].cause == "thermal" and row[2].start   # 0.2 s power vs 3.5 s thermal in 10..15 s
    assert row[10].cause == "power_mode" and row[11].cause == "power_mode" and row[12].cause is None
    assert cells(Timeline(100.0, (Episode(10.0, 10.2, "gpu", "power"),)), 20)[2].cause == "power"


def test_mark_priority_in_a_shared_cell():
    tl = Timeline(10.0, marks=(Mark(1.0, "mark", "m"), Mark(1.2, "crash", "c"), Mark(5.0, "control", "x"),
                               Mark(5.1, "mode", "y")))
    row = cells(tl, 2)
    assert [c.mark for c in row] == ["crash", "mode"]


def test_playhead_cell_bounds():
    assert playhead_cell(0.0, 100.0, 80) == 0
    assert playhead_cell(50.0, 100.0, 80) == 40
    assert playhead_cell(100.0, 100.0, 80) == 79      # the very end sits in the last cell
    assert playhead_cell(500.0, 100.0, 80) == 79
    assert playhead_cell(-1.0, 100.0, 80) == 0
    assert playhead_cell(0.0, 0.0, 80) == 0
    assert cells(Timeline(0.0), 5) == cells(Timeline(10.0), 5)   # empty session: a bare track
    assert cells(Timeline(10.0), 0) == []


def test_episode_navigation():
    a, b = Episode(20.0, 25.0, "gpu", "unknown"), Episode(60.0, 90.0, "cpu", "thermal", drop_pct=30.0)
    c = Episode(70.0, 80.0, "gpu", "thermal", drop_pct=10.0)
    tl = Timeline(100.0, (a, b, c))
    assert tl.next_episode(0.0) is a and tl.next_episode(20.0) is b and tl.next_episode(70.0) is None
    assert tl.prev_episode(60.0) is a and tl.prev_episode(20.0) is None and tl.prev_episode(99.0) is c
    assert tl.episode_at(75.0) is b                 # the larger drop wins
    assert tl.episode_at(59.9) is None and tl.episode_at(90.0) is None


def test_episodes_from_a_missing_or_unavailable_analysis():
    assert episodes_from_throttling(None) == []
    assert episodes_from_throttling({"available": False, "reason": "no clocks"}) == []
    eps = episodes_from_throttling({"available": True, "episodes": [
        {"start_s": 5.0, "end_s": 7.0, "domain": "emc", "cause": None, "clocks": []},
        {"start_s": "bad", "end_s": 1.0}]})
    assert eps == [Episode(5.0, 7.0, "emc", "unknown")]


def test_marks_skip_failed_controls_and_unknown_kinds():
    marks = marks_from_events([(1.0, "core_online", {"cpu": 2, "online": False, "ok": True}),
                               (2.0, "jetson_clocks", {"ok": False}),
                               (3.0, "worker_hung", {"silent_s": 30}),
                               (4.0, "segment_rolled", {})])
    assert [(m.at_s, m.kind) for m in marks] == [(1.0, "control"), (3.0, "crash")]
    assert marks[0].label == "core_online: cpu2 off"
