"""Group flat metric names (docs/architecture.md "Metric names") into what each dashboard panel shows.

Pure functions over ``{name: value}``; no state, no Textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CPU = re.compile(r"^cpu(\d+)_(util_pct|freq_mhz|online)$")
_TEMP = re.compile(r"^temp_(.+)_c$")
_POWER = re.compile(r"^power_(.+?)(_avg)?_mw$")
_FAN = re.compile(r"^fan(\d+)_(pwm_pct|rpm)$")

JETSON_PREFIXES = ("gpu_", "emc_", "engine_", "fan", "power_")


@dataclass(frozen=True)
class Core:
    index: int
    util_pct: float | None
    freq_mhz: float | None
    online: bool


@dataclass(frozen=True)
class Rail:
    name: str
    mw: float | None
    avg_mw: float | None


@dataclass(frozen=True)
class Fan:
    index: int
    pwm_pct: float | None
    rpm: float | None


def cores(values: dict[str, float]) -> list[Core]:
    """Per-core state in index order; a core is offline when ``cpuN_online`` is 0."""
    found: dict[int, dict[str, float]] = {}
    for name, value in values.items():
        m = _CPU.match(name)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = value
    out = []
    for idx in sorted(found):
        d = found[idx]
        online = bool(d.get("online", 1.0))
        out.append(Core(idx, d.get("util_pct"), d.get("freq_mhz"), online))
    return out


def temperatures(values: dict[str, float]) -> dict[str, float]:
    """``{zone: celsius}`` in name order (``temp_cpu_c`` -> ``cpu``)."""
    out = {}
    for name in sorted(values):
        m = _TEMP.match(name)
        if m:
            out[m.group(1)] = values[name]
    return out


def rails(values: dict[str, float]) -> list[Rail]:
    """Power rails with their averages; ``power_total_mw`` comes first when present."""
    found: dict[str, dict[str, float]] = {}
    for name, value in values.items():
        m = _POWER.match(name)
        if m:
            found.setdefault(m.group(1), {})["avg" if m.group(2) else "now"] = value
    order = sorted(found, key=lambda r: (r != "total", r))
    return [Rail(r, found[r].get("now"), found[r].get("avg")) for r in order]


def fans(values: dict[str, float]) -> list[Fan]:
    found: dict[int, dict[str, float]] = {}
    for name, value in values.items():
        m = _FAN.match(name)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = value
    return [Fan(i, found[i].get("pwm_pct"), found[i].get("rpm")) for i in sorted(found)]


def has_accelerator_metrics(values: dict[str, float]) -> bool:
    """True when there is anything for the Jetson/GPU/power panel to show."""
    return any(name.startswith(JETSON_PREFIXES) for name in values)


def max_temperature(values: dict[str, float]) -> tuple[str, float] | None:
    temps = temperatures(values)
    if not temps:
        return None
    zone = max(temps, key=lambda z: temps[z])
    return zone, temps[zone]
