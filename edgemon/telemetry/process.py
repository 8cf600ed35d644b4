"""CPU and memory of the monitor itself and of the worker's process tree, from the real system.

Metrics: ``proc_monitor_cpu_pct`` (this process, all threads, % of one core),
``proc_worker_cpu_pct`` and ``proc_worker_rss_mb`` for ``ctx.worker_pid`` and its descendants
(a command such as ``sh -c 'make -j4'`` does its work in children), read twice a second
(``every_s``: see :class:`ProcessSource`). The tree is listed again
every ``TREE_EVERY_S`` (not at every read); its members are read at every read. CPU is the sum
of each member's CPU time since the previous read (a new member counts from its start), so a
process that starts and ends between two listings is missed; RSS is the sum of the members'
RSS (pages they share are counted once per process, as top does). The pids seen go to
``ctx.worker_pids`` for the NVML source's per-process GPU memory.

These describe real processes, so they never read under ``ctx.root`` (an emulated board tree
has no processes of ours). The worker pid may change between reads (restart); a missing or
exited worker gives no worker metrics. CPU percentages need two reads: the first after start
(or after a worker change) only primes.

The monitor's CPU comes from ``CLOCK_PROCESS_CPUTIME_ID`` (every thread of this process, in
nanoseconds: a 0.5 % monitor is not rounded to 0 or 10 % per 100 ms sample as clock ticks
would be). In a detached session this is the session process (sampler, recorder, worker pipe,
control socket); a dashboard attached to it is another process and measures itself (the
dashboard shows both).

Each member is read from ``/proc/PID/stat``: one ``pread`` of a file kept open (utime, stime,
start time, RSS), instead of psutil's several files per call. The open file stays bound to
that process, so a recycled pid cannot be mistaken for a member; the start time is checked as
well. The tree is listed from ``/proc/PID/task/TID/children`` (a few small reads, where psutil
would read every process's stat file); on a kernel without those files, psutil lists it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from edgemon.telemetry.base import Source, SourceContext, SourceStatus, read_raw

_MIB = 1024.0 * 1024.0

# Fields of /proc/PID/stat after the ")" that ends the command name (proc(5) numbers - 3).
_STATE, _UTIME, _STIME, _STARTTIME, _RSS = 0, 11, 12, 19, 21

TREE_EVERY_S = 2.0
_MAX_TREE = 4096      # processes followed at most (a fork bomb must not grow the monitor)


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


def process_tree(pid: int, proc: Path | str = "/proc") -> list[int]:
    """``pid`` and its descendants (``/proc/<pid>/task/<tid>/children``), or [] when it is gone.

    Those files need a kernel with ``CONFIG_PROC_CHILDREN`` (see :func:`lists_children`);
    without them the answer is ``[pid]``."""
    base = os.fspath(proc)
    if not os.path.exists(f"{base}/{pid}/stat"):
        return []
    out: list[int] = []
    todo = [pid]
    while todo and len(out) < _MAX_TREE:
        p = todo.pop()
        out.append(p)
        try:
            tids = os.listdir(f"{base}/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                raw = read_raw(f"{base}/{p}/task/{tid}/children")
            except OSError:
                continue
            todo.extend(int(c) for c in raw.split() if c.isdigit())
    return out


def lists_children() -> bool:
    """Whether this kernel has ``/proc/PID/task/TID/children`` (checked on this process)."""
    me = os.getpid()
    return os.path.exists(f"/proc/{me}/task/{me}/children")


def _tree_by_psutil(pid: int) -> list[int]:
    try:
        import psutil   # a core dependency; only for kernels without the children files
        return [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)][:_MAX_TREE - 1]
    except Exception:   # noqa: BLE001 - ImportError, psutil.Error, OSError: the root alone is still read
        return [pid]


class ProcessSource(Source):
    name = "process"
    # /proc/PID/stat counts CPU time in clock ticks (10 ms): over 100 ms a process's CPU can only
    # be 0, 10, 20 ... %, so reading it ten times a second gives coarse numbers at five times the
    # cost (one cold /proc read per member per tick); twice a second gives 2 % steps.
    every_s: float | None = 0.5

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self._tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / _MIB
        self._children_files = lists_children()
        self._monitor_prev: tuple[int, int] | None = None    # (monotonic ns, process CPU ns)
        self._worker_pid: int | None = None
        self._members: dict[int, str] = {}                   # pid -> its /proc/PID/stat (root included)
        self._starts: dict[int, int] = {}                    # pid -> start time (ticks after boot) seen first
        self._cpu: dict[int, float] = {}                     # pid -> cpu seconds at the previous read
        self._prev_ns: int | None = None
        self._listed_ns = 0

    def probe(self) -> SourceStatus:
        how = "/proc/PID/task/TID/children" if self._children_files else "psutil"
        return SourceStatus(self.name, True,
                            detail=f"this process and the worker's tree (/proc/PID/stat; tree from {how})")

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
            self._worker_pid = pid
            self._forget_worker()
        if pid is not None:
            self._read_worker(pid, now, out)
        return out

    def _forget_worker(self) -> None:
        self.close()                      # the open stat files of the previous tree
        pid = self._worker_pid
        self._members = {pid: f"/proc/{pid}/stat"} if pid is not None else {}
        self._starts, self._cpu, self._prev_ns, self._listed_ns = {}, {}, None, 0
        self.ctx.worker_pids = frozenset()

    def _read_worker(self, root: int, now: int, out: dict[str, float]) -> None:
        members = self._members
        if now - self._listed_ns >= TREE_EVERY_S * 1e9:
            self._listed_ns = now
            tree = process_tree(root) if self._children_files else _tree_by_psutil(root)
            for p in tree:
                if p not in members and len(members) < _MAX_TREE:
                    members[p] = f"/proc/{p}/stat"
        cpu: dict[int, float] = {}
        pages = 0
        for p, path in list(members.items()):
            try:
                stat = parse_pid_stat(self.files.raw(path))
            except OSError:               # not started yet, or exited and reaped
                stat = None
            start = self._starts.get(p)
            if stat is None or stat[0] in ("Z", "X") or (start is not None and start != stat[2]):
                # ended (a zombie has no memory), or a new start time: not the process we followed
                if p != root:
                    del members[p]
                self._starts.pop(p, None)
                self.files.forget(path)
                continue
            self._starts[p] = stat[2]
            cpu[p] = stat[1] * self._tick_s
            pages += stat[3]
        if root not in cpu:               # the root itself is gone (or not there yet)
            self._forget_worker()
            return
        self.ctx.worker_pids = frozenset(cpu)
        out["proc_worker_rss_mb"] = pages * self._page_mb
        if self._prev_ns is not None and now > self._prev_ns:
            used = sum(max(0.0, c - self._cpu.get(p, 0.0)) for p, c in cpu.items())
            out["proc_worker_cpu_pct"] = 100.0 * used / ((now - self._prev_ns) / 1e9)
        self._cpu, self._prev_ns = cpu, now
