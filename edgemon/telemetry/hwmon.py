"""Temperatures and fan speeds from ``/sys/class/hwmon/hwmon*``.

Metrics: ``temp_{name}_{label}_c`` from ``tempN_input`` (millidegrees) and
``tempN_label`` (``temp_coretemp_core_0_c``, ``temp_k10temp_tctl_c``,
``temp_nvme_composite_c``); a device with one unlabelled sensor gives
``temp_{name}_c``, several unlabelled ones ``temp_{name}_temp{N}_c``. Fans:
``fanK_input`` -> ``fan{N}_rpm`` with N counting fans from 0 over all devices in
hwmon order (as the Jetson fan source numbers them).

Skipped devices:
* power monitors (name ``ina*``, or ``inN_label`` naming a power rail such as
  ``VDD_IN``): Jetson power rails belong to the Jetson power source;
* mirrors of thermal zones (the kernel registers each zone as a hwmon device
  named after its type): ``thermal.py`` already reports them;
* PWM fans and tachometers (``pwmfan``, ``pwm_tach``, ...) when the Jetson fan
  source (``jetson_fan.py``) is installed: it reports their duty and speed.
"""

from __future__ import annotations

import os
import re

from edgemon.telemetry.base import Source, SourceContext, SourceStatus, read_text, read_raw
from edgemon.telemetry.thermal import list_zones, metric_part, unique_name

_HWMON_RE = re.compile(r"^hwmon(\d+)$")
_TEMP_RE = re.compile(r"^temp(\d+)_input$")
_FAN_RE = re.compile(r"^fan(\d+)_input$")
_IN_LABEL_RE = re.compile(r"^in(\d+)_label$")
_RAIL_LABEL_RE = re.compile(r"^[A-Z0-9_]+$")   # VDD_IN, POM_5V_GPU, VIN_SYS_5V0, NC, SYS5V


def _is_power_monitor(name: str, attr_dir: str, files: list[str]) -> bool:
    if name.lower().startswith("ina"):
        return True      # ina3221, ina219, ina226, ina238 ...
    for f in files:
        if _IN_LABEL_RE.match(f):
            label = read_text(os.path.join(attr_dir, f)) or ""
            if _RAIL_LABEL_RE.match(label) or "shunt" in label.lower():
                return True
    return False


def _fan_node_filter():
    """The Jetson fan source's own test for the hwmon nodes it reads; ``None`` without it."""
    try:
        from edgemon.telemetry.jetson_fan import is_fan_hwmon_name
    except Exception:       # not written yet, or broken: read every fan here
        return None
    return is_fan_hwmon_name


def _attr_dir(hwmon_dir: str) -> str:
    """Kernels before 3.x put the attributes in ``hwmonN/device/``."""
    if os.path.exists(os.path.join(hwmon_dir, "name")):
        return hwmon_dir
    dev = os.path.join(hwmon_dir, "device")
    if os.path.exists(os.path.join(dev, "name")):
        return dev
    return hwmon_dir


class HwmonSource(Source):
    name = "hwmon"

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self._reads: list[tuple[str, str, bool]] = []   # (metric, path, is_temperature)
        self.skipped: dict[str, str] = {}                # hwmonN -> why it is not read

    def probe(self) -> SourceStatus:
        base = self.ctx.path("/sys/class/hwmon")
        try:
            entries = os.listdir(base)
        except OSError:
            return SourceStatus(self.name, False, f"no {base}")
        devices = sorted((int(m.group(1)), m.group(0)) for m in map(_HWMON_RE.match, entries) if m)
        zone_types = set()
        for _, zdir in list_zones(self.ctx):
            zone_types.add(metric_part(read_text(os.path.join(zdir, "type")) or ""))

        taken: set[str] = set()
        fan_index = 0
        is_fan_node = _fan_node_filter()
        self._reads = []
        self.skipped = {}
        n_temps = n_fans = 0
        for _, dev in devices:
            adir = _attr_dir(str(base / dev))
            try:
                files = sorted(os.listdir(adir))
            except OSError:
                self.skipped[dev] = "unreadable"
                continue
            name = read_text(os.path.join(adir, "name")) or dev
            part = metric_part(name) or dev
            if _is_power_monitor(name, adir, files):
                self.skipped[dev] = f"{name}: power monitor (left to the power source)"
                continue
            if part in zone_types:
                self.skipped[dev] = f"{name}: mirror of a thermal zone"
                continue
            if is_fan_node is not None and is_fan_node(name):
                self.skipped[dev] = f"{name}: fan (left to the jetson_fan source)"
                continue

            temps = sorted(int(m.group(1)) for m in map(_TEMP_RE.match, files) if m)
            labels = {n: read_text(os.path.join(adir, f"temp{n}_label")) for n in temps}
            unlabelled = [n for n in temps if not labels[n]]
            for n in temps:
                label = metric_part(labels[n] or "")
                if label:
                    base_name = f"temp_{part}_{label}"
                elif len(unlabelled) == 1:
                    base_name = f"temp_{part}"
                else:
                    base_name = f"temp_{part}_temp{n}"
                metric = unique_name(base_name, taken)
                self._reads.append((metric, os.path.join(adir, f"temp{n}_input"), True))
                n_temps += 1
            for n in sorted(int(m.group(1)) for m in map(_FAN_RE.match, files) if m):
                self._reads.append((f"fan{fan_index}_rpm", os.path.join(adir, f"fan{n}_input"), False))
                fan_index += 1
                n_fans += 1
        if not self._reads:
            why = "no hwmon devices" if not devices else "no temperature or fan sensors"
            if self.skipped:
                why += f" (skipped: {'; '.join(self.skipped.values())})"
            return SourceStatus(self.name, False, why)
        return SourceStatus(self.name, True, detail=f"{n_temps} temperatures, {n_fans} fans")

    def metrics(self) -> list[str]:
        return [metric for metric, _, _ in self._reads]

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for metric, path, is_temp in self._reads:
            try:
                value = float(int(read_raw(path).split()[0]))
            except (OSError, ValueError, IndexError):
                continue       # sensor asleep (e.g. an NVMe in D3) or gone
            if is_temp:
                value /= 1000.0
            if self.plausible(metric, value):
                out[metric] = value
        return out
