"""NVIDIA desktop/server GPUs through NVML (``nvidia-ml-py``, module ``pynvml``; optional extra).

Metrics per GPU ``i``; GPU 0 uses the plain names (docs/architecture.md), further GPUs put the index
in the prefix (``gpu1_util_pct``, ``temp_gpu1_c``):

=============================== =====================================================
``gpu_util_pct``                nvmlDeviceGetUtilizationRates().gpu
``gpu_mem_used_mb``             nvmlDeviceGetMemoryInfo().used, MiB (as nvidia-smi)
``gpu_freq_mhz``                SM clock, nvmlDeviceGetClockInfo(NVML_CLOCK_SM)
``gpu_mem_freq_mhz``            memory clock (NVML_CLOCK_MEM)
``gpu_power_mw``                nvmlDeviceGetPowerUsage (mW)
``gpu_power_limit_mw``          nvmlDeviceGetEnforcedPowerLimit (mW)
``gpu_energy_mj``               nvmlDeviceGetTotalEnergyConsumption (mJ since driver load),
                                once a second (``ENERGY_EVERY_S``: a slow query)
``temp_gpu_c``                  nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU)
``gpu_temp_slowdown_c``         NVML_TEMPERATURE_THRESHOLD_SLOWDOWN (read once at probe)
``gpu_clock_event_reasons``     the clock-event ("throttle") reasons bitmask; see
                                :func:`decode_reasons`
``proc_worker_gpu_mem_mb``      GPU memory of the worker's process tree (``ctx.worker_pids``)
                                on all GPUs, from nvmlDeviceGet{Compute,Graphics}RunningProcesses;
                                absent where NVML cannot list processes or their memory, or
                                lists pids of another pid namespace (a container)
=============================== =====================================================

A field the GPU answers NotSupported for (the energy counter on pre-Volta cards, power on
some boards) is dropped for that GPU alone at probe time.

NVML talks to the driver of the machine edgemon runs on, not to files, so under a
``--sysfs-root`` other than ``/`` (a fixture tree, the emulated Jetson) the source steps
aside: the host's GPU is not part of that machine.

On a Jetson, NVML may exist (JetPack 6+ ships libnvidia-ml) yet answer NotSupported, or
fail to initialise; the source then steps aside with that reason instead of reporting
zeros, and the Jetson sysfs readers provide the GPU metrics (jtop latched onto NVML's
NotSupported: https://github.com/rbonghi/jetson_stats/pull/889).
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from edgemon.telemetry.base import Source, SourceContext, SourceStatus

__all__ = ["NvmlSource", "NvmlGpuLimits", "decode_reasons", "CLOCK_EVENT_REASONS", "gpu_prefix",
           "JETSON_REASON", "build_sources"]

# nvmlClocksEventReason* (== nvmlClocksThrottleReason*) bit values from nvml.h / pynvml.
CLOCK_EVENT_REASONS: tuple[tuple[int, str], ...] = (
    (0x0000000000000001, "GpuIdle"),
    (0x0000000000000002, "ApplicationsClocksSetting"),
    (0x0000000000000004, "SwPowerCap"),
    (0x0000000000000008, "HwSlowdown"),
    (0x0000000000000010, "SyncBoost"),
    (0x0000000000000020, "SwThermalSlowdown"),
    (0x0000000000000040, "HwThermalSlowdown"),
    (0x0000000000000080, "HwPowerBrakeSlowdown"),
    (0x0000000000000100, "DisplayClockSetting"),
    (0x0000000000000200, "BoardLimit"),        # throttle-reasons API only (pynvml)
    (0x0000000000000400, "Reliability"),
)

JETSON_REASON = ("NVML answers NotSupported on this Tegra GPU; "
                 "the Jetson sysfs readers are used instead")

# Fallback values of the pynvml constants used here (the same in every nvidia-ml-py release).
_NVML_CLOCK_SM = 1
_NVML_CLOCK_MEM = 2
_NVML_TEMPERATURE_GPU = 0
_NVML_TEMPERATURE_THRESHOLD_SHUTDOWN = 0
_NVML_TEMPERATURE_THRESHOLD_SLOWDOWN = 1
_NVML_ERROR_NOT_SUPPORTED = 3
_NVML_ERROR_FUNCTION_NOT_FOUND = 13

_MIB = 1024.0 * 1024.0


def decode_reasons(mask: int | float | None) -> list[str]:
    """``0x24`` -> ``["SwPowerCap", "SwThermalSlowdown"]``; unknown bits as ``"0x800"``."""
    if mask is None:
        return []
    mask = int(mask)
    names = []
    known = 0
    for bit, name in CLOCK_EVENT_REASONS:
        known |= bit
        if mask & bit:
            names.append(name)
    rest = mask & ~known
    bit = 1
    while rest:
        if rest & bit:
            names.append(f"0x{bit:x}")
            rest &= ~bit
        bit <<= 1
    return names


def gpu_prefix(index: int) -> str:
    """``"gpu"`` for GPU 0, ``"gpu1"`` ... for the others."""
    return "gpu" if index == 0 else f"gpu{index}"


@dataclass
class NvmlGpuLimits:
    """Static facts of one GPU for the throttling analysis; ``None`` where NVML does not say."""

    index: int
    name: str
    power_limit_mw: float | None         # enforced now
    temp_slowdown_c: float | None        # NVML_TEMPERATURE_THRESHOLD_SLOWDOWN
    temp_shutdown_c: float | None        # NVML_TEMPERATURE_THRESHOLD_SHUTDOWN
    max_sm_mhz: float | None             # nvmlDeviceGetMaxClockInfo(SM)
    max_mem_mhz: float | None


def _error_value(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


# nvmlDeviceGetTotalEnergyConsumption took 2.7-3.1 ms per call on an H200 (driver 580; every other
# query 2-11 us; benchmarks/results/gpu-h200/): at 10 Hz, 3 % of a core for a counter.
ENERGY_EVERY_S = 1.0


class _Field:
    """One per-GPU query: ``metric`` and how to turn a handle into a float; ``every_s`` > 0: at most
    that often (the metric is absent from the samples in between)."""

    __slots__ = ("metric", "query", "core", "every_s", "next_at")

    def __init__(self, metric: str, query: Callable[[Any], float], core: bool = False, every_s: float = 0.0):
        self.metric = metric
        self.query = query
        self.core = core         # load/memory/clock: NotSupported here on a Jetson means "step aside"
        self.every_s = every_s
        self.next_at = 0.0       # time.monotonic() of the next query, with every_s


class NvmlSource(Source):
    """Every NVIDIA GPU NVML sees; see the module docstring for the metrics."""

    name = "nvml"

    def __init__(self, ctx: SourceContext, platform: Any = None):
        super().__init__(ctx)
        self.platform = platform
        self._nvml: Any = None
        self._initialised = False
        self._gpus: list[tuple[int, Any, list[_Field]]] = []   # (index, handle, fields)
        self._constants: dict[str, float] = {}                 # read once at probe
        self._limits: dict[int, NvmlGpuLimits] = {}
        self.dropped: dict[str, str] = {}                       # metric -> why it is not read
        self._process_lists: tuple[str, ...] = ("nvmlDeviceGetComputeRunningProcesses",
                                                "nvmlDeviceGetGraphicsRunningProcesses")

    # ------------------------------------------------------------------ helpers

    @property
    def _on_jetson(self) -> bool:
        return getattr(self.platform, "kind", None) == "jetson"

    def _const(self, name: str, default: int) -> int:
        value = getattr(self._nvml, name, default)
        return value if isinstance(value, int) else default

    def _unsupported(self, exc: BaseException) -> bool:
        """NotSupported, or a function this driver/binding lacks: the field cannot work here."""
        if isinstance(exc, AttributeError):
            return True
        return _error_value(exc) in (self._const("NVML_ERROR_NOT_SUPPORTED", _NVML_ERROR_NOT_SUPPORTED),
                                     self._const("NVML_ERROR_FUNCTION_NOT_FOUND",
                                                 _NVML_ERROR_FUNCTION_NOT_FOUND))

    def _nvml_errors(self) -> tuple[type[BaseException], ...]:
        err = getattr(self._nvml, "NVMLError", None)
        return (err, AttributeError) if isinstance(err, type) else (AttributeError,)

    def _unavailable(self, reason: str) -> SourceStatus:
        self.close()
        return SourceStatus(self.name, False, reason)

    def _reasons_query(self) -> Callable[[Any], float]:
        nv = self._nvml
        # nvmlDeviceGetCurrentClocksEventReasons replaced ...ThrottleReasons in driver 535.
        current = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
        legacy = getattr(nv, "nvmlDeviceGetCurrentClocksThrottleReasons", None)

        def query(h: Any) -> float:
            if current is not None:
                try:
                    return float(current(h))
                except self._nvml_errors() as exc:
                    if legacy is None or not self._unsupported(exc):
                        raise
            if legacy is None:
                raise AttributeError("nvmlDeviceGetCurrentClocks{Event,Throttle}Reasons")
            return float(legacy(h))
        return query

    def _fields(self, index: int) -> list[_Field]:
        nv = self._nvml
        p = gpu_prefix(index)
        sm = self._const("NVML_CLOCK_SM", _NVML_CLOCK_SM)
        mem = self._const("NVML_CLOCK_MEM", _NVML_CLOCK_MEM)
        temp = self._const("NVML_TEMPERATURE_GPU", _NVML_TEMPERATURE_GPU)
        return [
            _Field(f"{p}_util_pct", lambda h: float(nv.nvmlDeviceGetUtilizationRates(h).gpu), core=True),
            _Field(f"{p}_mem_used_mb", lambda h: nv.nvmlDeviceGetMemoryInfo(h).used / _MIB, core=True),
            _Field(f"{p}_freq_mhz", lambda h: float(nv.nvmlDeviceGetClockInfo(h, sm)), core=True),
            _Field(f"{p}_mem_freq_mhz", lambda h: float(nv.nvmlDeviceGetClockInfo(h, mem))),
            _Field(f"{p}_power_mw", lambda h: float(nv.nvmlDeviceGetPowerUsage(h))),
            _Field(f"{p}_power_limit_mw", lambda h: float(nv.nvmlDeviceGetEnforcedPowerLimit(h))),
            _Field(f"{p}_energy_mj", lambda h: float(nv.nvmlDeviceGetTotalEnergyConsumption(h)),
                   every_s=ENERGY_EVERY_S),
            _Field(f"temp_{p}_c", lambda h: float(nv.nvmlDeviceGetTemperature(h, temp))),
            _Field(f"{p}_clock_event_reasons", self._reasons_query()),
        ]

    def _optional(self, fn_name: str, *args: Any) -> Any:
        """``pynvml.fn_name(*args)``, or ``None`` when NVML cannot say."""
        fn = getattr(self._nvml, fn_name, None)
        if fn is None:
            return None
        try:
            return fn(*args)
        except Exception:      # NVMLError (NotSupported, NoPermission ...) or a binding mismatch
            return None

    # ------------------------------------------------------------------ Source

    def probe(self) -> SourceStatus:
        try:
            return self._probe()
        except Exception as exc:       # probe must not raise
            return self._unavailable(f"NVML probe failed: {type(exc).__name__}: {exc}")

    def _probe(self) -> SourceStatus:
        self.close()
        self._limits, self.dropped = {}, {}
        if Path(self.ctx.root) != Path("/"):
            return SourceStatus(self.name, False,
                                f"NVML reads this machine's driver, not the tree under {self.ctx.root}")
        try:
            self._nvml = importlib.import_module("pynvml")
        except ImportError:
            return SourceStatus(self.name, False,
                                "pynvml not installed (pip install nvidia-ml-py)")
        nv = self._nvml
        errors = self._nvml_errors()
        try:
            nv.nvmlInit()
        except errors + (OSError,) as exc:
            if self._on_jetson:
                if self._unsupported(exc):
                    return self._unavailable(f"{JETSON_REASON} (nvmlInit: {exc})")
                return self._unavailable(f"NVML not usable on this Jetson (nvmlInit: {exc}); "
                                         "the Jetson sysfs readers are used instead")
            return self._unavailable(f"nvmlInit failed: {exc} (no NVIDIA driver?)")
        self._initialised = True
        try:
            count = int(nv.nvmlDeviceGetCount())
        except errors as exc:
            return self._unavailable(JETSON_REASON if self._on_jetson and self._unsupported(exc)
                                     else f"nvmlDeviceGetCount failed: {exc}")
        if count <= 0:
            return self._unavailable("NVML sees no GPU" + ("; the Jetson sysfs readers are used instead"
                                                           if self._on_jetson else ""))

        names = []
        for index in range(count):
            try:
                handle = nv.nvmlDeviceGetHandleByIndex(index)
            except errors as exc:
                self.dropped[f"gpu{index}"] = f"nvmlDeviceGetHandleByIndex: {exc}"
                continue
            kept = []
            for field in self._fields(index):
                try:
                    field.query(handle)
                except errors as exc:
                    if field.core and self._on_jetson and self._unsupported(exc):
                        return self._unavailable(JETSON_REASON)
                    self.dropped[field.metric] = str(exc) or type(exc).__name__
                    continue
                kept.append(field)
            self._record_limits(index, handle)
            if not kept:
                continue
            self._gpus.append((index, handle, kept))
            names.append(self._limits[index].name)
        if not self._gpus:
            if self._on_jetson:
                return self._unavailable(JETSON_REASON)
            return self._unavailable("NVML answers no query on any GPU: "
                                     + "; ".join(f"{k}: {v}" for k, v in self.dropped.items()))
        version = self._optional("nvmlSystemGetDriverVersion")
        detail = f"{len(self._gpus)} GPU{'s' if len(self._gpus) != 1 else ''} ({', '.join(names)})"
        if version:
            detail += f", driver {_text(version)}"
        binding = _binding_version()
        if binding:
            detail += f", nvidia-ml-py {binding}"
        if self.dropped:
            detail += f"; not supported: {', '.join(sorted(self.dropped))}"
        return SourceStatus(self.name, True, detail=detail)

    def _record_limits(self, index: int, handle: Any) -> None:
        p = gpu_prefix(index)
        slowdown = self._optional("nvmlDeviceGetTemperatureThreshold", handle,
                                  self._const("NVML_TEMPERATURE_THRESHOLD_SLOWDOWN",
                                              _NVML_TEMPERATURE_THRESHOLD_SLOWDOWN))
        shutdown = self._optional("nvmlDeviceGetTemperatureThreshold", handle,
                                  self._const("NVML_TEMPERATURE_THRESHOLD_SHUTDOWN",
                                              _NVML_TEMPERATURE_THRESHOLD_SHUTDOWN))
        limit = self._optional("nvmlDeviceGetEnforcedPowerLimit", handle)
        max_sm = self._optional("nvmlDeviceGetMaxClockInfo", handle, self._const("NVML_CLOCK_SM", _NVML_CLOCK_SM))
        max_mem = self._optional("nvmlDeviceGetMaxClockInfo", handle,
                                 self._const("NVML_CLOCK_MEM", _NVML_CLOCK_MEM))
        name = self._optional("nvmlDeviceGetName", handle)
        self._limits[index] = NvmlGpuLimits(
            index=index, name=_text(name) if name else f"GPU {index}",
            power_limit_mw=_num(limit), temp_slowdown_c=_num(slowdown), temp_shutdown_c=_num(shutdown),
            max_sm_mhz=_num(max_sm), max_mem_mhz=_num(max_mem))
        if slowdown is not None and _num(slowdown) is not None:
            # Static, but recorded with every sample so a recording alone shows the margin.
            self._constants[f"{p}_temp_slowdown_c"] = float(slowdown)

    def read(self) -> dict[str, float]:
        if not self._gpus:
            raise OSError("NVML source not probed or already closed")
        out: dict[str, float] = dict(self._constants)
        errors = self._nvml_errors()
        last_error: BaseException | None = None
        n_read = 0
        now = time.monotonic()
        for _, handle, fields in self._gpus:
            for field in fields:
                if field.every_s:
                    if now < field.next_at:
                        continue
                    field.next_at = now + field.every_s
                try:
                    out[field.metric] = field.query(handle)
                    n_read += 1
                except errors as exc:      # e.g. GPU_IS_LOST, a transient Unknown: no value this tick
                    last_error = exc
        if n_read == 0:
            raise OSError(f"every NVML query failed: {last_error}")
        if self.ctx.worker_pids and self._process_lists:
            out.update(self._worker_gpu_memory(self.ctx.worker_pids))
        return out

    def query_costs_us(self, repeats: int = 20) -> dict[str, float]:
        """Median microseconds of each query, ``repeats`` times each (benchmarks/nvml_probe.py:
        where a read's time goes; a query that fails is left out)."""
        import statistics

        errors = self._nvml_errors()

        def median_us(call: Callable[[], Any]) -> float | None:
            times = []
            for _ in range(max(1, repeats)):
                t0 = time.perf_counter_ns()
                try:
                    call()
                except errors:
                    return None
                times.append((time.perf_counter_ns() - t0) / 1e3)
            return statistics.median(times)

        timed: list[tuple[str, Callable[[], Any]]] = [
            (field.metric, partial(field.query, handle)) for _, handle, fields in self._gpus for field in fields]
        if self._process_lists:       # what a session adds per read once it knows the worker's pids
            timed.append(("proc_worker_gpu_mem_mb", partial(self._worker_gpu_memory, frozenset({os.getpid()}))))
        costs: dict[str, float] = {}
        for metric, call in timed:
            us = median_us(call)
            if us is not None:
                costs[metric] = us
        return costs

    def _worker_gpu_memory(self, pids: frozenset[int]) -> dict[str, float]:
        """``proc_worker_gpu_mem_mb`` for ``pids``, or ``{}`` where NVML cannot tell."""
        errors = self._nvml_errors()
        total, readable, listed, ours, unknown = 0, False, [], False, False
        for name in self._process_lists:
            fn = getattr(self._nvml, name, None)
            for _, handle, _ in self._gpus:
                if fn is None:
                    break
                try:
                    procs = fn(handle)
                except errors as exc:
                    if self._unsupported(exc):          # this driver cannot: stop asking
                        self._process_lists = tuple(n for n in self._process_lists if n != name)
                        self.dropped["proc_worker_gpu_mem_mb"] = f"{name}: {exc}"
                        break
                    continue
                readable = True
                for p in procs or ():
                    pid = getattr(p, "pid", None)
                    listed.append(pid)
                    used = getattr(p, "usedGpuMemory", None)
                    if pid in pids:
                        ours = True
                        if isinstance(used, int) and 0 <= used < 2 ** 63:
                            total += used
                        else:                               # NVML_VALUE_NOT_AVAILABLE (MIG, WDDM)
                            unknown = True
        if not readable or (unknown and total == 0):
            return {}
        if listed and not ours and not any(isinstance(p, int) and Path(f"/proc/{p}").exists() for p in listed):
            return {}       # the listed pids are not ours to see (another pid namespace): cannot tell
        return {"proc_worker_gpu_mem_mb": total / _MIB}

    def limits(self) -> dict[int, NvmlGpuLimits]:
        """``{GPU index: NvmlGpuLimits}`` as read at probe (power limit re-read now)."""
        for index, handle, _ in self._gpus:
            lim = self._limits.get(index)
            if lim is not None:
                limit = _num(self._optional("nvmlDeviceGetEnforcedPowerLimit", handle))
                if limit is not None:
                    lim.power_limit_mw = limit
        return dict(self._limits)

    def close(self) -> None:
        self._gpus = []
        self._constants = {}
        if self._initialised:
            self._initialised = False
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _binding_version() -> str | None:
    try:
        from importlib.metadata import version
        return version("nvidia-ml-py")
    except Exception:          # not installed as a distribution (a vendored or stand-in pynvml)
        return None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def build_sources(ctx: SourceContext, platform: Any) -> list[Source]:
    """Registry hook: the NVML source knows the platform (to step aside on a Jetson)."""
    return [NvmlSource(ctx, platform)]
