"""Group flat metric names into what each dashboard panel shows.

Which family a name belongs to, and which part of a panel's item it fills (a core's
``util_pct``, a rail's ``avg``), comes from the metric catalogue
(``edgemon.telemetry.catalogue``: its ``group`` and ``field``). Pure functions over
``{name: value}``; no state, no Textual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgemon.telemetry import catalogue

# Groups the Jetson/GPU/power panel shows.
ACCELERATOR_GROUPS = ("gpu", "emc", "engine", "fan", "power")


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
        m = catalogue.lookup(name)
        if m is not None and m.family.group == "cpu" and m.index is not None:
            found.setdefault(m.index, {})[m.family.field] = value
    out = []
    for idx in sorted(found):
        d = found[idx]
        online = bool(d.get("online", 1.0))
        out.append(Core(idx, d.get("util_pct"), d.get("freq_mhz"), online))
    return out


SENSOR_OFF_C = -40.0     # at or below: a sensor that is off (-256 C), not a temperature


def is_temperature(celsius: float) -> bool:
    """A reading worth showing: not NaN, not a powered-down sensor's -256 C and not the exact 0.0 C
    that power-gated Jetson zones report (a real sensor reads millidegrees around 0, not 0.000)."""
    return math.isfinite(celsius) and celsius > SENSOR_OFF_C and celsius != 0.0


def temperatures(values: dict[str, float]) -> dict[str, float]:
    """``{zone: celsius}`` in name order (``temp_cpu_c`` -> ``cpu``), sensors that are off left out."""
    out = {}
    for name in sorted(values):
        m = catalogue.lookup(name)
        if m is not None and m.family is catalogue.TEMP and is_temperature(values[name]):
            out[m.key] = values[name]
    return out


def rails(values: dict[str, float]) -> list[Rail]:
    """Power rails with their averages; ``power_total_mw`` comes first when present."""
    found: dict[str, dict[str, float]] = {}
    for name, value in values.items():
        m = catalogue.lookup(name)
        if m is not None and m.family.group == "power":
            rail = "total" if m.family is catalogue.POWER_TOTAL else m.key
            found.setdefault(rail, {})[m.family.field] = value
    order = sorted(found, key=lambda r: (r != "total", r))
    return [Rail(r, found[r].get("now"), found[r].get("avg")) for r in order]


def fans(values: dict[str, float]) -> list[Fan]:
    found: dict[int, dict[str, float]] = {}
    for name, value in values.items():
        m = catalogue.lookup(name)
        if m is not None and m.family.group == "fan" and m.index is not None:
            found.setdefault(m.index, {})[m.family.field] = value
    return [Fan(i, found[i].get("pwm_pct"), found[i].get("rpm")) for i in sorted(found)]


def has_accelerator_metrics(values: dict[str, float]) -> bool:
    """True when there is anything for the Jetson/GPU/power panel to show."""
    return bool(catalogue.in_group(values, *ACCELERATOR_GROUPS))


def max_temperature(values: dict[str, float]) -> tuple[str, float] | None:
    temps = temperatures(values)
    if not temps:
        return None
    zone = max(temps, key=lambda z: temps[z])
    return zone, temps[zone]
