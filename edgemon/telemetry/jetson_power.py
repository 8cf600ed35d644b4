"""Jetson power rails from the on-module INA3221 monitors (and Thor's INA238), in the layouts
jetson-stats reads (https://github.com/rbonghi/jetson_stats/blob/master/jtop/core/power.py).

Two sysfs layouts:

* JetPack <= 4 (``ina3221x`` IIO driver): ``<i2c dev>/iio:deviceN/`` with ``rail_name_K``,
  ``in_voltageK_input`` (mV), ``in_currentK_input`` (mA), ``in_powerK_input`` (mW, used as is),
  ``warn_current_limit_K`` / ``crit_current_limit_K`` (mA).
* JetPack >= 5 (mainline ``ina3221`` hwmon driver): ``<i2c dev>/hwmon/hwmonN/`` (also linked
  from ``/sys/class/hwmon``) with ``inK_label``, ``inK_input`` (mV), ``currK_input`` (mA),
  ``currK_max`` (warning) / ``currK_crit`` (critical, mA) and their ``_alarm`` files;
  power = mV * mA / 1000. ``in7`` ("sum of shunt voltages") has no current and is skipped.
  Thor's carrier-board INA238 (hwmon name ``ina238``) has no channel label: it is the board's
  ``VIN`` input (jetson-stats PR #900); ``power1_input`` is in microwatts.

Devices are found under ``/sys/bus/i2c/drivers/{ina3221x,ina3221}``, ``/sys/bus/i2c/devices``
(``name`` contains ``ina3221``/``ina238``) and ``/sys/class/hwmon`` (``name`` is ``ina3221``/
``ina238``); the same directory reached twice (symlinks) is read once.

Metrics: ``power_{rail}_mw`` (rail lower-cased, e.g. ``power_vdd_cpu_gpu_cv_mw``); rails labelled
``NC`` are dropped. ``power_total_mw`` is the board input rail (``VIN``, ``VDD_IN`` or
``POM_5V_IN``) where one exists — never added to the other rails — else the sum of all rails
(AGX Xavier, AGX Orin), only when every rail was read this tick.
``power_{rail}_avg_mw`` is this source's running average: an exponential moving average with
time constant ``avg_tau_s`` (default 5 s) weighted by the real time between reads, so it does not
depend on the sample rate; the first reading starts it. (tegrastats prints its own average; jtop
uses ``(power + previous) / 2`` per sample.)

Generic hwmon sources should skip hwmon nodes whose ``name`` is in :data:`INA_HWMON_NAMES`.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from edgemon.telemetry.base import Source, SourceContext, SourceStatus, read_int, read_text

INA_HWMON_NAMES = frozenset({"ina3221", "ina238"})
# Board input rails, most preferred first (Thor's INA238 VIN, then the module inputs).
INPUT_RAILS = ("VIN", "VDD_IN", "POM_5V_IN")
INA238_DEFAULT_RAIL = "VIN"
DRIVER_DIRS = ("/sys/bus/i2c/drivers/ina3221x", "/sys/bus/i2c/drivers/ina3221", "/sys/bus/i2c/drivers/ina238")

_I2C_DEV_RE = re.compile(r"^\d+-[0-9a-fA-F]{4}$")
_HWMON_RE = re.compile(r"^hwmon\d+$")
_IIO_RE = re.compile(r"^iio:device\d+$")
_HWMON_LABEL_RE = re.compile(r"^in(\d+)_label$")
_IIO_LABEL_RE = re.compile(r"^rail_name_?(\d+)$")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def rail_metric_part(label: str) -> str:
    """``"VDD_CPU_GPU_CV"`` -> ``"vdd_cpu_gpu_cv"``."""
    return _NON_ALNUM.sub("_", label.lower()).strip("_")


def _skip_label(label: str) -> bool:
    lab = label.strip()
    return not lab or lab.upper() == "NC" or "sum of shunt" in lab.lower()


@dataclass(frozen=True)
class RailChannel:
    """One measured rail: the files :meth:`JetsonPowerSource.read` opens every tick."""

    rail: str                     # label as the chip names it, e.g. "VDD_IN"
    metric: str                   # e.g. "power_vdd_in_mw"
    chip: str                     # "ina3221x" (iio), "ina3221" or "ina238" (hwmon)
    layout: str                   # "iio" | "hwmon"
    directory: str
    power_path: str | None = None  # direct power reading
    power_scale: float = 1.0       # to mW: 1.0 for mW (iio), 0.001 for uW (ina238)
    volt_path: str | None = None   # mV
    curr_path: str | None = None   # mA
    warn_path: str | None = None   # mA
    crit_path: str | None = None   # mA
    warn_alarm_path: str | None = None
    crit_alarm_path: str | None = None

    def read_mw(self, files=None) -> float | None:
        """mW now; ``files`` (an OpenFiles) keeps the rail's files open between ticks."""
        read = files.int if files is not None else (lambda p: read_int(Path(p)))
        if self.power_path is not None:
            raw = read(self.power_path)
            if raw is not None:
                return raw * self.power_scale
        if self.volt_path is None or self.curr_path is None:
            return None
        mv, ma = read(self.volt_path), read(self.curr_path)
        if mv is None or ma is None:
            return None
        return mv * ma / 1000.0


