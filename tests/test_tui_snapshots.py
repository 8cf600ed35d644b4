"""SVG snapshots of the dashboard on scripted FakeFeed sessions and on the replay of a synthetic
recording (no wall clock in the text; the replay's clock is fixed and its analysis is done first).

Update after a deliberate change with
``.venv/bin/pytest tests/test_tui_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest

from tui_helpers import make_app

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
CASES = {
    "linux": dict(scenario="linux"),
    "jetson": dict(scenario="jetson"),
    "crashed": dict(scenario="crashed"),
    "replay": dict(scenario="replay"),
    "ascii": dict(scenario="jetson", ascii=True),
}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("case", list(CASES))
def test_dashboard_snapshot(snap_compare, case, size):
    kw = dict(CASES[case])
    app, _ = make_app(kw.pop("scenario"), **kw)
    assert snap_compare(app, terminal_size=SIZES[size])


@pytest.fixture(scope="module")
def throttled_recording(tmp_path_factory):
    from replay_helpers import build_throttled

    return build_throttled(tmp_path_factory.mktemp("snapshot") / "rec")


@pytest.mark.parametrize("size", list(SIZES))
def test_replay_timeline_snapshot(snap_compare, throttled_recording, size):
    """A recording with a thermal episode (60-90 s), a gpu episode, a mark, a fan change and a
    crash; the playhead inside the thermal episode."""
    from edgemon.recording.reader import open_recording
    from edgemon.feeds.replay import ReplayFeed
    from edgemon.tui.app import DashboardApp

    feed = ReplayFeed(open_recording(throttled_recording), playing=False, clock=lambda: 100.0)
    assert feed.wait_loaded(60) and feed.analysis_state == "ready", feed.analysis_error
    feed.command("seek", to=75)
    assert snap_compare(DashboardApp(feed), terminal_size=SIZES[size])


@pytest.mark.parametrize("ascii", [False, True], ids=["unicode", "ascii"])
def test_throttled_header_snapshot(snap_compare, ascii):
    """80x24, 90 s into a session whose CPU and GPU clocks have been throttled (thermal) since
    40 s: the header flag with its cause, the deepest episode against its ceiling on line two,
    the live timeline strip, the clocks in yellow/red against their ceilings."""
    app, _ = make_app("jetson", seconds=90, ascii=ascii)
    assert snap_compare(app, terminal_size=(80, 24))
