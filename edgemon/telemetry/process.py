"""CPU and memory of the monitor itself and of the worker's process tree, from the real system.

Metrics: ``proc_monitor_cpu_pct`` (this process, all threads, % of one core),
``proc_worker_cpu_pct`` and ``proc_worker_rss_mb`` for ``ctx.worker_pid`` and its descendants
(a command such as ``sh -c 'make -j4'`` does its work in children). The tree is listed again
every ``TREE_EVERY_S`` (listing walks all of /proc, so not at every read); its members are read
at every read. CPU is the sum of each member's CPU time since the previous read (a new member
counts from its start), so a process that starts and ends between two listings is missed; RSS
is the sum of the members' RSS (pages they share are counted once per process, as top does).
The pids seen go to ``ctx.worker_pids`` for the NVML source's per-process GPU memory.

These describe real processes, so they never read under ``ctx.root`` (an emulated board tree
has no processes of ours). The worker pid may change between reads (restart); a missing or
exited worker gives no worker metrics. CPU percentages need two reads: the first after start
(or after a worker change) only primes.
"""

from __future__ import annotations

import os
import time

from edgemon.telemetry.base import Source, SourceContext, SourceStatus


TREE_EVERY_S = 2.0


class ProcessSource(Source):
    name = "process"

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self._psutil = None
        self._monitor_prev: tuple[int, float] | None = None   # (monotonic ns, cpu seconds)
        self._worker_pid: int | None = None
        self._worker = None                                   # psutil.Process of the root
        self._members: dict[int, object] = {}                 # pid -> psutil.Process (root included)
        self._cpu: dict[int, float] = {}                      # pid -> cpu seconds at the previous read
        self._prev_ns: int | None = None
        self._listed_ns = 0

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
            self._worker_pid, self._worker = pid, None
            self._members, self._cpu, self._prev_ns = {}, {}, None
            self.ctx.worker_pids = frozenset()
        if pid is None or psutil is None:
            return {}
        try:
            if self._worker is None:
                # psutil.Process remembers the start time, so a reused pid is not mistaken for ours.
                self._worker = psutil.Process(pid)
                self._members = {pid: self._worker}
            if not self._worker.is_running():
                raise psutil.NoSuchProcess(pid)
        except (psutil.Error, OSError):
            self._worker, self._members, self._cpu, self._prev_ns = None, {}, {}, None
            self.ctx.worker_pids = frozenset()
            return {}       # exited, zombie or not started yet
        if now - self._listed_ns >= TREE_EVERY_S * 1e9:
            self._listed_ns = now
            try:
                for child in self._worker.children(recursive=True):
                    self._members.setdefault(child.pid, child)
            except (psutil.Error, OSError):
                pass
        cpu: dict[int, float] = {}
        rss = 0
        for member_pid, proc in list(self._members.items()):
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    member_rss = proc.memory_info().rss
            except (psutil.Error, OSError):
                del self._members[member_pid]           # ended since the listing
                continue
            cpu[member_pid] = times.user + times.system
            rss += member_rss
        if self._worker_pid not in cpu:                 # the root itself is gone
            return {}
        self.ctx.worker_pids = frozenset(cpu)
        out = {"proc_worker_rss_mb": rss / (1024.0 * 1024.0)}
        if self._prev_ns is not None and now > self._prev_ns:
            used = sum(max(0.0, c - self._cpu.get(p, 0.0)) for p, c in cpu.items())
            out["proc_worker_cpu_pct"] = 100.0 * used / ((now - self._prev_ns) / 1e9)
        self._cpu, self._prev_ns = cpu, now
        return out
