"""The controls against the emulated board (edgemon.emulate): the same code as on a real Jetson."""

from __future__ import annotations

import pytest

from edgemon.control import Controls
from edgemon.datatypes import EventKind

emulate = pytest.importorskip("edgemon.emulate")


def test_capture_change_restore_on_an_emulated_orin_nano(tmp_path):
    with emulate.EmulatedBoard("orin-nano") as board:
        events = []
        controls = Controls(board.root, board.executables, on_event=events.append, state_dir=tmp_path)
        assert all(s.available for s in controls.available().values()), controls.available()
        saved = controls.capture()
        assert saved.power_mode_id is not None and saved.jetson_clocks is False
        assert saved.jetson_clocks_store == str(tmp_path / "l4t_dfs.conf")

        other = next(m for m in controls.power_modes()
                     if m.id != saved.power_mode_id and not m.reboot_reason(controls.power_mode()))
        hot = max(controls.present_cores())
        for result in (controls.set_power_mode(other.id), controls.set_core(hot, False),
                       controls.set_jetson_clocks(True), controls.set_fan_speed(100)):
            assert result.ok, result.message
        assert controls.power_mode().id == other.id and controls.jetson_clocks_state().on is True

        results = controls.restore(saved)
        assert all(r.ok for r in results), [r.message for r in results]
        after = controls.capture()
        assert (after.power_mode_id, after.online_cores, after.jetson_clocks, after.fan_auto) == \
            (saved.power_mode_id, saved.online_cores, False, saved.fan_auto)
        assert EventKind.CONTROL_FAILED not in [e.kind for e in events]
