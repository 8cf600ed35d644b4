"""A latency log (CSV) joined to an imported recording: one row per iteration.

Columns are named by options: the time (``--latency-time``, default ``time``: ISO date-time,
``date`` output or Unix seconds; when the iteration ended, or started with
``--latency-time-is start``), the duration (``--latency-duration``, default ``duration_ms``, in
``--latency-unit``: ms, us, s or ns) and optionally the items (``--latency-items``). The rows
become the recording's latency stream, sorted by their end; rows outside the telemetry's time
span are kept and counted.
"""

from __future__ import annotations

import csv
import math
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgemon.errors import UserError
from edgemon.importers.csvfile import Rows, header, open_csv
from edgemon.importers.timebase import LineProblems, parse_datetime

UNITS_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


@dataclass
class LatencyColumns:
    time: str = "time"
    duration: str = "duration_ms"
    unit: str = "ms"
    items: str | None = None
    time_is: str = "end"          # end | start


@dataclass
class LatencyImport:
    path: Path
    columns: LatencyColumns
    rows: int = 0
    t_end: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    duration: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    items: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    unparsed: LineProblems = field(default_factory=lambda: LineProblems(what="rows"))
    outside: int = 0

    def to_meta(self) -> dict:
        c = self.columns
        out = {"file": str(self.path.resolve()), "rows": self.rows, "iterations": int(self.t_end.shape[0]),
               "columns": {"time": c.time, "duration": c.duration, "unit": c.unit, "items": c.items,
                           "time_is": c.time_is},
               "unparsed": self.unparsed.to_dict()}
        if self.outside:
            out["outside_telemetry"] = self.outside
        return out


def read_latency(path: Path, columns: LatencyColumns) -> LatencyImport:
    """All rows (a latency log is one row per iteration: int64 arrays, 20 bytes a row)."""
    if columns.unit not in UNITS_NS:
        raise UserError(f"--latency-unit must be one of {', '.join(UNITS_NS)}, got {columns.unit!r}")
    job = LatencyImport(path, columns)
    scale = UNITS_NS[columns.unit]
    t_end, dur, items = array("q"), array("q"), array("i")     # 20 bytes a row, not a Python object
    with open_csv(path, "latency CSV") as f:
        reader = csv.reader(f)
        cols = header(path, reader)
        wanted = [("--latency-time", columns.time), ("--latency-duration", columns.duration)]
        if columns.items:
            wanted.append(("--latency-items", columns.items))
        for option, name in wanted:
            if name not in cols:
                raise UserError(f"{path} has no column {name!r} (columns: {', '.join(cols[:12]) or 'none'}); "
                                f"name it with {option}")
        i_t, i_d = cols.index(columns.time), cols.index(columns.duration)
        i_n = cols.index(columns.items) if columns.items else None
        rows = Rows(reader, job.unparsed)
        for number, row in rows:
            parsed = _row(row, i_t, i_d, i_n, scale, columns.time_is == "start")
            if parsed is None:
                job.unparsed.add(number)
                continue
            t_end.append(parsed[0])
            dur.append(parsed[1])
            items.append(parsed[2])
        job.rows = rows.count
    if not t_end:
        raise UserError(f"{path}: no usable latency row ({job.rows} rows; "
                        f"{job.unparsed.count} unreadable: lines {job.unparsed.ranges() or '-'})")
    ends = np.frombuffer(t_end, dtype=np.int64)
    order = np.argsort(ends, kind="stable")
    job.t_end = ends[order]
    job.duration = np.frombuffer(dur, dtype=np.int64)[order]
    job.items = np.frombuffer(items, dtype=np.int32)[order]
    return job


def _row(row: list[str], i_t: int, i_d: int, i_n: int | None, scale: float, at_start: bool):
    if max(i_t, i_d, i_n or 0) >= len(row):
        return None
    t = parse_datetime(row[i_t])
    try:
        d = float(row[i_d]) * scale
        n = int(row[i_n]) if i_n is not None else 1
    except (TypeError, ValueError, OverflowError):
        return None
    if t is None or not math.isfinite(d) or d < 0 or d >= 2 ** 62 or not 0 < n < 2 ** 31:
        return None
    d_ns = int(round(d))
    return (t + d_ns if at_start else t), d_ns, n
