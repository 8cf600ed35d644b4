"""The metric catalogue: every metric family edgemon records, in one place.

A family is one entry: its name pattern, unit, kind, plausible range, dashboard group,
Prometheus name and labels, and a description. Everything that interprets metric names
derives from here: the dashboard's panel grouping (``view/metric_groups.py``), the
Prometheus exporter (``prometheus/names.py``), the throttling analysis and the clock
ceilings (``analysis/throttling.py``, ``telemetry/limits.py``), the plausibility filter the
sampler and the tegrastats parser apply, and the metric table in ``docs/metrics.md``
(generated: ``python -m edgemon.telemetry.catalogue --write``; a test fails when it is stale).

Adding a metric: the source emits it, and one :class:`Family` goes into :data:`FAMILIES`.

Patterns: ``{N}`` is a decimal index, any other ``{...}`` a name part (one or more
characters); the placeholders, in order, fill the family's ``labels``. The first family
whose pattern matches a name wins, so exact names and longer suffixes come first
(``power_total_mw`` before ``power_{rail}_avg_mw`` before ``power_{rail}_mw``). A name no
family matches is still recorded and exported; its unit suffix (:data:`UNITS`) gives it a
unit, a Prometheus base unit and a plausible range.

Standard library only: the CLI, the sampler thread and the runners' side of the house import
this cheaply.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

GAUGE = "gauge"
COUNTER = "counter"


@dataclass(frozen=True)
class Range:
    """Physically plausible values: ``low <= v <= high`` (``low < v`` when ``low_open``); None: unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def __contains__(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        """``0 .. 100``, ``>= 0``, ``> -40 .. 150``, ``any``."""
        if self.low is None and self.high is None:
            return "any"
        if self.low is None:
            return f"<= {_number(self.high)}"
        lo = ("> " if self.low_open else "") + _number(self.low)
        if self.high is None:
            return lo if self.low_open else f">= {lo}"
        return f"{lo} .. {_number(self.high)}"


def _number(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Unit:
    """A unit suffix of metric names and what it becomes in Prometheus."""

    suffix: str            # "_mhz"
    symbol: str            # "MHz"
    prometheus: str        # "_hertz": the base-unit suffix of the Prometheus name ("" keeps the suffix)
    scale: float           # edgemon value x scale = Prometheus value
    plausible: Range       # for names no family describes


# Ordered: the first suffix that ends a name is its unit.
UNITS: tuple[Unit, ...] = (
    Unit("_mhz", "MHz", "_hertz", 1e6, Range(0.0, 100_000.0)),
    Unit("_mw", "mW", "_watts", 1e-3, Range(0.0, 10_000_000.0)),
    # edgemon MB are MiB (/proc/meminfo kB / 1024, tegrastats)
    Unit("_mb", "MiB", "_bytes", 1024.0 * 1024.0, Range(0.0)),
    Unit("_kb", "KiB", "_bytes", 1024.0, Range(0.0)),
    Unit("_pct", "%", "_ratio", 0.01, Range(0.0)),
    Unit("_c", "C", "_celsius", 1.0, Range(-40.0, 150.0, low_open=True)),
)

_BY_SUFFIX = {u.suffix: u for u in UNITS}
PERCENT = Range(0.0, 100.0)
TEMPERATURE = _BY_SUFFIX["_c"].plausible      # the -256 "sensor off" marker and friends are dropped
CLOCK = _BY_SUFFIX["_mhz"].plausible
POWER = _BY_SUFFIX["_mw"].plausible
NON_NEGATIVE = Range(0.0)
FLAG = Range(0.0, 1.0)

# Dashboard groups, in the order docs/metrics.md lists them.
GROUPS = ("cpu", "memory", "gpu", "emc", "engine", "thermal", "power", "fan", "host", "rpi")


@dataclass(frozen=True)
class Family:
    """One metric family.

    ``group`` is the dashboard group (``GROUPS``); ``field`` the part of a grouped item it
    fills (``util_pct`` of a core, ``avg`` of a rail). ``prometheus`` is the Prometheus
    family name, ``None`` for "``edgemon_`` + the name with its base unit" (series that keep
    their index in the name). ``clock``: the throttling domain of a clock that has a ceiling
    (``cpu``, ``gpu``, ``emc``); ``load`` the pattern of the utilisation that says whether that
    unit is busy (same placeholders).
    """

    pattern: str
    unit: str
    kind: str
    plausible: Range | None
    group: str
    description: str
    prometheus: str | None = None
    labels: tuple[str, ...] = ()
    field: str = ""
    clock: str | None = None
    load: str | None = None

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern)

    def match(self, name: str) -> tuple[str, ...] | None:
        """The placeholder values when ``name`` belongs to this family, else None."""
        m = self.regex.fullmatch(name)
        return m.groups() if m else None

    def name(self, *parts: object) -> str:
        """The metric name for placeholder values: ``CPU_FREQ.name(3)`` -> ``cpu3_freq_mhz``."""
        return fill(self.pattern, parts)

    @property
    def unit_suffix(self) -> Unit | None:
        return unit_of(self.pattern)

    @property
    def prometheus_scale(self) -> float:
        unit = self.unit_suffix
        return unit.scale if unit is not None and unit.prometheus else 1.0


_PLACEHOLDER = re.compile(r"\{([A-Za-z]+)\}")


def fill(pattern: str, parts: Iterable[object]) -> str:
    """``pattern`` with its placeholders replaced by ``parts``, in order."""
    values = [str(p) for p in parts]
    if len(values) != len(_PLACEHOLDER.findall(pattern)):
        raise ValueError(f"{pattern}: {len(values)} parts for its placeholders")
    it = iter(values)
    return _PLACEHOLDER.sub(lambda _m: next(it), pattern)


@lru_cache(maxsize=None)
def _compile(pattern: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        out.append(r"(\d+)" if m.group(1) == "N" else r"(.+)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out))


def _f(pattern: str, unit: str, plausible: Range | None, group: str, description: str, *,
       kind: str = GAUGE, **kw) -> Family:
    return Family(pattern, unit, kind, plausible, group, description, **kw)


# ---------------------------------------------------------------------------- the families
# Named where code refers to one family in particular.

CPU_UTIL = _f("cpu{N}_util_pct", "%", PERCENT, "cpu", "load of one core (N from 0, in tegrastats order)",
              prometheus="edgemon_cpu_util_ratio", labels=("cpu",), field="util_pct")
CPU_FREQ = _f("cpu{N}_freq_mhz", "MHz", CLOCK, "cpu", "clock of one core",
              prometheus="edgemon_cpu_freq_hertz", labels=("cpu",), field="freq_mhz", clock="cpu",
              load="cpu{N}_util_pct")
CPU_ONLINE = _f("cpu{N}_online", "0/1", FLAG, "cpu", "1 while the core is online, 0 when offlined",
                prometheus="edgemon_cpu_online", labels=("cpu",), field="online")
CPU_UTIL_MEAN = _f("cpu_util_pct", "%", PERCENT, "cpu", "mean load of the online cores",
                   prometheus="edgemon_cpu_util_mean_ratio")
GPU_UTIL = _f("gpu_util_pct", "%", PERCENT, "gpu", "GPU load (GR3D on a Jetson)", prometheus="edgemon_gpu_util_ratio")
GPU_FREQ = _f("gpu_freq_mhz", "MHz", CLOCK, "gpu", "GPU clock (the highest GPC clock when a list is given)",
              prometheus="edgemon_gpu_freq_hertz", clock="gpu", load="gpu_util_pct")
EMC_FREQ = _f("emc_freq_mhz", "MHz", CLOCK, "emc", "memory controller clock", prometheus="edgemon_emc_freq_hertz",
              clock="emc", load="emc_util_pct")
TEMP = _f("temp_{zone}_c", "C", TEMPERATURE, "thermal",
          "a thermal zone or sensor, lower-case as the source names it (CPU@ -> temp_cpu_c)",
          prometheus="edgemon_temperature_celsius", labels=("zone",), field="c")
POWER_TOTAL = _f("power_total_mw", "mW", POWER, "power",
                 "the board's input rail where one exists (POM_5V_IN, VDD_IN, VIN), otherwise the sum of the rails",
                 prometheus="edgemon_power_total_watts", field="now")
POWER_AVG = _f("power_{rail}_avg_mw", "mW", POWER, "power", "a rail's average as the source computes it",
               prometheus="edgemon_power_average_watts", labels=("rail",), field="avg")
POWER_RAIL = _f("power_{rail}_mw", "mW", POWER, "power",
                "one power rail or RAPL domain, instantaneous (NC rails are dropped)",
                prometheus="edgemon_power_watts", labels=("rail",), field="now")
FAN_PWM = _f("fan{N}_pwm_pct", "%", PERCENT, "fan", "fan drive", prometheus="edgemon_fan_pwm_ratio",
             labels=("fan",), field="pwm_pct")
FAN_RPM = _f("fan{N}_rpm", "RPM", Range(0.0, 100_000.0), "fan", "fan speed (tachometer)",
             prometheus="edgemon_fan_rpm", labels=("fan",), field="rpm")
PROC_WORKER_CPU = _f("proc_worker_cpu_pct", "%", NON_NEGATIVE, "host",
                     "CPU time of the worker's process tree: the runner or command and its descendants "
                     "(100 = one core)",
                     prometheus="edgemon_proc_worker_cpu_ratio")
GPU_POWER = _f("gpu_power_mw", "mW", POWER, "gpu", "NVML board power draw", prometheus="edgemon_gpu_power_watts")
GPU_POWER_LIMIT = _f("gpu_power_limit_mw", "mW", POWER, "gpu", "NVML enforced power limit",
                     prometheus="edgemon_gpu_power_limit_watts")
GPU_TEMP_SLOWDOWN = _f("gpu_temp_slowdown_c", "C", TEMPERATURE, "gpu", "NVML slowdown temperature (read once)",
                       prometheus="edgemon_gpu_temp_slowdown_celsius")
GPU_CLOCK_EVENTS = _f("gpu_clock_event_reasons", "bitmask", NON_NEGATIVE, "gpu",
                      "NVML clock-event (throttle) reasons; bits in telemetry/nvml.py",
                      prometheus="edgemon_gpu_clock_event_reasons")
RPI_THROTTLED_RAW = _f("rpi_throttled_raw", "bitmask", NON_NEGATIVE, "rpi",
                       "vcgencmd get_throttled, all bits", prometheus="edgemon_rpi_throttled_raw")

# NVML metrics of GPU 0; further GPUs put their index in the prefix (gpu1_util_pct) and keep
# it in the Prometheus name.
_NVML = (
    _f("gpu_mem_used_mb", "MiB", NON_NEGATIVE, "gpu", "NVML memory in use (as nvidia-smi)",
       prometheus="edgemon_gpu_mem_used_bytes"),
    _f("gpu_mem_freq_mhz", "MHz", CLOCK, "gpu", "NVML memory clock", prometheus="edgemon_gpu_mem_freq_hertz"),
    GPU_POWER,
    GPU_POWER_LIMIT,
    _f("gpu_energy_mj", "mJ", NON_NEGATIVE, "gpu", "NVML energy since the driver loaded (read once a second)",
       kind=COUNTER, prometheus="edgemon_gpu_energy_mj"),
    GPU_TEMP_SLOWDOWN,
    GPU_CLOCK_EVENTS,
)
_FURTHER_GPUS = tuple(
    Family("gpu{N}" + f.pattern[3:], f.unit, f.kind, f.plausible, f.group, f"`{f.pattern}` of GPU N >= 1 (NVML)")
    for f in (GPU_UTIL, GPU_FREQ) + _NVML
)

_RPI_FLAGS = tuple(
    _f(name, "0/1", FLAG, "rpi", what, prometheus=f"edgemon_{name}")
    for base, meaning in (("rpi_undervoltage", "under-voltage"), ("rpi_freq_capped", "ARM frequency capped"),
                          ("rpi_throttled", "throttled"), ("rpi_soft_temp_limit", "soft temperature limit"))
    for name, what in ((base, f"vcgencmd get_throttled: {meaning} now"),
                       (base + "_occurred", f"vcgencmd get_throttled: {meaning} since boot"))
)

FAMILIES: tuple[Family, ...] = (
    # cpu
    CPU_UTIL_MEAN, CPU_UTIL, CPU_FREQ, CPU_ONLINE,
    _f("cpu_arm_freq_mhz", "MHz", CLOCK, "cpu", "Raspberry Pi ARM clock (vcgencmd measure_clock arm)",
       prometheus="edgemon_cpu_arm_freq_hertz"),
    # memory
    _f("ram_used_mb", "MiB", NON_NEGATIVE, "memory", "RAM in use", prometheus="edgemon_ram_used_bytes"),
    _f("ram_total_mb", "MiB", NON_NEGATIVE, "memory", "RAM size", prometheus="edgemon_ram_total_bytes"),
    _f("swap_used_mb", "MiB", NON_NEGATIVE, "memory", "swap in use", prometheus="edgemon_swap_used_bytes"),
    _f("swap_total_mb", "MiB", NON_NEGATIVE, "memory", "swap size", prometheus="edgemon_swap_total_bytes"),
    _f("swap_cached_mb", "MiB", NON_NEGATIVE, "memory", "swap cached", prometheus="edgemon_swap_cached_bytes"),
    _f("iram_used_kb", "KiB", NON_NEGATIVE, "memory", "Jetson IRAM in use (tegrastats)",
       prometheus="edgemon_iram_used_bytes"),
    # jtop's logger CSV gives memory as a share, not MB (edgemon import jtop)
    _f("ram_used_pct", "%", PERCENT, "memory", "RAM in use as a share of all (imported jtop logs)",
       prometheus="edgemon_ram_used_ratio"),
    _f("swap_used_pct", "%", PERCENT, "memory", "swap in use as a share of all (imported jtop logs)",
       prometheus="edgemon_swap_used_ratio"),
    _f("iram_used_pct", "%", PERCENT, "memory", "IRAM in use as a share of all (imported jtop logs)",
       prometheus="edgemon_iram_used_ratio"),
    # gpu
    GPU_UTIL, GPU_FREQ,
    _f("gpu_gpc{N}_freq_mhz", "MHz", CLOCK, "gpu", "clock of one GPC (Jetson Orin, Thor)",
       prometheus="edgemon_gpu_gpc_freq_hertz", labels=("gpc",)),
    *_NVML,
    *_FURTHER_GPUS,
    # memory controller
    _f("emc_util_pct", "%", PERCENT, "emc", "memory controller load", prometheus="edgemon_emc_util_ratio"),
    EMC_FREQ,
    # engines
    _f("engine_{name}_freq_mhz", "MHz", CLOCK, "engine",
       "clock of an engine (NVENC, NVDEC, NVJPG, VIC, DLA, PVA, APE, OFA; lower-case, _FREQ dropped; off = 0)",
       prometheus="edgemon_engine_freq_hertz", labels=("engine",)),
    _f("engine_{name}_util_pct", "%", PERCENT, "engine", "load of an engine (MTS fg/bg on older boards)",
       prometheus="edgemon_engine_util_ratio", labels=("engine",)),
    # thermal
    TEMP,
    # power
    POWER_TOTAL, POWER_AVG, POWER_RAIL,
    # fan
    FAN_PWM, FAN_RPM,
    # host
    _f("load1", "", NON_NEGATIVE, "host", "1-minute load average", prometheus="edgemon_load1"),
    _f("proc_monitor_cpu_pct", "%", NON_NEGATIVE, "host", "CPU time of the edgemon process (100 = one core)",
       prometheus="edgemon_proc_monitor_cpu_ratio"),
    PROC_WORKER_CPU,
    _f("proc_worker_rss_mb", "MiB", NON_NEGATIVE, "host",
       "resident memory of the worker's process tree (the sum of its processes' RSS)",
       prometheus="edgemon_proc_worker_rss_bytes"),
    _f("proc_worker_gpu_mem_mb", "MiB", NON_NEGATIVE, "host",
       "GPU memory of the worker's process tree, all GPUs (NVML per-process lists; absent where unreadable)",
       prometheus="edgemon_proc_worker_gpu_mem_bytes"),
    # Raspberry Pi
    *_RPI_FLAGS,
    RPI_THROTTLED_RAW,
    _f("volt_core_v", "V", Range(0.0, 5.0), "rpi", "Raspberry Pi core voltage (vcgencmd measure_volts)",
       prometheus="edgemon_volt_core_v"),
)


# ---------------------------------------------------------------------------- lookups


@dataclass(frozen=True)
class Match:
    """A metric name and the family it belongs to: ``values`` fill the family's placeholders."""

    family: Family
    values: tuple[str, ...]

    @property
    def labels(self) -> tuple[tuple[str, str], ...]:
        return tuple(zip(self.family.labels, self.values))

    @property
    def index(self) -> int | None:
        """The first ``{N}`` of the name (core, fan, GPC), else None."""
        if "{N}" not in self.family.pattern or not self.values:
            return None
        return int(self.values[0])

    @property
    def key(self) -> str:
        """The first placeholder value: the zone, rail, engine or index as text; "" for exact names."""
        return self.values[0] if self.values else ""


_EXACT = {f.pattern: f for f in FAMILIES if "{" not in f.pattern}
_PATTERNED = tuple(f for f in FAMILIES if "{" in f.pattern)
_ORDER = {f: i for i, f in enumerate(FAMILIES)}


@lru_cache(maxsize=8192)
def lookup(name: str) -> Match | None:
    """The family of a metric name, or None for a name the catalogue does not describe."""
    exact = _EXACT.get(name)
    if exact is not None:
        return Match(exact, ())
    for family in _PATTERNED:
        values = family.match(name)
        if values is not None:
            return Match(family, values)
    return None


def family_of(name: str) -> Family | None:
    m = lookup(name)
    return m.family if m is not None else None


def unit_of(name: str) -> Unit | None:
    """The unit suffix ``name`` ends with (longer than the suffix itself), or None."""
    for unit in UNITS:
        if name.endswith(unit.suffix) and len(name) > len(unit.suffix):
            return unit
    return None


def plausible_range(name: str) -> Range | None:
    """What values of ``name`` are physically possible: the family's range, else its unit's."""
    family = family_of(name)
    if family is not None:
        return family.plausible
    unit = unit_of(name)
    return unit.plausible if unit is not None else None


@lru_cache(maxsize=8192)
def bounds(name: str) -> tuple[float, float, bool]:
    """``(low, high, low_open)`` of :func:`plausible_range`, infinite where unbounded: for hot loops."""
    rng = plausible_range(name) or Range()
    low = -math.inf if rng.low is None else rng.low
    high = math.inf if rng.high is None else rng.high
    return low, high, rng.low_open


def is_plausible(name: str, value: float) -> bool:
    """False for a value outside the metric's physical range, and for NaN or infinity."""
    low, high, low_open = bounds(name)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return False
    if not math.isfinite(v):
        return False
    return (low < v if low_open else low <= v) and v <= high


def drop_implausible(values: dict[str, float]) -> list[str]:
    """Remove the implausible values from ``values`` in place; the names removed, in order.

    Runs on every sample (the sampler) and every tegrastats line: one cached lookup and two
    comparisons per value.
    """
    bad = None
    for name, value in values.items():
        low, high, low_open = bounds(name)
        # NaN fails every comparison, so it is dropped too
        if not ((low < value if low_open else low <= value) and value <= high):
            if bad is None:
                bad = []
            bad.append(name)
    if bad is None:
        return []
    for name in bad:
        del values[name]
    return bad


def in_group(values: Iterable[str], *groups: str) -> list[str]:
    """The names among ``values`` whose family is in one of the dashboard ``groups``."""
    out = []
    for name in values:
        family = family_of(name)
        if family is not None and family.group in groups:
            out.append(name)
    return out


def of_family(names: Iterable[str], family: Family) -> list[tuple[str, Match]]:
    """``[(name, match)]`` for the names of one family, in the order given."""
    out = []
    for name in names:
        m = lookup(name)
        if m is not None and m.family is family:
            out.append((name, m))
    return out


def clock_domain(name: str) -> str | None:
    """``cpu``, ``gpu`` or ``emc`` for a clock with a ceiling (throttling), else None."""
    family = family_of(name)
    return family.clock if family is not None else None


def load_metric(name: str) -> str | None:
    """The utilisation that says whether the unit clocked by ``name`` is busy (``cpu3_util_pct``)."""
    m = lookup(name)
    if m is None or m.family.load is None:
        return None
    return fill(m.family.load, m.values)


# ---------------------------------------------------------------------------- the docs table


def markdown_table(families: Iterable[Family] = FAMILIES) -> str:
    """The metric table of docs/metrics.md, one row per family, in catalogue order."""
    rows = ["| metric | unit | kind | plausible | panel | Prometheus | description |",
            "|---|---|---|---|---|---|---|"]
    for f in sorted(families, key=lambda f: (GROUPS.index(f.group), _ORDER.get(f, 0))):
        prom = prometheus_display(f)
        plausible = f.plausible.describe() if f.plausible is not None else "any"
        rows.append(f"| `{f.pattern}` | {f.unit or '-'} | {f.kind} | {plausible} | {f.group} | {prom} | "
                    f"{f.description} |")
    return "\n".join(rows) + "\n"


def prometheus_display(f: Family) -> str:
    """``edgemon_cpu_freq_hertz{cpu}`` x1e+06, for the docs."""
    if f.prometheus is None:
        unit = f.unit_suffix
        base = f.pattern[: -len(unit.suffix)] + unit.prometheus if unit is not None and unit.prometheus else f.pattern
        text = f"`edgemon_{base}`"
    else:
        text = f"`{f.prometheus}" + ("{" + ", ".join(f.labels) + "}" if f.labels else "") + "`"
    scale = f.prometheus_scale
    return text if scale == 1.0 else f"{text} x{_scale_text(scale)}"


def _scale_text(scale: float) -> str:
    for text, value in (("2^20", 1024.0 * 1024.0), ("2^10", 1024.0), ("1e6", 1e6), ("1e-3", 1e-3), ("0.01", 0.01)):
        if scale == value:
            return text
    return f"{scale:g}"


def render_doc(text: str) -> str:
    """``text`` (docs/metrics.md) with the generated table brought up to date."""
    from edgemon.docgen import render

    return render(text, "edgemon.telemetry.catalogue", markdown_table())


def check_units(families: Iterable[Family] = FAMILIES) -> list[str]:
    """Catalogue mistakes: a unit suffix that disagrees with the unit column, a group not in GROUPS."""
    problems = []
    for f in families:
        unit = f.unit_suffix
        if unit is not None and unit.symbol != f.unit:
            problems.append(f"{f.pattern}: unit {f.unit!r} but the suffix says {unit.symbol!r}")
        if f.group not in GROUPS:
            problems.append(f"{f.pattern}: unknown group {f.group!r}")
        if f.labels and len(f.labels) != len(_PLACEHOLDER.findall(f.pattern)):
            problems.append(f"{f.pattern}: {len(f.labels)} labels for its placeholders")
    return problems


def main(argv: list[str] | None = None) -> int:
    from edgemon.docgen import main as docgen_main

    return docgen_main("edgemon.telemetry.catalogue", "metrics.md", markdown_table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
