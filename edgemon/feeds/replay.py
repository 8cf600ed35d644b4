"""Replay a recording through the same :class:`Feed` seam the live dashboard uses.

A playhead in recording time (``t_ns`` on the recording's monotonic clock) advances by
wall time x speed while playing. ``drain()`` returns the rows whose time falls in
``(previous playhead, playhead]``.

After anything that jumps the playhead (seek, next/prev event or episode, the first drain,
an advance longer than the history window, e.g. a consumer that stalled at 1000x, or the
latency rows arriving from the background load) ``drain()`` returns ``reset=True`` plus
enough history to refill a dashboard:

* telemetry samples with ``t_ns`` in ``(playhead - history_s, playhead]``;
* latency rows with ``t_end_ns`` in ``(playhead - history_s, playhead]``;
* events from the start of the recording up to the playhead (the last ``max_reset_events``).

``history_s`` defaults to 120 s. Tables are held as numpy arrays and sliced with
``np.searchsorted``, so a seek costs O(log n) plus the rows it returns. Latency columns
stay in the chunks Arrow read them in (zero-copy views, one per Parquet row group):
a 3-hour session has ten million rows, and one more copy of them is a second or more.

Opening is fast whatever the length: telemetry and events (small) are read at once,
the latency table of a large recording (``background``) is read on a background
thread while the dashboard already shows the start. Then, on the same thread, the
recording is analysed once (:func:`edgemon.analysis.summary.analyze`): its throttling
episodes and events make the :meth:`timeline`, and ``analysis()`` gives the whole result.

Commands: play, pause, toggle, seek(delta_s=+-N) | seek(to="start"|"end"|seconds),
speed(factor=N) (clamped to 1..1000), next_event, prev_event, next_episode, prev_episode.
Playing stops at the end; ``play`` at the end starts over from the beginning.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.feeds import commands as cmds
from edgemon.feeds.base import Capabilities, Feed, FeedStatus, FeedUpdate
from edgemon.units import format_duration
from edgemon.view.timeline import Timeline, episodes_from_throttling, marks_from_events

if TYPE_CHECKING:
    from edgemon.analysis.result import AnalysisResult

MIN_SPEED = 1.0
MAX_SPEED = 1000.0
# Latency files larger than this on disk (about a million rows) are read in the background.
BACKGROUND_LOAD_BYTES = 8 << 20
ANALYSIS_NICE = 10           # the analysis thread yields the CPU to the dashboard


class ReplayFeed(Feed):
    capabilities = Capabilities(replay=True, timeline=True, analysis=True)

    def __init__(
        self,
        recording,
        *,
        speed: float = 1.0,
        playing: bool = True,
        history_s: float = 120.0,
        max_reset_events: int = 500,
        clock: Callable[[], float] = time.monotonic,
        background: bool | None = None,
        analyze: bool = True,
    ):
        """``recording``: a :class:`edgemon.recording.reader.Recording`. ``clock``: wall seconds (tests).

        ``background``: read the latency table on a background thread (None: when its files
        are larger than :data:`BACKGROUND_LOAD_BYTES`). ``analyze``: analyse the recording on a
        background thread for the timeline and ``analysis()``.
        """
        self.recording = recording
        self.meta = dict(recording.meta)
        self.history_ns = int(history_s * 1e9)
        self.max_reset_events = int(max_reset_events)
        self._clock = clock
        self._lock = threading.Lock()
        self._generation = 0
        self._background = background
        self._analyze = analyze
        self._thread: threading.Thread | None = None
        self._closed = False
        start_loader = self._load(recording)
        self._speed = _clamp_speed(speed)
        self._playing = bool(playing) and self.end_ns > self.start_ns
        self._pos = self.start_ns
        self._prev = self.start_ns
        self._reset = True          # first drain fills the screen
        self._last_wall = clock()
        if start_loader:
            start_loader()

    # ----------------------------------------------------------------- loading

    def _load(self, rec) -> Callable[[], None] | None:
        """Telemetry and events now; latency now or later. Returns what starts the loader
        thread (the latency table if it is large, then the analysis), or None."""
        tel = rec.telemetry()
        self._tel_t = _int_array(tel.column("t_ns"))
        self._tel_names = [c for c in tel.column_names if c != "t_ns"]
        self._tel_cols = [_float_array(tel.column(c)) for c in self._tel_names]
        ev = rec.events()
        self._ev_t = _int_array(ev.column("t_ns"))
        self._ev_kind = ev.column("kind").to_pylist()
        self._ev_details = ev.column("details").to_pylist()
        self._lat = _Latency.empty()
        self._lat_loaded = False
        self._analysis: AnalysisResult | None = None
        self._analysis_origin_ns: int | None = None
        self._analysis_state = "waiting"
        self._analysis_error = ""
        self._timeline: Timeline | None = None
        self._marks = None
        self._set_span(rec)
        self._generation += 1
        generation = self._generation
        background = self._background
        if background is None:
            background = _latency_bytes(rec) > BACKGROUND_LOAD_BYTES
        if not background:
            self._publish_latency(generation, _Latency.from_table(rec.latency()))
        if not self._analyze:
            self._analysis_state = "off"
        if not (background or self._analyze):
            return None
        self._thread = threading.Thread(target=self._load_rest, args=(rec, generation, background),
                                        name="edgemon-replay-load", daemon=True)
        return self._thread.start

    def _set_span(self, rec) -> None:
        anchor = (rec.meta.get("clock") or {}).get("monotonic_ns")
        firsts = [int(a[0]) for a in (self._tel_t, self._ev_t, self._lat.first_starts()) if len(a)]
        if isinstance(anchor, int):
            start = anchor
        else:
            start = min(firsts) if firsts else 0
        if firsts:  # rows before the clock anchor (should not happen) still get played
            start = min([start] + firsts)
        ends = [start] + [int(a[-1]) for a in (self._tel_t, self._ev_t) if len(a)]
        if self._lat.n:
            ends.append(self._lat.last())
        ended = rec.meta.get("ended_monotonic_ns")
        if isinstance(ended, int) and not rec.is_live:
            ends.append(ended)
        self.start_ns = int(start)
        self.end_ns = int(max(ends))

    def _publish_latency(self, generation: int, lat: "_Latency") -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._lat = lat
            self._lat_loaded = True
            self._set_span(self.recording)
            self._marks, self._timeline = None, None     # relative to start_ns, which may have moved
            self._reset = True      # refill the screen, now with latency

    def _load_rest(self, rec, generation: int, load_latency: bool) -> None:
        """Loader thread: the latency table (if asked), then the analysis."""
        if load_latency:
            try:
                lat = _Latency.from_table(rec.latency())
            except Exception as exc:  # noqa: BLE001 - the replay goes on without latency
                with self._lock:
                    if generation == self._generation:
                        self._lat_loaded = True
                        self._analysis_state = "failed"
                        self._analysis_error = f"latency not readable ({type(exc).__name__}: {exc})"
                return
            self._publish_latency(generation, lat)
        if not self._analyze or self._closed:
            return
        _lower_thread_priority()
        with self._lock:
            if generation != self._generation:
                return
            self._analysis_state = "running"
        try:
            from edgemon.analysis import data as _data
            from edgemon.analysis.result import analyze_result

            data = _data.load(rec)
            result = analyze_result(rec, data=data)
            origin = int(data.start_ns)
            del data
            state, error = "ready", ""
        except Exception as exc:  # noqa: BLE001 - replay works without the analysis
            result, origin = None, None
            state, error = "failed", f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        with self._lock:
            if generation != self._generation:
                return
            self._analysis, self._analysis_origin_ns = result, origin
            self._analysis_state, self._analysis_error = state, error
            self._timeline = None

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Block until the latency table and the analysis are done (tests, benchmarks)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @property
    def latency_loaded(self) -> bool:
        return self._lat_loaded

    # ----------------------------------------------------------------- analysis (optional Feed extras)

    @property
    def analysis_state(self) -> str:
        """``waiting`` (latency still loading), ``running``, ``ready``, ``failed`` or ``off``."""
        return self._analysis_state

    @property
    def analysis_error(self) -> str:
        return self._analysis_error

    def analysis(self) -> AnalysisResult | None:
        """``edgemon.analysis.summary.analyze`` of the recording once it is ready, else None."""
        return self._analysis

    def timeline(self) -> Timeline:
        """The whole session: throttling episodes (once analysed) and event marks."""
        with self._lock:
            if self._timeline is not None:
                return self._timeline
            if self._marks is None:
                self._marks = tuple(marks_from_events(
                    ((int(t) - self.start_ns) / 1e9, k, _details(d))
                    for t, k, d in zip(self._ev_t.tolist(), self._ev_kind, self._ev_details)))
            length = self.length_s
            state, note, episodes = "analysing", "", ()
            if self._analysis_state == "ready" and self._analysis is not None:
                throttling = self._analysis.throttling
                shift = ((self._analysis_origin_ns or self.start_ns) - self.start_ns) / 1e9
                episodes = tuple(replace(e, start_s=e.start_s + shift, end_s=e.end_s + shift)
                                 for e in episodes_from_throttling(throttling))
                if throttling is not None and throttling.available:
                    state = "ready"
                else:
                    reason = throttling.reason if throttling is not None else None
                    state, note = "unavailable", str(reason or "throttling not analysed")
            elif self._analysis_state in ("failed", "off"):
                state = "unavailable"
                note = self._analysis_error or "analysis off"
            timeline = Timeline(length, episodes, self._marks, state, note)
            if state != "analysing":
                self._timeline = timeline
            return timeline

    # ----------------------------------------------------------------- Feed

    def drain(self) -> FeedUpdate:
        self._advance()
        with self._lock:
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
        if not self._lat_loaded:
            message += ", loading latency"
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

    def command(self, cmd: cmds.AnyCommand, **kw: Any) -> str | None:
        cmd = cmds.as_command(cmd, kw)
        self._advance()
        if isinstance(cmd, cmds.Play):
            if self._pos >= self.end_ns:
                self._jump(self.start_ns)
            self._playing = self.end_ns > self.start_ns
            return f"playing at {self._speed:g}x"
        if isinstance(cmd, cmds.Pause):
            self._playing = False
            return f"paused at {self._where()}"
        if isinstance(cmd, cmds.Toggle):
            return self.command(cmds.Pause() if self._playing else cmds.Play())
        if isinstance(cmd, cmds.Seek):
            return self._seek(cmd.delta_s, cmd.to)
        if isinstance(cmd, cmds.Speed):
            try:
                factor = float(cmd.factor)
            except (TypeError, ValueError):
                return f"speed: factor must be a number between {MIN_SPEED:g} and {MAX_SPEED:g}"
            self._speed = _clamp_speed(factor)
            return f"speed {self._speed:g}x"
        if isinstance(cmd, cmds.NextEvent):
            i = int(np.searchsorted(self._ev_t, self._pos, side="right"))
            if i >= len(self._ev_t):
                return "no later event"
            self._jump(int(self._ev_t[i]))
            return f"{self._ev_kind[i]} at {self._where()}"
        if isinstance(cmd, cmds.PrevEvent):
            i = int(np.searchsorted(self._ev_t, self._pos, side="left")) - 1
            if i < 0:
                return "no earlier event"
            self._jump(int(self._ev_t[i]))
            return f"{self._ev_kind[i]} at {self._where()}"
        if isinstance(cmd, (cmds.NextEpisode, cmds.PrevEpisode)):
            return self._episode_jump(forward=isinstance(cmd, cmds.NextEpisode))
        return f"{cmds.wire_name(cmd)}: not available in replay"

    def _episode_jump(self, forward: bool) -> str:
        timeline = self.timeline()
        if timeline.state == "analysing":
            return "throttling episodes: still analysing the recording, try again in a moment"
        if timeline.state == "unavailable":
            return f"throttling episodes: {timeline.note}"
        position = (self._pos - self.start_ns) / 1e9
        episode = timeline.next_episode(position) if forward else timeline.prev_episode(position)
        if episode is None:
            if not timeline.episodes:
                return "no throttling episodes in this recording"
            return "no later throttling episode" if forward else "no earlier throttling episode"
        self._jump(self.start_ns + int(round(episode.start_s * 1e9)))
        n = timeline.episodes.index(episode) + 1
        return f"episode {n}/{len(timeline.episodes)} at {self._where()}: {episode.describe()}"

    def reload(self) -> None:
        """Re-read a recording that is still growing (attach); the playhead stays where it is."""
        self.recording.refresh()
        with self._lock:
            self._generation += 1       # a loader still running for the old tables publishes nothing
        start_loader = self._load(self.recording)
        self.meta = dict(self.recording.meta)
        self._reset = True
        if start_loader:
            start_loader()

    def close(self) -> None:
        """The loader thread is a daemon; it stops publishing and skips the analysis once closed."""
        self._closed = True
        with self._lock:
            self._generation += 1

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

    def _seek(self, delta_s: Any = None, to: Any = None) -> str:
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
        if a >= b:
            return []
        names = self._tel_names
        rows = zip(*[c[a:b].tolist() for c in self._tel_cols]) if names else ([] for _ in range(b - a))
        out = []
        for t, row in zip(self._tel_t[a:b].tolist(), rows):
            out.append(Sample(t, {n: v for n, v in zip(names, row) if v == v}))  # v == v: not NaN
        return out

    def _latency(self, lo: int, hi: int) -> list[LatencyBatch]:
        lat = self._lat
        a, b = lat.searchsorted(lo, "right"), lat.searchsorted(hi, "right")
        if a >= b:
            return []
        t, d, items, warm = lat.take(a, b)
        # A LatencyBatch is all warm-up or all measured: split where the flag changes.
        cuts = [0] + (np.flatnonzero(warm[1:] != warm[:-1]) + 1).tolist() + [b - a]
        return [LatencyBatch(t[s:e], d[s:e], items[s:e], bool(warm[s])) for s, e in zip(cuts[:-1], cuts[1:])]

    def _events(self, lo: int, hi: int) -> list[Event]:
        a, b = _span(self._ev_t, lo, hi)
        return [Event(int(self._ev_t[i]), self._ev_kind[i], _details(self._ev_details[i])) for i in range(a, b)]


class _Latency:
    """The latency table as per-chunk numpy arrays, searched and sliced as one sorted array.

    Integer columns without nulls are zero-copy views of Arrow's buffers; the warm-up
    flags (a bitmap in Arrow) are unpacked, one byte per row.
    """

    def __init__(self, chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]):
        self.t = [c[0] for c in chunks]
        self.d = [c[1] for c in chunks]
        self.i = [c[2] for c in chunks]
        self.w = [c[3] for c in chunks]
        sizes = [len(t) for t in self.t]
        self.offsets = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))).astype(np.int64)
        self.n = int(self.offsets[-1])
        self.lasts = np.array([t[-1] for t in self.t], dtype=np.int64)

    @classmethod
    def empty(cls) -> "_Latency":
        return cls([])

    @classmethod
    def from_table(cls, table) -> "_Latency":
        chunks = []
        for batch in table.select(["t_end_ns", "duration_ns", "items", "warmup"]).to_batches():
            if batch.num_rows == 0:
                continue
            t, d, items, warm = (batch.column(k) for k in range(4))
            chunks.append((
                np.asarray(t.to_numpy(zero_copy_only=False), dtype=np.int64),
                np.asarray(d.to_numpy(zero_copy_only=False), dtype=np.int64),
                np.asarray(items.to_numpy(zero_copy_only=False), dtype=np.int32),
                np.asarray(warm.to_numpy(zero_copy_only=False), dtype=bool),
            ))
        return cls(chunks)

    def searchsorted(self, value: int, side: str) -> int:
        """Like ``np.searchsorted`` on the concatenated (ascending) ``t_end_ns``."""
        k = int(np.searchsorted(self.lasts, value, side=side))
        if k >= len(self.t):
            return self.n
        return int(self.offsets[k]) + int(np.searchsorted(self.t[k], value, side=side))

    def take(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows ``a:b`` as fresh arrays (t, duration, items, warm-up)."""
        if a >= b:
            return (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, bool))
        k = int(np.searchsorted(self.offsets, a, side="right")) - 1
        parts: list[list[np.ndarray]] = [[], [], [], []]
        while a < b and k < len(self.t):
            lo = a - int(self.offsets[k])
            hi = min(b, int(self.offsets[k + 1])) - int(self.offsets[k])
            for out, cols in zip(parts, (self.t, self.d, self.i, self.w)):
                out.append(cols[k][lo:hi])
            a = int(self.offsets[k + 1])
            k += 1
        return tuple(np.concatenate(p) for p in parts)  # type: ignore[return-value]  # np.concatenate is typed loosely; these are the columns' arrays

    def last(self) -> int:
        return int(self.lasts[-1])

    def first_starts(self) -> np.ndarray:
        """The first row's t_end (used only for the session span), as a 0- or 1-element array."""
        return self.t[0][:1] if self.t else np.empty(0, dtype=np.int64)


def _latency_bytes(rec) -> int:
    folder = getattr(rec, "path", None)
    if folder is None:
        return 0
    try:
        return sum(e.stat().st_size for e in os.scandir(os.path.join(str(folder), "latency")) if e.is_file())
    except OSError:
        return 0


def _lower_thread_priority() -> None:
    """Nice the calling thread (Linux: priorities are per thread) so the analysis never
    makes the dashboard stutter; best effort."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ANALYSIS_NICE)
    except (AttributeError, OSError):
        pass


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
