"""Prometheus names for edgemon metrics: family, labels and unit scale, and the session's labels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from edgemon.telemetry import catalogue

STATIC_LABELS = ("host", "board", "runner", "model", "session", "emulated")


@dataclass(frozen=True)
class SeriesName:
    """Where one edgemon metric goes: Prometheus family name, its own labels, and the unit scale."""

    name: str
    labels: tuple[tuple[str, str], ...]
    scale: float
    pattern: str          # the edgemon name with the labelled part generalised, for HELP


_INVALID = re.compile(r"[^a-zA-Z0-9_]")


@lru_cache(maxsize=4096)
def series_name(metric: str) -> SeriesName:
    """The Prometheus series for an edgemon metric name, from the metric catalogue
    (``edgemon.telemetry.catalogue``; docs/metrics.md lists every family).

    ``cpu0_freq_mhz`` -> ``edgemon_cpu_freq_hertz{cpu="0"}`` x1e6; ``temp_cpu_c`` ->
    ``edgemon_temperature_celsius{zone="cpu"}``; ``power_vdd_in_mw`` -> ``edgemon_power_watts{rail="vdd_in"}``
    x1e-3; ``ram_used_mb`` -> ``edgemon_ram_used_bytes``; ``gpu_util_pct`` -> ``edgemon_gpu_util_ratio`` x0.01.
    A name the catalogue does not describe keeps its name with the unit suffix turned into the base
    unit (``x_mhz`` -> ``edgemon_x_hertz`` x1e6) and no labels.
    """
    match = catalogue.lookup(metric)
    if match is not None and match.family.prometheus is not None:
        family = match.family
        return SeriesName(match.family.prometheus, match.labels, family.prometheus_scale, family.pattern)
    unit = catalogue.unit_of(metric)
    base, suffix, scale = metric, "", 1.0
    if unit is not None:
        base, suffix, scale = metric[: -len(unit.suffix)], unit.prometheus, unit.scale
    return SeriesName("edgemon_" + _INVALID.sub("_", base) + suffix, (), scale,
                      match.family.pattern if match is not None else metric)


def static_labels(meta: dict[str, Any], session: str | None = None) -> dict[str, str]:
    """host, board, runner, model, session, emulated from a session's meta (session.json contents)."""
    from edgemon.recording.layout import board_of, section

    workload = section(meta, "workload")
    if session is None:
        record_path = meta.get("record_path")
        session = Path(str(record_path)).name if record_path else ""
    return {
        "host": str(meta.get("host") or ""),
        "board": str(board_of(meta) or ""),
        "runner": str(workload.get("runner") or ""),
        "model": str(workload.get("model") or ""),
        "session": str(session or ""),
        "emulated": "true" if meta.get("emulated") else "false",
    }


def unit_note(name: str) -> str:
    for unit in catalogue.UNITS:
        if unit.prometheus and name.endswith(unit.prometheus):
            return f" in {unit.prometheus[1:]}"
    return ""
