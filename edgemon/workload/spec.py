"""What the worker process runs: the workload half of a session's configuration."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WorkloadSpec:
    """What the worker process runs. Passed to the runner as command-line options."""

    runner: str = "numpy"
    model: str = "mnist_1d"
    batch: int = 1
    threads: int | None = None
    warmup_iters: int = 0
    warmup_s: float = 0.0
    iterations: int | None = None      # stop after this many measured iterations; None = by time
    python: str | None = None          # interpreter for the runner; None = the monitor's own
    options: dict[str, str] = field(default_factory=dict)   # runner-specific --opt key=value
