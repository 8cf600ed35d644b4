"""What the dashboard and the headless status line know about a session, built from FeedUpdates.

Headless (no Textual). Memory is fixed by construction: histograms have fixed
buckets, metric history and throughput are rings, events a bounded deque.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from typing import Iterable

from edgemon.datatypes import Event, EventKind, LatencyBatch, Sample
from edgemon.feeds.base import FeedStatus, FeedUpdate
from edgemon.view.histogram import LatencyStats, LogHistogram, WindowedHistogram
from edgemon.view.series import NS, MetricHistory, ThroughputSeries

# Data that arrives after its second has begun (runner batches ~100 ms, redraw 250 ms)
# would make the newest second look slow; "now" throughput looks this far back.
THROUGHPUT_LAG_NS = 500_000_000


class DashboardModel:
    def __init__(
        self,
        *,
        window_s: float = 10.0,
        history_capacity: int = 6000,      # 10 min at 10 Hz
        throughput_capacity_s: int = 600,  # 10 min of 1-second buckets
        max_events: int = 500,
        max_metrics: int = 1024,
    ) -> None:
        self.latency_all = LogHistogram()
        self.latency_window = WindowedHistogram(window_s)
        self.throughput = ThroughputSeries(throughput_capacity_s)
        self.history = MetricHistory(history_capacity, max_metrics)
        self.events: deque[Event] = deque(maxlen=max_events)
        self.reset()

    def reset(self) -> None:
        """Forget everything (a replay seek sends ``FeedUpdate(reset=True)``)."""
        self.latency_all.reset()
        self.latency_window.reset()
        self.throughput.clear()
        self.history.clear()
        self.events.clear()
        self.latest: dict[str, float] = {}
        self.latest_t_ns = 0
        self.event_counts: Counter[str] = Counter()
        self.samples_seen = 0
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

    # ---- input -------------------------------------------------------------------------

    def apply(self, update: FeedUpdate) -> None:
        if update.reset:
            self.reset()
        self.add_samples(update.samples)
        self.add_events(update.events)      # first: a worker's hello opens the run its rows belong to
        self.add_latency(update.latency)

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
            self.history.add(sample)
            self.samples_seen += 1
            if sample.t_ns >= self.latest_t_ns:
                self.latest_t_ns = sample.t_ns
            self._data_now_ns = max(self._data_now_ns, sample.t_ns)

    def add_latency(self, batches: Iterable[LatencyBatch]) -> None:
        for batch in batches:
            n = len(batch)
            if n == 0:
                continue
            self.throughput.add(batch)
            self._data_now_ns = max(self._data_now_ns, int(batch.t_end_ns.max()))
            if batch.warmup:
                self.warmup_iterations += n
                self.warmup_items += int(batch.items.sum())
                continue
            self.latency_all.add(batch.duration_ns)
            self.latency_window.add(batch.t_end_ns, batch.duration_ns)
            self.iterations += n
            self.items += int(batch.items.sum())
            start = int((batch.t_end_ns - batch.duration_ns).min())
            end = int(batch.t_end_ns.max())
            self.measured_start_ns = start if self.measured_start_ns is None else min(self.measured_start_ns, start)
            self.measured_end_ns = end if self.measured_end_ns is None else max(self.measured_end_ns, end)
            run = bisect.bisect_right(self._run_starts, int(batch.t_end_ns[0]))
            span = self._runs.get(run)
            if span is None:
                self._runs[run] = [start, end]
            else:
                span[0], span[1] = min(span[0], start), max(span[1], end)

    def add_events(self, events: Iterable[Event]) -> None:
        for event in events:
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
            if event.kind == EventKind.WORKER_HELLO and len(self._run_starts) < 100_000:
                bisect.insort(self._run_starts, event.t_ns)
            elif event.kind == EventKind.PAUSE and (not self._paused or self._paused[-1][1] is not None):
                if len(self._paused) < 100_000:
                    self._paused.append((event.t_ns, None))
            elif event.kind == EventKind.RESUME and self._paused and self._paused[-1][1] is None:
                self._paused[-1] = (self._paused[-1][0], event.t_ns)
            self._data_now_ns = max(self._data_now_ns, event.t_ns)

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

    def relative_s(self, t_ns: int) -> float | None:
        """Seconds since the session start for a monotonic time, when the start is known."""
        if self.origin_ns is None:
            return None
        return (t_ns - self.origin_ns) / NS

    @property
    def last_event(self) -> Event | None:
        return self.events[-1] if self.events else None

    def memory_bytes(self) -> int:
        """Bytes held in numpy buffers (the bulk of the model); for tests and the overhead view."""
        total = self.latency_all.counts.nbytes + self.throughput.nbytes
        total += sum(s.nbytes for s in self.history.series.values())
        total += self.latency_window.slot_count * self.latency_all.counts.nbytes
        return total
