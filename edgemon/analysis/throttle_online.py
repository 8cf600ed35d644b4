"""Throttling as it happens: the rule of :mod:`edgemon.analysis.throttling`, one sample at a time.

:class:`ThrottleClassifier` is fed what a session sees (samples, latency batches, events) in
the order they arrive and says when a throttling episode begins and ends, with its cause:
the same episodes ``edgemon analyze`` finds afterwards in the recording (a test feeds
recordings through both and compares them). The session turns each :class:`ThrottleChange`
into a ``throttle_begin`` / ``throttle_end`` event, so the dashboard's flag, the event log,
the recording and the Prometheus exporter all see one rule.

How it stays the offline rule (docs/architecture.md "Analysis vocabulary"):

* A sample is decided once the data that decides it has arrived: the next sample (how long
  the sample stands for) and latency rows up to ``busy_slack_s`` after it (is the worker
  busy), with ``latency_lag_s`` for rows still in the runner's pipe. Events up to the
  sample's time are applied first (a power-mode change moves the ceilings at its time, a
  ``core_online`` event takes a core out of the count).
* Runs of throttled samples merge across gaps up to ``merge_gap_s``; a run becomes an
  episode (``begin``) once it is ``min_episode_s`` long, and ends (``end``) when no throttled
  sample followed for more than ``merge_gap_s``: an episode is flagged about
  ``min_episode_s + busy slack + lag`` (~2 s at 10 Hz) after its clocks dropped, and its
  ``start_ns`` is when they dropped.
* The cause comes from the evidence in the ``lookback_s`` before the episode, up to its first
  sample (what happened later cannot have caused it), ranked by
  :func:`edgemon.analysis.throttling.rank_causes`: ``begin`` and ``end`` carry the same cause.

Where it cannot match the offline rule: a clock with no recorded ceiling is compared with
the highest value seen so far in its power-mode segment (offline: the highest in the whole
segment), and an iteration still running long after a sample cannot be seen yet (the
worker's own CPU load usually marks such samples busy).

Cost: O(clocks + temperatures + rails) per sample, a few numpy operations per latency
batch; memory is bounded by the decision delay and ``lookback_s``, never by session length.
Not thread-safe: the session calls it under its own lock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgemon.analysis.throttling import (
    DOMAINS,
    FLAG_METRICS,
    USER_EVENTS,
    ThrottleOptions,
    busy_slack_s,
    busy_source,
    ceiling_for,
    ceilings_from,
    core_of,
    domain_of,
    event_evidence,
    flag_evidence,
    load_names,
    near_limit,
    near_trip,
    positive_number,
    unit_busy_threshold,
    power_line,
    rank_causes,
    thermal_line,
)
from edgemon.datatypes import Event, EventKind
from edgemon.telemetry import catalogue

# NVML's own limits, where session.json has none (as the analysis takes them)
_SLOWDOWN, _GPU_TEMP = catalogue.GPU_TEMP_SLOWDOWN.name(), catalogue.TEMP.name("gpu")
_POWER_LIMIT, _GPU_POWER = catalogue.GPU_POWER_LIMIT.name(), catalogue.GPU_POWER.name()

LATENCY_LAG_S = 0.5            # latency rows reach the session up to this long after they end
_EVENTS = frozenset((EventKind.POWER_MODE, EventKind.CORE_ONLINE, *USER_EVENTS))   # what moves the rule
_MAX_PENDING = 4096            # samples waiting for a decision (a stalled latency stream cannot grow it)


@dataclass(frozen=True)
class ThrottleChange:
    """A throttling episode began (``kind == "begin"``) or ended (``"end"``) in one clock domain.

    Times are CLOCK_MONOTONIC ns. ``clock`` is the clock of the domain that dropped most
    (``clock_mhz``: its mean while throttled so far, ``min_clock_mhz`` its lowest, against
    ``ceiling_mhz``). ``cause`` is one of thermal, power, power_mode, user_action,
    thermal_or_power, unknown; ``causes`` all that matched, ``evidence`` why, one line each.
    """

    kind: str
    domain: str
    start_ns: int
    end_ns: int | None
    cause: str
    causes: tuple[str, ...]
    evidence: tuple[str, ...]
    clock: str
    clock_mhz: float
    min_clock_mhz: float
    ceiling_mhz: float

    @property
    def t_ns(self) -> int:
        """When it happened: the start for ``begin``, the end for ``end``."""
        return self.start_ns if self.kind == "begin" or self.end_ns is None else self.end_ns

    @property
    def drop_pct(self) -> float:
        if not (self.ceiling_mhz > 0 and math.isfinite(self.clock_mhz)):
            return math.nan
        return (self.ceiling_mhz - self.clock_mhz) / self.ceiling_mhz * 100.0

    def to_event(self) -> Event:
        """The ``throttle_begin`` / ``throttle_end`` event of this change (JSON-able details)."""
        details: dict[str, Any] = {
            "domain": self.domain, "cause": self.cause, "causes": list(self.causes),
            "evidence": list(self.evidence), "clock": self.clock, "clock_mhz": _round(self.clock_mhz),
            "min_clock_mhz": _round(self.min_clock_mhz), "ceiling_mhz": _round(self.ceiling_mhz),
            "drop_pct": _round(self.drop_pct), "start_ns": self.start_ns,
        }
        if self.kind == "end" and self.end_ns is not None:
            details["end_ns"] = self.end_ns
            details["duration_s"] = round((self.end_ns - self.start_ns) / 1e9, 3)
        kind = EventKind.THROTTLE_BEGIN if self.kind == "begin" else EventKind.THROTTLE_END
        return Event(self.t_ns, kind, details)


def _round(x: float) -> float | None:
    return round(float(x), 2) if x is not None and math.isfinite(x) else None


# ---------------------------------------------------------------------------- evidence

@dataclass
class _Evidence:
    """What can explain an episode, gathered over its window (see ``throttling.explain``)."""

    events: list[tuple[str, str]] = field(default_factory=list)
    nvml: int = 0
    pi: int = 0
    thermal: dict[str, float] = field(default_factory=dict)   # metric -> peak at/near its trip
    power: dict[str, float] = field(default_factory=dict)     # metric -> peak at/near its limit

    def add(self, item: _Item) -> None:
        if item.event is not None:
            self.events.append(item.event)
            return
        self.nvml |= item.nvml
        self.pi |= item.pi
        for m, v in item.thermal.items():
            self.thermal[m] = max(v, self.thermal.get(m, v))
        for m, v in item.power.items():
            self.power[m] = max(v, self.power.get(m, v))

    def rank(self, trips: dict[str, float], limits: dict[str, float]) -> tuple[str, list[str], list[str]]:
        found: dict[str, list[str]] = {}
        for key, line in self.events:
            found.setdefault(key, []).append(line)
        flags, weak = flag_evidence(self.nvml, self.pi)
        for key, line in flags:
            found.setdefault(key, []).append(line)
        for m, trip in trips.items():
            if m in self.thermal:
                found.setdefault("thermal", []).append(thermal_line(m, self.thermal[m], trip))
        for m, limit in limits.items():
            if m in self.power:
                found.setdefault("power", []).append(power_line(m, self.power[m], limit))
        return rank_causes(found, weak)


@dataclass
class _Item:
    """One piece of evidence at ``t_ns``: an event line, or what one sample showed."""

    t_ns: int
    event: tuple[str, str] | None = None
    nvml: int = 0
    pi: int = 0
    thermal: dict[str, float] = field(default_factory=dict)
    power: dict[str, float] = field(default_factory=dict)


@dataclass
class _ClockStats:
    n: int = 0
    total: float = 0.0
    low: float = math.inf
    ceiling: float = math.nan

    def add(self, mhz: float, ceiling: float) -> None:
        self.n += 1
        self.total += mhz
        self.low = min(self.low, mhz)
        self.ceiling = ceiling

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def drop(self) -> float:
        return (self.ceiling - self.mean) / self.ceiling if self.n and self.ceiling > 0 else -1.0


@dataclass
class _Run:
    """A run of throttled samples in one domain (an episode once it is long enough). Its cause is
    settled when it starts: what happened later cannot have caused it."""

    start_ns: int
    end_ns: int
    cause: tuple[str, tuple[str, ...], tuple[str, ...]]
    clocks: dict[str, _ClockStats] = field(default_factory=dict)
    open: bool = False

    def worst(self) -> tuple[str, _ClockStats]:
        if not self.clocks:
            return "", _ClockStats()
        return max(self.clocks.items(), key=lambda kv: kv[1].drop)


# ---------------------------------------------------------------------------- classifier

class ThrottleClassifier:
    """Online throttling episodes with their cause; see the module docstring for the rule.

    ``meta``: the session description (``clock_ceilings``, ``trip_points``, ``power_limits``,
    ``clock.monotonic_ns`` for the "at N s" in evidence lines). ``sample_dt_s``: the
    sampling period. Each ``add_*`` returns the changes it caused, oldest first;
    :meth:`finish` decides what is left at the end of a session and closes open episodes.
    """

    def __init__(self, meta: Mapping[str, Any] | None = None, *, sample_dt_s: float = 0.1,
                 options: ThrottleOptions | None = None, latency_lag_s: float = LATENCY_LAG_S,
                 origin_ns: int | None = None) -> None:
        meta = dict(meta or {})
        self.options = options or ThrottleOptions()
        self.sample_dt_s = float(sample_dt_s) if sample_dt_s and sample_dt_s > 0 else 0.1
        self._slack_ns = int(busy_slack_s(self.sample_dt_s) * 1e9)
        self._delay_ns = self._slack_ns + int(max(0.0, latency_lag_s) * 1e9)
        clock = meta.get("clock")
        anchor = clock.get("monotonic_ns") if isinstance(clock, dict) else None
        self.origin_ns = origin_ns if origin_ns is not None else (anchor if isinstance(anchor, int) else 0)
        self._ceilings = ceilings_from(meta.get("clock_ceilings"))
        self._observed: dict[str, float] = {}
        self.trips = _limits(meta.get("trip_points"))
        self.limits = _limits(meta.get("power_limits"))
        self._trips_meta = set(self.trips)
        self._limits_meta = set(self.limits)
        self._pending: deque[tuple[int, Mapping[str, float]]] = deque()
        self._events: list[tuple[int, str, dict[str, Any]]] = []      # not applied yet, by time
        self._busy: list[list[int]] = []                              # merged [from, to] ns
        self._horizon = 0
        self._decided_ns = 0                                          # the last sample decided
        self._offline: set[int] = set()
        self._recent: deque[_Item] = deque()                          # evidence within lookback
        self._runs: dict[str, _Run] = {}
        self._kinds: dict[str, tuple[str | None, str | None, int | None]] = {}
        self._keys: set[str] = set()
        self._clock_names: list[str] = []
        self._cpu_loads: list[str] = []
        self._gpu_loads: list[str] = []
        self.busy_from = busy_source(meta)       # worker, command or machine (watch, imported)
        self.current_ceilings: dict[str, float] = {}                  # clock -> MHz, last decided

    # ------------------------------------------------------------------ input
    def add_sample(self, t_ns: int, values: Mapping[str, float]) -> list[ThrottleChange]:
        """A telemetry sample (in time order)."""
        if len(self._pending) >= _MAX_PENDING:
            self._pending.popleft()
        self._pending.append((int(t_ns), values))
        self._horizon = max(self._horizon, int(t_ns))
        return self._decide()

    def add_latency(self, t_end_ns: Iterable[int] | np.ndarray, duration_ns: Iterable[int] | np.ndarray
                    ) -> list[ThrottleChange]:
        """Timed iterations (warm-up included): a sample near one is a busy sample."""
        t = np.asarray(t_end_ns, dtype=np.int64)
        if t.size == 0:
            return []
        d = np.asarray(duration_ns, dtype=np.int64)
        first, last = int(t.min()), int(t.max())
        self._horizon = max(self._horizon, last)
        if last - first <= 2 * self._slack_ns:
            # The usual runner batch (~100 ms): every row's stretch holds its end +- slack, and the
            # ends are this close, so the stretches join into one.
            self._add_busy(int((t - d).min()) - self._slack_ns, last + self._slack_ns)
            return self._decide()
        lo = t - d - self._slack_ns
        hi = t + self._slack_ns
        if t.size > 1 and (np.diff(lo) < 0).any():
            order = np.argsort(lo, kind="stable")
            lo, hi = lo[order], hi[order]
        reach = np.maximum.accumulate(hi)
        breaks = np.flatnonzero(lo[1:] > reach[:-1]) + 1
        starts = np.concatenate(([0], breaks))
        ends = np.concatenate((breaks, [t.size])) - 1
        for a, b in zip(lo[starts].tolist(), reach[ends].tolist()):
            self._add_busy(a, b)
        return self._decide()

    def add_event(self, t_ns: int, kind: str, details: Mapping[str, Any] | None = None) -> list[ThrottleChange]:
        """An event; only power-mode changes, core switches and user controls matter here."""
        if kind in _EVENTS:
            item = (int(t_ns), str(kind), dict(details or {}))
            if self._events and self._events[-1][0] > item[0]:
                self._events.append(item)
                self._events.sort(key=lambda e: e[0])
            else:
                self._events.append(item)
        return []

    def finish(self) -> list[ThrottleChange]:
        """The session ended: decide every waiting sample and close every open episode."""
        out = self._decide(final=True)
        for dom in list(self._runs):
            out += self._close(dom)
        return out

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> dict[str, ThrottleChange]:
        """The open episodes by domain, as their ``begin`` with the evidence known now."""
        return {dom: self._change("begin", dom, run) for dom, run in self._runs.items() if run.open}

    # ------------------------------------------------------------------ deciding
    def _add_busy(self, a: int, b: int) -> None:
        busy = self._busy
        if busy and a <= busy[-1][1] and a >= busy[-1][0]:
            busy[-1][1] = max(busy[-1][1], b)
            return
        busy.append([a, b])
        if len(busy) > 1 and busy[-2][0] > a:       # out of order (a second worker): re-merge
            busy.sort()
            merged: list[list[int]] = []
            for x, y in busy:
                if merged and x <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], y)
                else:
                    merged.append([x, y])
            self._busy[:] = merged

    def _is_busy(self, t: int, values: Mapping[str, float]) -> bool:
        """The analysis' ``busy_mask`` for one sample: the worker's CPU or iterations near it; a
        command's GPU load too; without a worker, the machine's CPU or GPU load."""
        opts = self.options
        self._clocks_in(values)                  # keeps the load-metric names current
        gpu = any(_gt(values.get(n), opts.busy_gpu_pct) for n in self._gpu_loads)
        if self.busy_from == "machine":
            return gpu or any(_gt(values.get(n), opts.busy_cpu_pct) for n in self._cpu_loads)
        if self.busy_from == "command" and gpu:
            return True
        if _gt(values.get("proc_worker_cpu_pct"), opts.busy_cpu_pct):
            return True
        return any(a <= t <= b for a, b in self._busy)

    def _decide(self, final: bool = False) -> list[ThrottleChange]:
        out: list[ThrottleChange] = []
        cap = 3.0 * self.sample_dt_s * 1e9
        while self._pending:
            t, values = self._pending[0]
            if len(self._pending) > 1:
                dur = min(self._pending[1][0] - t, cap)
            elif final:
                dur = self.sample_dt_s * 1e9
            else:
                break
            if not final and self._horizon < t + self._delay_ns:
                break
            self._pending.popleft()
            self._decided_ns = t
            out += self._sample(t, values, int(dur))
        if final:
            self._apply_events(None)
        # Busy stretches that end before the next sample to decide are of no use any more.
        while self._busy and self._busy[0][1] < self._decided_ns:
            self._busy.pop(0)
        return out

    def _apply_events(self, upto: int | None) -> None:
        n = 0
        for t, kind, details in self._events:
            if upto is not None and t > upto:
                break
            n += 1
            if kind == EventKind.POWER_MODE and details.get("ok") is not False:
                self._ceilings = ceilings_from(details.get("ceilings"))
                self._observed.clear()
            elif kind == EventKind.CORE_ONLINE and details.get("ok") is not False:
                cpu, online = details.get("cpu"), details.get("online")
                if isinstance(cpu, int) and isinstance(online, bool):
                    (self._offline.discard if online else self._offline.add)(cpu)
            hit = event_evidence(kind, details, (t - self.origin_ns) / 1e9)
            if hit is not None:
                self._evidence(_Item(t, event=hit))
        del self._events[:n]

    def _evidence(self, item: _Item) -> None:
        """An event's evidence goes to the lookback ring (a run that starts later looks back at it)."""
        self._recent.append(item)

    def _clocks_in(self, values: Mapping[str, float]) -> list[str]:
        """The clock metrics of a sample (cached while the sample's names stay the same)."""
        keys = values.keys()
        if keys != self._keys:
            self._keys = set(keys)
            self._clock_names = [m for m in keys if self._kind(m)[0] is not None]
            self._cpu_loads, self._gpu_loads = load_names(keys)
        return self._clock_names

    def _kind(self, metric: str) -> tuple[str | None, str | None, int | None]:
        """(domain, unit-load metric, cpu index) of a metric name; cached."""
        k = self._kinds.get(metric)
        if k is None:
            dom = domain_of(metric)
            k = (dom, catalogue.load_metric(metric) if dom else None, core_of(metric) if dom else None)
            self._kinds[metric] = k
        return k

    def _sample(self, t: int, values: Mapping[str, float], dur: int) -> list[ThrottleChange]:
        opts = self.options
        self._apply_events(t)
        look = t - int(opts.lookback_s * 1e9)
        while self._recent and self._recent[0].t_ns < look:
            self._recent.popleft()
        item = self._item(t, values)
        busy = self._is_busy(t, values)
        below: dict[str, list[tuple[str, float, float]]] = {}
        ceilings: dict[str, float] = {}
        for metric in self._clocks_in(values):
            dom, unit, cpu = self._kind(metric)
            if dom is None:
                continue
            v = values[metric]
            valid = v is not None and math.isfinite(v) and v > 0
            if cpu is not None and (cpu in self._offline or _lt(values.get(f"cpu{cpu}_online"), 0.5)):
                valid = False
            if not valid:
                continue
            ceiling = ceiling_for(self._ceilings, metric)
            if ceiling is None:
                ceiling = self._observed[metric] = max(v, self._observed.get(metric, v))
            ceilings[metric] = ceiling
            if not busy or (unit is not None and _lt(values.get(unit), unit_busy_threshold(dom, opts))):
                continue
            if v < ceiling * (1.0 - opts.tolerance_pct / 100.0):
                below.setdefault(dom, []).append((metric, v, ceiling))
        self.current_ceilings = ceilings
        out: list[ThrottleChange] = []
        gap = int(opts.merge_gap_s * 1e9)
        for dom in DOMAINS:
            run = self._runs.get(dom)
            if dom in below:
                if run is not None and t - run.end_ns > gap:
                    out += self._close(dom)
                    run = None
                if run is None:
                    run = self._runs[dom] = self._start_run(t, t + dur, item)
                else:
                    run.end_ns = max(run.end_ns, t + dur)
                for metric, v, ceiling in below[dom]:
                    run.clocks.setdefault(metric, _ClockStats()).add(v, ceiling)
                if not run.open and run.end_ns - run.start_ns >= int(opts.min_episode_s * 1e9):
                    run.open = True
                    out.append(self._change("begin", dom, run))
            elif run is not None and t - run.end_ns > gap:
                out += self._close(dom)
        if item is not None:
            self._recent.append(item)
        return out

    def _start_run(self, t: int, end: int, item: _Item | None) -> _Run:
        """A run starting at ``t``, its cause from ``lookback_s`` before it up to its first sample."""
        evidence = _Evidence()
        for earlier in self._recent:       # the ring holds just that window (trimmed at each sample)
            evidence.add(earlier)
        if item is not None:
            evidence.add(item)
        cause, causes, lines = evidence.rank(self.trips, self.limits)
        return _Run(start_ns=t, end_ns=end, cause=(cause, tuple(causes), tuple(lines)))

    def _close(self, dom: str) -> list[ThrottleChange]:
        run = self._runs.pop(dom)
        return [self._change("end", dom, run)] if run.open else []

    def _change(self, kind: str, dom: str, run: _Run) -> ThrottleChange:
        cause, causes, evidence = run.cause
        clock, stats = run.worst()
        return ThrottleChange(kind=kind, domain=dom, start_ns=run.start_ns,
                              end_ns=run.end_ns if kind == "end" else None, cause=cause, causes=causes,
                              evidence=evidence, clock=clock, clock_mhz=stats.mean,
                              min_clock_mhz=stats.low if stats.n else math.nan, ceiling_mhz=stats.ceiling)

    def _item(self, t: int, values: Mapping[str, float]) -> _Item | None:
        """What this sample shows towards a cause (None: nothing)."""
        opts = self.options
        slowdown = positive_number(values.get(_SLOWDOWN))
        if slowdown is not None and _GPU_TEMP not in self._trips_meta:
            self.trips[_GPU_TEMP] = min(slowdown, self.trips.get(_GPU_TEMP, slowdown))
        cap = positive_number(values.get(_POWER_LIMIT))
        if cap is not None and _GPU_POWER not in self._limits_meta:
            self.limits[_GPU_POWER] = min(cap, self.limits.get(_GPU_POWER, cap))
        nvml, pi = FLAG_METRICS
        item = _Item(t, nvml=_bits(values.get(nvml)), pi=_bits(values.get(pi)))
        for m, trip in self.trips.items():
            v = values.get(m)
            if v is not None and math.isfinite(v) and near_trip(v, trip, opts):
                item.thermal[m] = float(v)
        for m, limit in self.limits.items():
            v = values.get(m)
            if v is not None and math.isfinite(v) and near_limit(v, limit, opts):
                item.power[m] = float(v)
        if not (item.nvml or item.pi or item.thermal or item.power):
            return None
        return item


def _gt(value: Any, threshold: float) -> bool:
    """``value > threshold`` (missing or NaN: not above)."""
    return value is not None and not math.isnan(value) and value > threshold


def _lt(value: Any, threshold: float) -> bool:
    """``value < threshold`` where a missing or NaN value is never below (unknown: no veto)."""
    return value is not None and not math.isnan(value) and value < threshold


def _bits(value: Any) -> int:
    if value is None or not math.isfinite(value):
        return 0
    return int(value)


def _limits(d: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            f = positive_number(v)
            if f is not None:
                out[str(k)] = f
    return out
