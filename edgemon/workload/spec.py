"""What the worker process runs: the workload half of a session's configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

COMMAND = "command"   # runner name of `edgemon run -- CMD [ARGS...]`
NONE = "none"         # runner name of a session without a workload (`edgemon watch`)


@dataclass
class WorkloadSpec:
    """What the worker process runs. Passed to a runner as command-line options.

    ``runner`` is a built-in runner (``edgemon models``), ``"command"`` for any program given
    after ``--`` (``command``: its argv), or ``"none"`` for monitor-only sessions.
    """

    runner: str = "numpy"
    model: str = "mnist_1d"
    batch: int = 1
    threads: int | None = None
    warmup_iters: int = 0
    warmup_s: float = 0.0
    iterations: int | None = None      # stop after this many measured iterations; None = by time
    python: str | None = None          # interpreter for the runner; None = the monitor's own
    options: dict[str, str] = field(default_factory=dict)   # runner-specific --opt key=value
    command: list[str] | None = None   # runner "command": the program and its arguments
    latency_regex: str | None = None   # runner "command": latency rows from printed lines

    @property
    def is_command(self) -> bool:
        return self.runner == COMMAND

    @property
    def is_watch(self) -> bool:
        return self.runner == NONE

    @property
    def kind(self) -> str:
        """``runner``, ``command`` or ``watch``: what session.json records as ``workload.kind``."""
        return "command" if self.is_command else "watch" if self.is_watch else "runner"


def command_label(argv: list[str]) -> str:
    """A short name for a command (the recording folder, the dashboard header): the program's
    file name, and the script's for an interpreter (``python loop.py`` -> ``loop.py``)."""
    import os

    if not argv:
        return "command"
    words = [os.path.basename(a) for a in argv[:2]]
    if len(words) > 1 and words[0].startswith(("python", "pypy", "bash", "sh", "node", "ruby", "perl")) \
            and not argv[1].startswith("-"):
        return words[1]
    return words[0]


def session_kind(meta: object) -> str:
    """``runner``, ``command``, ``watch`` or ``imported`` from a session description
    (``session.json``); recordings made before the kinds existed are ``runner``."""
    if not isinstance(meta, dict):
        return "runner"
    value = meta.get("kind")
    workload = meta.get("workload")
    if not value and isinstance(workload, dict):
        value = workload.get("kind")
    return str(value) if value in ("runner", "command", "watch", "imported") else "runner"


def latency_source_hint(meta: object) -> str:
    """Where a session's latency rows come from, for a view or an analysis that has none."""
    k = session_kind(meta)
    if k == "watch":
        return "monitor only: no workload here, so no latency; run your program elsewhere"
    if k == "imported":
        return "imported log without latency rows; join a latency CSV with `edgemon import ... --latency`"
    if k == "command":
        workload = meta.get("workload") if isinstance(meta, dict) else None
        regex = workload.get("latency_regex") if isinstance(workload, dict) else None
        if regex:
            return f"no line has matched --latency-regex {regex} yet"
        return ("no latency rows: time the command's loop with edgemon_probe "
                "(with edgemon_probe.timed(): ...) or give --latency-regex")
    return "no iterations yet"
