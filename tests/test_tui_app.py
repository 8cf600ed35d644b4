"""Pilot tests: keys -> feed commands, modals, crash display, layout folding, ASCII mode."""

from __future__ import annotations

from textual.widgets import OptionList

from edgemon.tui.app import DashboardApp
from edgemon.tui.screens import (
    ConfirmScreen,
    CoresScreen,
    HelpScreen,
    PowerModeScreen,
    QuitScreen,
    TextInputScreen,
)
from edgemon.tui.widgets.base import Panel
from tui_helpers import FakeFeed, make_app, run_async

SMALL = (80, 24)


async def settle(app, pilot) -> None:
    """Let key handlers run, then wait for the command thread, then for the redraw."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def panel_text(app, selector: str) -> str:
    widget = app.query_one(selector, Panel)
    return widget.render().plain


@run_async
async def test_p_pauses_and_resumes_the_worker():
    app, feed = make_app("linux")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("p")
        await settle(app, pilot)
        assert feed.commands == [("pause", {})]
        assert app.status.state == "paused"
        assert "paused" in panel_text(app, "#header")
        await pilot.press("p")
        await settle(app, pilot)
        assert feed.commands[-1] == ("resume", {})


@run_async
async def test_m_marks_with_a_note_and_the_event_shows():
    app, feed = make_app("linux")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, TextInputScreen)
        await pilot.press(*"fan on", "enter")
        await settle(app, pilot)
        assert feed.commands == [("mark", {"note": "fan on"})]
        assert not isinstance(app.screen, TextInputScreen)
        assert "mark: fan on" in panel_text(app, "#events")


@run_async
async def test_m_escape_sends_nothing():
    app, feed = make_app("linux")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("m", "x", "escape")
        await settle(app, pilot)
        assert feed.commands == []


@run_async
async def test_help_lists_keys_and_source_statuses():
    app, feed = make_app("jetson")
    feed.machine_state().unavailable["fan"] = "no fan control in /sys/devices/platform/pwm-fan"
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(f"{k} {w}" for k, w in app.screen.keys)
        for needle in ("q quit", "p pause", "m mark", "o mode", "c cores", "j clocks", "f fan"):
            assert needle in text
        sources = {name: (ok, why) for name, ok, why in app.screen.sources}
        assert sources["nvml"] == (False, "NVML present but NotSupported on Tegra")
        assert sources["control fan"][0] is False
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


@run_async
async def test_help_scrolls_at_80x24_and_lists_unavailable_sources_first():
    from edgemon.telemetry.base import SourceStatus

    class ManySources(FakeFeed):
        @property
        def source_statuses(self):
            ok = [SourceStatus(f"zone{i}", True, detail=f"thermal zone {i}") for i in range(25)]
            return ok + [SourceStatus("rapl", False, reason="no powercap in /sys/class/powercap")]

    app = DashboardApp(ManySources("linux"))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        assert text.index("rapl") < text.index("zone0"), "unavailable sources come first"
        assert "no powercap in /sys/class/powercap" in text
        scroll = app.screen.query_one("#help-scroll")
        assert scroll.max_scroll_y > 0, "more than 80x24 holds"
        assert scroll.region.bottom <= SMALL[1]
        await pilot.press("end")
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y
        await pilot.press("home")
        await pilot.press("pagedown")
        await pilot.pause()
        assert 0 < scroll.scroll_y


@run_async
async def test_power_mode_picker_with_confirmation_while_recording():
    app, feed = make_app("jetson")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, PowerModeScreen)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert feed.commands == []
        await pilot.press("y")
        await settle(app, pilot)
        assert feed.commands == [("power_mode", {"id": 1})]
        assert "mode 1 7W" in panel_text(app, "#jetson")


@run_async
async def test_power_mode_declined_sends_nothing():
    app, feed = make_app("jetson")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("o", "down", "enter")
        await pilot.pause()
        await pilot.press("n")
        await settle(app, pilot)
        assert feed.commands == []


@run_async
async def test_cores_screen_toggles_but_never_cpu0():
    app, feed = make_app("jetson")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CoresScreen)
        await pilot.press("space")                 # cpu0: refused in the UI
        await settle(app, pilot)
        assert feed.commands == []
        await pilot.press("down", "space")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert feed.commands == [("core", {"cpu": 1, "online": False})]
        assert isinstance(app.screen, CoresScreen)
        option_list = app.screen.query_one(OptionList)
        assert "offline" in str(option_list.get_option_at_index(1).prompt)   # the list was redrawn
        assert "online" in str(option_list.get_option_at_index(2).prompt)
        await pilot.press("down", "down", "down", "space", "y")   # cpu4 is offline: bring it up
        await settle(app, pilot)
        assert feed.commands[-1] == ("core", {"cpu": 4, "online": True})


@run_async
async def test_jetson_clocks_without_recording_needs_no_confirmation():
    app, feed = make_app("jetson", recording=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("j")
        await settle(app, pilot)
        assert feed.commands == [("jetson_clocks", {"on": True})]
        await pilot.press("j")
        await settle(app, pilot)
        assert feed.commands[-1] == ("jetson_clocks", {"on": False})


@run_async
async def test_fan_input_validates_then_confirms():
    app, feed = make_app("jetson")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, TextInputScreen)
        await pilot.press("1", "5", "0", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TextInputScreen)          # 150 refused, still asking
        await pilot.press("backspace", "backspace", "backspace", "8", "0", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")
        await settle(app, pilot)
        assert feed.commands == [("fan", {"pct": 80.0})]


@run_async
async def test_unavailable_control_says_why_and_opens_nothing():
    app, feed = make_app("jetson")
    feed.machine_state().unavailable["power_mode"] = "nvpmodel not found; install nvpmodel or pass --nvpmodel"
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("o")
        await settle(app, pilot)
        assert not isinstance(app.screen, PowerModeScreen)
        assert feed.commands == []
        assert any("nvpmodel not found" in n.message for n in app._notifications)


@run_async
async def test_jetson_keys_do_nothing_without_controls():
    app, feed = make_app("linux")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("o", "c", "j", "f")
        await settle(app, pilot)
        assert app.screen is app.screen_stack[0]
        assert feed.commands == []
        assert not app.query_one("#jetson").display or "gpu / power" in app.query_one("#jetson").border_title


REPLAY_KEYS = [
    ("space", ("toggle", {})),
    ("plus", ("speed", {"factor": 20})),
    ("minus", ("speed", {"factor": 10})),   # back from 20x
    ("right", ("seek", {"delta_s": 10.0})),
    ("left", ("seek", {"delta_s": -10.0})),
    ("shift+right", ("seek", {"delta_s": 60.0})),
    ("shift+left", ("seek", {"delta_s": -60.0})),
    ("right_square_bracket", ("seek", {"delta_s": 60.0})),
    ("left_square_bracket", ("seek", {"delta_s": -60.0})),
    ("home", ("seek", {"to": "start"})),
    ("end", ("seek", {"to": "end"})),
    ("n", ("next_event", {})),
    ("N", ("prev_event", {})),
]


@run_async
async def test_replay_keys_send_replay_commands():
    app, feed = make_app("replay", seconds=20)
    async with app.run_test(size=SMALL) as pilot:
        for key, _ in REPLAY_KEYS:
            await pilot.press(key)
            await settle(app, pilot)
        assert feed.commands == [command for _, command in REPLAY_KEYS]


@run_async
async def test_replay_seek_resets_the_model():
    app, feed = make_app("replay")
    async with app.run_test(size=SMALL) as pilot:
        before = app.model.samples_seen
        await pilot.press("home")
        await settle(app, pilot)
        assert app.model.samples_seen < before
        assert app.status.position_s == 0


@run_async
async def test_live_only_keys_are_off_in_replay():
    app, feed = make_app("replay")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("m", "o", "p")
        await settle(app, pilot)
        assert feed.commands == []
        assert app.screen is app.screen_stack[0]


@run_async
async def test_crashed_worker_is_shown_and_the_dashboard_stays_up():
    app, feed = make_app("crashed")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        header = panel_text(app, "#header")
        assert "crashed" in header and "SIGKILL" in header
        assert "worker_crashed: killed by SIGKILL (out of memory)" in panel_text(app, "#events")
        await pilot.press("p")          # still answers keys
        await settle(app, pilot)
        assert app.is_running


@run_async
async def test_q_stops_a_live_session_then_exits():
    app, feed = make_app("linux")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert feed.commands == [("stop", {})]
    assert app.return_code == 0


@run_async
async def test_q_or_ctrl_c_on_a_detachable_session_asks_detach_or_stop():
    for quit_key, key, expected in (("q", "d", "detach"), ("q", "s", "stop"), ("ctrl+c", "d", "detach")):
        app, feed = make_app("linux", seconds=10, can_detach=True)
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press(quit_key)
            await settle(app, pilot)
            assert isinstance(app.screen, QuitScreen), quit_key     # ctrl+c: not Textual's "press ctrl+q"
            assert feed.commands == []
            await pilot.press(key)
            await settle(app, pilot)
        assert feed.commands == [(expected, {})]
        assert app.return_code == 0


@run_async
async def test_after_the_session_ends_its_controls_are_disabled_with_a_message():
    app, feed = make_app("jetson", seconds=10)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        feed.state = "ended"
        app.poll()
        await pilot.press("p", "m", "o", "c", "j", "f")
        await settle(app, pilot)
        assert feed.commands == [] and app.screen is app.screen_stack[0]
        entries = {keys: enabled for keys, _what, enabled in app.footer_entries()}
        assert entries["q"] and entries["?"]
        assert not any(entries[k] for k in ("p", "m", "o", "c", "j", "f")), "shown, but disabled"
        header = panel_text(app, "#header")
        assert "session ended" in header and "controls off" in header and "q quits" in header


@run_async
async def test_the_footer_lists_every_key():
    """Every key the dashboard takes in a mode is in that mode's footer (pairs share an entry;
    ctrl+c and shift+arrows are the same actions as q and [ ])."""
    aliases = {"ctrl+c", "shift+left", "shift+right"}
    names = {"?": ["question_mark"], "+/-": ["plus", "minus"], "←/→": ["left", "right"],
             "[/]": ["left_square_bracket", "right_square_bracket"], "Home/End": ["home", "end"]}
    for scenario, size in (("linux", SMALL), ("jetson", SMALL), ("replay", SMALL), ("replay", (160, 48))):
        app, feed = make_app(scenario)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            listed = set()
            for keys, _what, _on in app.footer_entries():
                listed.update(names.get(keys, keys.split("/")))
            shown = str(app.key_footer.render())
            for keys, what, _on in app.footer_entries():
                assert f"{keys} {what}" in shown, (scenario, keys)     # none cut off, even at 80x24
            for binding in app.BINDINGS:
                action, _, args = binding.action.partition("(")
                params = tuple(a.strip(" '\")") for a in args.split(",") if a.strip(" ')\"")) if args else ()
                if app.check_action(action, params) is False:
                    continue
                keys = [k for k in binding.key.split(",") if k not in aliases]
                assert not keys or set(keys) & listed, (scenario, binding.key)
            assert app.query_one("#footer").region.bottom <= size[1]


@run_async
async def test_fast_replay_speed_presses_are_never_dropped():
    app, feed = make_app("replay", seconds=10)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("plus", "plus", "plus", "minus")     # faster than the feed answers
        await settle(app, pilot)
    assert [kw["factor"] for name, kw in feed.commands if name == "speed"] == [20, 50, 100, 50]


@run_async
async def test_q_then_escape_stays():
    app, feed = make_app("linux", seconds=10, can_detach=True)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("q")
        await settle(app, pilot)
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.is_running and feed.commands == []


@run_async
async def test_q_in_replay_just_exits():
    app, feed = make_app("replay")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert feed.commands == []


class BrokenFeed(FakeFeed):
    def drain(self):
        raise OSError("control socket closed")


@run_async
async def test_a_failing_feed_is_reported_not_fatal():
    app = DashboardApp(BrokenFeed("linux"))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert "feed error: OSError: control socket closed" in panel_text(app, "#header")
        assert app.is_running


@run_async
async def test_new_data_arrives_on_the_next_poll():
    app, feed = make_app("linux", seconds=10)
    async with app.run_test(size=SMALL) as pilot:
        before = app.model.iterations
        feed.advance(5)
        app.poll()
        await pilot.pause()
        assert app.model.iterations > before
        assert "00:15" in panel_text(app, "#header")


@run_async
async def test_ascii_mode_draws_only_ascii():
    for scenario in ("jetson", "replay"):
        app, feed = make_app(scenario, ascii=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for panel in app.panels:
                if panel.display:
                    text = panel.render().plain
                    assert text.isascii(), (panel.id, [c for c in text if not c.isascii()][:5])
            assert "ascii" in app.screen.classes


@run_async
async def test_80x24_fits_the_main_panels():
    app, feed = make_app("jetson")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        for selector in ("#header", "#latency", "#throughput", "#cpu", "#system", "#jetson", "#events"):
            region = app.query_one(selector).region
            assert region.height > 0 and region.width > 0, selector
            assert region.bottom <= 23 and region.right <= 80, selector   # the footer keeps the last row
        assert "-short" in app.screen.classes


@run_async
async def test_very_narrow_terminal_drops_secondary_panels():
    app, feed = make_app("jetson")
    async with app.run_test(size=(60, 24)) as pilot:
        await pilot.pause()
        assert not app.query_one("#throughput").display
        assert app.query_one("#latency").region.width == 60


@run_async
async def test_a_wider_terminal_shows_the_whole_wider_window_at_once():
    """Five minutes of history arrive at once (as an attach gives them); widening the terminal from
    80x24 to 200x50 widens the throughput chart and its trend lines to their full window at once,
    every column filled, not just what arrived since the resize."""
    app, feed = make_app("linux", seconds=300)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        panel = app.query_one("#throughput", Panel)
        narrow = int(str(panel.border_subtitle).split(" s")[0])
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        await pilot.pause()
        wide = int(str(panel.border_subtitle).split(" s")[0])
        assert wide >= 3 * narrow, (narrow, wide)
        lines = panel.render().plain.splitlines()
        graph_bottom = next(line for line in lines if line.lstrip().startswith("0 "))
        cells = graph_bottom.lstrip()[2:]
        assert len(cells) * 2 == wide and " " not in cells and "\u2800" not in cells, graph_bottom
        temp = next(line for line in lines if line.startswith("temp"))
        assert len(temp) - 10 == len(cells) and " " not in temp[10:], temp


@run_async
async def test_window_key_switches_the_latency_view():
    app, feed = make_app("linux")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("w")
        await pilot.pause()
        assert "last 10 s" in app.query_one("#latency").border_title
        n_window = app.model.latency_window.histogram().count
        assert 0 < n_window < app.model.iterations
        assert f"n {n_window:,}" in panel_text(app, "#latency")


@run_async
async def test_cpu_panel_shows_the_monitors_own_cpu():
    """In-process or replayed: the recorded proc_monitor_cpu_pct; a detached session's dashboard
    is another process, so it adds its own CPU (measured by itself, not recorded)."""
    app, _feed = make_app("linux")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        panel = app.query_one("#cpu")
        assert panel.border_subtitle == f"edgemon {app.model.monitor_cpu():.1f}%"
        assert app.dashboard_cpu_pct is None
    app, _feed = make_app("linux", can_detach=True)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(150):                     # needs a second of its own CPU clock
            if app.dashboard_cpu_pct is not None:
                break
            await pilot.pause(0.2)
        assert app.dashboard_cpu_pct is not None and app.dashboard_cpu_pct >= 0.0
        app.query_one("#cpu")._monitor_at = -1e9  # the subtitle changes at most every few seconds
        app.poll()
        assert app.query_one("#cpu").border_subtitle.startswith(f"edgemon {app.model.monitor_cpu():.1f}% + ui ")


def _command_meta(feed, regex=None):
    feed.meta.update(kind="command", runner="command", model="train.py",
                     workload={"kind": "command", "runner": "command", "model": "train.py",
                               "command": ["python", "train.py"], "latency_regex": regex})


@run_async
async def test_a_command_without_latency_rows_says_where_latency_would_come_from():
    app, feed = make_app("linux", rows_per_s=0)
    _command_meta(feed)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        text = panel_text(app, "#latency")
        assert "edgemon_probe" in text and "--latency-regex" in text
        assert "command train.py" in panel_text(app, "#header")
    app, feed = make_app("linux", rows_per_s=0)
    _command_meta(feed, regex=r"took (?P<ms>\d+) ms")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert "no line has matched --latency-regex took (?P<ms>\\d+) ms" in panel_text(app, "#latency")
    app, feed = make_app("linux", rows_per_s=0)
    feed.meta.update(kind="watch", workload={"kind": "watch", "runner": "none", "model": "none"})
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert "monitor only" in panel_text(app, "#latency") and "monitor only" in panel_text(app, "#header")


@run_async
async def test_a_command_with_latency_rows_shows_them():
    app, feed = make_app("linux")
    _command_meta(feed)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        text = panel_text(app, "#latency")
        assert text.startswith("n ") and "p50" in text and "edgemon_probe" not in text


@run_async
async def test_latency_subtitle_counts_outliers_in_three_figures_so_it_rarely_repaints_the_panel():
    """A new border subtitle repaints the whole panel; an exact outlier count changed it at every
    redraw at 30,000 rows/s (10 of the panel's lines repainted per redraw instead of 1)."""
    import numpy as np

    app, _feed = make_app("linux")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        hist = app.model.latency_all
        hist.reset()
        hist.add(np.full(2_000_000, 1_000_000))          # 1 ms
        hist.add(np.full(1_230, 20_000_000_000))         # 20 s: above p99.9, past the bins shown
        panel = app.query_one("#latency", Panel)
        text = panel.render_panel(app.view_state(), panel.size.width, panel.size.height)
        assert text.plain
        subtitle = str(panel.border_subtitle)
        assert subtitle.startswith("1.23k > "), subtitle
        hist.add(np.full(3, 20_000_000_000))
        panel.render_panel(app.view_state(), panel.size.width, panel.size.height)
        assert str(panel.border_subtitle) == subtitle


@run_async
async def test_event_log_and_live_timeline_render_only_when_what_they_show_moved():
    """Panels with a render_key skip rendering a redraw that cannot change them: the event log
    until an event comes or the model is reset, the live strip until it has cells to shade."""
    from edgemon.datatypes import Event, EventKind
    from edgemon.view.timeline import Episode, Timeline

    app, _feed = make_app("linux")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        log, strip = app.query_one("#events", Panel), app.timeline_strip
        calls = {"log": 0, "strip": 0}
        for name, panel in (("log", log), ("strip", strip)):
            def counting(view, w, h, _render=panel.render_panel, _name=name):
                calls[_name] += 1
                return _render(view, w, h)
            panel.render_panel = counting

        def show(view):
            log.show(view)
            strip.show(view)

        view = app.view_state()
        show(view)
        first = dict(calls)
        show(view)
        assert calls == first                 # the same redraw again: nothing rendered
        app.model.add_events([Event(app.model.now_ns, EventKind.MARK, {"note": "here"})])
        show(app.view_state())
        assert calls["log"] == first["log"] + 1 and "here" in log.render().plain
        app.model.reset()
        show(app.view_state())
        assert calls["log"] == first["log"] + 2 and "here" not in log.render().plain

        live = Timeline(length_s=10.0, episodes=(), marks=())
        longer = Timeline(length_s=20.0, episodes=(), marks=())
        shaded = Timeline(length_s=20.0, marks=(),
                          episodes=(Episode(start_s=5.0, end_s=15.0, domain="cpu", cause="thermal"),))
        before = calls["strip"]
        for timeline in (live, longer):       # no episode, no mark: the same bare track
            app.timeline = timeline
            strip.show(app.view_state())
        assert calls["strip"] == before + 1
        app.timeline = shaded
        strip.show(app.view_state())
        assert calls["strip"] == before + 2 and "T" in strip.render().plain


@run_async
async def test_a_new_border_subtitle_repaints_the_border_row_only():
    """Textual's setter repaints a whole panel for a new subtitle; at 2 Hz with the latency
    panel's outlier counts that was the whole panel at most redraws. Only the border's row is
    repainted now, and that row shows the new text."""
    from textual.geometry import Region

    app, _feed = make_app("linux")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        panel = app.query_one("#latency", Panel)
        await pilot.pause()
        outer = panel.outer_size
        panel._repaint_regions.clear()
        panel.set_titles(subtitle="42 > 9 ms")
        assert panel._repaint_regions == {Region(0, outer.height - 1, outer.width, 1)}
        assert str(panel.border_subtitle) == "42 > 9 ms"
        panel._repaint_regions.clear()
        panel.set_titles(title="latency, a new title")
        assert panel._repaint_regions == {Region(0, 0, outer.width, 1)}
        await pilot.pause()
        bottom = panel.render_lines(Region(0, outer.height - 1, outer.width, 1))[0].text
        top = panel.render_lines(Region(0, 0, outer.width, 1))[0].text
        assert "42 > 9 ms" in bottom and "latency, a new title" in top
        panel._repaint_regions.clear()
        panel.set_titles(subtitle="42 > 9 ms")          # unchanged: nothing to repaint
        assert not panel._repaint_regions
