"""What the dashboard and the headless status line know about a session, built from FeedUpdates.

Headless (no Textual). Memory is fixed by construction: histograms have fixed
buckets, metric history and throughput are rings, events a bounded deque.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from edgemon.datatypes import Event, EventKind, LatencyBatch, Sample, merged_batches
from edgemon.feeds.base import FeedStatus, FeedUpdate
from edgemon.view.histogram import LatencyStats, LogHistogram, WindowedHistogram
from edgemon.view.latency_digest import LatencyDigest, digest_batch
from edgemon.view.series import NS, MetricHistory, ThroughputSeries
from edgemon.view.timeline import MARK_KINDS, Episode, Timeline, marks_from_events

# Data that arrives after its second has begun would make the newest second look slow:
# runner batches (100 ms), the worker reading every 250 ms (FRAME_PACE_S) and a detached
# session's fan-out tick (500 ms) add up to ~0.85 s. "now" throughput looks this far back.
THROUGHPUT_LAG_NS = 1_000_000_000
# The monitor's own CPU (edgemon/telemetry/process.py): the process that samples and records.
MONITOR_CPU = "proc_monitor_cpu_pct"


@dataclass
class ModelState:
    """All a :class:`DashboardModel` holds, so that a dashboard attaching to a running session
    starts with every chart's whole window (the session process keeps a model of its own; the
    control socket sends this as one binary frame, ``edgemon/daemon/server.py``). ``fields`` is
    JSON-able, ``arrays`` are numpy arrays by name."""

    fields: dict[str, Any]
    arrays: dict[str, np.ndarray]


def _event_row(e: Event) -> list:
    return [e.t_ns, e.kind, e.details]


def _event_of(row: list) -> Event:
    return Event(int(row[0]), str(row[1]), dict(row[2] or {}))


class DashboardModel:
    def __init__(
        self,
        *,
        window_s: float = 10.0,
        history_capacity: int = 6000,      # 10 min at 10 Hz
        throughput_capacity_s: int = 600,  # 10 min of 1-second buckets
        max_events: int = 500,
        max_metrics: int = 1024,
        max_episodes: int = 2000,          # the live timeline: throttling episodes and marks
    ) -> None:
        self.latency_all = LogHistogram()
        self.latency_window = WindowedHistogram(window_s)
        self.throughput = ThroughputSeries(throughput_capacity_s)
        self.history = MetricHistory(history_capacity, max_metrics)
        self.events: deque[Event] = deque(maxlen=max_events)
        self._episodes: deque[tuple[int, int, dict]] = deque(maxlen=max_episodes)  # (start, end, details)
        self._marks: deque[Event] = deque(maxlen=max_episodes)
        # Bumped by every event added and every reset: the event log redraws only when it moved.
        self.event_version = 0
        self.reset()

    def reset(self) -> None:
        """Forget everything (a replay seek sends ``FeedUpdate(reset=True)``)."""
        self.event_version += 1
        self.latency_all.reset()
        self.latency_window.reset()
        self.throughput.clear()
        self.history.clear()
        self.events.clear()
        self.latest: dict[str, float] = {}
        self.latest_t_ns = 0
        self.event_counts: Counter[str] = Counter()
        self.samples_seen = 0
        self.monitor_cpu_sum = 0.0       # proc_monitor_cpu_pct summed over samples (session mean)
        self.monitor_cpu_samples = 0
        self.iterations = 0              # measured (non-warm-up) rows
        self.items = 0
        self.warmup_iterations = 0
        self.warmup_items = 0
        self.measured_start_ns: int | None = None   # start of the first measured iteration
        self.measured_end_ns: int | None = None     # end of the last measured iteration
        # Throughput counts the time measured iterations ran: per worker run (split at each
        # worker's hello: rests, cool-down and idle baseline between runs do not count), less
        # paused time (the runner's pause/resume events).
        self._run_starts: list[int] = []            # worker_hello times, ascending
        self._runs: dict[int, list[int]] = {}       # run index -> [first measured start, last measured end]
        self._paused: list[tuple[int, int | None]] = []   # (pause t, resume t or None)
        self.crash: Event | None = None
        self.exit: Event | None = None   # the last worker exit, crashed or not
        self.hello: dict = {}            # the runner's hello (build_ms, framework, device, ...)
        self.warmup_done: dict = {}      # iterations, seconds, first_inference_ms
        self.now_ns = 0
        self.origin_ns: int | None = None
        self._data_now_ns = 0
        self._episodes.clear()
        self._marks.clear()
        self.throttled: dict[str, Event] = {}   # open throttling episodes by domain (their throttle_begin)
        self.ceilings: dict[str, float] = {}    # clock ceilings of the last power-mode change (MHz)
        self._timeline_version = 0
        self._timeline: tuple[tuple[int, int], Timeline] | None = None

    # ---- input -------------------------------------------------------------------------

    def apply(self, update: FeedUpdate) -> None:
        if update.reset:
            self.reset()
        if update.state is not None:
            self.load_state(update.state)
        self.add_samples(update.samples)
        self.add_events(update.events)      # first: a worker's hello opens the run its rows belong to
        self.add_latency(update.latency)
        self.add_digests(update.digests)

    def observe(self, status: FeedStatus) -> None:
        """Take "now" from the feed (data clock, so replay and tests stay deterministic)."""
        self.now_ns = status.t_ns or self._data_now_ns
        if self.origin_ns is None and status.t_ns:
            offset = status.position_s if status.state == "replay" else status.elapsed_s
            self.origin_ns = status.t_ns - int(offset * NS)
        if self.now_ns:
            self.latency_window.expire(self.now_ns)

    def add_samples(self, samples: Iterable[Sample]) -> None:
        for sample in samples:
            self.latest.update(sample.values)
            own = sample.values.get(MONITOR_CPU)
            if own is not None:
                self.monitor_cpu_sum += own
                self.monitor_cpu_samples += 1
            self.history.add(sample)
            self.samples_seen += 1
            if sample.t_ns >= self.latest_t_ns:
                self.latest_t_ns = sample.t_ns
            self._data_now_ns = max(self._data_now_ns, sample.t_ns)

    def add_latency(self, batches: Iterable[LatencyBatch]) -> None:
        """Rows, through their digests: the same path as a dashboard attached to a session."""
        for batch in merged_batches(batches):
            self.add_digest(digest_batch(batch))

    def add_digests(self, digests: Iterable[LatencyDigest]) -> None:
        for digest in digests:
            self.add_digest(digest)

    def add_digest(self, g: LatencyDigest) -> None:
        """One batch's rows as :mod:`edgemon.view.latency_digest` summarises them."""
        self.throughput.add_seconds(g.seconds, g.second_items, g.warmup)
        self._data_now_ns = max(self._data_now_ns, g.end_ns)
        if g.warmup:
            self.warmup_iterations += g.rows
            self.warmup_items += g.items
            return
        self.latency_all.add_cells(g.cell_slot, g.cell_count, g.rows, int(g.second_total_ns.sum()),
                                   int(g.second_min_ns.min()), int(g.second_max_ns.max()),
                                   unique=g.seconds.shape[0] == 1)
        self.latency_window.add_digest(g)
        self.iterations += g.rows
        self.items += g.items
        start, end = g.start_ns, g.end_ns
        self.measured_start_ns = start if self.measured_start_ns is None else min(self.measured_start_ns, start)
        self.measured_end_ns = end if self.measured_end_ns is None else max(self.measured_end_ns, end)
        run = bisect.bisect_right(self._run_starts, g.first_t_end_ns)
        span = self._runs.get(run)
        if span is None:
            self._runs[run] = [start, end]
        else:
            span[0], span[1] = min(span[0], start), max(span[1], end)

    def add_events(self, events: Iterable[Event]) -> None:
        for event in events:
            self.event_version += 1
            self.events.append(event)
            self.event_counts[event.kind] += 1
            if event.kind in (EventKind.WORKER_CRASHED, EventKind.WORKER_EXIT):
                self.exit = event
            if event.kind == EventKind.WORKER_CRASHED:
                self.crash = event
            elif event.kind == EventKind.WORKER_HELLO:
                self.hello = dict(event.details)
            elif event.kind == EventKind.WARMUP_DONE:
                self.warmup_done = dict(event.details)
            elif event.kind in (EventKind.THROTTLE_BEGIN, EventKind.THROTTLE_END):
                self._throttle(event)
            elif event.kind == EventKind.POWER_MODE and event.details.get("ok") is not False:
                ceilings = event.details.get("ceilings")
                if isinstance(ceilings, dict):
                    self.ceilings = {str(k): float(v) for k, v in ceilings.items() if isinstance(v, (int, float))}
            if event.kind in MARK_KINDS:
                self._marks.append(event)
                self._timeline_version += 1
            if event.kind == EventKind.WORKER_HELLO and len(self._run_starts) < 100_000:
                bisect.insort(self._run_starts, event.t_ns)
            elif event.kind == EventKind.PAUSE and (not self._paused or self._paused[-1][1] is not None):
                if len(self._paused) < 100_000:
                    self._paused.append((event.t_ns, None))
            elif event.kind == EventKind.RESUME and self._paused and self._paused[-1][1] is None:
                self._paused[-1] = (self._paused[-1][0], event.t_ns)
            self._data_now_ns = max(self._data_now_ns, event.t_ns)

    def _throttle(self, event: Event) -> None:
        domain = str(event.details.get("domain", "?"))
        if event.kind == EventKind.THROTTLE_BEGIN:
            self.throttled[domain] = event
        else:
            self.throttled.pop(domain, None)
            start = event.details.get("start_ns")
            self._episodes.append((int(start) if isinstance(start, int) else event.t_ns, event.t_ns,
                                   dict(event.details)))
        self._timeline_version += 1

    # ---- derived -----------------------------------------------------------------------

    def latency_stats(self, window: bool = False) -> LatencyStats:
        hist = self.latency_window.histogram() if window else self.latency_all
        return hist.stats()

    def throughput_now(self) -> tuple[float, float]:
        """(measured, warm-up) items/s over the two complete seconds before now - lag."""
        if not self.now_ns:
            return 0.0, 0.0
        return self.throughput.rate(self.now_ns - THROUGHPUT_LAG_NS, seconds=2)

    def throughput_mean(self) -> float | None:
        """Measured items / the time measured iterations ran (each worker run's first start to
        last end, less paused time), None before two iterations.

        docs/architecture.md "Analysis vocabulary": items over wall time, not 1 / mean latency.
        """
        if self.measured_start_ns is None or self.measured_end_ns is None:
            return None
        span = 0
        for start, end in self._runs.values():
            span += end - start
            for p0, p1 in self._paused:
                stop = end if p1 is None else min(end, p1)
                span -= max(0, stop - max(start, p0))
        if span <= 0:
            return None
        return self.items * NS / span

    def monitor_cpu(self, window_s: float | None = 10.0) -> float | None:
        """The session process's own CPU (% of one core): mean of ``proc_monitor_cpu_pct`` over
        the last ``window_s`` seconds of samples, or over the whole session (``None``)."""
        if window_s is None:
            return self.monitor_cpu_sum / self.monitor_cpu_samples if self.monitor_cpu_samples else None
        ring = self.history.get(MONITOR_CPU)
        if ring is None or len(ring) == 0:
            return None
        _t, values = ring.since(self.latest_t_ns - int(window_s * NS))
        return float(values.mean()) if values.size else None

    def relative_s(self, t_ns: int) -> float | None:
        """Seconds since the session start for a monotonic time, when the start is known."""
        if self.origin_ns is None:
            return None
        return (t_ns - self.origin_ns) / NS

    # ---- state (attach) -----------------------------------------------------------------

    _SCALARS = ("latest_t_ns", "samples_seen", "iterations", "items", "warmup_iterations", "warmup_items",
                "measured_start_ns", "measured_end_ns", "hello", "warmup_done", "now_ns", "origin_ns",
                "_data_now_ns", "latest", "ceilings")

    def state(self) -> ModelState:
        """Everything this model holds (a copy), for :meth:`load_state` in another process."""
        fields: dict[str, Any] = {k: getattr(self, k) for k in self._SCALARS}
        fields["event_counts"] = dict(self.event_counts)
        fields["events"] = [_event_row(e) for e in self.events]
        fields["crash"] = _event_row(self.crash) if self.crash is not None else None
        fields["exit"] = _event_row(self.exit) if self.exit is not None else None
        fields["run_starts"] = list(self._run_starts)
        fields["runs"] = [[k, v[0], v[1]] for k, v in self._runs.items()]
        fields["paused"] = [list(p) for p in self._paused]
        fields["throttled"] = [_event_row(e) for e in self.throttled.values()]
        fields["episodes"] = [list(e) for e in self._episodes]
        fields["marks"] = [_event_row(e) for e in self._marks]
        arrays: dict[str, np.ndarray] = {}
        fields["latency_all"], arrays["latency_all"] = self.latency_all.state()
        fields["latency_window"], arrays["latency_window"] = self.latency_window.state()
        fields["throughput"], tp = self.throughput.state()
        fields["history"], hist = self.history.state()
        arrays.update({f"throughput.{k}": v for k, v in tp.items()})
        arrays.update({f"history.{k}": v for k, v in hist.items()})
        return ModelState(fields, arrays)

    def load_state(self, state: ModelState) -> None:
        """Become the model ``state`` was taken from (what an attached dashboard starts with)."""
        f, a = state.fields, state.arrays
        self.reset()
        for key in self._SCALARS:
            if key in f:
                setattr(self, key, f[key])
        self.event_counts = Counter({str(k): int(v) for k, v in (f.get("event_counts") or {}).items()})
        self.events.extend(_event_of(r) for r in f.get("events") or [])
        self.crash = _event_of(f["crash"]) if f.get("crash") else None
        self.exit = _event_of(f["exit"]) if f.get("exit") else None
        self._run_starts = [int(x) for x in f.get("run_starts") or []]
        self._runs = {int(k): [int(a), int(b)] for k, a, b in f.get("runs") or []}
        self._paused = [(int(p0), None if p1 is None else int(p1)) for p0, p1 in f.get("paused") or []]
        for row in f.get("throttled") or []:
            ev = _event_of(row)
            self.throttled[str(ev.details.get("domain", "?"))] = ev
        self._episodes.extend((int(s), int(e), dict(d)) for s, e, d in f.get("episodes") or [])
        self._marks.extend(_event_of(r) for r in f.get("marks") or [])
        self.latency_all.load_state(f["latency_all"], a["latency_all"])
        self.latency_window.load_state(f["latency_window"], a["latency_window"])
        self.throughput.load_state(f["throughput"], {k.split(".", 1)[1]: v for k, v in a.items()
                                                     if k.startswith("throughput.")})
        self.history.load_state(f["history"], {k.split(".", 1)[1]: v for k, v in a.items()
                                               if k.startswith("history.")})
        self._timeline_version += 1

    def throttle_episodes(self, now_ns: int | None = None) -> list[tuple[int, int, dict]]:
        """``(start_ns, end_ns, throttle event details)`` of every episode so far (open ones end now)."""
        now = now_ns if now_ns is not None else (self.now_ns or self._data_now_ns)
        out = list(self._episodes)
        out += [(int(ev.details.get("start_ns") or ev.t_ns), max(now, ev.t_ns), dict(ev.details))
                for ev in self.throttled.values()]
        return sorted(out, key=lambda e: e[0])

    def live_timeline(self) -> Timeline | None:
        """The whole session so far as the replay's timeline strip draws it: throttling episodes
        (from the session's throttle_begin/throttle_end events; an open one runs to now) and
        marks. None until the session's start is known."""
        if self.origin_ns is None or not self.now_ns:
            return None
        length_ns = max(0, self.now_ns - self.origin_ns)
        key = (self._timeline_version, length_ns // (NS // 2))    # rebuilt at most twice a second
        if self._timeline is not None and self._timeline[0] == key:
            return self._timeline[1]
        rel = self.relative_s
        episodes = [_episode(rel(a), rel(b), d) for a, b, d in self._episodes]
        episodes += [_episode(rel(int(ev.details.get("start_ns") or ev.t_ns)), length_ns / NS, ev.details)
                     for ev in self.throttled.values()]
        episodes.sort(key=lambda e: e.start_s)
        marks = marks_from_events((rel(e.t_ns) or 0.0, e.kind, e.details) for e in self._marks)
        timeline = Timeline(length_s=length_ns / NS, episodes=tuple(episodes), marks=tuple(marks))
        self._timeline = (key, timeline)
        return timeline

    @property
    def last_event(self) -> Event | None:
        return self.events[-1] if self.events else None

    def memory_bytes(self) -> int:
        """Bytes held in numpy buffers (the bulk of the model); for tests and the overhead view."""
        total = self.latency_all.counts.nbytes + self.throughput.nbytes
        total += sum(s.nbytes for s in self.history.series.values())
        total += self.latency_window.slot_count * self.latency_all.counts.nbytes
        return total


def _episode(start_s: float | None, end_s: float | None, details: dict) -> Episode:
    def num(key: str) -> float:
        value = details.get(key)
        return float(value) if isinstance(value, (int, float)) else float("nan")

    start = start_s if start_s is not None else 0.0
    return Episode(start_s=start, end_s=max(start, end_s if end_s is not None else start),
                   domain=str(details.get("domain", "?")), cause=str(details.get("cause") or "unknown"),
                   clock=str(details.get("clock") or ""), clock_mhz=num("clock_mhz"),
                   ceiling_mhz=num("ceiling_mhz"), drop_pct=num("drop_pct"))
