"""Replay a recording through the same :class:`Feed` seam the live dashboard uses.

A playhead in recording time (``t_ns`` on the recording's monotonic clock) advances by
wall time x speed while playing. ``drain()`` returns the rows whose time falls in
``(previous playhead, playhead]``.

After anything that jumps the playhead (seek, next/prev event or episode, the first drain,
an advance longer than the history window, e.g. a consumer that stalled at 1000x, or the
latency rows arriving from the background load) ``drain()`` returns ``reset=True`` plus
enough history to refill a dashboard:

* telemetry samples with ``t_ns`` in ``(playhead - history_s, playhead]``;
* latency rows with ``t_end_ns`` in ``(playhead - history_s, playhead]``, at most the last
  ``max_history_rows`` (500,000, as an attached session's history: 30 s at 16,000/s);
* events from the start of the recording up to the playhead (the last ``max_reset_events``).

``history_s`` defaults to 120 s. Telemetry and events (small) are numpy arrays sliced
with ``np.searchsorted``. Latency rows are never all in memory (a 3-hour session at
16,000/s has 170 million): the Parquet footers give each row group's time range
(:mod:`edgemon.recording.chunks`), and a drain reads only the row groups its time range
touches, keeping the last few decoded (``cache_pieces``). Memory does not grow with the
length of the recording; a seek costs the one or two row groups it lands in.

Opening is fast whatever the length: nothing but the footers of the latency files is
read. Then, on a background thread, the recording is analysed once
(:func:`edgemon.analysis.summary.analyze`, itself bounded in memory): its throttling
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
from edgemon.view.timeline import Episode, Mark, Timeline, episodes_from_throttling, marks_from_events

if TYPE_CHECKING:
    from edgemon.analysis.result import AnalysisResult

MIN_SPEED = 1.0
MAX_SPEED = 1000.0
CACHE_PIECES = 2             # decoded latency row groups kept (about 20 MB each)
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
        max_history_rows: int = 500_000,
        max_reset_events: int = 500,
        clock: Callable[[], float] = time.monotonic,
        background: bool | None = None,
        analyze: bool = True,
        analysis_process: bool = False,
    ):
        """``recording``: a :class:`edgemon.recording.reader.Recording`. ``clock``: wall seconds (tests).

        ``background``: kept for callers of the earlier design (the latency is read on demand
        now, nothing is loaded up front). ``analyze``: analyse the recording on a background
        thread for the timeline and ``analysis()``; ``analysis_process``: in a child process
        (``edgemon analyze --json``, niced) instead of this one, as ``edgemon replay`` does: its
        memory goes back to the system when it is done and it never competes with the
        dashboard for the interpreter.
        """
        self.recording = recording
        self.meta = dict(recording.meta)
        self.history_ns = int(history_s * 1e9)
        self.max_history_rows = int(max_history_rows)
        self.max_reset_events = int(max_reset_events)
        self._clock = clock
        self._lock = threading.Lock()
        self._generation = 0
        self._background = background
        self._analyze = analyze
        self._analysis_process = analysis_process
        self._child: Any = None         # the analysis child process while it runs
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
        """Telemetry and events now, the latency index (footers only) now; returns what starts
        the analysis thread, or None."""
        tel = rec.telemetry()
        self._tel_t = _int_array(tel.column("t_ns"))
        self._tel_names = [c for c in tel.column_names if c != "t_ns"]
        rec.forget("telemetry")          # the arrays below are the copy replay uses
        self._tel_cols = []
        for name in self._tel_names:     # column by column, each freed once converted: no second copy
            self._tel_cols.append(_float_array(tel.column(name)))
            tel = tel.drop_columns([name])
        del tel
        ev = rec.events()
        self._ev_t = _int_array(ev.column("t_ns"))
        self._ev_kind = ev.column("kind").to_pylist()
        self._ev_details = ev.column("details").to_pylist()
        chunks = rec.latency_chunks()
        chunks.cache_pieces = CACHE_PIECES
        self._lat = _Latency(chunks)
        self._lat_loaded = True
        self._analysis: AnalysisResult | None = None
        self._analysis_origin_ns: int | None = None
        self._analysis_state = "waiting"
        self._analysis_error = ""
        self._timeline: Timeline | None = None
        self._marks: tuple[Mark, ...] | None = None
        self._set_span(rec)
        self._generation += 1
        generation = self._generation
        if not self._analyze:
            self._analysis_state = "off"
            return None
        self._thread = threading.Thread(target=self._load_rest, args=(rec, generation),
                                        name="edgemon-replay-analysis", daemon=True)
        return self._thread.start

    def _set_span(self, rec) -> None:
        anchor = (rec.meta.get("clock") or {}).get("monotonic_ns")
        firsts = [int(a[0]) for a in (self._tel_t, self._ev_t, self._lat.first_ends()) if len(a)]
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

    def _load_rest(self, rec, generation: int) -> None:
        """Analysis thread: the whole recording analysed once (bounded memory), at low priority."""
        if self._closed:
            return
        _lower_thread_priority()
        with self._lock:
            if generation != self._generation:
                return
            self._analysis_state = "running"
        try:
            if self._analysis_process:
                result = self._analyse_in_child(rec)
                origin = int(rec.start_ns)
            else:
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

    def _analyse_in_child(self, rec) -> "AnalysisResult":
        """``edgemon analyze --json`` of the recording in a niced child process."""
        import subprocess
        import sys

        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")

        def lower_priority() -> None:
            try:
                os.nice(ANALYSIS_NICE)
            except OSError:
                pass

        child = subprocess.Popen([sys.executable, "-m", "edgemon", "analyze", str(rec.path), "--json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                 env=env, preexec_fn=lower_priority)
        self._child = child
        if self._closed:
            child.kill()
        out, err = child.communicate()
        self._child = None
        if child.returncode != 0:
            lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
            raise RuntimeError(lines[-1] if lines else f"edgemon analyze exited with {child.returncode}")
        result = json.loads(out.decode("utf-8"))
        if not isinstance(result, dict):
            raise RuntimeError("edgemon analyze gave no result")
        from edgemon.analysis.result import AnalysisResult

        return AnalysisResult.from_dict(result)

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Block until the analysis is done (tests, benchmarks)."""
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
        """``waiting`` (not started yet), ``running``, ``ready``, ``failed`` or ``off``."""
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
            marks = self._marks
            if marks is None:
                marks = self._marks = tuple(marks_from_events(
                    ((int(t) - self.start_ns) / 1e9, k, _details(d))
                    for t, k, d in zip(self._ev_t.tolist(), self._ev_kind, self._ev_details)))
            length = self.length_s
            episodes: tuple[Episode, ...] = ()
            state, note = "analysing", ""
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
            timeline = Timeline(length, episodes, marks, state, note)
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
                    latency=self._latency(lo, pos, self.max_history_rows),
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
        """The loader thread is a daemon; it stops publishing and skips the analysis once closed
        (an analysis child process is ended)."""
        self._closed = True
        with self._lock:
            self._generation += 1
        child = self._child
        if child is not None:
            try:
                child.kill()
            except OSError:
                pass

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

    def _latency(self, lo: int, hi: int, max_rows: int | None = None) -> list[LatencyBatch]:
        out = []
        for t, d, items, warm in self._lat.take_between(lo, hi, max_rows):
            # A LatencyBatch is all warm-up or all measured: split where the flag changes.
            cuts = [0] + (np.flatnonzero(warm[1:] != warm[:-1]) + 1).tolist() + [t.shape[0]]
            out += [LatencyBatch(t[s:e], d[s:e], items[s:e], bool(warm[s])) for s, e in zip(cuts[:-1], cuts[1:])]
        return out

    def _events(self, lo: int, hi: int) -> list[Event]:
        a, b = _span(self._ev_t, lo, hi)
        return [Event(int(self._ev_t[i]), self._ev_kind[i], _details(self._ev_details[i])) for i in range(a, b)]


