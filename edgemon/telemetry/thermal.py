"""Thermal zones: ``/sys/class/thermal/thermal_zone*/{type,temp}`` (millidegrees C).

Metric: ``temp_{type}_c`` with the type lower-cased and every run of
non-alphanumeric characters turned into ``_`` (``x86_pkg_temp`` ->
``temp_x86_pkg_temp_c``, ``cpu-thermal`` -> ``temp_cpu_thermal_c``). Zones with
the same type get ``_2``, ``_3`` ... in zone order. A reading outside the
catalogue's temperature range (at or below -40 C: power-gated sensors report -256 or
similar; above 150 C) is dropped and counted, as is a zone whose read fails (EIO on a
power-gated Orin zone); neither disables the source.

On a Jetson (``naming="tegra"``) zones are named the way tegrastats prints
them, so a sysfs reading and a tegrastats reading of the same zone share one
metric (and the sysfs one, read first, wins): the type up to the first ``-``
(else the first ``_``), lower-cased: ``CPU-therm`` -> ``temp_cpu_c``,
``Tboard_tegra`` -> ``temp_tboard_c``, ``thermal-fan-est`` -> ``temp_thermal_c``,
``cpu-thermal`` -> ``temp_cpu_c``. ``PMIC-Die`` is left out there: it is a
constant placeholder (always 100 or 50 C), which the tegrastats parser drops too.
"""

from __future__ import annotations

import os
import re

from edgemon.telemetry.base import Source, SourceContext, SourceStatus, read_int, read_text

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ZONE_RE = re.compile(r"^thermal_zone(\d+)$")
_TRIP_RE = re.compile(r"^trip_point_(\d+)_type$")



def metric_part(text: str) -> str:
    """``"CPU-therm"`` -> ``"cpu_therm"``: safe inside a snake_case metric name."""
    return _NON_ALNUM.sub("_", text.lower()).strip("_")


def unique_name(base: str, taken: set[str], suffix: str = "_c") -> str:
    """``base + suffix``, or ``base_2 + suffix`` ... when already taken; records the result."""
    name = base + suffix
    n = 2
    while name in taken:
        name = f"{base}_{n}{suffix}"
        n += 1
    taken.add(name)
    return name


def tegra_zone_name(zone_type: str) -> str:
    """tegrastats' name for a thermal zone type: ``"CPU-therm"`` -> ``"cpu"``."""
    sep = "-" if "-" in zone_type else "_"
    return metric_part(zone_type.split(sep, 1)[0])


TEGRA_PLACEHOLDER_ZONES = frozenset({"pmic"})


def list_zones(ctx: SourceContext) -> list[tuple[int, str]]:
    """``[(zone number, zone directory)]`` sorted by number."""
    base = ctx.path("/sys/class/thermal")
    try:
        names = os.listdir(base)
    except OSError:
        return []
    zones = [(int(m.group(1)), str(base / m.group(0))) for m in map(_ZONE_RE.match, names) if m]
    return sorted(zones)


class ThermalSource(Source):
    name = "thermal"

    def __init__(self, ctx: SourceContext, *, naming: str = "kernel"):
        """``naming``: ``"kernel"`` (the type as written) or ``"tegra"`` (as tegrastats prints it)."""
        super().__init__(ctx)
        if naming not in ("kernel", "tegra"):
            raise ValueError(f"naming must be 'kernel' or 'tegra', not {naming!r}")
        self.naming = naming
        self._zones: list[tuple[str, str, str]] = []   # (metric, zone type, temp path)

    def probe(self) -> SourceStatus:
        zones = list_zones(self.ctx)
        if not zones:
            return SourceStatus(self.name, False, f"no thermal zones in {self.ctx.path('/sys/class/thermal')}")
        taken: set[str] = set()
        self._zones = []
        for _, zdir in zones:
            ztype = read_text(os.path.join(zdir, "type"))
            if self.naming == "tegra":
                part = tegra_zone_name(ztype or "")
                if part in TEGRA_PLACEHOLDER_ZONES:
                    continue
            else:
                part = metric_part(ztype or "")
            if not part:
                continue
            metric = unique_name(f"temp_{part}", taken)
            self._zones.append((metric, ztype or "", os.path.join(zdir, "temp")))
        if not self._zones:
            return SourceStatus(self.name, False, "thermal zones have no readable type")
        return SourceStatus(self.name, True, detail=f"{len(self._zones)} zones")

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for metric, _, path in self._zones:
            try:
                c = int(self.files.raw(path).split()[0]) / 1000.0
            except (OSError, ValueError, IndexError):
                continue       # power-gated or vanished zone: no reading this tick
            if self.plausible(metric, c):
                out[metric] = c
        return out

    def zones(self) -> dict[str, str]:
        """``{metric: zone type as the kernel names it}``."""
        return {metric: ztype for metric, ztype, _ in self._zones}

    def trip_points(self) -> dict[str, list[tuple[str, float]]]:
        """``{metric: [(trip type, temp C), ...]}`` in trip order (e.g. ``("passive", 95.0)``)."""
        result: dict[str, list[tuple[str, float]]] = {}
        for metric, _, temp_path in self._zones:
            zdir = os.path.dirname(temp_path)
            try:
                names = os.listdir(zdir)
            except OSError:
                continue
            trips = []
            for n in sorted(int(m.group(1)) for m in map(_TRIP_RE.match, names) if m):
                ttype = read_text(os.path.join(zdir, f"trip_point_{n}_type"))
                temp = read_int(os.path.join(zdir, f"trip_point_{n}_temp"))
                if ttype is None or temp is None:
                    continue
                trips.append((ttype, temp / 1000.0))
            if trips:
                result[metric] = trips
        return result
