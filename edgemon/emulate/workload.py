"""The session's worker as the emulated board sees it: its processes, memory and CPU use, and
the two ways it is made to feel the board's CPU clock.

The session registers its worker in ``var/lib/edgemon-emulate/worker.json`` (pid, whether it
uses the GPU, whether its runner stretches its own iterations); the physics daemon reads it
every tick. Everything about the worker is read from the host's ``/proc``: its real RSS is
what the board's memory adds up, its real CPU time is what drives the emulated GPU load of a
worker that uses the GPU.

How the worker feels a lower clock (README, "The emulated board"):

* **stretch** (edgemon's runners): the physics writes ``clock / max clock`` to
  ``var/lib/edgemon-emulate/cpu_scale``; the runner's timed loop busy-waits after each
  iteration until it took ``1 / scale`` times as long. Every iteration is slower by the clock
  ratio, as on a board whose clock fell, however short the iteration is.
* **sigstop** (any other worker): :class:`DutyCycle` stops and continues the worker's process
  group so it runs ``scale`` of every :data:`DUTY_PERIOD_S`. Its CPU time drops in proportion,
  but an iteration much shorter than the period is either untouched or cut once (by up to
  ``(1 - scale) * period``): the median stays, the mean and the tail rise. Only iterations
  much longer than the period are each slowed by the clock ratio.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from edgemon.emulate import tree

DUTY_PERIOD_S = 0.05     # SIGSTOP/SIGCONT period: iterations >> 50 ms feel the clock each
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class WorkerInfo:
    """What the session told the board about its worker."""

    pid: int
    gpu: bool = False          # the runner's device is a GPU (CUDA, or the stress runner's stand-in)
    stretch: bool = False      # the runner stretches its iterations by cpu_scale itself
    device: str = ""


def uses_gpu(device: object) -> bool:
    """A runner hello's ``device`` names a GPU: ``cuda``, ``cuda:0``, ``gpu``, ``GPU.0``..."""
    text = str(device or "").strip().lower()
    return text.startswith(("cuda", "gpu")) or ":gpu" in text


def write_worker(root: Path, info: WorkerInfo) -> None:
    """Register the worker (renamed into place: this is the emulator's own file, not sysfs)."""
    path = Path(root) / tree.WORKER_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(info)) + "\n")
    os.replace(tmp, path)


def read_worker(root: Path) -> WorkerInfo | None:
    try:
        data = json.loads((Path(root) / tree.WORKER_FILE).read_text())
        return WorkerInfo(int(data["pid"]), bool(data.get("gpu")), bool(data.get("stretch")),
                          str(data.get("device") or ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- the worker's processes ---------------------------------------------------------------

def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def process_tree(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """``pid`` and its descendants (``/proc/<pid>/task/<tid>/children``), or [] when it is gone."""
    if _read(proc / str(pid) / "stat") is None:
        return []
    out, todo = [], [pid]
    while todo and len(out) < 4096:
        p = todo.pop()
        out.append(p)
        try:
            tids = os.listdir(proc / str(p) / "task")
        except OSError:
            continue
        for tid in tids:
            text = _read(proc / str(p) / "task" / tid / "children") or ""
            todo.extend(int(c) for c in text.split() if c.isdigit())
    return out


def memory_kb(pids: list[int], proc: Path = Path("/proc")) -> int:
    """Resident plus swapped-out memory of ``pids`` (VmRSS + VmSwap), kB."""
    total = 0
    for p in pids:
        for line in (_read(proc / str(p) / "status") or "").splitlines():
            if line.startswith(("VmRSS:", "VmSwap:")):
                try:
                    total += int(line.split()[1])
                except (IndexError, ValueError):
                    pass
    return total


def cpu_seconds(pids: list[int], proc: Path = Path("/proc")) -> float:
    """User + system CPU time of ``pids`` (all their threads), seconds."""
    ticks = 0
    for p in pids:
        text = _read(proc / str(p) / "stat") or ""
        fields = text.rpartition(")")[2].split()
        try:
            ticks += int(fields[11]) + int(fields[12])      # utime, stime (stat fields 14, 15)
        except (IndexError, ValueError):
            pass
    return ticks / float(_CLK_TCK)


def set_affinity(pids: list[int], cpus: set[int], proc: Path = Path("/proc")) -> None:
    """Pin every thread of ``pids`` to ``cpus`` (threads started later inherit it)."""
    for p in pids:
        try:
            tids = [int(t) for t in os.listdir(proc / str(p) / "task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:
                pass


def _signal_group(pid: int, sig: int) -> bool:
    """Signal the worker and its children: its process group where it leads one (edgemon starts
    workers in their own session), else the process alone (never a group it merely belongs to)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class DutyCycle:
    """Runs the worker's process group ``scale`` of every period (SIGCONT), stops it the rest (SIGSTOP).

    A thread of the physics daemon; :meth:`set` changes the target, :meth:`close` continues the
    worker and ends the thread (a worker is never left stopped by a daemon that exits).
    """

    def __init__(self, period_s: float = DUTY_PERIOD_S):
        self.period_s = period_s
        self._pgid: int | None = None
        self._scale = 1.0
        self._stopped = False            # the group is SIGSTOPped now
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="edgemon-emulate-duty", daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        return self._pgid is not None and self._scale < 0.999

    def set(self, pgid: int | None, scale: float) -> None:
        if pgid != self._pgid and self._pgid is not None and self._stopped:
            _signal_group(self._pgid, signal.SIGCONT)
            self._stopped = False
        self._pgid, self._scale = pgid, max(0.05, min(1.0, scale))
        self._wake.set()

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        while not self._closed:
            pgid, scale = self._pgid, self._scale
            if self._stopped and pgid is not None:
                _signal_group(pgid, signal.SIGCONT)
                self._stopped = False
            if pgid is None or scale >= 0.999:
                self._sleep(self.period_s)
                continue
            self._sleep(self.period_s * scale)
            if self._closed or self._pgid != pgid or self._scale >= 0.999:
                continue
            if _signal_group(pgid, signal.SIGSTOP):
                self._stopped = True
            self._sleep(self.period_s * (1.0 - scale))

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=2.0)
        if self._pgid is not None:
            _signal_group(self._pgid, signal.SIGCONT)
        self._stopped = False