@dataclass(frozen=True)
class RailLimits:
    """Over-current limits of one rail, read on demand (the "power cap" throttling cause)."""

    rail: str
    warn_ma: int | None            # currK_max / warn_current_limit_K
    crit_ma: int | None            # currK_crit / crit_current_limit_K
    warn_alarm: bool | None        # currK_max_alarm (hwmon only)
    crit_alarm: bool | None        # currK_crit_alarm (hwmon only)
    volt_mv: int | None            # bus voltage now, to turn a current limit into power

    @property
    def crit_mw(self) -> float | None:
        if self.crit_ma is None or self.volt_mv is None:
            return None
        return self.crit_ma * self.volt_mv / 1000.0

    @property
    def warn_mw(self) -> float | None:
        if self.warn_ma is None or self.volt_mv is None:
            return None
        return self.warn_ma * self.volt_mv / 1000.0


def _listdir(path: Path | str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _existing(path: str) -> str | None:
    return path if os.path.exists(path) else None


def find_ina_dirs(ctx: SourceContext) -> list[tuple[str, str]]:
    """``[(layout, directory)]`` for every INA channel directory, each real directory once."""
    devices: list[Path] = []
    for drv in DRIVER_DIRS:
        base = ctx.path(drv)
        devices += [base / n for n in _listdir(base) if _I2C_DEV_RE.match(n)]
    i2c = ctx.path("/sys/bus/i2c/devices")
    for n in _listdir(i2c):
        name = (read_text(i2c / n / "name") or "").lower()
        if any(chip in name for chip in INA_HWMON_NAMES):
            devices.append(i2c / n)
    found: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(layout: str, path: Path) -> None:
        real = os.path.realpath(path)
        if real not in seen and os.path.isdir(real):
            seen.add(real)
            found.append((layout, real))

    for dev in devices:
        for n in _listdir(dev):
            if _IIO_RE.match(n):
                add("iio", dev / n)
            elif _HWMON_RE.match(n):
                add("hwmon", dev / n)
        for n in _listdir(dev / "hwmon"):
            if _HWMON_RE.match(n):
                add("hwmon", dev / "hwmon" / n)
    hwmon = ctx.path("/sys/class/hwmon")
    for n in _listdir(hwmon):
        if (read_text(hwmon / n / "name") or "").lower() in INA_HWMON_NAMES:
            add("hwmon", hwmon / n)
    return found


def _iio_channels(directory: str) -> list[RailChannel]:
    chans = []
    for n in _listdir(directory):
        m = _IIO_LABEL_RE.match(n)
        if not m:
            continue
        k = m.group(1)
        label = read_text(Path(directory, n)) or ""
        if _skip_label(label):
            continue
        p = lambda f: _existing(os.path.join(directory, f))  # noqa: E731 - a one-line path helper
        chans.append((int(k), RailChannel(
            rail=label, metric="", chip="ina3221x", layout="iio", directory=directory,
            power_path=p(f"in_power{k}_input"), volt_path=p(f"in_voltage{k}_input"),
            curr_path=p(f"in_current{k}_input"), warn_path=p(f"warn_current_limit_{k}"),
            crit_path=p(f"crit_current_limit_{k}"))))
    return [c for _, c in sorted(chans, key=lambda kc: kc[0])]


def _hwmon_channels(directory: str) -> list[RailChannel]:
    chip = (read_text(Path(directory, "name")) or "").lower()
    p = lambda f: _existing(os.path.join(directory, f))  # noqa: E731 - a one-line path helper
    chans = []
    for n in _listdir(directory):
        m = _HWMON_LABEL_RE.match(n)
        if not m:
            continue
        k = m.group(1)
        label = read_text(Path(directory, n)) or ""
        if _skip_label(label) or p(f"curr{k}_input") is None:
            continue
        chans.append((int(k), RailChannel(
            rail=label, metric="", chip=chip, layout="hwmon", directory=directory,
            power_path=p(f"power{k}_input"), power_scale=0.001,
            volt_path=p(f"in{k}_input"), curr_path=p(f"curr{k}_input"),
            warn_path=p(f"curr{k}_max"), crit_path=p(f"curr{k}_crit"),
            warn_alarm_path=p(f"curr{k}_max_alarm"), crit_alarm_path=p(f"curr{k}_crit_alarm"))))
    if not chans and chip == "ina238" and p("curr1_input"):
        # The INA238 driver labels nothing; an optional hwmon "label" names the device.
        label = read_text(Path(directory, "label")) or INA238_DEFAULT_RAIL
        chans.append((1, RailChannel(
            rail=label, metric="", chip=chip, layout="hwmon", directory=directory,
            power_path=p("power1_input"), power_scale=0.001,
            volt_path=p("in1_input"), curr_path=p("curr1_input"),
            warn_path=p("curr1_max"), crit_path=p("curr1_crit"),
            warn_alarm_path=p("curr1_max_alarm"), crit_alarm_path=p("curr1_crit_alarm"))))
    return [c for _, c in sorted(chans, key=lambda kc: kc[0])]


def discover_rails(ctx: SourceContext) -> tuple[list[RailChannel], list[str]]:
    """Readable rail channels with unique metric names, and notes on skipped ones."""
    rails: list[RailChannel] = []
    notes: list[str] = []
    taken: set[str] = set()
    for layout, directory in find_ina_dirs(ctx):
        chans = _iio_channels(directory) if layout == "iio" else _hwmon_channels(directory)
        for ch in chans:
            if ch.read_mw() is None:          # disabled channel: its input fails to read
                notes.append(f"{ch.rail} unreadable")
                continue
            base = rail_metric_part(ch.rail)
            metric, n = f"power_{base}_mw", 2
            while metric in taken:
                metric, n = f"power_{base}_{n}_mw", n + 1
            taken.add(metric)
            rails.append(replace(ch, metric=metric))
    return rails, notes


class JetsonPowerSource(Source):
    """``power_{rail}_mw``, ``power_{rail}_avg_mw`` and ``power_total_mw`` from INA monitors."""

    name = "jetson_power"

    def __init__(self, ctx: SourceContext, *, avg_tau_s: float = 5.0,
                 clock: Callable[[], int] = time.monotonic_ns):
        super().__init__(ctx)
        self.avg_tau_s = avg_tau_s
        self._clock = clock
        self.rails: list[RailChannel] = []
        self.input_rail: RailChannel | None = None
        self._avg: dict[str, float] = {}
        self._last_ns: int | None = None

    def probe(self) -> SourceStatus:
        try:
            return self._probe()
        except Exception as exc:
            return SourceStatus(self.name, False, f"power rail discovery failed: {exc}")

    def _probe(self) -> SourceStatus:
        self.rails, notes = discover_rails(self.ctx)
        self._avg, self._last_ns = {}, None
        self.input_rail = None
        by_label = {ch.rail.strip().upper(): ch for ch in self.rails}
        for name in INPUT_RAILS:
            if name in by_label:
                self.input_rail = by_label[name]
                break
        if not self.rails:
            why = f"no INA3221 found under {self.ctx.path('/sys/bus/i2c/drivers/ina3221x')} or hwmon " \
                  f"({self.ctx.path('/sys/class/hwmon')})"
            if notes:
                why = "INA monitors found but no rail readable: " + ", ".join(notes)
            return SourceStatus(self.name, False, why)
        total = f"total = {self.input_rail.rail}" if self.input_rail else "total = sum of rails"
        detail = f"{len(self.rails)} rails ({', '.join(ch.rail for ch in self.rails)}); {total}"
        if notes:
            detail += "; skipped " + ", ".join(notes)
        return SourceStatus(self.name, True, detail=detail)

    @property
    def power_total_source(self) -> str | None:
        """What ``power_total_mw`` is: the board's input rail, or the sum of every rail."""
        if not self.rails:
            return None
        return f"INA sysfs: input rail {self.input_rail.rail}" if self.input_rail else "INA sysfs: sum of rails"

    def read(self) -> dict[str, float]:
        now = self._clock()
        out: dict[str, float] = {}
        for ch in self.rails:
            mw = ch.read_mw(self.files)
            if mw is not None:
                out[ch.metric] = mw
        if self.rails and not out:
            raise OSError(f"no power rail readable (first: {self.rails[0].directory})")
        if self.input_rail is not None:
            if self.input_rail.metric in out:
                out["power_total_mw"] = out[self.input_rail.metric]
        elif out and len(out) == len(self.rails):
            out["power_total_mw"] = sum(out[ch.metric] for ch in self.rails)
        self._update_averages(out, now)
        return out

    def _update_averages(self, out: dict[str, float], now: int) -> None:
        dt = 0.0 if self._last_ns is None else max(0.0, (now - self._last_ns) / 1e9)
        self._last_ns = now
        alpha = 1.0 - math.exp(-dt / self.avg_tau_s) if self.avg_tau_s > 0 else 1.0
        for ch in self.rails:
            if ch.metric not in out:
                continue
            x = out[ch.metric]
            prev = self._avg.get(ch.metric)
            avg = x if prev is None else prev + alpha * (x - prev)
            self._avg[ch.metric] = avg
            out[ch.metric[:-3] + "_avg_mw"] = avg

    def limits(self) -> dict[str, RailLimits]:
        """``{rail label: RailLimits}`` read now, for rails that expose any limit."""
        result: dict[str, RailLimits] = {}
        for ch in self.rails:
            warn = read_int(Path(ch.warn_path)) if ch.warn_path else None
            crit = read_int(Path(ch.crit_path)) if ch.crit_path else None
            if warn is None and crit is None:
                continue
            walarm = read_int(Path(ch.warn_alarm_path)) if ch.warn_alarm_path else None
            calarm = read_int(Path(ch.crit_alarm_path)) if ch.crit_alarm_path else None
            result[ch.rail] = RailLimits(
                rail=ch.rail, warn_ma=warn, crit_ma=crit,
                warn_alarm=None if walarm is None else bool(walarm),
                crit_alarm=None if calarm is None else bool(calarm),
                volt_mv=read_int(Path(ch.volt_path)) if ch.volt_path else None)
        return result
