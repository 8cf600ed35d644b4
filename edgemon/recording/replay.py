"""Replay a recording through the same :class:`Feed` seam the live dashboard uses.

A playhead in recording time (``t_ns`` on the recording's monotonic clock) advances by
wall time x speed while playing. ``drain()`` returns the rows whose time falls in
``(previous playhead, playhead]``.

After anything that jumps the playhead (seek, next/prev event, the first drain, or an
advance longer than the history window, e.g. a consumer that stalled at 1000x) ``drain()``
returns ``reset=True`` plus enough history to refill a dashboard:

* telemetry samples with ``t_ns`` in ``(playhead - history_s, playhead]``;
* latency rows with ``t_end_ns`` in ``(playhead - history_s, playhead]``;
* events from the start of the recording up to the playhead (the last ``max_reset_events``).

``history_s`` defaults to 120 s. Whole tables are held in memory as numpy arrays and
sliced with ``np.searchsorted``, so a seek costs O(log n) plus the rows it returns.

Commands: play, pause, toggle, seek(delta_s=+-N) | seek(to="start"|"end"),
speed(factor=N) (clamped to 1..1000), next_event, prev_event. Playing stops at the end;
``play`` at the end starts over from the beginning.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import numpy as np

from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.units import format_duration
from edgemon.view.feed import Feed, FeedStatus, FeedUpdate

MIN_SPEED = 1.0
MAX_SPEED = 1000.0


class ReplayFeed(Feed):
    is_replay = True

    def __init__(
        self,
        recording,
        *,
        speed: float = 1.0,
        playing: bool = True,
        history_s: float = 120.0,
        max_reset_events: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ):
        """``recording``: a :class:`edgemon.recording.reader.Recording`. ``clock``: wall seconds (tests)."""
        self.recording = recording
        self.meta = dict(recording.meta)
        self.history_ns = int(history_s * 1e9)
        self.max_reset_events = int(max_reset_events)
        self._clock = clock
        self._load(recording)
        self._speed = _clamp_speed(speed)
        self._playing = bool(playing) and self.end_ns > self.start_ns
        self._pos = self.start_ns
        self._prev = self.start_ns
        self._reset = True          # first drain fills the screen
        self._last_wall = clock()

    # ----------------------------------------------------------------- loading

    def _load(self, rec) -> None:
        tel = rec.telemetry()
        self._tel_t = _int_array(tel.column("t_ns"))
        self._tel_names = [c for c in tel.column_names if c != "t_ns"]
        if self._tel_names:
            self._tel_v = np.column_stack(
                [_float_array(tel.column(c)) for c in self._tel_names]
            ).astype(np.float64, copy=False)
        else:
            self._tel_v = np.empty((len(self._tel_t), 0), dtype=np.float64)
        lat = rec.latency()
        self._lat_t = _int_array(lat.column("t_end_ns"))
        self._lat_d = _int_array(lat.column("duration_ns"))
        self._lat_i = lat.column("items").to_numpy().astype(np.int32, copy=False)
        self._lat_w = lat.column("warmup").to_numpy(zero_copy_only=False).astype(bool, copy=False)
        ev = rec.events()
        self._ev_t = _int_array(ev.column("t_ns"))
        self._ev_kind = ev.column("kind").to_pylist()
        self._ev_details = ev.column("details").to_pylist()
        self.start_ns = int(rec.start_ns)
        ends = [self.start_ns, int(rec.end_ns)]
        ends += [int(a[-1]) for a in (self._tel_t, self._lat_t, self._ev_t) if len(a)]
        self.end_ns = max(ends)
        firsts = [int(a[0]) for a in (self._tel_t, self._lat_t, self._ev_t) if len(a)]
        if firsts:  # rows before the clock anchor (should not happen) still get played
            self.start_ns = min([self.start_ns] + firsts)

    # ----------------------------------------------------------------- Feed

    def drain(self) -> FeedUpdate:
        self._advance()
        pos = self._pos
        if self._reset or pos - self._prev > self.history_ns or pos < self._prev:
            self._reset = False
            lo = pos - self.history_ns
            ev_lo = self._ev_t[0] - 1 if len(self._ev_t) else lo
            update = FeedUpdate(
                samples=self._samples(lo, pos),
                latency=self._latency(lo, pos),
                events=self._events(ev_lo, pos)[-self.max_reset_events:] if self.max_reset_events else [],
                reset=True,
            )
        else:
            lo = self._prev
            update = FeedUpdate(
                samples=self._samples(lo, pos), latency=self._latency(lo, pos), events=self._events(lo, pos)
            )
        self._prev = pos
        return update

    def status(self) -> FeedStatus:
        self._advance()
        position = (self._pos - self.start_ns) / 1e9
        length = self.length_s
        if self._pos >= self.end_ns and not self._playing:
            message = "end of recording"
        else:
            message = f"{'playing' if self._playing else 'paused'} {self._speed:g}x"
        return FeedStatus(
            state="replay",
            elapsed_s=position,
            remaining_s=max(0.0, length - position),
            t_ns=self._pos,
            playing=self._playing,
            speed=self._speed,
            position_s=position,
            length_s=length,
            message=message,
        )

    def command(self, name: str, **kw: Any) -> str | None:
        self._advance()
        if name == "play":
            if self._pos >= self.end_ns:
                self._jump(self.start_ns)
            self._playing = self.end_ns > self.start_ns
            return f"playing at {self._speed:g}x"
        if name == "pause":
            self._playing = False
            return f"paused at {self._where()}"
        if name == "toggle":
            return self.command("pause" if self._playing else "play")
        if name == "seek":
            return self._seek(**kw)
        if name == "speed":
            try:
                factor = float(kw.get("factor", 1.0))
            except (TypeError, ValueError):
                return f"speed: factor must be a number between {MIN_SPEED:g} and {MAX_SPEED:g}"
            self._speed = _clamp_speed(factor)
            return f"speed {self._speed:g}x"
        if name == "next_event":
            i = int(np.searchsorted(self._ev_t, self._pos, side="right"))
            if i >= len(self._ev_t):
                return "no later event"
            self._jump(int(self._ev_t[i]))
            return f"{self._ev_kind[i]} at {self._where()}"
        if name == "prev_event":
            i = int(np.searchsorted(self._ev_t, self._pos, side="left")) - 1
            if i < 0:
                return "no earlier event"
            self._jump(int(self._ev_t[i]))
            return f"{self._ev_kind[i]} at {self._where()}"
        return f"{name}: not available in replay"

    def reload(self) -> None:
        """Re-read a recording that is still growing (attach); the playhead stays where it is."""
        self.recording.refresh()
        self._load(self.recording)
        self.meta = dict(self.recording.meta)

    # ----------------------------------------------------------------- playhead

    @property
    def length_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def position_ns(self) -> int:
        return self._pos

    def _advance(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last_wall)
        self._last_wall = now
        if not self._playing:
            return
        self._pos = min(self.end_ns, self._pos + int(elapsed * self._speed * 1e9))
        if self._pos >= self.end_ns:
            self._playing = False

    def _jump(self, t_ns: int) -> None:
        self._pos = min(self.end_ns, max(self.start_ns, int(t_ns)))
        self._reset = True

    def _seek(self, delta_s: Any = None, to: Any = None, **_: Any) -> str:
        if to is not None:
            if to == "start":
                self._jump(self.start_ns)
            elif to == "end":
                self._jump(self.end_ns)
            else:
                try:  # also a position in seconds from the start
                    self._jump(self.start_ns + int(float(to) * 1e9))
                except (TypeError, ValueError):
                    return 'seek: to must be "start", "end" or seconds from the start'
        elif delta_s is not None:
            try:
                self._jump(self._pos + int(float(delta_s) * 1e9))
            except (TypeError, ValueError):
                return "seek: delta_s must be a number of seconds"
        else:
            return 'seek: give delta_s=+-N or to="start"|"end"'
        if self._pos >= self.end_ns:
            self._playing = False
        return f"at {self._where()}"

    def _where(self) -> str:
        return f"{format_duration((self._pos - self.start_ns) / 1e9)} / {format_duration(self.length_s)}"

    # ----------------------------------------------------------------- slicing: rows with lo < t <= hi

    def _samples(self, lo: int, hi: int) -> list[Sample]:
        a, b = _span(self._tel_t, lo, hi)
        names = self._tel_names
        out = []
        for t, row in zip(self._tel_t[a:b].tolist(), self._tel_v[a:b].tolist()):
            out.append(Sample(t, {n: v for n, v in zip(names, row) if v == v}))  # v == v: not NaN
        return out

    def _latency(self, lo: int, hi: int) -> list[LatencyBatch]:
        a, b = _span(self._lat_t, lo, hi)
        if a >= b:
            return []
        warm = self._lat_w[a:b]
        # A LatencyBatch is all warm-up or all measured: split where the flag changes.
        cuts = [a] + (np.flatnonzero(warm[1:] != warm[:-1]) + 1 + a).tolist() + [b]
        return [
            LatencyBatch(
                self._lat_t[s:e].copy(), self._lat_d[s:e].copy(), self._lat_i[s:e].copy(), bool(self._lat_w[s])
            )
            for s, e in zip(cuts[:-1], cuts[1:])
        ]

    def _events(self, lo: int, hi: int) -> list[Event]:
        a, b = _span(self._ev_t, lo, hi)
        return [Event(int(self._ev_t[i]), self._ev_kind[i], _details(self._ev_details[i])) for i in range(a, b)]


def _span(t: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    return int(np.searchsorted(t, lo, side="right")), int(np.searchsorted(t, hi, side="right"))


def _clamp_speed(x: float) -> float:
    return float(min(MAX_SPEED, max(MIN_SPEED, x)))


def _int_array(col) -> np.ndarray:
    return np.asarray(col.to_numpy(), dtype=np.int64)


def _float_array(col) -> np.ndarray:
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)  # nulls -> NaN


def _details(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        d = json.loads(text)
    except ValueError:
        return {"raw": text}
    return d if isinstance(d, dict) else {"value": d}
