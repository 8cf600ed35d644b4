"""Clock ceilings and power limits at a moment, for session.json and power-mode events.

The throttling analysis compares each clock against the ceiling the current
power mode allows; those ceilings live in sysfs (cpufreq scaling_max_freq,
devfreq max_freq, the EMC cap) and change when nvpmodel switches mode, so the
session snapshots them at start and after every power-mode change.
"""

from __future__ import annotations

from typing import Any

from edgemon.telemetry import catalogue


def _limits_of(sources: list[Any], name: str) -> Any:
    for src in sources:
        if getattr(src, "name", "") == name and hasattr(src, "limits"):
            try:
                return src.limits()
            except Exception:  # a ceiling we cannot read is one the analysis infers instead
                return None
    return None


def clock_ceilings(sources: list[Any]) -> dict[str, float]:
    """``{metric: MHz}`` for every clock a source can bound, e.g. ``cpu0_freq_mhz``, ``gpu_freq_mhz``."""
    out: dict[str, float] = {}
    for cpu, cl in (_limits_of(sources, "cpufreq") or {}).items():
        if cl.max_mhz:
            out[catalogue.CPU_FREQ.name(cpu)] = float(cl.max_mhz)
    gpu = _limits_of(sources, "jetson_gpu")
    if gpu is not None and gpu.max_mhz:
        out[catalogue.GPU_FREQ.name()] = float(gpu.max_mhz)
    emc = _limits_of(sources, "jetson_emc")
    if emc is not None and emc.ceiling_mhz:
        out[catalogue.EMC_FREQ.name()] = float(emc.ceiling_mhz)
    nvml = _limits_of(sources, "nvml")
    if nvml:
        from edgemon.telemetry.nvml import gpu_prefix

        for index, lim in nvml.items():      # a desktop/server GPU: NVML's highest SM clock
            if lim.max_sm_mhz:
                out.setdefault(f"{gpu_prefix(index)}_freq_mhz", float(lim.max_sm_mhz))
    return out


def power_total_source(sources: list[Any]) -> str | None:
    """What ``power_total_mw`` is, from the first source (in merge order, which wins) that gives it:
    a measured input rail, or a sum of rails that may miss what no rail measures."""
    for src in sources:
        how = getattr(src, "power_total_source", None)
        if isinstance(how, str) and how:
            return how
    return None


def power_limits(sources: list[Any]) -> dict[str, float]:
    """``{power metric: critical mW}`` where the INA3221 exposes over-current limits."""
    out: dict[str, float] = {}
    for rail, rl in (_limits_of(sources, "jetson_power") or {}).items():
        if rl.crit_mw:
            out[catalogue.POWER_RAIL.name(str(rail).lower())] = float(rl.crit_mw)
    return out
