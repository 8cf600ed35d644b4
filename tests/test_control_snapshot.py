"""Capture the machine state, change things, restore it -- in the safe order, with events."""

from __future__ import annotations

import json

import pytest

from control_helpers import FakeBoard
from edgemon.control import Controls, MachineState
from edgemon.datatypes import EventKind
from edgemon.errors import UserError


def _changed_and_restored(tmp_path, is_root):
    board = FakeBoard(tmp_path, mode=2, fan_pwm=62)
    board.online_file(3).write_text("0\n")          # the state to come back to: cpu3 off in mode 2
    events = []
    controls = Controls(board.root, board.executables("allow"), is_root=is_root, on_event=events.append)
    saved = controls.capture(store_file=tmp_path / "l4t_dfs.conf")
    return board, controls, events, saved


@pytest.mark.parametrize("is_root", [True, False])
def test_capture_change_restore(tmp_path, is_root):
    board, controls, events, saved = _changed_and_restored(tmp_path, is_root)
    assert saved == MachineState(2, "MODE_30W", [0, 1, 2], False, str(tmp_path / "l4t_dfs.conf"), 62, "0")

    assert controls.set_power_mode(1).ok              # mode 1: cpu2, cpu3 off
    assert controls.set_core(2, True).ok
    assert controls.set_jetson_clocks(True).ok
    assert controls.set_fan_speed(100).ok
    changed = controls.capture()
    assert (changed.power_mode_id, changed.online_cores, changed.jetson_clocks, changed.fan_pwm) == \
        (1, [0, 1, 2], True, 255)

    events.clear()
    results = controls.restore(saved)
    assert all(r.ok for r in results), [r.message for r in results]
    after = controls.capture()
    assert (after.power_mode_id, after.online_cores, after.jetson_clocks, after.fan_pwm) == (2, [0, 1, 2], False, 62)
    # nvpmodel -m 2 turned every core on, so cpu3 had to be taken off *after* the mode switch.
    kinds = [e.kind for e in events]
    assert kinds[0] == EventKind.POWER_MODE and kinds[-1] == EventKind.FAN
    assert (EventKind.CORE_ONLINE, 3, False) in [(e.kind, e.details.get("cpu"), e.details.get("to")) for e in events]
    assert kinds.index(EventKind.CORE_ONLINE) > kinds.index(EventKind.POWER_MODE)


def test_jetson_clocks_restored_from_the_stored_file(tmp_path):
    board, controls, events, saved = _changed_and_restored(tmp_path, True)
    assert controls.set_jetson_clocks(True).ok
    events.clear()
    results = controls.restore(saved)
    assert all(r.ok for r in results)
    assert [e.kind for e in events] == [EventKind.JETSON_CLOCKS]     # nothing else differed
    assert events[0].details["from"] is True and events[0].details["to"] is False
    restores = [c["argv"] for c in board.calls("jetson_clocks") if c["argv"][:1] == ["--restore"]]
    assert restores == [["--restore", str(tmp_path / "l4t_dfs.conf")]]
    assert controls.jetson_clocks_state().on is False


def test_restore_of_an_unchanged_machine_changes_nothing(tmp_path):
    board, controls, events, saved = _changed_and_restored(tmp_path, True)
    before = len(board.calls("nvpmodel"))
    results = controls.restore(saved)
    assert all(r.ok and "already" in r.message for r in results)
    assert events == []
    assert not [c for c in board.calls("nvpmodel")[before:] if c["argv"][:1] == ["-m"]]


def test_every_change_and_failure_is_an_event(tmp_path):
    board = FakeBoard(tmp_path)
    events = []
    controls = Controls(board.root, board.executables("deny"), is_root=False, on_event=events.append)
    controls.set_core(0, False)
    controls.set_power_mode(1)
    assert [e.kind for e in events] == [EventKind.CONTROL_FAILED, EventKind.CONTROL_FAILED]
    assert events[0].details["message"] == "cpu0 cannot be taken offline"
    assert events[1].details["control"] == "power_mode" and events[1].details["strategy"] == "sudo"
    assert {"from", "to", "ok", "message", "strategy"} <= set(events[1].details)
    json.loads(events[1].details_json())

    events.clear()
    ok = Controls(board.root, board.executables("allow"), is_root=False, on_event=events.append)
    ok.set_power_mode(1)
    ok.set_core(1, False)
    ok.set_jetson_clocks(True)
    ok.set_fan_speed(40)
    assert [e.kind for e in events] == [EventKind.POWER_MODE, EventKind.CORE_ONLINE,
                                        EventKind.JETSON_CLOCKS, EventKind.FAN]
    assert events[0].details["from"] == 2 and events[0].details["to"] == 1
    assert events[1].details["cpu"] == 1 and events[1].details["to"] is False
    assert all(e.details["ok"] and e.details["strategy"] == "sudo" for e in events)
    assert events == sorted(events, key=lambda e: e.t_ns)


def test_state_round_trips_through_session_json():
    state = MachineState(2, "MODE_30W", [0, 1, 2], False, "/rec/l4t_dfs.conf", 62, "1")
    assert MachineState.from_dict(json.loads(json.dumps({"restore": state.to_dict()}))["restore"]) == state
    assert MachineState.from_dict({}) == MachineState()


@pytest.mark.parametrize("bad", [[], {"fan_pwm": "fast"}, {"fan_auto": 1}, {"online_cores": [0, -1]}, {"jetson_clocks": 1},
                                 {"power_mode_id": True}])
def test_bad_saved_state_is_a_user_error(bad):
    with pytest.raises(UserError):
        MachineState.from_dict(bad)


def test_capture_stores_clocks_in_the_state_dir(tmp_path):
    board = FakeBoard(tmp_path)
    controls = Controls(board.root, board.executables(), is_root=False, state_dir=tmp_path / "rec")
    state = controls.capture()
    assert state.jetson_clocks_store == str(tmp_path / "rec/l4t_dfs.conf")
    assert (tmp_path / "rec/l4t_dfs.conf").exists()


def test_capture_without_a_place_to_store_does_not_try_sudo(tmp_path):
    board = FakeBoard(tmp_path)
    state = Controls(board.root, board.executables("deny"), is_root=False).capture()
    assert state.jetson_clocks is False and state.jetson_clocks_store is None
    assert not board.calls("sudo")


def test_fan_under_automatic_control_gets_its_control_back_not_a_pwm(tmp_path):
    board = FakeBoard(tmp_path, fan_pwm=40, fan_enable="1")
    events = []
    controls = Controls(board.root, board.executables(), is_root=True, on_event=events.append)
    saved = controls.capture()
    assert (saved.fan_pwm, saved.fan_auto) == (40, "1")
    assert controls.set_fan_speed(100).ok
    board.fan_enable_file().write_text("0\n")      # the fan daemon stood down (as the emulator's does)
    events.clear()
    results = controls.restore(saved)
    assert all(r.ok for r in results)
    assert board.fan_enable_file().read_text().strip() == "1"
    assert board.fan_pwm() == 255                   # left to the automatic control, not pinned to 40
    assert [(e.kind, e.details["control"], e.details["to"]) for e in events] == [(EventKind.FAN, "fan_auto", "1")]


def test_manual_fan_gets_its_pwm_back(tmp_path):
    board = FakeBoard(tmp_path, fan_pwm=40, fan_enable="0")
    controls = Controls(board.root, board.executables(), is_root=True)
    saved = controls.capture()
    controls.set_fan_speed(100)
    assert all(r.ok for r in controls.restore(saved))
    assert board.fan_pwm() == 40 and board.fan_enable_file().read_text().strip() == "0"
