"""Raspberry Pi firmware telemetry through ``vcgencmd``.

Four queries, their real output and the metrics they give:

* ``get_throttled`` -> ``throttled=0x50005``: ``rpi_throttled_raw`` and one 0/1 metric per
  bit: ``rpi_undervoltage`` (bit 0), ``rpi_freq_capped`` (1), ``rpi_throttled`` (2),
  ``rpi_soft_temp_limit`` (3), and the same names with ``_occurred`` for bits 16-19 (sticky
  since boot);
* ``measure_clock arm`` -> ``frequency(48)=1500398464`` (Hz; the id in brackets differs by
  model): ``cpu_arm_freq_mhz`` (per-core clocks stay with the cpufreq source);
* ``measure_temp`` -> ``temp=47.2'C``: ``temp_soc_c``;
* ``measure_volts core`` -> ``volt=0.8563V``: ``volt_core_v``.

Why a background thread refreshing once a second: every query is a fork + exec of
``vcgencmd`` plus a VideoCore mailbox round trip (milliseconds each on a Pi), and vcgencmd
takes one command per invocation. Run on the sampler thread, four of them would delay every
other source's reading of that tick. So a daemon thread runs the four back to back every
``interval_s`` (default 1 s) and :meth:`VcgencmdSource.read` hands over the newest results
without waiting (values are up to ``interval_s`` old). One second loses nothing that matters:
the ``_occurred`` bits latch every under-voltage or throttle event since boot, however short.
The cost of one refresh is measured at probe time and shown in ``edgemon info`` (a spawn
alone took ~4 ms from Python on a 2-core x86 VM, so ~16 ms of the thread's time per
second before any mailbox time; re-measure on a Pi).

The executable is ``ctx.executables["vcgencmd"]``, else ``vcgencmd`` on PATH (only when the
root is ``/``), else ``<root>/usr/bin/vcgencmd``. Without an explicit executable the source
runs only on a Raspberry Pi (platform kind ``rpi``). vcgencmd failing (exit 255 "VCHI
initialization failed": no access to /dev/vchiq, e.g. not in the ``video`` group, or
inside a container) makes the source unavailable with its message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgemon.telemetry.base import Source, SourceContext, SourceStatus

__all__ = ["VcgencmdSource", "VcgencmdStats", "QUERIES", "THROTTLED_BITS", "parse_output",
           "parse_throttled", "find_vcgencmd", "DEFAULT_PATH", "build_sources"]

DEFAULT_PATH = "/usr/bin/vcgencmd"

# get_throttled bits (Raspberry Pi documentation, "vcgencmd get_throttled").
THROTTLED_BITS: tuple[tuple[int, str], ...] = (
    (0, "rpi_undervoltage"),
    (1, "rpi_freq_capped"),
    (2, "rpi_throttled"),
    (3, "rpi_soft_temp_limit"),
    (16, "rpi_undervoltage_occurred"),
    (17, "rpi_freq_capped_occurred"),
    (18, "rpi_throttled_occurred"),
    (19, "rpi_soft_temp_limit_occurred"),
)

QUERIES: tuple[tuple[str, ...], ...] = (
    ("get_throttled",),
    ("measure_clock", "arm"),
    ("measure_temp",),
    ("measure_volts", "core"),
)

_THROTTLED_RE = re.compile(r"throttled=(0x[0-9a-fA-F]+|\d+)")
_CLOCK_RE = re.compile(r"frequency\(\d+\)=(\d+)")
_TEMP_RE = re.compile(r"temp=(-?\d+(?:\.\d+)?)")
_VOLT_RE = re.compile(r"volt=(-?\d+(?:\.\d+)?)V")


def parse_throttled(text: str) -> dict[str, float]:
    """``"throttled=0x50005"`` -> raw value and one 0/1 metric per documented bit."""
    m = _THROTTLED_RE.search(text)
    if not m:
        return {}
    raw = int(m.group(1), 0)
    out = {"rpi_throttled_raw": float(raw)}
    for bit, metric in THROTTLED_BITS:
        out[metric] = float((raw >> bit) & 1)
    return out


def parse_output(query: tuple[str, ...], text: str) -> dict[str, float]:
    """Metrics from one query's output; ``{}`` when it is not the expected shape."""
    cmd = query[0]
    if cmd == "get_throttled":
        return parse_throttled(text)
    if cmd == "measure_clock":
        m = _CLOCK_RE.search(text)
        return {"cpu_arm_freq_mhz": int(m.group(1)) / 1e6} if m else {}
    if cmd == "measure_temp":
        m = _TEMP_RE.search(text)
        return {"temp_soc_c": float(m.group(1))} if m else {}
    if cmd == "measure_volts":
        m = _VOLT_RE.search(text)
        return {"volt_core_v": float(m.group(1))} if m else {}
    return {}


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_vcgencmd(ctx: SourceContext) -> str | None:
    """The vcgencmd to run (see the module docstring), or ``None``."""
    configured = ctx.executables.get("vcgencmd")
    if configured:
        found = configured if os.sep in configured else shutil.which(configured)
        return found if found and _is_executable(found) else None
    if Path(ctx.root) == Path("/"):
        found = shutil.which("vcgencmd")
        if found:
            return found
    candidate = str(ctx.path(DEFAULT_PATH))
    return candidate if _is_executable(candidate) else None


