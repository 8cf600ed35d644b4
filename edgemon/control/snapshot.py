"""The machine state a session changes, saved before and put back after.

It goes into ``session.json`` under ``"restore"``, so ``edgemon restore`` can
undo a crashed session. Restore order matters: the power mode first (nvpmodel
switches cores and clocks itself), then cores, then jetson_clocks, then the fan.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgemon.control import fan
from edgemon.control.context import ControlResult
from edgemon.errors import UserError

if TYPE_CHECKING:
    from edgemon.control import Controls


@dataclass
class MachineState:
    power_mode_id: int | None = None
    power_mode_name: str | None = None
    online_cores: list[int] | None = None
    jetson_clocks: bool | None = None
    jetson_clocks_store: str | None = None    # file written by `jetson_clocks --store`
    fan_pwm: int | None = None
    fan_auto: str | None = None               # pwm1_enable / temp_control content ("1" = automatic)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> "MachineState":
        """From session.json's "restore"; a malformed entry is a UserError naming the field."""
        if not isinstance(data, dict):
            raise UserError("the saved machine state (session.json \"restore\") is not an object")
        kinds = {"power_mode_id": int, "power_mode_name": str, "jetson_clocks": bool,
                 "jetson_clocks_store": str, "fan_pwm": int, "fan_auto": str}
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name)
            if value is None:
                values[f.name] = None
                continue
            if f.name == "online_cores":
                ok = isinstance(value, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                                     for n in value)
            else:
                want = kinds[f.name]
                ok = isinstance(value, want) and (want is bool or not isinstance(value, bool))
            if not ok:
                raise UserError(f"the saved machine state has a bad {f.name!r}: {value!r}; "
                                "edit session.json's \"restore\" entry or remove that field")
            values[f.name] = value
        return cls(**values)


def capture(controls: "Controls", store_file: Path | None = None) -> MachineState:
    """Read what can be changed. With ``store_file`` and jetson_clocks off, also save the clock
    limits there (``jetson_clocks --store``) so turning it off later returns exactly here."""
    state = MachineState()
    mode = controls.power_mode()
    if mode is not None:
        state.power_mode_id, state.power_mode_name = mode.id, mode.name
    state.online_cores = controls.online_cores() or None
    clocks = controls.jetson_clocks_state()
    state.jetson_clocks = clocks.on
    if clocks.on is False and store_file is not None and controls.has_jetson_clocks():
        if controls.store_clocks(store_file).ok:
            state.jetson_clocks_store = str(store_file)
    state.fan_pwm = controls.fan_pwm()
    state.fan_auto = controls.fan_auto()
    return state


def restore(controls: "Controls", state: MachineState) -> list[ControlResult]:
    """Put back what differs from ``state``: power mode, cores, jetson_clocks, fan, in that order."""
    results: list[ControlResult] = []
    if state.power_mode_id is not None:
        mode = controls.power_mode()
        if mode is not None and mode.id == state.power_mode_id:
            results.append(ControlResult(True, f"power mode already {mode.label()}"))
        else:
            results.append(controls.set_power_mode(state.power_mode_id))
    if state.online_cores:
        if sorted(controls.online_cores()) == sorted(state.online_cores):
            results.append(ControlResult(True, f"online cores already {sorted(state.online_cores)}"))
        else:
            results.extend(controls.set_cores(state.online_cores))
    if state.jetson_clocks is not None:
        now = controls.jetson_clocks_state().on
        if now is state.jetson_clocks:
            results.append(ControlResult(True, f"jetson_clocks already {'on' if now else 'off'}"))
        else:
            store = Path(state.jetson_clocks_store) if state.jetson_clocks_store else None
            results.append(controls.set_jetson_clocks(state.jetson_clocks, store_file=store))
    results.extend(_restore_fan(controls, state))
    return results


def _restore_fan(controls: "Controls", state: MachineState) -> list[ControlResult]:
    # An automatically driven fan gets its automatic control back; its PWM of the moment is
    # not restored (writing it would take the fan over again).
    if state.fan_auto is not None and fan.is_auto(state.fan_auto):
        if controls.fan_auto() == state.fan_auto:
            return [ControlResult(True, "fan already under automatic control")]
        return [controls.set_fan_auto(state.fan_auto)]
    results = []
    if state.fan_pwm is not None:
        if controls.fan_pwm() == state.fan_pwm:
            results.append(ControlResult(True, f"fan already at PWM {state.fan_pwm}"))
        else:
            results.append(controls.set_fan_pwm(state.fan_pwm))
    if state.fan_auto is not None and controls.fan_auto() != state.fan_auto:
        results.append(controls.set_fan_auto(state.fan_auto))
    return results
