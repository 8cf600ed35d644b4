"""The three things that flow through a session (docs/architecture.md "Data flow").

All timestamps are ``time.monotonic_ns()`` (CLOCK_MONOTONIC, shared by every
process on Linux); a session keeps one wall-clock anchor for display.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np


@dataclass(frozen=True)
class Sample:
    """One telemetry reading: ``{metric_name: value}`` at ``t_ns``.

    Names as in docs/architecture.md "Metric names".
    """

    t_ns: int
    values: dict[str, float]


@dataclass(frozen=True)
class LatencyBatch:
    """Many timed iterations from a runner; parallel int64/int64/int32 arrays.

    ``warmup`` is per batch: a runner flushes at the warm-up boundary so a batch
    is either all warm-up or all measured.
    """

    t_end_ns: np.ndarray
    duration_ns: np.ndarray
    items: np.ndarray
    warmup: bool = False

    def __len__(self) -> int:
        return int(self.t_end_ns.shape[0])

    @classmethod
    def from_lists(cls, t_end_ns, duration_ns, items, warmup: bool = False) -> "LatencyBatch":
        return cls(
            np.asarray(t_end_ns, dtype=np.int64),
            np.asarray(duration_ns, dtype=np.int64),
            np.asarray(items, dtype=np.int32),
            bool(warmup),
        )


# Rows a merged batch grows to at most. Past this, copying the rows costs more than the calls it
# saves: a big array is fresh memory, page-faulted in (5 s of rows merged into one made the
# dashboard model 1.4x slower per row than the same rows in 0.5 s batches).
MERGE_ROWS = 8192


def merged_batches(batches: Iterable[LatencyBatch]) -> list[LatencyBatch]:
    """Consecutive batches with the same warm-up flag as one, up to ``MERGE_ROWS`` rows (a batch
    bigger than that stays as it is); empty ones left out.

    Work per batch (the dashboard model's dozen numpy calls, a hand-over between threads, a
    frame to an attached dashboard) costs the same whatever its size, and a runner sends ten
    100 ms batches a second: one concatenation saves nine rounds of it."""
    out: list[LatencyBatch] = []
    run: list[LatencyBatch] = []
    rows = 0

    def close_run() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.append(LatencyBatch(np.concatenate([b.t_end_ns for b in run]),
                                    np.concatenate([b.duration_ns for b in run]),
                                    np.concatenate([b.items for b in run]), run[0].warmup))
        run.clear()

    for batch in batches:
        n = len(batch)
        if n == 0:
            continue
        if run and (bool(batch.warmup) != bool(run[0].warmup) or rows + n > MERGE_ROWS):
            close_run()
            rows = 0
        run.append(batch)
        rows += n
    close_run()
    return out


@dataclass(frozen=True)
class Event:
    """Something that happened at ``t_ns``: ``kind`` from :class:`EventKind`, JSON-able details."""

    t_ns: int
    kind: str
    details: dict[str, Any] = field(default_factory=dict)

    def details_json(self) -> str:
        return json.dumps(self.details, sort_keys=True, default=str)


class EventKind:
    """Event kinds recorded in ``events/``. Strings, so recordings stay readable without edgemon."""

    SESSION_START = "session_start"
    SESSION_END = "session_end"
    WORKER_HELLO = "worker_hello"        # details: the runner's hello (runner, framework, version, model, ...)
    WORKER_EXIT = "worker_exit"          # clean exit; details: returncode
    WORKER_CRASHED = "worker_crashed"    # details: returncode, signal, signal_name, reason, oom (bool), stderr_tail
    WORKER_HUNG = "worker_hung"          # details: silent_s, timeout_s, pid, action ("restart" | "none")
    WORKER_RESTARTED = "worker_restarted"  # details: reason, old_pid, new_pid, restarts; the replaced
                                         # worker's exit event carries replaced: true
    WARMUP_DONE = "warmup_done"          # details: iterations, seconds, first_inference_ms
    PHASE = "phase"                      # details: name (e.g. "train", "inference")
    EPOCH = "epoch"
    ERROR = "error"                      # details: message, reason, traceback (runner errors are results)
    MARK = "mark"                        # user mark; details: note
    PAUSE = "pause"
    RESUME = "resume"
    # Control events carry control, from, to, ok, message, strategy (direct, sudo, jtop):
    POWER_MODE = "power_mode"            # + from_id, to_id, name, ceilings {clock metric: MHz} after the switch
    CORE_ONLINE = "core_online"          # + cpu, online (bool)
    JETSON_CLOCKS = "jetson_clocks"
    FAN = "fan"                          # control "fan" (pct) or "fan_auto" (automatic control restored)
    THROTTLE_BEGIN = "throttle_begin"
    THROTTLE_END = "throttle_end"
    SEGMENT_ROLLED = "segment_rolled"
    SOURCE_UNAVAILABLE = "source_unavailable"  # details: source, reason
    RECORDING_ERROR = "recording_error"  # the recording stopped (disk full, read-only, folder removed, stalled,
                                         # low space); details: message, kind, reason, headline, after_s,
                                         # detail, rows_kept (recording/faults.py); the session goes on
    DISK_SPACE = "disk_space"            # the recording rate, once measured; details: free_bytes,
                                         # rate_bytes_per_h, left_s, message
    DISK_LOW = "disk_low"                # less than 10 minutes of recording left; details as disk_space
    CONTROL_FAILED = "control_failed"    # a refused or failed change; message says what to configure
