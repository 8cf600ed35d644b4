"""x86 CPU power from the RAPL energy counters under ``/sys/class/powercap``.

Zones (Intel, and AMD Zen since Linux 5.8, both through the ``intel-rapl`` powercap driver):
``intel-rapl:N`` (``name`` ``package-N``, or ``psys`` on laptops) and their sub-zones
``intel-rapl:N:M`` (``core``, ``uncore``, ``dram``). Each has ``energy_uj`` (a counter in
microjoules) that wraps at ``max_energy_range_uj``.

Metrics: ``power_{zone}_mw`` = energy delta / time delta between two reads (the first read
only primes the counters): ``power_package_0_mw``, ``power_psys_mw``, and sub-zones of
package 0 without the package (``power_core_mw``, ``power_uncore_mw``, ``power_dram_mw``);
sub-zones of further packages keep it (``power_package_1_core_mw``). A counter that went
down wrapped: delta += ``max_energy_range_uj``.

``power_total_mw`` = the sum of the ``package-N`` zones, set only when every package was
read this tick. That is the best whole-CPU total RAPL offers on x86. ``psys`` (laptops) is
reported on its own: what it covers depends on the firmware. Because this module sits after
the Jetson and generic sysfs readers in the registry's merge order, a board input rail (a
Jetson's ``VDD_IN``) still wins ``power_total_mw`` where one exists.

``intel-rapl-mmio:*`` zones duplicate the MSR package zone on recent Intel parts and are
read only when no ``intel-rapl:*`` zone exists.

Since Linux 5.10 ``energy_uj`` is readable by root only (the PLATYPUS side channel,
CVE-2020-8694); then the source is unavailable and says so.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Callable

from edgemon.telemetry.base import Source, SourceContext, SourceStatus, read_int, read_text
from edgemon.telemetry.thermal import metric_part, unique_name

__all__ = ["RaplSource", "RaplZone", "find_zones", "energy_delta_uj", "ROOT_ONLY_REASON"]

POWERCAP = "/sys/class/powercap"
ROOT_ONLY_REASON = ("RAPL energy counters are readable by root only since Linux 5.10 (CVE-2020-8694); "
                    "run as root or make energy_uj readable (chmod a+r)")

_ZONE_RE = re.compile(r"^(intel-rapl(?:-mmio)?):(\d+)(?::(\d+))?$")


@dataclass(frozen=True)
class RaplZone:
    zone: str                 # "intel-rapl:0:1"
    name: str                 # as the kernel names it: "package-0", "core", "dram", "psys"
    metric: str               # "power_package_0_mw"
    energy_path: str
    max_range_uj: int | None  # wrap point; None when unreadable (a wrapped read is then dropped)
    is_package: bool          # a top-level package-N zone (summed into power_total_mw)


def energy_delta_uj(previous: int, current: int, max_range_uj: int | None) -> int | None:
    """Energy used between two counter values; ``None`` when it wrapped and the range is unknown."""
    delta = current - previous
    if delta >= 0:
        return delta
    if not max_range_uj:
        return None
    delta += max_range_uj
    return delta if delta >= 0 else None


def _zone_dirs(ctx: SourceContext) -> list[tuple[str, str, int, int | None]]:
    """``[(zone, directory, package N, sub-zone M or None)]``, ``intel-rapl`` preferred over mmio."""
    base = ctx.path(POWERCAP)
    try:
        names = os.listdir(base)
    except OSError:
        return []
    by_driver: dict[str, list[tuple[str, str, int, int | None]]] = {}
    for n in names:
        m = _ZONE_RE.match(n)
        if m:
            sub = int(m.group(3)) if m.group(3) is not None else None
            by_driver.setdefault(m.group(1), []).append((n, str(base / n), int(m.group(2)), sub))
    zones = by_driver.get("intel-rapl") or by_driver.get("intel-rapl-mmio") or []
    return sorted(zones, key=lambda z: (z[2], -1 if z[3] is None else z[3]))


def find_zones(ctx: SourceContext) -> tuple[list[RaplZone], dict[str, str]]:
    """Zones with their metric names, and ``{zone: why skipped}`` (no name, unreadable ...)."""
    dirs = _zone_dirs(ctx)
    top_names = {pkg: metric_part(read_text(os.path.join(d, "name")) or "")
                 for _, d, pkg, sub in dirs if sub is None}
    zones: list[RaplZone] = []
    skipped: dict[str, str] = {}
    taken: set[str] = set()
    for zone, d, pkg, sub in dirs:
        raw_name = read_text(os.path.join(d, "name"))
        part = metric_part(raw_name or "")
        energy = os.path.join(d, "energy_uj")
        if not part:
            skipped[zone] = "no name"
            continue
        if not os.path.exists(energy):
            skipped[zone] = "no energy_uj"
            continue
        if sub is not None and pkg != 0:
            part = f"{top_names.get(pkg) or f'package_{pkg}'}_{part}"
        zones.append(RaplZone(
            zone=zone, name=raw_name or "", metric=unique_name(f"power_{part}", taken, "_mw"),
            energy_path=energy, max_range_uj=read_int(os.path.join(d, "max_energy_range_uj")),
            is_package=sub is None and (raw_name or "").startswith("package")))
    return zones, skipped


def _read_counter(path: str) -> int:
    with open(path, "rb") as f:
        return int(f.read().split()[0])


class RaplSource(Source):
    """``power_{zone}_mw`` and ``power_total_mw`` from RAPL energy counters."""

    name = "rapl"

    def __init__(self, ctx: SourceContext, *, clock: Callable[[], int] = time.monotonic_ns):
        super().__init__(ctx)
        self._clock = clock
        self.zones: list[RaplZone] = []
        self.skipped: dict[str, str] = {}
        self._last: dict[str, tuple[int, int]] = {}    # metric -> (energy uJ, t ns)

    def probe(self) -> SourceStatus:
        try:
            return self._probe()
        except Exception as exc:      # probe must not raise
            return SourceStatus(self.name, False, f"RAPL discovery failed: {type(exc).__name__}: {exc}")

    def _probe(self) -> SourceStatus:
        self._last = {}
        zones, self.skipped = find_zones(self.ctx)
        if not zones:
            why = f"no RAPL zones in {self.ctx.path(POWERCAP)} (not x86, or the intel_rapl driver is not loaded)"
            if self.skipped:
                why += " (" + "; ".join(f"{z}: {r}" for z, r in self.skipped.items()) + ")"
            return SourceStatus(self.name, False, why)
        readable: list[RaplZone] = []
        denied: list[str] = []
        for z in zones:
            try:
                _read_counter(z.energy_path)
            except PermissionError:
                denied.append(z.energy_path)
                self.skipped[z.zone] = "energy_uj permission denied"
                continue
            except (OSError, ValueError, IndexError) as exc:
                self.skipped[z.zone] = f"energy_uj unreadable: {exc}"
                continue
            readable.append(z)
        self.zones = readable
        if not readable:
            if denied:
                return SourceStatus(self.name, False, f"{denied[0]}: permission denied; {ROOT_ONLY_REASON}")
            return SourceStatus(self.name, False, "no readable RAPL energy counter: "
                                + "; ".join(f"{z}: {r}" for z, r in self.skipped.items()))
        detail = f"{len(readable)} zones ({', '.join(z.name for z in readable)})"
        if self.skipped:
            detail += "; skipped " + ", ".join(f"{z} ({r})" for z, r in self.skipped.items())
        return SourceStatus(self.name, True, detail=detail)

    @property
    def power_total_source(self) -> str | None:
        return "RAPL: sum of packages" if any(z.is_package for z in self.zones) else None

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        failed: Exception | None = None
        n_ok = 0
        packages = [z for z in self.zones if z.is_package]
        for z in self.zones:
            try:
                energy = _read_counter(z.energy_path)
            except (OSError, ValueError, IndexError) as exc:
                failed = exc
                continue
            now = self._clock()
            n_ok += 1
            prev = self._last.get(z.metric)
            self._last[z.metric] = (energy, now)
            if prev is None or now <= prev[1]:
                continue       # first read primes
            delta = energy_delta_uj(prev[0], energy, z.max_range_uj)
            if delta is None:
                continue
            out[z.metric] = delta / ((now - prev[1]) / 1e9) / 1000.0    # uJ/s = uW -> mW
        if self.zones and n_ok == 0:
            raise OSError(f"no RAPL counter readable: {failed}")
        if packages and all(z.metric in out for z in packages):
            out["power_total_mw"] = sum(out[z.metric] for z in packages)
        return out


SOURCES = [RaplSource]
