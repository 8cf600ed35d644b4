"""A recording's telemetry and events as numpy arrays, and its latency as an index of pieces.

Times stay int64 nanoseconds on the recording's monotonic clock; ``rel_s`` turns them
into seconds from the session start (the clock anchor) for output. Telemetry columns
are converted on first use (nulls -> NaN), so a 40-metric, 3-hour session costs only
the columns an analysis asks for. The latency rows (170 million in a 3-hour session at
16,000/s) are never loaded: ``latency`` is a :class:`edgemon.recording.chunks.LatencyChunks`
that :mod:`edgemon.analysis.scan` streams.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class EventRow:
    t_ns: int
    kind: str
    details: dict[str, Any]


@dataclass
class SessionData:
    path: str
    meta: dict[str, Any]
    start_ns: int
    tel_t: np.ndarray                       # int64, ascending
    tel_names: list[str]
    latency: Any                            # edgemon.recording.chunks.LatencyChunks
    events: list[EventRow]
    problems: list[str] = field(default_factory=list)
    live: bool = False
    scan: Any = None                        # the LatencyScan once analyze() made it
    _tel_table: Any = None
    _cols: dict[str, np.ndarray] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------- telemetry

    def has(self, name: str) -> bool:
        return name in self._cols or name in self.tel_names

    def metric(self, name: str) -> np.ndarray:
        """float64 values of one telemetry column (NaN where the sample lacks it)."""
        col = self._cols.get(name)
        if col is None:
            if name not in self.tel_names:
                return np.full(self.tel_t.shape[0], np.nan)
            raw = self._tel_table.column(name).to_numpy(zero_copy_only=False)
            col = np.asarray(raw, dtype=np.float64)
            self._cols[name] = col
        return col

    @property
    def sample_dt_s(self) -> float:
        """Median sampling period in seconds (0.1 when there are fewer than two samples)."""
        if self.tel_t.shape[0] < 2:
            return 0.1
        return float(np.median(np.diff(self.tel_t))) / 1e9 or 0.1

    # ------------------------------------------------------------- time

    @property
    def end_ns(self) -> int:
        lasts = [self.start_ns]
        if self.tel_t.shape[0]:
            lasts.append(int(self.tel_t[-1]))
        t_max = self.latency.t_max
        if t_max is not None:
            lasts.append(int(t_max))
        if self.events:
            lasts.append(self.events[-1].t_ns)
        return max(lasts)

    def rel_s(self, t_ns: float) -> float:
        return (float(t_ns) - self.start_ns) / 1e9

    def events_of(self, *kinds: str) -> list[EventRow]:
        return [e for e in self.events if e.kind in kinds]


def _ints(table, name: str, dtype) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=dtype)


def _details(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        d = json.loads(text)
    except ValueError:
        return {"raw": text}
    return d if isinstance(d, dict) else {"value": d}


def load(recording) -> SessionData:
    """Arrays of an ``edgemon.recording.reader.Recording`` (reading it fills ``problems``)."""
    tel = recording.telemetry()
    lat = recording.latency_chunks()
    ev = recording.events()
    problems = list(getattr(recording, "problems", []))
    events = [
        EventRow(int(t), str(k), _details(d))
        for t, k, d in zip(ev.column("t_ns").to_pylist(), ev.column("kind").to_pylist(),
                           ev.column("details").to_pylist())
    ]
    try:
        start_ns = int(recording.start_ns)
    except Exception:  # noqa: BLE001 - a recording without anchor or rows starts at 0
        start_ns = 0
    return SessionData(
        path=str(recording.path),
        meta=dict(recording.meta),
        start_ns=start_ns,
        tel_t=_ints(tel, "t_ns", np.int64),
        tel_names=[c for c in tel.column_names if c != "t_ns"],
        latency=lat,
        events=events,
        problems=problems,
        live=bool(getattr(recording, "is_live", False)),
        _tel_table=tel,
    )
