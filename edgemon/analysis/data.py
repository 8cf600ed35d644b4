"""A recording as numpy arrays, loaded once and shared by every analysis.

Times stay int64 nanoseconds on the recording's monotonic clock; ``rel_s`` turns them
into seconds from the session start (the clock anchor) for output. Telemetry columns
are converted on first use (nulls -> NaN), so a 40-metric, 3-hour session costs only
the columns an analysis asks for.
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
    lat_t_end: np.ndarray                   # int64, ascending (all rows, warm-up included)
    lat_dur: np.ndarray                     # int64
    lat_items: np.ndarray                   # int32
    lat_warm: np.ndarray                    # bool
    events: list[EventRow]
    problems: list[str] = field(default_factory=list)
    _tel_table: Any = None
    _cols: dict[str, np.ndarray] = field(default_factory=dict)
    _measured: dict[str, np.ndarray] | None = None
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

    # ------------------------------------------------------------- latency

    @property
    def first_start_ns(self) -> int | None:
        """Start of the earliest iteration, warm-up included (None without iterations)."""
        if "first_start" not in self._cache:
            self._cache["first_start"] = min_start(self.lat_t_end, self.lat_dur)
        return self._cache["first_start"]

    @property
    def measured_start_ns(self) -> int | None:
        """Start of the earliest measured iteration: where throughput, windows and energy begin."""
        if "measured_start" not in self._cache:
            m = self.measured()
            self._cache["measured_start"] = min_start(m["t_end"], m["dur"])
        return self._cache["measured_start"]

    def train_mask(self) -> np.ndarray:
        """Rows timed during a training phase (a ``phase`` event named "train" up to the next
        ``phase`` event): training steps are not inferences and stay out of the latency set."""
        if "train_mask" not in self._cache:
            mask = np.zeros(self.lat_t_end.shape[0], dtype=bool)
            phases = sorted((e.t_ns, str(e.details.get("name", ""))) for e in self.events if e.kind == "phase")
            for i, (t0, name) in enumerate(phases):
                if name != "train":
                    continue
                t1 = phases[i + 1][0] if i + 1 < len(phases) else np.iinfo(np.int64).max
                lo, hi = np.searchsorted(self.lat_t_end, [t0, t1])
                mask[lo:hi] = True
            self._cache["train_mask"] = mask
        return self._cache["train_mask"]

    def measured(self) -> dict[str, np.ndarray]:
        """Non-warm-up inference rows: t_end, dur (int64 ns), items (int32; sum with dtype=np.int64)."""
        if self._measured is None:
            m = ~self.lat_warm
            train = self.train_mask()
            if train.any():
                m &= ~train
            if m.all():
                self._measured = {"t_end": self.lat_t_end, "dur": self.lat_dur,
                                  "items": self.lat_items}
            else:
                self._measured = {"t_end": self.lat_t_end[m], "dur": self.lat_dur[m],
                                  "items": self.lat_items[m]}
        return self._measured

    @property
    def end_ns(self) -> int:
        lasts = [self.start_ns]
        if self.tel_t.shape[0]:
            lasts.append(int(self.tel_t[-1]))
        if self.lat_t_end.shape[0]:
            lasts.append(int(self.lat_t_end[-1]))
        if self.events:
            lasts.append(self.events[-1].t_ns)
        return max(lasts)

    def rel_s(self, t_ns: float) -> float:
        return (float(t_ns) - self.start_ns) / 1e9

    def events_of(self, *kinds: str) -> list[EventRow]:
        return [e for e in self.events if e.kind in kinds]


def min_start(t_end: np.ndarray, dur: np.ndarray, chunk: int = 1 << 20) -> int | None:
    """``min(t_end - dur)`` a million rows at a time (no ten-million-row temporary)."""
    best = None
    for a in range(0, int(t_end.shape[0]), chunk):
        v = int(np.min(t_end[a:a + chunk] - dur[a:a + chunk]))
        best = v if best is None or v < best else best
    return best


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
    lat = recording.latency()
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
        lat_t_end=_ints(lat, "t_end_ns", np.int64),
        lat_dur=_ints(lat, "duration_ns", np.int64),
        lat_items=_ints(lat, "items", np.int32),
        lat_warm=_ints(lat, "warmup", bool),
        events=events,
        problems=problems,
        _tel_table=tel,
    )
