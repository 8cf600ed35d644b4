"""Prometheus names for edgemon metrics: family, labels and unit scale, and the session's labels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

STATIC_LABELS = ("host", "board", "runner", "model", "session", "emulated")


@dataclass(frozen=True)
class SeriesName:
    """Where one edgemon metric goes: Prometheus family name, its own labels, and the unit scale."""

    name: str
    labels: tuple[tuple[str, str], ...]
    scale: float
    pattern: str          # the edgemon name with the labelled part generalised, for HELP


# edgemon unit suffix -> Prometheus base-unit suffix and the factor to get there
_UNITS = (
    ("_mhz", "_hertz", 1e6),
    ("_mw", "_watts", 1e-3),
    ("_mb", "_bytes", 1024.0 * 1024.0),   # edgemon MB are MiB (/proc/meminfo kB / 1024, tegrastats)
    ("_kb", "_bytes", 1024.0),
    ("_pct", "_ratio", 0.01),
    ("_c", "_celsius", 1.0),
)
# Aggregates whose natural name is taken by a labelled per-item family (sum() must not double count).
_SPECIAL = {"cpu_util_pct": SeriesName("edgemon_cpu_util_mean_ratio", (), 0.01, "cpu_util_pct")}
_INVALID = re.compile(r"[^a-zA-Z0-9_]")
_INDEXED = (  # (regex on the unit-less base, family base, label)
    (re.compile(r"cpu(\d+)_(.+)"), "cpu_{}", "cpu"),
    (re.compile(r"fan(\d+)_(.+)"), "fan_{}", "fan"),
    (re.compile(r"gpu_gpc(\d+)_(.+)"), "gpu_gpc_{}", "gpc"),
)


@lru_cache(maxsize=4096)
def series_name(metric: str) -> SeriesName:
    """The Prometheus series for an edgemon metric name (docs/architecture.md "Metric names").

    ``cpu0_freq_mhz`` -> ``edgemon_cpu_freq_hertz{cpu="0"}`` x1e6; ``temp_cpu_c`` ->
    ``edgemon_temperature_celsius{zone="cpu"}``; ``power_vdd_in_mw`` -> ``edgemon_power_watts{rail="vdd_in"}``
    x1e-3; ``ram_used_mb`` -> ``edgemon_ram_used_bytes``; ``gpu_util_pct`` -> ``edgemon_gpu_util_ratio`` x0.01.
    """
    if metric in _SPECIAL:
        return _SPECIAL[metric]
    base, suffix, scale = metric, "", 1.0
    for unit, prom, factor in _UNITS:
        if metric.endswith(unit) and len(metric) > len(unit):
            base, suffix, scale = metric[: -len(unit)], prom, factor
            break
    unit_part = metric[len(base):]
    labels: tuple[tuple[str, str], ...] = ()
    pattern = metric
    for rx, family, label in _INDEXED:
        m = rx.fullmatch(base)
        if m:
            labels = ((label, m.group(1)),)
            base = family.format(m.group(2))
            pattern = rx.pattern.replace(r"(\d+)", "{N}").replace("_(.+)", "_" + m.group(2)) + unit_part
            break
    else:
        if base.startswith("temp_") and suffix == "_celsius" and len(base) > 5:
            labels, base, pattern = (("zone", base[5:]),), "temperature", "temp_{zone}_c"
        elif base.startswith("power_") and suffix == "_watts" and len(base) > 6:
            rail = base[6:]
            if rail == "total":
                base = "power_total"
            elif rail.endswith("_avg") and len(rail) > 4:
                labels, base, pattern = (("rail", rail[:-4]),), "power_average", "power_{rail}_avg_mw"
            else:
                labels, base, pattern = (("rail", rail),), "power", "power_{rail}_mw"
        elif base.startswith("engine_") and suffix in ("_hertz", "_ratio"):
            engine, _, what = base[7:].rpartition("_")
            if engine and what in ("freq", "util"):
                labels, base = (("engine", engine),), f"engine_{what}"
                pattern = f"engine_{{name}}_{what}{unit_part}"
    name = "edgemon_" + _INVALID.sub("_", base) + suffix
    return SeriesName(name, labels, scale, pattern)


def static_labels(meta: dict[str, Any], session: str | None = None) -> dict[str, str]:
    """host, board, runner, model, session, emulated from a session's meta (session.json contents)."""
    from edgemon.recording.fleet import board_of

    workload = meta.get("workload") if isinstance(meta.get("workload"), dict) else {}
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
    for _, prom, _ in _UNITS:
        if name.endswith(prom):
            return f" in {prom[1:]}"
    return ""
