"""Current CPU clock per core from cpufreq, plus the limits the analysis needs.

Metrics: ``cpu{N}_freq_mhz`` from ``cpuN/cpufreq/scaling_cur_freq`` (kHz).
Governor and min/max clocks change rarely, so they are not float metrics every
tick; :meth:`CpuFreqSource.limits` reads them on demand (e.g. the throttling
analysis asks for the ceiling the current power mode allows).
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemon.telemetry.base import Source, SourceContext, SourceStatus, read_int, read_text
from edgemon.telemetry.procstat import sysfs_cpu_dirs


def _mhz(khz: int | None) -> float | None:
    return None if khz is None else khz / 1000.0


@dataclass
class CpuFreqLimits:
    """One core's cpufreq settings; clocks in MHz, ``None`` where the file is missing."""

    cpu: int
    governor: str | None
    min_mhz: float | None            # scaling_min_freq: the floor the governor may use now
    max_mhz: float | None            # scaling_max_freq: the ceiling now (power mode, user caps)
    hw_min_mhz: float | None         # cpuinfo_min_freq: what the hardware can do
    hw_max_mhz: float | None         # cpuinfo_max_freq
    available_mhz: list[float] | None = None   # scaling_available_frequencies, where given


class CpuFreqSource(Source):
    """``cpu{N}_freq_mhz`` for every core that has cpufreq; cores without it are skipped."""

    name = "cpufreq"

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self._cores: list[int] = []
        self._cur_paths: list[tuple[str, str]] = []   # (metric, path)

    def _dir(self, core: int):
        return self.ctx.path(f"/sys/devices/system/cpu/cpu{core}/cpufreq")

    def probe(self) -> SourceStatus:
        cores = sorted(sysfs_cpu_dirs(self.ctx))
        if not cores:
            return SourceStatus(self.name, False, "no /sys/devices/system/cpu/cpuN directories")
        # An offline core may have lost its cpufreq link; keep every core that has the
        # directory now or later (a failed read of an absent file costs ~1 us).
        with_freq = [c for c in cores if (self._dir(c) / "scaling_cur_freq").exists()]
        if not with_freq:
            return SourceStatus(self.name, False, "no cpuN/cpufreq/scaling_cur_freq (no cpufreq driver)")
        self._cores = cores
        self._cur_paths = [(f"cpu{c}_freq_mhz", str(self._dir(c) / "scaling_cur_freq")) for c in cores]
        return SourceStatus(self.name, True, detail=f"{len(with_freq)} of {len(cores)} cores")

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for metric, path in self._cur_paths:
            try:
                khz = int(self.files.raw(path).split()[0])
            except (OSError, ValueError, IndexError):
                continue       # offline core or no cpufreq for this core
            out[metric] = khz / 1000.0
        return out

    def limits(self) -> dict[int, CpuFreqLimits]:
        """Governor and min/max clocks (MHz) per core that has cpufreq, read now."""
        cores = self._cores or sorted(sysfs_cpu_dirs(self.ctx))
        result: dict[int, CpuFreqLimits] = {}
        for core in cores:
            d = self._dir(core)
            governor = read_text(d / "scaling_governor")
            lim = CpuFreqLimits(
                cpu=core,
                governor=governor,
                min_mhz=_mhz(read_int(d / "scaling_min_freq")),
                max_mhz=_mhz(read_int(d / "scaling_max_freq")),
                hw_min_mhz=_mhz(read_int(d / "cpuinfo_min_freq")),
                hw_max_mhz=_mhz(read_int(d / "cpuinfo_max_freq")),
            )
            avail = read_text(d / "scaling_available_frequencies")
            if avail:
                try:
                    lim.available_mhz = sorted(int(x) / 1000.0 for x in avail.split())
                except ValueError:
                    pass
            if governor is None and lim.max_mhz is None and lim.min_mhz is None:
                continue       # no cpufreq on this core
            result[core] = lim
        return result