class _Latency:
    """The latency pieces of a recording searched and sliced by time, read on demand.

    Pieces are Parquet row groups (or live tails) with their time range from the footers;
    a slice reads the pieces it touches through the chunks' small cache of decoded ones.
    """

    def __init__(self, chunks):
        self.chunks = chunks
        self.pieces = [p for p in chunks.pieces if p.rows and p.t_min is not None and p.t_max is not None]
        self.n = sum(p.rows for p in self.pieces)
        self._t_min = np.array([p.t_min for p in self.pieces], dtype=np.int64)
        self._t_max = np.array([p.t_max for p in self.pieces], dtype=np.int64)
        self._max_upto = np.maximum.accumulate(self._t_max) if self.pieces else self._t_max

    def take_between(self, lo: int, hi: int, max_rows: int | None = None) -> list[tuple[np.ndarray, ...]]:
        """Rows with ``lo < t_end <= hi`` in time order, as (t, duration, items, warm-up) views of
        the decoded pieces (no copy); ``max_rows``: only the last so many."""
        if not self.pieces or hi <= lo:
            return []
        # pieces are sorted by t_min: the candidates start at the first whose running max passes lo
        k0 = int(np.searchsorted(self._max_upto, lo, side="right"))
        k1 = int(np.searchsorted(self._t_min, hi, side="right"))
        parts: list[tuple[np.ndarray, ...]] = []
        left = max_rows if max_rows is not None else None
        for k in range(k1 - 1, k0 - 1, -1):                 # newest first, to stop at max_rows
            if self._t_max[k] <= lo:
                continue
            chunk = self.chunks.try_read(self.pieces[k], cache=True)
            if chunk is None:                                # damaged since indexed: named, skipped
                continue
            t = chunk.t
            if t.shape[0] > 1 and bool(np.all(t[1:] >= t[:-1])):
                a, b = int(np.searchsorted(t, lo, side="right")), int(np.searchsorted(t, hi, side="right"))
                if left is not None:
                    a = max(a, b - left)
                cols = tuple(c[a:b] for c in (t, chunk.dur, chunk.items, chunk.warm))
            else:
                sel = np.flatnonzero((t > lo) & (t <= hi))
                order = np.argsort(t[sel], kind="stable")
                sel = sel[order]
                if left is not None:
                    sel = sel[max(0, sel.shape[0] - left):]
                cols = tuple(c[sel] for c in (t, chunk.dur, chunk.items, chunk.warm))
            if cols[0].shape[0]:
                parts.append(cols)
                if left is not None:
                    left -= cols[0].shape[0]
                    if left <= 0:
                        break
        parts.reverse()
        if len(parts) > 1 and any(int(p[0][0]) < int(q[0][-1]) for q, p in zip(parts[:-1], parts[1:])):
            merged = tuple(np.concatenate(c) for c in zip(*parts))      # pieces that overlap in time
            order = np.argsort(merged[0], kind="stable")
            parts = [tuple(c[order] for c in merged)]
        return parts

    def last(self) -> int:
        return int(self._t_max.max())

    def first_ends(self) -> np.ndarray:
        """The earliest row's t_end (used only for the session span), as a 0- or 1-element array."""
        return self._t_min[:1].copy() if self.pieces else np.empty(0, dtype=np.int64)


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
