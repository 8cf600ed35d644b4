"""Per-core CPU utilisation from ``/proc/stat`` deltas, and which cores are online.

Metrics: ``cpu{N}_util_pct`` (online cores, from the second read on),
``cpu_util_pct`` (mean of the online cores that have a reading) and
``cpu{N}_online`` (1/0) for every core the machine has.

A core that is hot-unplugged disappears from ``/proc/stat`` but keeps its
``/sys/devices/system/cpu/cpuN`` directory; ``/sys/devices/system/cpu/online``
(a list like ``0-3,5``) is the kernel's own view and wins when readable. The kernel writes
``/proc/stat`` lines for online cores only, so the list is read again at once when the set of
cores there changes, and otherwise once every ``ONLINE_EVERY_S`` (each read of a sysfs file
costs ~40 us after the sampler's sleep on the 2-core VM, as much as the rest of a tick's parsing).
"""

from __future__ import annotations

import os
import re
import time
from typing import cast

from edgemon.telemetry.base import SourceContext, SourceStatus, SplitSource, read_text

_CPU_DIR_RE = re.compile(r"^cpu(\d+)$")

# /proc/stat cpu fields: user nice system idle iowait irq softirq steal guest guest_nice.
# guest/guest_nice are already counted in user/nice, so only the first 8 make up the total.
_TOTAL_FIELDS = 8

ONLINE_EVERY_S = 1.0     # the online list at the latest this long after its last read


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


def parse_proc_stat(text: str | bytes) -> dict[int, tuple[int, int]]:
    """``{core: (busy_jiffies, total_jiffies)}`` for every ``cpuN`` line of ``/proc/stat``."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    end = raw.find(b"\nintr")    # the cpu lines come first; the intr line can be tens of kB
    cores: dict[int, tuple[int, int]] = {}
    for line in raw[:end if end >= 0 else len(raw)].split(b"\n"):
        if line[:3] != b"cpu" or line[3:4] == b" ":
            continue           # not a cpu line, or the all-cores line
        fields = line.split()
        try:
            core = int(fields[0][3:])
            values = list(map(int, fields[1:_TOTAL_FIELDS + 1]))
        except ValueError:
            continue
        if len(values) < 4:
            continue
        total = sum(values)
        idle = values[3] + (values[4] if len(values) > 4 else 0)   # idle + iowait
        cores[core] = (total - idle, total)
    return cores


class ProcStatSource(SplitSource):
    """CPU utilisation per core. The first read only primes the counters."""

    name = "procstat"

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self._stat_path = ctx.path("/proc/stat")
        self._online_path = ctx.path("/sys/devices/system/cpu/online")
        self._stat_file, self._online_file = str(self._stat_path), str(self._online_path)   # hot path: no Path
        self._known: set[int] = set()      # every core ever seen (sysfs dirs, /proc/stat, online list)
        self._prev: dict[int, tuple[int, int]] = {}
        self._cores: list[int] = []          # sorted(self._known), kept while the set is unchanged
        self._keys: dict[int, tuple[str, str]] = {}   # core -> its metric names (no f-strings per tick)
        self._online_raw: bytes | None = b""  # the online list's last text ("" = not read yet)
        self._online: set[int] | None = None
        self._online_next_ns = 0             # when the online list is due again
        self._stat_lines = -1                # cpuN lines in /proc/stat at the last read of the list

    def probe(self) -> SourceStatus:
        text = read_text(self._stat_path)
        if text is None:
            return SourceStatus(self.name, False, f"cannot read {self._stat_path}")
        cores = parse_proc_stat(text)
        if not cores:
            return SourceStatus(self.name, False, f"no cpuN lines in {self._stat_path}")
        self._known = sysfs_cpu_dirs(self.ctx) | set(cores)
        self._cores = sorted(self._known)
        offline = len(self._known) - len(cores)
        detail = f"{len(self._known)} cores" + (f", {offline} offline" if offline > 0 else "")
        return SourceStatus(self.name, True, detail=detail)

    def capture(self) -> tuple[bytes, bool, bytes | None]:
        """``(/proc/stat, whether the online list was read, its bytes or None)``: only copies."""
        raw = self.files.raw(self._stat_file)
        end = raw.find(b"\nintr")
        lines = raw.count(b"\ncpu", 0, end if end >= 0 else len(raw))
        now = time.monotonic_ns()
        if now < self._online_next_ns and lines == self._stat_lines:
            return raw, False, None
        self._online_next_ns = now + int(ONLINE_EVERY_S * 1e9)
        self._stat_lines = lines          # a core came or went: the online list changed as well
        try:
            return raw, True, self.files.raw(self._online_file)
        except OSError:
            return raw, True, None

    def decode(self, captured: object) -> dict[str, float]:
        raw, online_read, online_raw = cast("tuple[bytes, bool, bytes | None]", captured)   # our capture's
        cur = parse_proc_stat(raw)
        if not cur:
            raise ValueError(f"no cpuN lines in {self._stat_path}")
        if online_read and online_raw != self._online_raw:   # parsed again only when its text changed
            self._online_raw = online_raw
            self._online = None if online_raw is None else parse_cpu_list(online_raw.decode("ascii", "replace"))
        online_list = self._online
        known = self._known
        if not known.issuperset(cur) or (online_list is not None and not known.issuperset(online_list)):
            known.update(cur)
            if online_list is not None:
                known.update(online_list)
            self._cores = sorted(known)

        out: dict[str, float] = {}
        utils: list[float] = []
        prev_all = self._prev
        for core in self._cores:
            keys = self._keys.get(core)
            if keys is None:
                keys = self._keys[core] = (f"cpu{core}_online", f"cpu{core}_util_pct")
            counters = cur.get(core)
            online = counters is not None and (online_list is None or core in online_list)
            out[keys[0]] = 1.0 if online else 0.0
            if not online or counters is None:
                continue
            prev = prev_all.get(core)
            if prev is None:
                continue
            busy, total = counters
            d_total = total - prev[1]
            d_busy = busy - prev[0]
            if d_total <= 0 or d_busy < 0:
                continue       # no time passed, or counters went back (core re-plugged): re-prime
            util = 100.0 * d_busy / d_total
            out[keys[1]] = util
            utils.append(util)
        # Counters of cores that went offline are forgotten so a re-plugged core re-primes.
        self._prev = cur
        if utils:
            out["cpu_util_pct"] = sum(utils) / len(utils)
        return out
