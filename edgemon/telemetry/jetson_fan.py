"""Jetson fan: PWM duty and tachometer speed (the files jetson-stats reads: https://github.com/rbonghi/jetson_stats/blob/master/jtop/core/fan.py).

Layouts:

* hwmon (JetPack 5+, and TX2/Xavier on L4T 32): ``/sys/class/hwmon/hwmonN`` whose ``name`` is
  ``pwmfan``, ``pwm-fan``, ``tegra_pwmfan`` (or contains ``fan``): ``pwmK`` (0-255), and a speed
  file ``rpm``, ``rpm_measured`` or ``fanK_input`` in the same node where the driver has one;
* a separate RPM-only hwmon node (``generic_pwm_tachometer``, Thor's ``pwm_tach``: name contains
  ``tach`` or ``fan``, speed file but no ``pwmK``). It belongs to the PWM fan whose device
  directory contains it, else — with one fan and one tachometer — to that fan;
* legacy (JetPack 4 Nano/TX2): ``/sys/devices/pwm-fan`` or ``/sys/kernel/debug/tegra_fan`` with
  ``cur_pwm`` (the duty now, while ramping) / ``target_pwm`` (0-255) and ``rpm_measured``.

Metrics: ``fan{N}_pwm_pct`` = pwm * 100 / 255, ``fan{N}_rpm``; N counts fans from 0, legacy
fans first, then hwmon nodes in number order.

Generic hwmon sources should skip hwmon nodes that :func:`is_fan_hwmon_name` accepts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from edgemon.telemetry.base import Source, SourceContext, SourceStatus, read_int, read_text

FAN_HWMON_NAMES = frozenset({"pwmfan", "pwm-fan", "pwm_fan", "tegra_pwmfan"})
LEGACY_FAN_DIRS = ("/sys/devices/pwm-fan", "/sys/kernel/debug/tegra_fan")
RPM_FILES = ("rpm", "rpm_measured")

_HWMON_RE = re.compile(r"^hwmon(\d+)$")
_PWM_RE = re.compile(r"^pwm(\d+)$")
_FAN_INPUT_RE = re.compile(r"^fan(\d+)_input$")


def is_fan_hwmon_name(name: str) -> bool:
    """True for hwmon ``name`` values this source reads (fans and fan tachometers)."""
    name = name.strip().lower()
    return name in FAN_HWMON_NAMES or "fan" in name or "tach" in name


@dataclass
class Fan:
    """One fan: where its duty and speed are read."""

    index: int
    name: str                     # hwmon name or legacy directory
    pwm_path: str | None          # 0-255
    rpm_path: str | None
    device_dir: str               # real directory the fan's files live in (for matching tachometers)


def _listdir(path: Path | str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _first_existing(directory: str, names) -> str | None:
    for n in names:
        p = os.path.join(directory, n)
        if os.path.isfile(p):
            return p
    return None


def _under(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def discover_fans(ctx: SourceContext) -> list[Fan]:
    pwm_fans: list[Fan] = []          # index assigned at the end
    tachs: list[tuple[str, str, str]] = []     # (name, rpm path, real dir)
    hwmon = ctx.path("/sys/class/hwmon")
    nodes = sorted((int(m.group(1)), m.group(0)) for m in map(_HWMON_RE.match, _listdir(hwmon)) if m)
    for _, n in nodes:
        name = read_text(hwmon / n / "name") or ""
        if not is_fan_hwmon_name(name):
            continue
        real = os.path.realpath(hwmon / n)
        files = _listdir(real)
        pwms = sorted(int(m.group(1)) for m in map(_PWM_RE.match, files) if m)
        fan_inputs = {int(m.group(1)): m.group(0) for m in map(_FAN_INPUT_RE.match, files) if m}
        if not pwms and "target_pwm" in files:
            pwm_fans.append(Fan(-1, name, os.path.join(real, "target_pwm"),
                                _first_existing(real, RPM_FILES + tuple(fan_inputs.values())), real))
            continue
        for k in pwms:
            rpm = _first_existing(real, ((fan_inputs[k],) if k in fan_inputs else ()) + RPM_FILES)
            pwm_fans.append(Fan(-1, name, os.path.join(real, f"pwm{k}"), rpm, real))
        if not pwms:
            rpm = _first_existing(real, RPM_FILES + tuple(fan_inputs[k] for k in sorted(fan_inputs)))
            if rpm:
                tachs.append((name, rpm, real))

    legacy: list[Fan] = []
    for d in LEGACY_FAN_DIRS:
        real = os.path.realpath(ctx.path(d))
        pwm = _first_existing(real, ("cur_pwm", "target_pwm"))
        if pwm is None:
            continue
        rpm = _first_existing(real, ("rpm_measured", "rpm"))
        same = [f for f in pwm_fans if _under(f.device_dir, real)]
        if same:                  # the same fan, already seen through its hwmon node
            if rpm and same[0].rpm_path is None:
                same[0].rpm_path = rpm
            continue
        legacy.append(Fan(-1, os.path.basename(real), pwm, rpm, real))

    fans = legacy + pwm_fans
    unmatched = []
    for name, rpm, real in tachs:
        owner = next((f for f in fans if f.rpm_path is None and _under(real, f.device_dir)), None)
        if owner is not None:
            owner.rpm_path = rpm
        else:
            unmatched.append((name, rpm, real))
    without_rpm = [f for f in fans if f.rpm_path is None]
    if len(unmatched) == 1 and len(without_rpm) == 1:
        without_rpm[0].rpm_path = unmatched.pop()[1]
    fans += [Fan(-1, name, None, rpm, real) for name, rpm, real in unmatched]
    for i, fan in enumerate(fans):
        fan.index = i
    return fans


class JetsonFanSource(Source):
    """``fan{N}_pwm_pct`` and ``fan{N}_rpm`` for every fan found."""

    name = "jetson_fan"

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self.fans: list[Fan] = []
        self._paths: list[tuple[str, str, float]] = []   # (metric, path, scale)

    def probe(self) -> SourceStatus:
        try:
            self.fans = [f for f in discover_fans(self.ctx)
                         if (f.pwm_path and read_int(Path(f.pwm_path)) is not None)
                         or (f.rpm_path and read_int(Path(f.rpm_path)) is not None)]
        except Exception as exc:
            return SourceStatus(self.name, False, f"fan discovery failed: {exc}")
        for i, fan in enumerate(self.fans):
            fan.index = i
        if not self.fans:
            return SourceStatus(
                self.name, False,
                f"no fan found under {self.ctx.path('/sys/class/hwmon')} (pwmfan/pwm-fan) "
                f"or {self.ctx.path('/sys/devices/pwm-fan')}")
        self._paths = []
        for fan in self.fans:
            if fan.pwm_path:
                self._paths.append((f"fan{fan.index}_pwm_pct", fan.pwm_path, 100.0 / 255.0))
            if fan.rpm_path:
                self._paths.append((f"fan{fan.index}_rpm", fan.rpm_path, 1.0))
        detail = "; ".join(f"fan{f.index}: {f.name}" + ("" if f.rpm_path else " (no tachometer)")
                           for f in self.fans)
        return SourceStatus(self.name, True, detail=detail)

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for metric, path, scale in self._paths:
            v = self.files.int(path)
            if v is not None:
                out[metric] = v * scale
        if self._paths and not out:
            raise OSError(f"fan files unreadable: {self._paths[0][1]}")
        return out
