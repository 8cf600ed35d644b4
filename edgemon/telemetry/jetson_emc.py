"""Jetson external memory controller (EMC): clock and utilisation (the files jetson-stats reads
too: https://github.com/rbonghi/jetson_stats/blob/master/jtop/core/memory.py).

Clock (Hz), first readable of:

* ``/sys/kernel/debug/bpmp/debug/clk/emc/rate`` (+ ``min_rate``, ``max_rate``): TX2, Xavier, Orin;
* ``/sys/class/devfreq/bwmgr/cur_freq`` (+ ``min_freq``, ``max_freq``): Thor; not under debugfs;
* ``/sys/kernel/debug/clk/override.emc/clk_rate`` (+ ``/sys/kernel/debug/tegra_bwmgr/emc_{min,max}_rate``): Nano/TX1;
* ``/sys/kernel/debug/clk/emc/clk_rate`` (+ ``clk_min_rate``, ``clk_max_rate``).

Utilisation: the memory-controller activity monitor, first readable of
``/sys/kernel/debug/cactmon/mc_all``, ``/sys/kernel/debug/bpmp/debug/actmon/mc_all_avg_activity``,
``/sys/kernel/actmon_avg_activity/mc_all``; ``emc_util_pct = mc_all / clock_kHz`` (jetson-stats'
formula: the counter is scaled so that the quotient is a percentage).

Everything under ``/sys/kernel/debug`` is root-only, so a non-root monitor usually gets no EMC
from sysfs; the probe says so and tegrastats (which prints ``EMC_FREQ``) is the fallback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edgemon.telemetry.base import Source, SourceContext, SourceStatus, read_int

# (current, min, max) clock files in Hz, in order of preference.
CLOCK_FILES = (
    ("/sys/kernel/debug/bpmp/debug/clk/emc/rate",
     "/sys/kernel/debug/bpmp/debug/clk/emc/min_rate", "/sys/kernel/debug/bpmp/debug/clk/emc/max_rate"),
    ("/sys/class/devfreq/bwmgr/cur_freq", "/sys/class/devfreq/bwmgr/min_freq", "/sys/class/devfreq/bwmgr/max_freq"),
    ("/sys/kernel/debug/clk/override.emc/clk_rate",
     "/sys/kernel/debug/tegra_bwmgr/emc_min_rate", "/sys/kernel/debug/tegra_bwmgr/emc_max_rate"),
    ("/sys/kernel/debug/clk/emc/clk_rate", "/sys/kernel/debug/clk/emc/clk_min_rate",
     "/sys/kernel/debug/clk/emc/clk_max_rate"),
)
ACTIVITY_FILES = (
    "/sys/kernel/debug/cactmon/mc_all",
    "/sys/kernel/debug/bpmp/debug/actmon/mc_all_avg_activity",
    "/sys/kernel/actmon_avg_activity/mc_all",
)
EMC_CAP_FILE = "/sys/kernel/nvpmodel_emc_cap/emc_iso_cap"   # Hz; 0 = no cap (MAXN)
EMC_CAP_KNEXT_FILE = "/sys/kernel/nvpmodel_clk_cap/emc"      # JetPack 6 nvpmodel writes the cap here
NEEDS_ROOT = "needs root: /sys/kernel/debug is root-only; tegrastats provides EMC"


@dataclass(frozen=True)
class EmcLimits:
    cur_mhz: float | None
    min_mhz: float | None
    max_mhz: float | None         # hardware/driver maximum
    cap_mhz: float | None         # nvpmodel's emc_iso_cap when set (non-zero); the power mode ceiling

    @property
    def ceiling_mhz(self) -> float | None:
        if self.cap_mhz and self.max_mhz:
            return min(self.cap_mhz, self.max_mhz)
        return self.cap_mhz or self.max_mhz


def _debugfs_denied(ctx: SourceContext) -> bool:
    """True when debugfs exists here but this process may not look inside."""
    debug = ctx.path("/sys/kernel/debug")
    if not debug.is_dir():
        return False
    try:
        os.listdir(debug)
    except PermissionError:
        return True
    except OSError:
        return False
    return not os.access(debug, os.R_OK | os.X_OK)


class JetsonEmcSource(Source):
    """``emc_freq_mhz`` and, where the activity monitor is readable, ``emc_util_pct``."""

    name = "jetson_emc"

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self.clock_files: tuple[str, str, str] | None = None   # resolved (cur, min, max)
        self.activity_path: str | None = None

    def probe(self) -> SourceStatus:
        try:
            return self._probe()
        except Exception as exc:
            return SourceStatus(self.name, False, f"EMC discovery failed: {exc}")

    def _probe(self) -> SourceStatus:
        self.clock_files = None
        for cur, lo, hi in CLOCK_FILES:
            if read_int(self.ctx.path(cur)) is not None:
                self.clock_files = (str(self.ctx.path(cur)), str(self.ctx.path(lo)), str(self.ctx.path(hi)))
                break
        self.activity_path = None
        for act in ACTIVITY_FILES:
            if read_int(self.ctx.path(act)) is not None:
                self.activity_path = str(self.ctx.path(act))
                break
        if self.clock_files is None:
            if _debugfs_denied(self.ctx):
                return SourceStatus(self.name, False, NEEDS_ROOT)
            return SourceStatus(
                self.name, False,
                f"no EMC clock under {self.ctx.path('/sys/kernel/debug')} (bpmp/debug/clk/emc, clk/override.emc) "
                f"or {self.ctx.path('/sys/class/devfreq/bwmgr')}; debugfs is root-only; tegrastats provides EMC")
        detail = self.clock_files[0]
        if self.activity_path is None:
            detail += "; no activity monitor (no emc_util_pct)"
        return SourceStatus(self.name, True, detail=detail)

    def read(self) -> dict[str, float]:
        if self.clock_files is None:
            return {}
        hz = self.files.int(self.clock_files[0])
        if hz is None:
            raise OSError(f"EMC clock unreadable: {self.clock_files[0]}")
        out = {"emc_freq_mhz": hz / 1e6}
        if self.activity_path is not None and hz > 0:
            activity = self.files.int(self.activity_path)
            if activity is not None:
                out["emc_util_pct"] = activity / (hz / 1000.0)
        return out

    def limits(self) -> EmcLimits | None:
        if self.clock_files is None:
            return None
        cur, lo, hi = (read_int(Path(p)) for p in self.clock_files)
        cap = read_int(self.ctx.path(EMC_CAP_FILE)) or read_int(self.ctx.path(EMC_CAP_KNEXT_FILE))

        def mhz(v: int | None) -> float | None:
            return None if v is None else v / 1e6

        return EmcLimits(mhz(cur), mhz(lo), mhz(hi), mhz(cap) if cap else None)
