"""Fan speed: PWM 0-255 in sysfs, percent at the API (jtop's ``pwm * 100 / 255``).

A fan may be under automatic control: ``pwmN_enable`` = 1 on JetPack 5+ while
nvfancontrol drives it (``jetson_clocks --show``: "Dynamic Speed Control=nvfancontrol
hwmon0_pwm1_enable=1"), ``temp_control`` = 1 on the JetPack 4 node. Writing a PWM by
hand takes the fan over, so a snapshot restores that control file, not a momentary PWM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edgemon.control.context import ControlContext, ControlResult
from edgemon.control.privilege import write_privileged

HWMON_DIR = "/sys/class/hwmon"
LEGACY_DIRS = ("/sys/devices/pwm-fan", "/sys/kernel/debug/tegra_fan")   # JetPack 4 Nano/TX2
NVFANCONTROL_UNIT = "/etc/systemd/system/nvfancontrol.service"
_PWM_FILE = re.compile(r"^pwm(\d+)$")
_HWMON = re.compile(r"^hwmon(\d+)$")


@dataclass
class Fan:
    name: str          # hwmon "name" (pwmfan, tegra_pwmfan, pwm-fan) or the legacy dir name
    pwm_path: Path     # pwmN or target_pwm
    auto_path: Path | None = None   # pwmN_enable or temp_control: who drives the fan


def pwm_to_percent(pwm: int) -> float:
    return pwm * 100.0 / 255.0


def percent_to_pwm(percent: float) -> int:
    return max(0, min(255, int(round(percent * 255.0 / 100.0))))


def find_fan(ctx: ControlContext) -> Fan | None:
    """The first PWM fan: ``/sys/class/hwmon/hwmon*/pwmN`` or ``target_pwm``, else the legacy node."""
    try:
        nodes = sorted((int(m[1]), d) for d in ctx.path(HWMON_DIR).iterdir() if (m := _HWMON.match(d.name)))
    except OSError:
        nodes = []
    for _, node in nodes:
        try:
            pwms = sorted((int(m[1]), f) for f in node.iterdir() if (m := _PWM_FILE.match(f.name)))
        except OSError:
            continue
        path = pwms[0][1] if pwms else node / "target_pwm"
        if path.exists():
            return Fan(_read(node / "name") or node.name, path, _first_existing(
                [node / f"{path.name}_enable", node / "temp_control"] if pwms else [node / "temp_control"]))
    for legacy in LEGACY_DIRS:
        base = ctx.path(legacy)
        if (base / "target_pwm").exists() and not (base / "hwmon").exists():
            return Fan(base.name, base / "target_pwm", _first_existing([base / "temp_control"]))
    return None


def _first_existing(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.exists()), None)


def is_auto(value: str | None) -> bool:
    """Whether a control-file value means automatic control (see the module doc)."""
    return value is not None and value.strip() == "1"


def get_auto(ctx: ControlContext, fan: Fan | None = None) -> str | None:
    """Raw content of the fan's control file, or None when it has none."""
    fan = fan or find_fan(ctx)
    return _read(fan.auto_path) if fan is not None and fan.auto_path is not None else None


def set_auto(ctx: ControlContext, value: str) -> ControlResult:
    """Write the fan's control file back (e.g. "1": hand the fan back to automatic control)."""
    fan = find_fan(ctx)
    if fan is None or fan.auto_path is None:
        return ControlResult(False, "no fan control file (pwm1_enable / temp_control) here")
    result = write_privileged(ctx, fan.auto_path, str(value).strip())
    if result.ok:
        mode = "automatic" if is_auto(value) else f"{value.strip()!r}"
        result.message = f"fan {fan.name} control set to {mode} ({fan.auto_path.name})"
    return result


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def get_pwm(ctx: ControlContext, fan: Fan | None = None) -> int | None:
    fan = fan or find_fan(ctx)
    if fan is None:
        return None
    text = _read(fan.pwm_path)
    try:
        return int(text.split()[0]) if text else None
    except ValueError:
        return None


def get_speed(ctx: ControlContext) -> float | None:
    """Fan speed in percent, or None when there is no readable fan."""
    pwm = get_pwm(ctx)
    return None if pwm is None else pwm_to_percent(pwm)


def set_pwm(ctx: ControlContext, pwm: int) -> ControlResult:
    if isinstance(pwm, bool) or not isinstance(pwm, int) or not 0 <= pwm <= 255:
        return ControlResult(False, f"fan PWM must be an integer 0-255, got {pwm!r}")
    fan = find_fan(ctx)
    if fan is None:
        return ControlResult(False, f"no fan: no pwm file under {ctx.path(HWMON_DIR)}")
    result = write_privileged(ctx, fan.pwm_path, str(pwm),
                              jtop_op=lambda j: j.set_fan_speed(pwm_to_percent(pwm)))
    if not result.ok:
        return result
    msg = f"fan {fan.name} set to PWM {pwm} ({pwm_to_percent(pwm):.0f}%)"
    if ctx.path(NVFANCONTROL_UNIT).exists():
        msg += "; nvfancontrol may override it (stop it with `sudo systemctl stop nvfancontrol`)"
    elif _read(fan.pwm_path.parent / "temp_control") == "1":
        msg += f"; the kernel's temp_control may override it (write 0 to {fan.pwm_path.parent / 'temp_control'})"
    return ControlResult(True, msg, detail=result.detail, strategy=result.strategy)


def set_speed(ctx: ControlContext, percent: float) -> ControlResult:
    """Set the fan to ``percent`` (0-100)."""
    try:
        value = float(percent)
    except (TypeError, ValueError):
        return ControlResult(False, f"fan speed must be a number 0-100 (%), got {percent!r}")
    if not 0.0 <= value <= 100.0:
        return ControlResult(False, f"fan speed must be 0-100 (%), got {percent!r}")
    return set_pwm(ctx, percent_to_pwm(value))
