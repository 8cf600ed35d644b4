"""Pilot tests for replay: the timeline strip, t/T episode keys, the analysis screen (a), and the
dashboard bits that came with them (history sparklines, footer keys, redraw rate, partial repaint)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from edgemon.recording.reader import open_recording
from edgemon.feeds.replay import ReplayFeed
from edgemon.tui.app import DashboardApp
from edgemon.tui.screens import AnalysisScreen
from edgemon.tui.widgets.base import Panel
from replay_helpers import EPISODE_S, build_throttled
from tui_helpers import FakeFeed, make_app, run_async

SMALL = (80, 24)
LARGE = (160, 48)


async def settle(app, pilot) -> None:
    # A dismissed screen's callback may start its command worker a few event-loop turns
    # later (more turns on a loaded machine): wait for workers until none is left.
    for _ in range(20):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            break


def panel_text(app, selector: str) -> str:
    return app.query_one(selector, Panel).render().plain


class FixedClock:
    def __call__(self) -> float:
        return 100.0


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return build_throttled(tmp_path_factory.mktemp("tui-replay") / "rec")


def replay_app(folder, **kw):
    feed = ReplayFeed(open_recording(folder), playing=False, clock=FixedClock())
    assert feed.wait_loaded(60) and feed.analysis_state == "ready", feed.analysis_error
    return DashboardApp(feed, **kw), feed


@run_async
async def test_t_and_shift_t_send_episode_commands():
    app, feed = make_app("replay", seconds=20)
    async with app.run_test(size=SMALL) as pilot:
        for key in ("t", "T", "t"):
            await pilot.press(key)
            await settle(app, pilot)
        assert feed.commands == [("next_episode", {}), ("prev_episode", {}), ("next_episode", {})]
        assert app.status.position_s == pytest.approx(40.0)
        assert "cpu throttled -20% (thermal)" in panel_text(app, "#header")


@run_async
async def test_timeline_strip_shows_episodes_marks_and_playhead():
    app, feed = make_app("replay", seconds=60)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause()
        strip = app.query_one("#timeline")
        assert strip.display and strip.region.height == 2 and strip.region.y == 2   # right under the header
        marks, track = panel_text(app, "#timeline").split("\n")
        assert len(track) == 160
        assert track.index("┃") == 53                    # 60 s of 180 s
        assert track.index("T") == 35 and track.rstrip("─").endswith("▒")   # thermal from 40 s to 150 s
        assert marks.index("▼") == 17 and marks.index("◆") == 26           # mark at 20 s, power mode at 30 s


@run_async
async def test_timeline_is_one_line_at_80x24_and_everything_still_fits():
    app, feed = make_app("replay")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert app.query_one("#timeline").region.height == 1
        track = panel_text(app, "#timeline")
        assert len(track) == 80 and "▼" in track and "◆" in track and "┃" in track
        for selector in ("#header", "#timeline", "#latency", "#throughput", "#cpu", "#system", "#jetson", "#events"):
            region = app.query_one(selector).region
            assert region.height > 0 and region.bottom <= 23 and region.right <= 80, selector


@run_async
async def test_live_sessions_draw_the_timeline_so_far_and_have_no_replay_keys():
    app, feed = make_app("jetson")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("t", "a")
        await settle(app, pilot)
        strip = app.query_one("#timeline")
        assert strip.display
        timeline = app.timeline
        # the scripted session: 60 s so far, thermal throttling (its throttle_begin events) from 40 s
        assert timeline.length_s == pytest.approx(60.0)
        assert {(e.domain, e.cause, e.start_s, e.end_s) for e in timeline.episodes} == {
            ("cpu", "thermal", 40.0, 60.0), ("gpu", "thermal", 40.0, 60.0)}
        track = str(strip.render()).splitlines()[-1]
        assert track.index("T") == int(40 / 60 * len(track))       # the stretch starts at 40 s
        assert "┃" not in track                                     # live: no playhead
        assert feed.commands == [] and app.screen is app.screen_stack[0]
        keys = " ".join(k for k, _ in app.key_help())
        assert " t" not in f" {keys}" and " a" not in f" {keys}"


@run_async
async def test_analysis_screen_lists_episodes_and_enter_jumps_there():
    app, feed = make_app("replay", seconds=10)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, AnalysisScreen)
        text = str(app.screen.query_one("#analysis-text").render())
        result = feed.analysis()       # the real analysis of the scripted session
        point = result.change_points.points[0]
        for needle in (f"p99 {result.latency_ms.p99:.3f}", "throughput 120.0 items/s",
                       f"latency levels: {result.levels.count}",
                       f"at 00:{int(point.at_s):02d}: {point.before_median_ms:.3f} -> {point.after_median_ms:.3f} ms",
                       f"{result.energy.mj_per_item:.3f} mJ per item", "2 episodes"):
            assert needle in text, needle
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        assert [str(c) for c in table.get_row_at(1)] == ["2", "00:40", "02:30", "110.0", "gpu", "510", "625", "18.4",
                                                         "T thermal"]
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, AnalysisScreen)
        assert feed.commands[-1] == ("seek", {"to": 40.0})


@run_async
async def test_analysis_screen_escape_sends_nothing():
    app, feed = make_app("replay", seconds=10)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is app.screen_stack[0] and feed.commands == []


@run_async
async def test_replay_of_a_recording_finds_the_throttled_moment(recording):
    app, feed = replay_app(recording)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert "2 throttling episodes" in panel_text(app, "#header")
        await pilot.press("t", "t")
        await settle(app, pilot)
        assert feed.status().position_s == pytest.approx(EPISODE_S[0], abs=1e-6)
        assert "cpu throttled -30% (thermal)" in panel_text(app, "#header")
        assert any("episode 2/2" in n.message for n in app._notifications)
        track = panel_text(app, "#timeline")
        assert track.index("┃") == 48                 # 60 s of 100 s at 80 cells
        await pilot.press("T")
        await settle(app, pilot)
        assert feed.status().position_s == pytest.approx(20.0, abs=1e-6)


@run_async
async def test_analysis_screen_on_a_recording_jumps_to_the_episode(recording):
    app, feed = replay_app(recording)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("a")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        assert [str(c) for c in table.get_row_at(1)][1:4] == ["01:00", "01:30", "30.0"]
        assert "thermal" in str(table.get_row_at(1)[-1])
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert feed.status().position_s == pytest.approx(EPISODE_S[0], abs=1e-6)


@run_async
async def test_analysis_screen_waits_for_the_analysis():
    class Slow(FakeFeed):
        analysis_state = "running"

        def analysis(self):
            return None if self.analysis_state != "ready" else super().analysis()

    feed = Slow("replay", seconds=10)
    app = DashboardApp(feed)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("a")
        for _ in range(50):         # the screen composes a few event-loop turns later under load
            await pilot.pause()
            if isinstance(app.screen, AnalysisScreen) and app.screen.query("#analysis-text"):
                break
        assert "analysing the recording" in str(app.screen.query_one("#analysis-text").render())
        assert not app.screen.query_one(DataTable).display
        feed.analysis_state = "ready"
        app.poll()
        await pilot.pause()
        assert app.screen.query_one(DataTable).row_count == 2


@run_async
async def test_history_sparklines_show_the_clock_drop():
    app, feed = make_app("jetson", seconds=60)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        lines = panel_text(app, "#throughput").split("\n")
        cpu = next(line for line in lines if line.startswith("cpu "))
        gpu = next(line for line in lines if line.startswith("gpu "))
        assert cpu.startswith("cpu 1208M") and gpu.startswith("gpu  510M")
        # 26 cells of 2 s = the 52 s before 60 s: full clock until 40 s, then the throttled level
        assert cpu[10:] == "█" * 16 + "▁" * 10 and gpu[10:] == cpu[10:]
    app, feed = make_app("jetson", seconds=60)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause()
        names = [line.split()[0] for line in panel_text(app, "#throughput").split("\n")[-4:]]
        assert names == ["cpu", "gpu", "temp", "pwr"]


@run_async
async def test_jetson_keys_appear_when_controls_arrive_after_the_first_poll():
    """The footer is composed once; it must follow the machine view (this raced before)."""
    class LateMachine(FakeFeed):
        calls = 0

        def machine_state(self):
            self.calls += 1
            return None if self.calls <= 2 else super().machine_state()

    feed = LateMachine("jetson")
    app = DashboardApp(feed)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        app.poll()
        await pilot.pause()
        await pilot.pause()
        footer_keys = {k for k, _what, _on in app.footer_entries()}
        assert {"o", "c", "j", "f"} <= footer_keys
        assert "j clocks" in str(app.key_footer.render())


def test_redraw_rate_defaults_to_2_hz_and_never_exceeds_4():
    assert DashboardApp(FakeFeed("linux")).redraw_hz == 2.0
    assert DashboardApp(FakeFeed("linux"), redraw_hz=10).redraw_hz == 4.0


@run_async
async def test_a_poll_with_nothing_new_repaints_nothing(monkeypatch):
    app, feed = make_app("jetson", seconds=30)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        calls = []
        monkeypatch.setattr(Panel, "refresh", lambda self, *regions, **kw: calls.append((self.id, regions)))
        app.poll()
        assert calls == []
        feed.advance(1)
        app.poll()
        assert calls, "new data must repaint something"
        events = [regions for pid, regions in calls if pid == "events"]
        assert events == []                    # no new event: the event log is left alone
        partial = [regions for pid, regions in calls if regions]
        assert partial, "changed lines are repainted on their own"
