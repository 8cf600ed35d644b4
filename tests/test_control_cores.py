"""CPU hot-plug: cpu0 is never touched, writes go to cpuN/online, masks online before offline."""

from __future__ import annotations

import pytest

from control_helpers import FakeBoard
from edgemon.control import Controls
from edgemon.control.cpu_cores import mask_to_cores


@pytest.fixture
def board(tmp_path):
    return FakeBoard(tmp_path)


@pytest.fixture
def controls(board):
    return Controls(board.root, board.executables(), is_root=True)


def test_online_cores_reads_the_online_files(board, controls):
    assert controls.online_cores() == [0, 1, 2, 3]
    board.online_file(2).write_text("0\n")
    assert controls.online_cores() == [0, 1, 3]      # cpu0 has no online file and counts as on
    assert controls.present_cores() == [0, 1, 2, 3]


def test_cpu0_is_refused_and_never_written(board, controls):
    result = controls.set_core(0, False)
    assert not result.ok and result.message == "cpu0 cannot be taken offline"
    assert not (board.root / "sys/devices/system/cpu/cpu0/online").exists()
    assert not controls.set_cores([1, 2, 3])[0].ok
    assert not (board.root / "sys/devices/system/cpu/cpu0/online").exists()
    assert controls.online_cores() == [0, 1, 2, 3]


def test_toggling_a_core_writes_its_online_file(board, controls):
    off = controls.set_core(2, False)
    assert off.ok and off.strategy == "direct"
    assert board.online_file(2).read_text().strip() == "0"
    on = controls.set_core(2, True)
    assert on.ok and board.online_file(2).read_text().strip() == "1"
    again = controls.set_core(2, True)
    assert again.ok and again.strategy == "" and "already online" in again.message


def test_unknown_core_is_refused(controls):
    result = controls.set_core(7, False)
    assert not result.ok and "cpu7 does not exist" in result.message and "cpu0-cpu3" in result.message
    for bad in (-1, "2", True):
        assert not controls.set_core(bad, False).ok


def test_mask_brings_cores_online_before_taking_others_offline(board, controls):
    board.online_file(3).write_text("0\n")
    events = []
    controls.on_event = events.append
    results = controls.set_cores(0b0111 ^ 0b0100 | 0b1000)       # want {0, 1, 3}: 3 on, 2 off
    assert all(r.ok for r in results)
    assert controls.online_cores() == [0, 1, 3]
    assert [(e.details["cpu"], e.details["online"]) for e in events] == [(3, True), (2, False)]


def test_mask_forms():
    assert mask_to_cores(0b1011) == {0, 1, 3}
    assert mask_to_cores([0, 2]) == {0, 2}
    with pytest.raises(ValueError):
        mask_to_cores(-1)


def test_mask_with_missing_core_changes_nothing(board, controls):
    results = controls.set_cores([0, 1, 9])
    assert len(results) == 1 and not results[0].ok and "cpu9" in results[0].message
    assert controls.online_cores() == [0, 1, 2, 3]


def test_core_without_online_file_cannot_be_switched(board, controls):
    board.online_file(1).unlink()
    result = controls.set_core(1, False)
    assert not result.ok and "no " in result.message and "cpu1/online" in result.message
    assert controls.available()["cores"].detail == "cpu2-cpu3 switchable; cpu0 stays on"


def test_machine_without_hotplug_says_why(tmp_path):
    status = Controls(tmp_path, {}).available()["cores"]
    assert not status.available and "cpu1/online" in status.reason
