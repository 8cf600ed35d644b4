"""The sampler: one daemon thread that reads every source at a fixed rate.

Each tick captures every enabled source in order (:meth:`Source.capture`: for the sources
read at every tick, only a copy of their files' bytes), stamped with ``time.monotonic_ns()``
at the tick's start. Every ``DELIVER_EVERY_S`` (5 ticks at 10 Hz) the captured ticks are
decoded (:meth:`Source.decode`), merged into one :class:`~edgemon.datatypes.Sample` each and
handed to ``sink`` in order (on the sampler thread, so a sink must be quick, e.g. put it on a
queue); ``stop()`` hands on what is left. Why in batches: after the thread's 100 ms sleep the
CPU caches hold none of the parsing and merging code or data, so on the 2-core VM the first
pass costs ~15x a warm one (``/proc/stat`` parsed: 70 us cold, 4 us warm); five ticks in a
row pay that once. A sample reaches the dashboard, the recorder and a plan up to half a
second later; its time stamp is the tick's own.

Scheduling is fixed-delay and never piles up: the next deadline is the
previous one plus the period; when a tick overran (a slow read), the missed
deadlines are skipped, counted in :attr:`Sampler.overruns`, and the next tick
comes one full period after the late one ended.

Merge rule: sources are ordered and the first source to set a key wins; a
later source never overwrites it. Registry order puts sysfs readers before
command-based ones (tegrastats), so a direct sysfs reading beats a parsed one.

A source with ``every_s`` (a metric the kernel updates slowly, or one that changes slowly
next to the cost of reading it ten times a second) is read at the first tick at least
``every_s`` after its previous read; in the ticks between, its metrics are absent from the
sample, never repeated, and no later source fills them in (a row must not switch between
two sources' definitions of the same metric).

A value outside the physical range the metric catalogue gives its metric (a utilisation
over 100 %, a negative clock) is dropped and counted per source (:meth:`Sampler.statuses`);
a later source may still set that metric.

A source that raises is counted; after ``max_failures`` consecutive failures it
is disabled, closed, and ``on_status(SourceStatus(...))`` is called once with
the reason (the session turns that into a SOURCE_UNAVAILABLE event).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from edgemon.datatypes import Sample
from edgemon.telemetry.base import Source, SourceStatus
from edgemon.telemetry.catalogue import bounds

_COST_ALPHA = 0.1     # weight of a new read in the read-cost average
DELIVER_EVERY_S = 0.5  # the thread hands samples on in batches this far apart (see the module docstring)
STOP_POLL_NS = 200_000_000   # longest single sleep: how soon a stopped sampler notices
_MAX_BOUNDS = 4096    # metric names whose plausible range is remembered (garbage names must not grow it)


@dataclass
class SamplerStats:
    """Counters for ``edgemon info``, benchmarks and the dashboard footer."""

    ticks: int
    overruns: int            # deadlines skipped because a tick ran past them
    sink_errors: int
    thread_cpu_ns: int       # CPU time the sampler thread used (all ticks)
    elapsed_ns: int          # wall time since the thread started


class _SourceState:
    __slots__ = ("source", "name", "enabled", "reason", "detail", "consecutive", "failures",
                 "reads", "cost_ns", "first_cost_ns", "last_error", "implausible", "last_implausible",
                 "every_ns", "next_ns", "keys")

    def __init__(self, source: Source, name: str):
        self.source = source
        self.name = name
        every_s = getattr(source, "every_s", None)     # test doubles may lack it
        self.every_ns = int(every_s * 1e9) if every_s else 0
        self.next_ns = 0
        self.keys: frozenset[str] = frozenset()         # what a slow source set at its last read
        self.enabled = True
        self.reason = ""
        self.detail = ""
        self.consecutive = 0
        self.failures = 0
        self.reads = 0
        self.cost_ns: float | None = None
        self.first_cost_ns: int | None = None
        self.last_error = ""
        self.implausible = 0          # values the sampler dropped (the source's own count is apart)
        self.last_implausible = ""


class Sampler:
    """Reads ``sources`` at ``hz`` on a daemon thread and calls ``sink(Sample)``."""

    def __init__(
        self,
        sources: Iterable[Source],
        hz: float,
        sink: Callable[[Sample], None],
        *,
        on_status: Callable[[SourceStatus], None] | None = None,
        max_failures: int = 10,
        thread_name: str = "edgemon-sampler",
    ):
        if not hz > 0:
            raise ValueError(f"sample rate must be > 0 Hz, got {hz}")
        self.period_ns = int(round(1e9 / hz))
        # ticks captured before they are decoded and handed on together (see the module docstring)
        self.batch_ticks = max(1, int(round(DELIVER_EVERY_S * hz)))
        self._pending: list[tuple[int, list, list]] = []   # (t_ns, reads, slow sources skipped)
        self.sink = sink
        self.on_status = on_status
        self.max_failures = max(1, int(max_failures))
        self._thread_name = thread_name
        self._states: list[_SourceState] = []
        seen: set[str] = set()
        for src in sources:
            name = getattr(src, "name", type(src).__name__)
            base, n = name, 2
            while name in seen:          # costs()/statuses() are keyed by name
                name, n = f"{base}#{n}", n + 1
            seen.add(name)
            self._states.append(_SourceState(src, name))
        self._bounds: dict[str, tuple[float, float, bool]] = {}   # metric -> catalogue.bounds(metric)
        self.ticks = 0
        self.overruns = 0
        self.sink_errors = 0
        self.last_sink_error = ""
        self._thread_cpu_ns = 0
        self._t_start_ns = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def hz(self) -> float:
        return 1e9 / self.period_ns

    # ------------------------------------------------------------------ thread

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("sampler already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0, *, close_sources: bool = True) -> None:
        """Stop the thread, wait for it, and (by default) close every source."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if close_sources:
            for st in self._states:
                self._close(st)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        self._t_start_ns = time.monotonic_ns()
        cpu0 = time.thread_time_ns()
        period = self.period_ns
        deadline = time.monotonic_ns()
        while not self._stop.is_set():
            try:
                self._capture()
                if len(self._pending) >= self.batch_ticks:
                    self._deliver()
            except Exception as exc:          # a bug here must not silently end sampling
                self._pending.clear()
                self.sink_errors += 1
                self.last_sink_error = f"tick failed: {type(exc).__name__}: {exc}"
            self._thread_cpu_ns = time.thread_time_ns() - cpu0
            deadline += period
            now = time.monotonic_ns()
            if now >= deadline:
                # Overran: skip the deadlines already missed instead of catching up in a burst.
                self.overruns += (now - deadline) // period + 1
                deadline = now + period
            self._sleep_until(deadline, now)
        try:
            self._deliver()                   # what the last ticks captured: nothing is lost at stop
        except Exception as exc:
            self.sink_errors += 1
            self.last_sink_error = f"tick failed: {type(exc).__name__}: {exc}"

    def _sleep_until(self, deadline: int, now: int) -> None:
        """``time.sleep`` rather than ``Event.wait``: one system call per wait instead of a lock
        and a condition (the wake-up is a good part of a 10 Hz tick's cost); ``stop()`` is
        noticed within ``STOP_POLL_NS``."""
        while now < deadline and not self._stop.is_set():
            time.sleep(min(deadline - now, STOP_POLL_NS) / 1e9)
            now = time.monotonic_ns()

    # ------------------------------------------------------------------ one tick

    def tick(self) -> Sample | None:
        """Capture and deliver one tick at once (no batching); also usable without the thread.
        Returns the sample handed to the sink, or None when the tick gave no values."""
        self._capture()
        return self._deliver()

    def _capture(self) -> None:
        """The tick itself: every due source's :meth:`~Source.capture`, stamped with the tick's
        start. Errors wait with the captures, so every source's reads are judged in order."""
        t_ns = time.monotonic_ns()
        reads: list[tuple[_SourceState, object, int, Exception | None]] = []
        skipped: list[_SourceState] = []       # slow sources not due this tick
        for st in self._states:
            if not st.enabled:
                continue
            if st.every_ns:
                if t_ns < st.next_ns:
                    skipped.append(st)
                    continue
                # due again at the tick nearest its interval (half a period early: no drift past it)
                st.next_ns = t_ns + st.every_ns - self.period_ns // 2
            t0 = time.perf_counter_ns()
            try:
                reads.append((st, st.source.capture(), time.perf_counter_ns() - t0, None))
            except Exception as exc:          # a source must never kill the sampler
                reads.append((st, None, time.perf_counter_ns() - t0, exc))
        self._pending.append((t_ns, reads, skipped))
        self.ticks += 1

    def _deliver(self) -> Sample | None:
        """Decode, check and merge the pending ticks in order and hand each sample to the sink.
        Returns the last sample handed on."""
        pending, self._pending = self._pending, []
        last = None
        for t_ns, reads, skipped in pending:
            sample = self._merge(t_ns, reads, skipped)
            if sample is None:
                continue                      # nothing to record: no empty rows
            last = sample
            try:
                self.sink(sample)
            except Exception as exc:          # keep sampling; the owner sees the counter
                self.sink_errors += 1
                self.last_sink_error = f"{type(exc).__name__}: {exc}"
        return last

    def _merge(self, t_ns: int, reads: list, skipped_states: list[_SourceState]) -> Sample | None:
        values: dict[str, float] = {}
        known = self._bounds
        if len(known) > _MAX_BOUNDS:
            known.clear()
        skipped: set[str] = set()
        for st in skipped_states:
            skipped |= st.keys                # what that source set at its last read
        for st, captured, cost, error in reads:
            if not st.enabled:
                continue                      # disabled by an earlier tick of this batch
            reading: dict = {}
            if error is None:
                t0 = time.perf_counter_ns()
                try:
                    reading = st.source.decode(captured)
                    if not isinstance(reading, dict):
                        raise TypeError(f"read() returned {type(reading).__name__}, not a dict")
                except Exception as exc:      # a source must never kill the sampler
                    error = exc
                cost += time.perf_counter_ns() - t0
            st.reads += 1
            if st.reads == 1:
                st.first_cost_ns = cost       # often primes or starts a tool: kept out of the average
            elif st.cost_ns is None:
                st.cost_ns = float(cost)
            else:
                st.cost_ns += _COST_ALPHA * (cost - st.cost_ns)
            if error is not None:
                self._failed(st, error)
                continue
            st.consecutive = 0
            if st.every_ns:
                st.keys = frozenset(reading)
            for key, value in reading.items():
                if key not in values and key not in skipped:  # first source wins (see module docstring)
                    b = known.get(key)        # a dict lookup: this runs for every value of every tick
                    if b is None:
                        b = known[key] = bounds(key)
                    low, high, low_open = b
                    try:
                        ok = (low < value if low_open else low <= value) and value <= high   # NaN: False
                    except TypeError:
                        ok = False
                    if ok:
                        values[key] = value
                    else:
                        st.implausible += 1
                        st.last_implausible = f"{key}={value!r}"[:80]
        return Sample(t_ns, values) if values else None

    def _failed(self, st: _SourceState, exc: Exception) -> None:
        st.failures += 1
        st.consecutive += 1
        st.last_error = f"{type(exc).__name__}: {exc}"
        if st.consecutive < self.max_failures:
            return
        st.enabled = False
        st.reason = f"disabled after {st.consecutive} consecutive read errors; last: {st.last_error}"
        self._close(st)
        if self.on_status is not None:
            try:
                self.on_status(self._status(st))
            except Exception:
                pass      # a broken callback must not stop sampling

    @staticmethod
    def _close(st: _SourceState) -> None:
        try:
            st.source.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ reporting

    @staticmethod
    def _status(st: _SourceState) -> SourceStatus:
        detail = f"{st.reads} reads, {st.failures} errors"
        implausible = st.implausible + int(getattr(st.source, "implausible", 0) or 0)  # test doubles may lack it
        if implausible:
            detail += f", {implausible} implausible values dropped"
            if st.last_implausible:
                detail += f" (last: {st.last_implausible})"
        if st.enabled and st.last_error:
            detail += f", last error: {st.last_error}"
        return SourceStatus(st.name, st.enabled, st.reason, detail)

    def statuses(self) -> list[SourceStatus]:
        """One status per source, in merge order."""
        return [self._status(st) for st in self._states]

    def costs(self) -> dict[str, float]:
        """``{source name: microseconds per read}`` for sources read at least once.

        An exponential average of the reads after the first (the first read often only
        primes counters or starts a tool); the first read's cost until there is a second.
        """
        costs = {}
        for st in self._states:
            cost = st.cost_ns if st.cost_ns is not None else st.first_cost_ns
            if cost is not None:
                costs[st.name] = cost / 1000.0
        return costs

    def stats(self) -> SamplerStats:
        elapsed = time.monotonic_ns() - self._t_start_ns if self._t_start_ns else 0
        return SamplerStats(self.ticks, self.overruns, self.sink_errors, self._thread_cpu_ns, elapsed)

    @property
    def sources(self) -> list[Source]:
        return [st.source for st in self._states]
