"""A tegrastats log as timed samples, read in two streaming passes (memory does not grow with the log).

Where each line's time comes from, first match wins:

1. ``timestamps``: the ``--logfile`` form, ``MM-DD-YYYY HH:MM:SS`` before each line (JetPack 5
   on). Lines within one second share a stamp; they are spread evenly over it at the interval.
2. ``date lines``: a wrapper printed ``date`` between the lines; each date is the time of the
   next tegrastats line, the ones after it follow at ``--interval``, lines before the first date
   are counted back from it.
3. ``interval``: plain lines at ``--interval`` (tegrastats' default 1000 ms) from ``--start``,
   or, without it, ending at the file's modification time (and the result says so).

Pass 1 classifies lines cheaply (and finds the date anchors and the lines per stamped second);
pass 2 parses each tegrastats line with :func:`edgemon.telemetry.tegrastats.parse_line_ex` and
yields ``(t_ns, values)``. Times never go backwards: a line stamped earlier than the one before
it (a clock step) is placed one interval after it and counted in ``notes``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edgemon.errors import UserError
from edgemon.importers.timebase import (
    LineProblems,
    iso,
    parse_datetime,
    tegrastats_stamp,
)
from edgemon.telemetry.tegrastats import parse_line_ex

DEFAULT_INTERVAL_MS = 1000.0
_LOOKS_LIKE = re.compile(r"\bRAM \d+/\d+")     # every tegrastats line reports RAM
_MAX_LINE = 1 << 16


@dataclass
class LogShape:
    """What pass 1 found."""

    lines: int = 0
    tegrastats_lines: int = 0
    stamped_lines: int = 0
    anchors: list[tuple[int, int]] = field(default_factory=list)   # (tegrastats index, unix ns) of date lines
    per_second: Counter = field(default_factory=Counter)          # lines per stamped second -> how often
    size_bytes: int = 0


@dataclass
class TegrastatsImport:
    """How a log was read: the time base, what could not be used, what to tell the user."""

    path: Path
    interval_ns: int
    time_from: str
    start_ns: int | None = None
    shape: LogShape = field(default_factory=LogShape)
    unparsed: LineProblems = field(default_factory=LineProblems)
    samples: int = 0
    skipped_tokens: int = 0
    backwards: LineProblems = field(default_factory=LineProblems)   # lines stamped earlier than the one before
    notes: list[str] = field(default_factory=list)
    first_values: list[dict[str, float]] = field(default_factory=list)   # for the board guess
    first_line: str = ""

    def to_meta(self) -> dict:
        out = {"source": "tegrastats", "file": str(self.path.resolve()), "lines": self.shape.lines,
               "tegrastats_lines": self.shape.tegrastats_lines, "samples": self.samples,
               "time_from": self.time_from, "interval_ms": self.interval_ns / 1e6,
               "unparsed": self.unparsed.to_dict(), "notes": list(self.notes)}
        if self.skipped_tokens:
            out["skipped_tokens"] = self.skipped_tokens
        if self.backwards.count:
            out["time_went_backwards"] = self.backwards.to_dict()
        return out


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            yield number, raw[:_MAX_LINE].decode("utf-8", "replace").rstrip("\r\n")


def _is_date_line(line: str) -> int | None:
    return parse_datetime(line) if line.strip() else None


def scan(path: Path) -> LogShape:
    """Pass 1: count, classify, find the date anchors and how many lines share a stamped second."""
    shape = LogShape()
    try:
        shape.size_bytes = path.stat().st_size
    except OSError:
        pass
    last_stamp, run = None, 0
    for _number, line in _lines(path):
        shape.lines += 1
        if _LOOKS_LIKE.search(line):
            stamp, _ = tegrastats_stamp(line)
            if stamp is not None:
                shape.stamped_lines += 1
                if stamp == last_stamp:
                    run += 1
                else:
                    if run:
                        shape.per_second[run] += 1
                    last_stamp, run = stamp, 1
            shape.tegrastats_lines += 1
            continue
        date = _is_date_line(line)
        if date is not None:
            shape.anchors.append((shape.tegrastats_lines, date))
    if run:
        shape.per_second[run] += 1
    return shape


def plan(path: Path, *, interval_ms: float | None = None, start: int | None = None) -> TegrastatsImport:
    """Pass 1 and the time base; UserError for a file that is empty or has no tegrastats line."""
    try:
        if path.is_dir():
            raise UserError(f"{path} is a folder; give the tegrastats log file")
        shape = scan(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if shape.lines == 0:
        raise UserError(f"{path} is empty: nothing to import")
    if shape.tegrastats_lines == 0:
        raise UserError(f"{path} has no tegrastats line ({shape.lines} lines, none with 'RAM used/totalMB'); "
                        "is it a tegrastats log?")
    if interval_ms is not None and not 0.1 <= interval_ms <= 3_600_000:
        raise UserError(f"--interval must be between 0.1 and 3600000 ms, got {interval_ms:g}")
    notes: list[str] = []
    if shape.stamped_lines:
        time_from = "timestamps"
        if interval_ms is None:
            busiest = max(shape.per_second, key=lambda k: (shape.per_second[k], k)) if shape.per_second else 1
            interval_ms = 1000.0 / busiest
            notes.append(f"interval {interval_ms:g} ms from the timestamps ({busiest} lines per second)")
        if start is not None:
            notes.append("--start ignored: the log has its own timestamps")
        if shape.stamped_lines < shape.tegrastats_lines:
            notes.append(f"{shape.tegrastats_lines - shape.stamped_lines} tegrastats lines without a timestamp "
                         "follow the one before at the interval")
        start = None
    elif shape.anchors:
        time_from = "date lines"
        if interval_ms is None:
            interval_ms = DEFAULT_INTERVAL_MS
            notes.append("no --interval: tegrastats' default 1000 ms between lines assumed")
        if start is not None:
            notes.append("--start ignored: the log's date lines give the time")
            start = None
    else:
        time_from = "interval"
        if interval_ms is None:
            interval_ms = DEFAULT_INTERVAL_MS
            notes.append("no --interval: tegrastats' default 1000 ms between lines assumed")
        if start is None:
            end = int(os.stat(path).st_mtime * 1e9)
            start = end - int((shape.tegrastats_lines - 1) * interval_ms * 1e6)
            notes.append(f"no --start: the log is taken to end when the file was last modified, so it starts "
                         f"{iso(start)}; give --start for the real time")
    return TegrastatsImport(path=path, interval_ns=int(round(interval_ms * 1e6)), time_from=time_from,
                            start_ns=start, shape=shape, notes=notes)


def samples(job: TegrastatsImport, *, board_lines: int = 50) -> Iterator[tuple[int, dict[str, float]]]:
    """Pass 2: ``(unix ns, values)`` per tegrastats line, in time order. Fills ``job``'s counters."""
    interval = job.interval_ns
    anchors = list(job.shape.anchors)
    group: list[tuple[int, int, dict]] = []   # lines sharing one stamped second: (number, stamp, values)
    last_t: int | None = None
    index = -1                                  # tegrastats line index (the pass-1 count)

    def place(number: int, t: int) -> int:
        nonlocal last_t
        if last_t is not None and t <= last_t:
            if t < last_t:
                job.backwards.add(number)
            t = last_t + (interval if t < last_t else 1)
        last_t = t
        return t

    def flush_group() -> Iterator[tuple[int, dict]]:
        step = min(interval, 1_000_000_000 // max(1, len(group)))
        for k, (number, stamp, values) in enumerate(group):
            yield place(number, stamp + k * step), values
        group.clear()

    for number, line in _lines(job.path):
        if not _LOOKS_LIKE.search(line):
            if line.strip() and _is_date_line(line) is None:
                job.unparsed.add(number)
            continue
        index += 1
        stamp, cut = tegrastats_stamp(line)
        result = parse_line_ex(line[cut:])
        values = result.values
        job.skipped_tokens += len(result.skipped)
        if "ram_used_mb" not in values:
            job.unparsed.add(number)
            continue
        if len(job.first_values) < board_lines:
            job.first_values.append(values)
            if not job.first_line:
                job.first_line = line[cut:]
        job.samples += 1
        if job.time_from == "timestamps":
            if stamp is None:           # an unstamped line in a stamped log: one interval after the last
                yield from flush_group()
                if last_t is None:      # nothing before it to count from
                    job.unparsed.add(number)
                    job.samples -= 1
                    continue
                yield place(number, last_t + interval), values
                continue
            if group and group[0][1] != stamp:
                yield from flush_group()
            group.append((number, stamp, values))
            continue
        if job.time_from == "date lines":
            while len(anchors) > 1 and anchors[1][0] <= index:
                anchors.pop(0)
            at, t0 = anchors[0]
            yield place(number, t0 + (index - at) * interval), values
        else:
            yield place(number, (job.start_ns or 0) + index * interval), values
    yield from flush_group()
