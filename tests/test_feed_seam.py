"""The feed seam: typed commands with a wire form, declared capabilities, every feed a Feed."""

from __future__ import annotations

from dataclasses import fields

import pytest

from edgemon.feeds import commands as cmds
from edgemon.feeds.base import AnalysisFeed, Capabilities, Feed, TimelineFeed
from edgemon.feeds.demo import FakeFeed


@pytest.mark.parametrize("cmd", [
    cmds.Pause(), cmds.Resume(), cmds.TogglePause(), cmds.Mark(note="door opened"), cmds.Stop(), cmds.Detach(),
    cmds.PowerMode(id=2), cmds.Core(cpu=3, online=False), cmds.Cores(mask=[0, 3]), cmds.JetsonClocks(on=True),
    cmds.Fan(pct=80.0), cmds.Play(), cmds.Toggle(), cmds.Seek(delta_s=-10.0), cmds.Seek(to="end"),
    cmds.Speed(factor=20), cmds.NextEvent(), cmds.PrevEvent(), cmds.NextEpisode(), cmds.PrevEpisode(),
], ids=lambda c: c.name)
def test_every_command_survives_its_wire_form(cmd):
    assert cmds.COMMANDS[cmd.name] is type(cmd)
    assert cmds.parse(cmd.name, cmd.kwargs()) == cmd
    assert cmds.as_command(cmd.name, cmd.kwargs()) == cmd and cmds.as_command(cmd) is cmd


def test_every_command_class_is_registered():
    registered = set(cmds.COMMANDS.values())
    defined = {c for c in vars(cmds).values()
               if isinstance(c, type) and issubclass(c, cmds.Command) and c.name}
    assert defined == registered


def test_unknown_and_incomplete_commands_are_answered_not_raised():
    assert cmds.parse("format_disk", {"now": True}) == cmds.Unknown(wire_name="format_disk",
                                                                    arguments={"now": True})
    bad = cmds.parse("power_mode", {})
    assert isinstance(bad, cmds.Invalid) and bad.message == "power_mode: missing argument 'id'"
    assert cmds.parse("mark", {"note": "x", "colour": "red"}) == cmds.Mark(note="x")   # extras ignored
    feed = FakeFeed("linux")
    assert feed.command("format_disk") == "format_disk: not available here"
    assert feed.command("power_mode") == "power_mode: missing argument 'id'"


def test_seek_kwargs_leave_out_what_is_not_set():
    assert cmds.Seek(to=40.0).kwargs() == {"to": 40.0}
    assert cmds.Seek(delta_s=5).kwargs() == {"delta_s": 5}
    assert [f.name for f in fields(cmds.Seek)] == ["delta_s", "to"]


def test_feeds_declare_what_they_offer(tmp_path):
    from edgemon.feeds.remote import RemoteFeed
    from edgemon.feeds.replay import ReplayFeed
    from edgemon.session.live import LiveSession

    assert ReplayFeed.capabilities == Capabilities(replay=True, timeline=True, analysis=True)
    assert RemoteFeed.capabilities == Capabilities(detach=True)
    assert LiveSession.capabilities == Capabilities()
    for cls in (ReplayFeed, RemoteFeed, LiveSession, FakeFeed):
        assert Feed in cls.__mro__
    live, replay = FakeFeed("jetson", can_detach=True), FakeFeed("replay")
    assert live.can_detach and not live.is_replay and not live.capabilities.timeline
    assert replay.is_replay and replay.capabilities.analysis and replay.capabilities.timeline
    assert isinstance(replay, TimelineFeed) and isinstance(replay, AnalysisFeed) and isinstance(live, Feed)


def test_the_demo_replay_analysis_is_a_real_analysis_of_its_session(tmp_path):
    """Written with the real Recorder and analysed as `edgemon analyze` would: the throttled
    stretch the scenario scripts (40-150 s, both clocks) is what the analysis finds."""
    from edgemon.analysis.summary import AnalysisOptions
    from edgemon.analysis.result import analyze_result
    from edgemon.feeds.demo import SCRIPTED_THERMAL_MARGIN_C, THROTTLE_S
    from edgemon.recording.reader import open_recording

    feed = FakeFeed("replay")
    folder = feed.write_recording(tmp_path / "rec")
    result = analyze_result(open_recording(folder), AnalysisOptions(thermal_margin_c=SCRIPTED_THERMAL_MARGIN_C))
    assert result.to_dict() == {**feed.analysis().to_dict(), "session": str(folder)}
    episodes = result.throttling.episodes
    assert [e.domain for e in episodes] == ["cpu", "gpu"]
    assert all((e.start_s, e.end_s) == pytest.approx(THROTTLE_S, abs=0.11) for e in episodes)
    assert result.latency_ms.count == result.items > 20000
    assert [(e.start_s, e.cause) for e in feed.timeline().episodes] == [(e.start_s, e.cause) for e in episodes]
