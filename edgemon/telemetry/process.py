"""CPU and memory of the monitor itself and of the worker, from the real system.

Metrics: ``proc_monitor_cpu_pct`` (this process, all threads, % of one core),
``proc_worker_cpu_pct`` and ``proc_worker_rss_mb`` for ``ctx.worker_pid``.
These describe real processes, so they never read under ``ctx.root`` (an
emulated board tree has no processes of ours). The worker pid may change
between reads (restart); a missing or exited worker gives no worker metrics.
CPU percentages need two reads: the first after start (or after a worker
change) only primes.

The monitor's CPU comes from ``CLOCK_PROCESS_CPUTIME_ID`` (every thread of this
process, in nanoseconds: a 0.5 % monitor is not rounded to 0 or 10 % per 100 ms
sample as clock ticks would be). In a detached session this is the session process
(sampler, recorder, worker pipe, control socket); a dashboard attached to it is
another process and measures itself (the dashboard shows both).

The worker is read from ``/proc/PID/stat``: one ``pread`` of a file kept open
(utime, stime, start time, RSS), instead of psutil's several files per call. The
open file stays bound to that process, so a recycled pid cannot be mistaken for
the worker; the start time is checked as well.
"""

from __future__ import annotations

import os
import time

from edgemon.telemetry.base import Source, SourceContext, SourceStatus

_MIB = 1024.0 * 1024.0

# Fields of /proc/PID/stat after the ")" that ends the command name (proc(5) numbers - 3).
_STATE, _UTIME, _STIME, _STARTTIME, _RSS = 0, 11, 12, 19, 21


def parse_pid_stat(raw: bytes) -> tuple[str, int, int, int] | None:
    """``(state, utime + stime in clock ticks, start time in ticks, RSS in pages)`` or None."""
    fields = raw[raw.rfind(b")") + 2:].split()   # the name may hold spaces and ")"
    if len(fields) <= _RSS:
        return None
    try:
        return (fields[_STATE].decode("ascii", "replace"), int(fields[_UTIME]) + int(fields[_STIME]),
                int(fields[_STARTTIME]), int(fields[_RSS]))
    except ValueError:
        return None


class ProcessSource(Source):
    name = "process"

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self._tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / _MIB
        self._monitor_prev: tuple[int, int] | None = None    # (monotonic ns, process CPU ns)
        self._worker_pid: int | None = None
        self._worker_path = ""
        self._worker_start: int | None = None                 # start time (ticks after boot) of the pid we follow
        self._worker_prev: tuple[int, float] | None = None    # (monotonic ns, cpu seconds)

    def probe(self) -> SourceStatus:
        return SourceStatus(self.name, True, detail="this process and the worker (/proc/PID/stat)")

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        now = time.monotonic_ns()
        cpu = time.process_time_ns()      # all threads of this process
        prev = self._monitor_prev
        if prev is not None and now > prev[0]:
            out["proc_monitor_cpu_pct"] = max(0.0, 100.0 * (cpu - prev[1]) / (now - prev[0]))
        self._monitor_prev = (now, cpu)
        pid = self.ctx.worker_pid
        if pid != self._worker_pid:
            self._forget_worker()
            self._worker_pid = pid
            self._worker_path = f"/proc/{pid}/stat" if pid is not None else ""
        if pid is not None:
            self._read_worker(now, out)
        return out

    def _forget_worker(self) -> None:
        self.close()                      # the previous worker's open stat file
        self._worker_start, self._worker_prev = None, None

    def _read_worker(self, now: int, out: dict[str, float]) -> None:
        try:
            stat = parse_pid_stat(self.files.raw(self._worker_path))
        except OSError:                   # not started yet, or exited and reaped
            stat = None
        if stat is None or stat[0] in ("Z", "X") or (self._worker_start not in (None, stat[2])):
            self._forget_worker()         # a zombie has no memory; a new start time is not our worker
            return
        _state, ticks, start, pages = stat
        self._worker_start = start
        cpu = ticks * self._tick_s
        out["proc_worker_rss_mb"] = pages * self._page_mb
        prev = self._worker_prev
        if prev is not None and now > prev[0]:
            out["proc_worker_cpu_pct"] = max(0.0, 100.0 * (cpu - prev[1]) / ((now - prev[0]) / 1e9))
        self._worker_prev = (now, cpu)
