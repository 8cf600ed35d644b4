"""Per-core CPU utilisation from ``/proc/stat`` deltas, and which cores are online.

Metrics: ``cpu{N}_util_pct`` (online cores, from the second read on),
``cpu_util_pct`` (mean of the online cores that have a reading) and
``cpu{N}_online`` (1/0) for every core the machine has.

A core that is hot-unplugged disappears from ``/proc/stat`` but keeps its
``/sys/devices/system/cpu/cpuN`` directory; ``/sys/devices/system/cpu/online``
(a list like ``0-3,5``) is the kernel's own view and wins when readable.
"""

from __future__ import annotations

import os
import re

from edgemon.telemetry.base import Source, SourceContext, SourceStatus, read_text

_CPU_DIR_RE = re.compile(r"^cpu(\d+)$")

# /proc/stat cpu fields: user nice system idle iowait irq softirq steal guest guest_nice.
# guest/guest_nice are already counted in user/nice, so only the first 8 make up the total.
_TOTAL_FIELDS = 8


def parse_cpu_list(text: str | None) -> set[int] | None:
    """``"0-3,5"`` -> ``{0, 1, 2, 3, 5}``; ``None`` when missing or malformed; ``""`` -> empty set."""
    if text is None:
        return None
    cpus: set[int] = set()
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = part.split("-", 1)
                cpus.update(range(int(lo), int(hi) + 1))
            else:
                cpus.add(int(part))
        except ValueError:
            return None
    return cpus


def sysfs_cpu_dirs(ctx: SourceContext) -> set[int]:
    """Core numbers that have a ``/sys/devices/system/cpu/cpuN`` directory (online or not)."""
    try:
        names = os.listdir(ctx.path("/sys/devices/system/cpu"))
    except OSError:
        return set()
    return {int(m.group(1)) for m in map(_CPU_DIR_RE.match, names) if m}


def parse_proc_stat(text: str) -> dict[int, tuple[int, int]]:
    """``{core: (busy_jiffies, total_jiffies)}`` for every ``cpuN`` line of ``/proc/stat``."""
    cores: dict[int, tuple[int, int]] = {}
    head = text.split("\nintr", 1)[0]    # the intr line alone can be tens of kB on big boards
    for line in head.splitlines():
        if not line.startswith("cpu"):
            if cores:
                break          # the cpu lines come first; skip the long intr/softirq lines
            continue
        name, _, rest = line.partition(" ")
        if name == "cpu":
            continue           # the all-cores line
        try:
            core = int(name[3:])
            fields = [int(x) for x in rest.split()[:_TOTAL_FIELDS]]
        except ValueError:
            continue
        if len(fields) < 4:
            continue
        total = sum(fields)
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
        cores[core] = (total - idle, total)
    return cores


class ProcStatSource(Source):
    """CPU utilisation per core. The first read only primes the counters."""

    name = "procstat"

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self._stat_path = ctx.path("/proc/stat")
        self._online_path = ctx.path("/sys/devices/system/cpu/online")
        self._known: set[int] = set()      # every core ever seen (sysfs dirs, /proc/stat, online list)
        self._prev: dict[int, tuple[int, int]] = {}

    def probe(self) -> SourceStatus:
        text = read_text(self._stat_path)
        if text is None:
            return SourceStatus(self.name, False, f"cannot read {self._stat_path}")
        cores = parse_proc_stat(text)
        if not cores:
            return SourceStatus(self.name, False, f"no cpuN lines in {self._stat_path}")
        self._known = sysfs_cpu_dirs(self.ctx) | set(cores)
        offline = len(self._known) - len(cores)
        detail = f"{len(self._known)} cores" + (f", {offline} offline" if offline > 0 else "")
        return SourceStatus(self.name, True, detail=detail)

    def read(self) -> dict[str, float]:
        text = self.files.raw(self._stat_path).decode("ascii", "replace")
        cur = parse_proc_stat(text)
        if not cur:
            raise ValueError(f"no cpuN lines in {self._stat_path}")
        try:
            online_list = parse_cpu_list(self.files.raw(self._online_path).decode("ascii", "replace").strip())
        except OSError:
            online_list = None
        self._known.update(cur)
        if online_list is not None:
            self._known.update(online_list)

        out: dict[str, float] = {}
        utils: list[float] = []
        for core in sorted(self._known):
            online = core in cur and (online_list is None or core in online_list)
            out[f"cpu{core}_online"] = 1.0 if online else 0.0
            if not online:
                continue
            prev = self._prev.get(core)
            busy, total = cur[core]
            if prev is None:
                continue
            d_total = total - prev[1]
            d_busy = busy - prev[0]
            if d_total <= 0 or d_busy < 0:
                continue       # no time passed, or counters went back (core re-plugged): re-prime
            util = 100.0 * d_busy / d_total
            out[f"cpu{core}_util_pct"] = util
            utils.append(util)
        # Counters of cores that went offline are forgotten so a re-plugged core re-primes.
        self._prev = cur
        if utils:
            out["cpu_util_pct"] = sum(utils) / len(utils)
        return out
