"""What a session says about its recording: the header flag, the events, the summary lines.

The recorder (``recording/writer.py``) reports a fault (``on_error``) and its disk watch
(``on_disk``: the measured rate, less than 10 minutes left); this turns them into events for
the recording and the event log, a one-line flag the dashboard header and the headless status
line show at once, and the lines of the end-of-run summary (how much was kept, and where).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from edgemon.datatypes import Event, EventKind
from edgemon.recording import faults

INFO, WARN, FAIL = "info", "warn", "fail"


class RecordingWatch:
    """Thread-safe: the recorder calls in from its writer thread (or the sampler's, for a stall)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.note = ""            # e.g. "REC STOPPED: disk full after 6.2 s", "disk: 8 min of recording left"
        self.level = ""           # "", info, warn, fail

    def _set(self, note: str, level: str) -> None:
        with self._lock:
            # a failure stays; a warning replaces the rate note
            if self.level == FAIL and level != FAIL:
                return
            self.note, self.level = note, level

    def flag(self) -> tuple[str, str]:
        with self._lock:
            return self.note, self.level

    def recording_started(self, folder: Path) -> None:
        """The header's first word on the disk, until the rate is measured: the free space."""
        free = faults.free_bytes(folder)
        if free is not None:
            self._set(f"{faults.human_bytes(free)} free (rate after {faults.RATE_AFTER_S:.0f} s)", INFO)

    def fault_event(self, recorder, message: str) -> Event:
        fault = getattr(recorder, "fault", None)
        details = {"message": message}
        if fault is not None:
            details.update(fault.to_dict())
            self._set(f"REC STOPPED: {fault.headline}", FAIL)
        else:
            self._set("REC STOPPED", FAIL)
        return Event(time.monotonic_ns(), EventKind.RECORDING_ERROR, details)

    def disk_event(self, kind: str, details: dict) -> Event:
        free, rate, left = details.get("free_bytes"), details.get("rate_bytes_per_h"), details.get("left_s")
        free_text = faults.human_bytes(free) if free is not None else "? B"
        rate_text = f"{faults.human_bytes(rate)}/h" if rate else "?/h"
        left_text = faults.human_hours(left) if left is not None else "?"
        if kind == "low":
            message = f"disk almost full: {free_text} free, {left_text} of recording left at {rate_text}"
            self._set(f"DISK {left_text} left", WARN)
            return Event(time.monotonic_ns(), EventKind.DISK_LOW, {**details, "message": message})
        message = f"recording {rate_text}; {free_text} free: {left_text} of recording"
        self._set(f"{rate_text}, {free_text} free ({left_text})", INFO)
        return Event(time.monotonic_ns(), EventKind.DISK_SPACE, {**details, "message": message})


def disk_outlook(folder: Path, min_free_bytes: int, *, runner: str = "", model: str = "",
                 sessions_root: Path | None = None) -> str:
    """Before a session starts: the free space where it will record, the rate to expect (that of
    the last session of the same workload under ``sessions_root``), and when it will stop."""
    where = faults.existing_parent(Path(folder))
    free = faults.free_bytes(where)
    if free is None:
        return f"disk: free space of {where} unknown"
    stop = (f"recording stops cleanly with {faults.human_bytes(min_free_bytes)} left (--min-free)"
            if min_free_bytes > 0 else "no --min-free: recording goes on until the disk is full")
    rate = expected_rate(sessions_root, runner, model) if sessions_root is not None else None
    if rate is None:
        expect = f"the recording rate is measured after {faults.RATE_AFTER_S:.0f} s"
    else:
        bytes_per_s, name = rate
        left = max(0, free - min_free_bytes) / bytes_per_s
        expect = (f"expect about {faults.human_bytes(bytes_per_s * 3600)}/h (as {name}): "
                  f"{faults.human_hours(left)} of recording")
    return f"disk: {faults.human_bytes(free)} free on the file system of {where}; {expect}; {stop}"


def expected_rate(root: Path, runner: str, model: str) -> tuple[float, str] | None:
    """Bytes per second of the newest finished session of ``runner``/``model`` under ``root``
    (at least a minute long, so its Parquet segments say what an hour costs), and its name."""
    from edgemon.recording.listing import list_sessions

    try:
        infos = list_sessions([root])
    except OSError:
        return None
    for info in reversed(infos):
        if (info.state in ("ended", "crashed") and info.runner == runner and info.model == model
                and info.duration_s and info.duration_s >= 60 and info.size_bytes > 0):
            return info.size_bytes / info.duration_s, info.name
    return None


def summary_lines(recorder, folder: str | None, elapsed_s: float) -> list[str]:
    """The end-of-run lines about the recording: where, and when it stopped early how much was kept."""
    if recorder is None:
        return []
    folder = str(Path(folder).absolute()) if folder else str(recorder.folder.absolute())
    fault = getattr(recorder, "fault", None)
    if fault is None:
        return [f"recording: {folder}"]
    return [
        f"recording: STOPPED after {fault.after_s:.1f} s of {elapsed_s:.1f} s: {fault.reason} ({fault.detail})",
        f"recording: kept {fault.kept()} (the first {fault.after_s:.1f} s) in {folder}; what was written "
        "stays readable",
    ]


def disk_stalled(recorder) -> bool:
    """The recording stopped because its disk stopped answering: a thread of this process may be
    parked in a write until the disk wakes, and the interpreter's own exit would wait for it (or
    crash when it wakes mid-shutdown). The caller then leaves with ``os._exit`` after its summary."""
    fault = getattr(recorder, "fault", None)
    return fault is not None and fault.kind == faults.STALLED


def leave_if_disk_stalled(recorder, code: int) -> None:
    """``os._exit(code)`` when :func:`disk_stalled`, after flushing the terminal."""
    if not disk_stalled(recorder):
        return
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
