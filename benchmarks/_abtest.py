"""Time-sliced A/B comparison for the fidelity benchmarks.

On a shared or virtual machine the speed of the same loop drifts by 5-20 % over tens of
seconds (other tenants, memory bandwidth, the host's clocks), far more than the 2-3 %
the fidelity targets allow, so two back-to-back runs of 20 s mostly measure that drift.
Here the two conditions take turns instead, in short slices (a few seconds), many
times, in ABBA order: whatever drifts falls on both nearly equally.

A condition is "on" during its slice and "off" otherwise; for long-lived processes "off"
is SIGSTOP, so a stopped process costs no CPU, exactly as if it were not there, and
"on" is SIGCONT. Every slice is recorded as a window of CLOCK_MONOTONIC nanoseconds,
the clock the runners and the bare loops stamp their iterations with, so each
iteration is assigned to the window it ran in. Iterations that straddle a switch, or
start within ``guard`` of it (cold caches after a resume), are left out.

The statistics are per condition: the median latency of all its iterations and the
throughput (items over the summed spans from each window's first start to its last
end, so gaps between iterations count), and a bootstrap 95 % interval for the
difference, resampling whole cycles (one window of each condition).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

clock = time.monotonic_ns  # CLOCK_MONOTONIC: the runners' clock and time.perf_counter_ns's on Linux


@dataclass
class Iterations:
    """Timed iterations in CLOCK_MONOTONIC nanoseconds."""

    t_start: np.ndarray
    t_end: np.ndarray
    items: np.ndarray

    @classmethod
    def of(cls, t_start, t_end, items=None) -> "Iterations":
        t_start = np.asarray(t_start, dtype=np.int64)
        items = np.ones(len(t_start), dtype=np.int64) if items is None else np.asarray(items, dtype=np.int64)
        return cls(t_start, np.asarray(t_end, dtype=np.int64), items)


@dataclass
class Window:
    label: str
    cycle: int
    start: int
    end: int


@dataclass
class Schedule:
    """The windows of a time-sliced run, in order."""

    windows: list[Window] = field(default_factory=list)

    def of(self, label: str) -> list[Window]:
        return [w for w in self.windows if w.label == label]


def pause(pids: Sequence[int], group: bool = False) -> None:
    for pid in pids:
        _signal(pid, signal.SIGSTOP, group)


def resume(pids: Sequence[int], group: bool = False) -> None:
    for pid in pids:
        _signal(pid, signal.SIGCONT, group)


def _signal(pid: int, sig: int, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        (os.killpg if group else os.kill)(pid, sig)


def take_turns(turns: dict[str, Callable[[float], None]], cycles: int, slice_s: float,
               log: Callable[[str], None] | None = None) -> Schedule:
    """Run ``turns[label](slice_s)`` for each label, ABBA over ``cycles``; each call is one window.

    A turn function switches its condition on, lets it run for the slice, and switches it off
    again before returning (for a process: resume, sleep, pause).
    """
    labels = list(turns)
    schedule = Schedule()
    t0 = time.monotonic()
    for c in range(cycles):
        for label in (labels if c % 2 == 0 else labels[::-1]):
            start = clock()
            turns[label](slice_s)
            schedule.windows.append(Window(label, c, start, clock()))
        if log and (c + 1) % max(1, cycles // 5) == 0:
            done = (c + 1) / cycles
            eta = (time.monotonic() - t0) * (1 - done) / done
            log(f"    {c + 1}/{cycles} cycles, about {eta:.0f} s left")
    return schedule


def process_turn(pids: Sequence[int], group: bool = False) -> Callable[[float], None]:
    """A turn that resumes ``pids`` for the slice and pauses them again."""

    def turn(slice_s: float) -> None:
        resume(pids, group)
        time.sleep(slice_s)
        pause(pids, group)

    return turn


def toggled(condition: str, pids: Sequence[int], group: bool = False) -> dict[str, Callable[[float], None]]:
    """Turns "<condition> off" and "<condition> on" for processes that are stopped or running
    while the measured workload runs throughout."""

    def off(slice_s: float) -> None:
        time.sleep(slice_s)

    return {f"{condition} off": off, f"{condition} on": process_turn(pids, group)}


def in_window(it: Iterations, w: Window, guard_ns: int) -> np.ndarray:
    return (it.t_start >= w.start + guard_ns) & (it.t_end <= w.end)


@dataclass
class Cell:
    """One condition's iterations, window by window (cycle -> arrays)."""

    durations: dict[int, np.ndarray]
    items: dict[int, int]
    spans: dict[int, int]

    def pooled(self, cycles: Sequence[int]) -> tuple[float, float, int]:
        """(median latency ms, throughput items/s, iterations) over those cycles (repeats allowed)."""
        cycles = [c for c in cycles if c in self.durations]
        if not cycles:
            return float("nan"), float("nan"), 0
        d = np.concatenate([self.durations[c] for c in cycles])
        items = sum(self.items[c] for c in cycles)
        span = sum(self.spans[c] for c in cycles)
        return float(np.median(d)) / 1e6, items / (span / 1e9) if span else float("nan"), int(len(d))


