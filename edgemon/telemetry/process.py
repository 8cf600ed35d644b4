"""CPU and memory of the monitor itself and of the worker, from the real system.

Metrics: ``proc_monitor_cpu_pct`` (this process, all threads, % of one core),
``proc_worker_cpu_pct`` and ``proc_worker_rss_mb`` for ``ctx.worker_pid``.
These describe real processes, so they never read under ``ctx.root`` (an
emulated board tree has no processes of ours). The worker pid may change
between reads (restart); a missing or exited worker gives no worker metrics.
CPU percentages need two reads: the first after start (or after a worker
change) only primes.
"""

from __future__ import annotations

import os
import time

from edgemon.telemetry.base import Source, SourceContext, SourceStatus


class ProcessSource(Source):
    name = "process"

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self._psutil = None
        self._monitor_prev: tuple[int, float] | None = None   # (monotonic ns, cpu seconds)
        self._worker_pid: int | None = None
        self._worker = None                                   # psutil.Process
        self._worker_prev: tuple[int, float] | None = None

    def probe(self) -> SourceStatus:
        try:
            import psutil   # a core dependency; imported here so module import stays free
        except ImportError:
            return SourceStatus(self.name, True, detail="monitor only (psutil missing: no worker metrics)")
        self._psutil = psutil
        return SourceStatus(self.name, True, detail=f"psutil {psutil.__version__}")

    @staticmethod
    def _pct(prev: tuple[int, float] | None, now_ns: int, cpu_s: float) -> float | None:
        if prev is None or now_ns <= prev[0]:
            return None
        return max(0.0, 100.0 * (cpu_s - prev[1]) / ((now_ns - prev[0]) / 1e9))

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        now = time.monotonic_ns()
        t = os.times()
        cpu = t.user + t.system       # all threads of this process
        pct = self._pct(self._monitor_prev, now, cpu)
        if pct is not None:
            out["proc_monitor_cpu_pct"] = pct
        self._monitor_prev = (now, cpu)
        out.update(self._read_worker(now))
        return out

    def _read_worker(self, now: int) -> dict[str, float]:
        pid = self.ctx.worker_pid
        psutil = self._psutil
        if pid != self._worker_pid:
            self._worker_pid, self._worker, self._worker_prev = pid, None, None
        if pid is None or psutil is None:
            return {}
        try:
            if self._worker is None:
                # psutil.Process remembers the start time, so a reused pid is not mistaken for ours.
                self._worker = psutil.Process(pid)
            with self._worker.oneshot():
                times = self._worker.cpu_times()
                rss = self._worker.memory_info().rss
            if not self._worker.is_running():
                raise psutil.NoSuchProcess(pid)
        except (psutil.Error, OSError):
            self._worker, self._worker_prev = None, None
            return {}       # exited, zombie or not started yet
        cpu = times.user + times.system
        out = {"proc_worker_rss_mb": rss / (1024.0 * 1024.0)}
        pct = self._pct(self._worker_prev, now, cpu)
        if pct is not None:
            out["proc_worker_cpu_pct"] = pct
        self._worker_prev = (now, cpu)
        return out
