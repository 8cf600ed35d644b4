"""The Controls facade as the session and dashboard use it: view(), apply(), available()."""

from __future__ import annotations

from control_helpers import DEFAULT_MODE, MODES, FakeBoard
from edgemon.control import Controls
from edgemon.datatypes import EventKind
from edgemon.control.machine_view import MachineView


def test_view_describes_the_board(tmp_path):
    board = FakeBoard(tmp_path, fan_pwm=51)
    board.online_file(3).write_text("0\n")
    view = Controls(board.root, board.executables()).view()
    assert isinstance(view, MachineView)
    assert view.power_modes == [{"id": m["id"], "name": m["name"]} for m in MODES]
    assert (view.power_mode_id, view.power_mode_name) == (DEFAULT_MODE, "MODE_30W")
    assert view.cpu_count == 4 and view.online_cores == [0, 1, 2]
    assert view.jetson_clocks is False and round(view.fan_pct) == 20
    assert view.unavailable == {}


def test_view_on_a_plain_machine_says_why_each_control_is_missing(tmp_path):
    view = Controls(tmp_path, {}).view()
    assert set(view.unavailable) == {"power_mode", "cores", "jetson_clocks", "fan"}
    assert view.unavailable["power_mode"] == "no nvpmodel: not a Jetson"
    assert view.power_modes == [] and view.jetson_clocks is None and view.fan_pct is None


def test_apply_runs_the_dashboard_commands(tmp_path):
    board = FakeBoard(tmp_path)
    events = []
    controls = Controls(board.root, board.executables(), on_event=events.append)
    assert controls.apply("power_mode", id=1).ok and board.mode() == 1
    assert controls.apply("core", cpu="1", online=False).ok
    assert board.online_file(1).read_text().strip() == "0"
    assert controls.apply("jetson_clocks", on=True).ok and controls.jetson_clocks_state().on
    assert controls.apply("fan", pct=100).ok and board.fan_pwm() == 255
    assert [e.kind for e in events] == [EventKind.POWER_MODE, EventKind.CORE_ONLINE,
                                        EventKind.JETSON_CLOCKS, EventKind.FAN]
    assert not controls.apply("core", cpu=0, online=False).ok
    missing = controls.apply("fan")
    assert not missing.ok and "missing argument" in missing.message
    assert not controls.apply("turbo").ok


def test_a_root_other_than_slash_needs_no_sudo(tmp_path):
    # An emulated board or fixture tree: its files are ours, so changes go direct, not through sudo.
    board = FakeBoard(tmp_path)
    result = Controls(board.root, board.executables("deny")).set_core(2, False)
    assert result.ok and result.strategy == "direct"
    assert not board.calls("sudo")


def test_view_is_cheap_between_changes(tmp_path):
    board = FakeBoard(tmp_path)
    controls = Controls(board.root, board.executables())
    controls.view()
    runs = len(board.calls())
    for _ in range(5):
        controls.view()
    assert len(board.calls()) == runs                           # no process per dashboard redraw
    assert not [c for c in board.calls("jetson_clocks") if c["argv"] == ["--show"]]
    assert controls.set_power_mode(1).ok
    assert controls.view().power_mode_id == 1                  # a change made here shows at once