@dataclass
class VcgencmdStats:
    """Counters since the source was probed (a snapshot; see :meth:`VcgencmdSource.stats`)."""

    refreshes: int = 0            # rounds of the four queries
    failed_queries: int = 0       # queries that exited non-zero, timed out or gave no metric
    last_refresh_ms: float = 0.0  # wall time of the newest round (all queries)
    last_error: str = ""


class VcgencmdSource(Source):
    """Throttle flags, ARM clock, SoC temperature and core voltage from ``vcgencmd``."""

    name = "vcgencmd"

    def __init__(self, ctx: SourceContext, platform: Any = None, *,
                 interval_s: float = 1.0, timeout_s: float = 2.0, max_failed_refreshes: int = 3):
        super().__init__(ctx)
        self.platform = platform
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.max_failed_refreshes = max_failed_refreshes
        self.exe: str | None = None
        self.queries: list[tuple[str, ...]] = []
        self._lock = threading.Lock()
        self._latest: dict[str, float] = {}
        self._failed_refreshes = 0
        self._stats = VcgencmdStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ running the tool

    def _run(self, query: tuple[str, ...]) -> tuple[dict[str, float], str, bool]:
        """``(metrics, "", False)`` or ``({}, why it failed, whether it hung)``."""
        try:
            proc = subprocess.run([self.exe or "vcgencmd", *query], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            return {}, f"vcgencmd {' '.join(query)} timed out after {self.timeout_s:g} s", True
        except OSError as exc:
            return {}, f"vcgencmd {' '.join(query)}: {exc}", False
        text = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            msg = (proc.stderr.decode("utf-8", "replace").strip() or text).splitlines()
            return {}, f"vcgencmd {' '.join(query)} exited {proc.returncode}: {msg[-1] if msg else 'no output'}", False
        values = parse_output(query, text)
        if not values:
            return {}, f"vcgencmd {' '.join(query)}: unexpected output {text[:80]!r}", False
        return values, "", False

    def _refresh(self, queries: list[tuple[str, ...]]) -> tuple[dict[str, float], dict[tuple[str, ...], str]]:
        t0 = time.perf_counter()
        values: dict[str, float] = {}
        errors: dict[tuple[str, ...], str] = {}
        for q in queries:
            got, err, hung = self._run(q)
            values.update(got)
            if err:
                errors[q] = err
                if hung:
                    break      # a hung tool: do not wait out the timeout once per query
        with self._lock:
            self._stats.refreshes += 1
            self._stats.failed_queries += len(errors)
            self._stats.last_refresh_ms = (time.perf_counter() - t0) * 1000.0
            if errors:
                self._stats.last_error = next(iter(errors.values()))
            if values:
                self._latest = values
                self._failed_refreshes = 0
            else:
                self._latest = {}
                self._failed_refreshes += 1
        return values, errors

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            queries = self.queries
            if not queries:
                break          # closed
            self._refresh(queries)

    # ------------------------------------------------------------------ Source

    def probe(self) -> SourceStatus:
        try:
            return self._probe()
        except Exception as exc:      # probe must not raise
            return SourceStatus(self.name, False, f"vcgencmd probe failed: {type(exc).__name__}: {exc}")

    def _probe(self) -> SourceStatus:
        self.close()
        configured = self.ctx.executables.get("vcgencmd")
        kind = getattr(self.platform, "kind", None)
        if not configured and self.platform is not None and kind != "rpi":
            return SourceStatus(self.name, False, f"not a Raspberry Pi (platform: {kind or 'unknown'})")
        self.exe = find_vcgencmd(self.ctx)
        if self.exe is None:
            reason = (f"configured vcgencmd {configured!r} is not an executable file" if configured
                      else "vcgencmd not found (on PATH or /usr/bin; install raspi-utils / libraspberrypi-bin)")
            return SourceStatus(self.name, False, reason)
        self._stop = threading.Event()
        self._stats = VcgencmdStats()
        self._failed_refreshes = 0
        values, errors = self._refresh(list(QUERIES))
        if not values:
            # get_throttled's message is the most telling ("VCHI initialization failed").
            why = errors.get(QUERIES[0]) or next(iter(errors.values()), "no output")
            return SourceStatus(self.name, False, why)
        self.queries = [q for q in QUERIES if q not in errors]
        detail = (f"{self.exe}: {len(self.queries)} queries every {self.interval_s:g} s, "
                  f"{self._stats.last_refresh_ms:.1f} ms per refresh")
        if errors:
            detail += "; dropped: " + "; ".join(errors.values())
        return SourceStatus(self.name, True, detail=detail)

    def read(self) -> dict[str, float]:
        if not self.queries:
            raise OSError("vcgencmd source not probed or already closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="edgemon-vcgencmd", daemon=True)
            self._thread.start()
        with self._lock:
            if self._failed_refreshes >= self.max_failed_refreshes:
                raise OSError(f"{self._failed_refreshes} vcgencmd refreshes in a row failed; "
                              f"last: {self._stats.last_error}")
            return dict(self._latest)

    def stats(self) -> VcgencmdStats:
        with self._lock:
            return VcgencmdStats(**vars(self._stats))

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout_s * len(QUERIES) + 1.0)
        self.queries = []
        with self._lock:
            self._latest = {}


def build_sources(ctx: SourceContext, platform: Any) -> list[Source]:
    """Registry hook: the source needs the platform to stay off non-Pi machines."""
    return [VcgencmdSource(ctx, platform)]
