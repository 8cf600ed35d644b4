"""How a worker ended, in one readable line: exit code, signal, likely OOM kill.

The OOM guess reads the worker's memory cgroup ``oom_kill`` counters (v2
``memory.events``, v1 ``memory.oom_control``) before start and after exit, for
the cgroup and its ancestors (a limit may sit on a parent). All paths are under
a configurable root so tests and the emulator can feed their own files.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from edgemon.datatypes import EventKind

_SIGNAL_TEXT = {
    "SIGSEGV": "segmentation fault (SIGSEGV)",
    "SIGBUS": "bus error (SIGBUS)",
    "SIGABRT": "aborted (SIGABRT)",
    "SIGFPE": "floating-point exception (SIGFPE)",
    "SIGILL": "illegal instruction (SIGILL)",
    "SIGTERM": "terminated by SIGTERM",
    "SIGINT": "interrupted by SIGINT",
    "SIGHUP": "hung up (SIGHUP)",
    "SIGPIPE": "broken pipe (SIGPIPE)",
}


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


# ---------------------------------------------------------------- OOM counters


def _cgroup_dirs(pid: int, root: Path) -> list[Path]:
    """Memory-cgroup folders of ``pid`` and their ancestors, deepest first (v2 and v1)."""
    try:
        text = (root / "proc" / str(pid) / "cgroup").read_text()
    except OSError:
        return []
    dirs: list[Path] = []
    base = root / "sys" / "fs" / "cgroup"
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        rel_parts = [p for p in rel.split("/") if p]
        if controllers == "":  # v2: memory.events in the unified tree
            tops = [base, base / "unified"]
        elif "memory" in controllers.split(","):
            tops = [base / "memory"]
        else:
            continue
        for top in tops:
            for depth in range(len(rel_parts), -1, -1):
                dirs.append(top.joinpath(*rel_parts[:depth]))
    return dirs


def _read_oom_kill(folder: Path) -> int | None:
    for name in ("memory.events", "memory.oom_control"):
        try:
            text = (folder / name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                try:
                    return int(value)
                except ValueError:
                    return None
    return None


@dataclass(frozen=True)
class OomCounters:
    """``oom_kill`` per cgroup folder at one moment; empty when none could be read."""

    counts: dict[str, int]

    @classmethod
    def read(cls, dirs: list[Path]) -> "OomCounters":
        counts = {}
        for d in dirs:
            value = _read_oom_kill(d)
            if value is not None:
                counts[str(d)] = value
        return cls(counts)

    @property
    def readable(self) -> bool:
        return bool(self.counts)

    def rose_since(self, before: "OomCounters") -> bool:
        return any(v > before.counts.get(k, v) for k, v in self.counts.items())


def oom_dirs_for(pid: int, root: Path = Path("/")) -> list[Path]:
    """Cgroup folders to watch for the worker ``pid`` (read right after it starts)."""
    return _cgroup_dirs(pid, Path(root))


# ---------------------------------------------------------------- classification


@dataclass
class ExitFacts:
    """What the Worker knows when the process has gone."""

    returncode: int
    command: bool = False                # `edgemon run -- CMD`: any program, stopped with SIGTERM
    stop_grace_s: float | None = None    # how long a stop waited before signals (--stop-grace)
    said_bye: bool = False
    bye: dict | None = None
    sent_signal: int | None = None       # a signal edgemon sent (stop escalation)
    stop_requested: bool = False
    error: dict | None = None            # the runner's last EVENT "error" details
    stderr_tail: list[str] | None = None
    oom_before: OomCounters | None = None
    oom_after: OomCounters | None = None


def _last_meaningful_line(lines: list[str]) -> str:
    for line in reversed(lines):
        line = line.strip()
        if line:
            return line[:300]
    return ""


def _grace(facts: ExitFacts) -> str:
    return f"{facts.stop_grace_s:g} s" if facts.stop_grace_s is not None else "the grace period"


def _stopped_by_us(facts: ExitFacts, details: dict, name: str) -> tuple[str, dict]:
    """A stop edgemon asked for (end of the session, `edgemon stop`, q) that needed a signal:
    the end of the run, not a crash."""
    details["killed_by_monitor"] = True
    if facts.command:
        if name == "SIGTERM":
            details["reason"] = "ended by edgemon with SIGTERM"
        else:
            details["reason"] = f"ended by edgemon with {name}: it did not end within {_grace(facts)} of SIGTERM"
    else:
        details["cut_iteration"] = True
        details["reason"] = (f"stopped by edgemon with {name}: the iteration in progress did not finish within "
                             f"the {_grace(facts)} grace (--stop-grace), so it was cut and has no latency row")
    return EventKind.WORKER_EXIT, details


def classify(facts: ExitFacts) -> tuple[str, dict]:
    """``(EventKind.WORKER_EXIT | EventKind.WORKER_CRASHED, details)`` for a finished worker."""
    rc = facts.returncode
    tail = list(facts.stderr_tail or [])
    details: dict = {"returncode": rc, "signal": None, "signal_name": None, "oom": False,
                     "stderr_tail": tail}
    if facts.bye is not None:
        details["bye_reason"] = facts.bye.get("reason")
        details["iterations"] = facts.bye.get("iterations")
    if rc == 0 and (facts.said_bye or facts.command):
        details["reason"] = f"finished ({facts.bye.get('reason', 'done')})" if facts.bye else "exited with code 0"
        return EventKind.WORKER_EXIT, details

    if rc < 0:
        signum = -rc
        name = signal_name(signum)
        details["signal"] = signum
        details["signal_name"] = name
        if facts.sent_signal == signum and facts.stop_requested:
            return _stopped_by_us(facts, details, name)
        if facts.sent_signal == signum:
            details["reason"] = f"killed by {name} (sent by edgemon after the worker did not stop in time)"
            details["killed_by_monitor"] = True
        elif name == "SIGKILL":
            before, after = facts.oom_before, facts.oom_after
            if before is not None and after is not None and after.readable and after.rose_since(before):
                details["reason"] = "killed by SIGKILL (likely the OOM killer: cgroup oom_kill count rose)"
                details["oom"] = True
            elif after is not None and after.readable:
                details["reason"] = ("killed by SIGKILL (not the OOM killer: cgroup oom_kill count unchanged;"
                                     " another process or user sent it)")
            else:
                details["reason"] = ("killed by SIGKILL (possibly the OOM killer; its cgroup oom_kill count"
                                     " is unreadable here)")
                details["oom"] = True
                details["oom_certain"] = False
        else:
            details["reason"] = _SIGNAL_TEXT.get(name, f"killed by {name}")
        return EventKind.WORKER_CRASHED, details

    if facts.command and facts.stop_requested and facts.sent_signal is not None:
        details["reason"] = f"ended with code {rc} after edgemon's {signal_name(facts.sent_signal)}"
        return EventKind.WORKER_EXIT, details
    error = facts.error or {}
    if error.get("reason"):
        details["runner_error"] = True  # the runner reported why (an error event) before it exited
    what = error.get("reason") or _last_meaningful_line(tail)
    if rc == 0:
        details["reason"] = "exited with code 0 without saying goodbye" + (f": {what}" if what else "")
    else:
        details["reason"] = f"exited with code {rc}" + (f": {what}" if what else "")
    # host RAM (MemoryError), CUDA memory (torch), device memory (TensorFlow)
    oom_exceptions = ("MemoryError", "OutOfMemoryError", "ResourceExhaustedError")
    if error.get("exception") in oom_exceptions or what.startswith(oom_exceptions) or "out of memory" in what.lower():
        details["oom"] = True
    return EventKind.WORKER_CRASHED, details