def cell(it: Iterations, windows: list[Window], guard_s: float) -> Cell:
    guard = int(guard_s * 1e9)
    durations, items, spans = {}, {}, {}
    for w in windows:
        m = in_window(it, w, guard)
        if m.sum() < 2:
            continue
        durations[w.cycle] = (it.t_end[m] - it.t_start[m])
        items[w.cycle] = int(it.items[m].sum())
        spans[w.cycle] = int(it.t_end[m][-1] - it.t_start[m][0])
    return Cell(durations, items, spans)


@dataclass
class Comparison:
    label: str
    ours: str
    ref: str
    ours_median_ms: float
    ref_median_ms: float
    ours_throughput: float
    ref_throughput: float
    n_ours: int
    n_ref: int
    cycles: int
    median_diff_pct: float
    median_ci: tuple[float, float]
    throughput_diff_pct: float
    throughput_ci: tuple[float, float]

    def lines(self, target_pct: float, throughput: bool = True, latency: bool = True) -> list[str]:
        out = [f"  {self.label}  ({self.cycles} cycles; {self.n_ours} and {self.n_ref} iterations)"]
        rows = []
        if latency:
            rows.append(("median latency", f"{self.ours_median_ms:.3f} ms", f"{self.ref_median_ms:.3f} ms",
                         self.median_diff_pct, self.median_ci))
        if throughput:
            rows.append(("throughput", f"{self.ours_throughput:.2f} /s", f"{self.ref_throughput:.2f} /s",
                         self.throughput_diff_pct, self.throughput_ci))
        for name, a, b, d, ci in rows:
            verdict = "within" if abs(d) <= target_pct else "OUTSIDE"
            if max(abs(ci[0]), abs(ci[1])) <= target_pct:
                verdict += ", CI too"
            out.append(f"    {name:15s} {self.ours}: {a:>12s}  {self.ref}: {b:>12s}  {d:+6.2f} %"
                       f"  (95 % CI {ci[0]:+.2f} .. {ci[1]:+.2f}; {verdict} {target_pct:g} %)")
        return out


def pct(x: float, ref: float) -> float:
    return 100.0 * (x - ref) / ref


def compare(label: str, ours: tuple[str, Cell], ref: tuple[str, Cell], boot: int = 2000, seed: int = 0) -> Comparison:
    """Pooled medians and throughputs of two conditions, and bootstrap CIs over shared cycles."""
    (on, a), (rn, b) = ours, ref
    cycles = _shared(label, a.durations, b.durations)
    am, at, an = a.pooled(cycles)
    bm, bt, bn = b.pooled(cycles)
    rng = np.random.default_rng(seed)
    dm, dt = [], []
    for _ in range(boot):
        pick = list(rng.choice(cycles, size=len(cycles), replace=True))
        xm, xt, _ = a.pooled(pick)
        ym, yt, _ = b.pooled(pick)
        dm.append(pct(xm, ym))
        dt.append(pct(xt, yt))
    return Comparison(label, on, rn, am, bm, at, bt, an, bn, len(cycles), pct(am, bm),
                      _interval(dm), pct(at, bt), _interval(dt))


def compare_on_off(label: str, it: Iterations, schedule: Schedule, condition: str, guard_s: float) -> Comparison:
    """One workload's iterations in the turns where ``condition`` (from :func:`toggled`) was on vs off."""
    return compare(label, ("on", cell(it, schedule.of(f"{condition} on"), guard_s)),
                   ("off", cell(it, schedule.of(f"{condition} off"), guard_s)))


def compare_medians(label: str, ours: tuple[str, dict[int, float]], ref: tuple[str, dict[int, float]],
                    counts: tuple[int, int] = (0, 0), boot: int = 2000, seed: int = 0) -> Comparison:
    """The same for conditions known only by one median per window (a tool that prints its own)."""
    (on, a), (rn, b) = ours, ref
    cycles = _shared(label, a, b)
    am = float(np.median([a[c] for c in cycles]))
    bm = float(np.median([b[c] for c in cycles]))
    rng = np.random.default_rng(seed)
    dm = []
    for _ in range(boot):
        pick = rng.choice(cycles, size=len(cycles), replace=True)
        dm.append(pct(float(np.median([a[c] for c in pick])), float(np.median([b[c] for c in pick]))))
    nan = float("nan")
    return Comparison(label, on, rn, am, bm, nan, nan, counts[0], counts[1], len(cycles), pct(am, bm),
                      _interval(dm), nan, (nan, nan))


def _shared(label: str, a: dict, b: dict) -> list[int]:
    cycles = sorted(set(a) & set(b))
    if not cycles:
        raise SystemExit(f"{label}: no cycle has measured iterations of both conditions "
                         "(a worker still starting or warming up? raise --startup or --slice)")
    return cycles


def _interval(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan")
    return float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))


@contextlib.contextmanager
def resumed_on_exit(pids: Sequence[int], group: bool = False) -> Iterator[None]:
    """Whatever happens, leave no process stopped behind."""
    try:
        yield
    finally:
        resume(pids, group)
