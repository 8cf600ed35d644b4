"""The boundary between the CLI (or a profile) and a session: what to run and how to watch it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgemon.workload.spec import WorkloadSpec


@dataclass
class RunConfig:
    workload: WorkloadSpec = field(default_factory=WorkloadSpec)
    duration_s: float | None = None    # None = until quit
    record_dir: Path | None = None     # None with record=True -> recordings/<auto name>
    record: bool = True
    recordings_root: Path = Path("recordings")
    sample_hz: float = 10.0
    sysfs_root: Path = Path("/")
    headless: bool = False
    ascii: bool = False
    status_every_s: float = 5.0        # headless status line period
    emulate: str | None = None         # emulated Jetson board name
    hang_timeout_s: float | None = 30.0  # a worker silent this long is recorded as hung; None = off
    restart_on_hang: bool = False      # ...and replaced by a fresh worker
    stop_grace_s: float = 30.0         # a stop waits this long for the iteration in progress (a
                                       # runner) or after SIGTERM (a command) before signals
    prometheus: str | None = None      # "[HOST:]PORT": live metrics for Prometheus (PORT alone: 127.0.0.1)
    # The recording stops cleanly when less than this is free on its disk (recording/faults.py).
    min_free_bytes: int = 64 * 1024 * 1024
    # A profile's run plan as its JSON object (edgemon.plan.run_plan.RunPlan, so a detached
    # session gets it too): repetitions, cool-down, idle baseline, schedule. None = one worker.
    plan: dict[str, Any] | None = None
