"""The latency side of an analysis: every latency number of a recording from a few passes.

A 3-hour session at 16,000 inferences/s has 170 million latency rows; no analysis holds
them. :class:`LatencyScan` reads the pieces of :class:`edgemon.recording.chunks.LatencyChunks`
a few times, keeping state that does not grow with the number of rows
(:mod:`edgemon.analysis.selection`):

* **pass 0** reads the one or two pieces that hold the first and the last measured
  iteration (the Parquet statistics say which): the measured span, so the windows are known
  before the first full pass;
* **pass 1** reads every row: counts, warm-up, the first inference, inconsistent rows (a
  negative duration, a row after the session's recorded end), when the worker was active
  (throttling's busy test), and histograms of all measured rows, of each window, each
  repetition and each worker run;
* once the throttling episodes are known (telemetry), **later passes** refine every rank
  asked for (percentiles, MLPerf, latency levels, per-window, per-episode, inside/outside
  episodes, change-point medians) until each is an exact latency that happened.

Which rows are *measured*: not warm-up, not in a training phase, a duration >= 0 and, when
session.json records the end, not ending after it. Time that does not count for
throughput: paused time (``pause`` to ``resume`` events) and the time between worker runs
(rests, cool-down, idle baseline, start-up of the next repetition's worker).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from edgemon.analysis.intervals import overlap_s, union
from edgemon.analysis.latency import nearest_rank_index, stat_ranks, stats_from
from edgemon.analysis.selection import FINE_BITS, INT_MAX, TOP, Family, Rows, buckets, one_pass
from edgemon.recording.chunks import COLUMNS
from edgemon.recording.segments import release_memory

MIN_T = -(1 << 62)
MAX_T = 1 << 62
MAX_SCATTER = 6000
MAX_WINDOWS_HARD = 20_000      # --window narrower than span / this is widened (and the result says so)
SUB_ROWS = 1 << 18             # rows handed to the families at a time
RELEASE_EVERY = 0              # hand freed memory back to the system every N pieces (0: never)
READ_WORKERS = 1               # pieces read and prepared at once (2 measured no faster here, +30 MB)


# ------------------------------------------------------------------ which rows count


@dataclass
class RowFilter:
    """Which rows of a chunk are measured inferences."""

    train: list[tuple[int, int]] = field(default_factory=list)   # [lo, hi) of t_end in a training phase
    end_limit: int | None = None                                   # rows ending later are inconsistent

    @classmethod
    def of(cls, data) -> "RowFilter":
        phases = sorted((e.t_ns, str(e.details.get("name", ""))) for e in data.events if e.kind == "phase")
        train = []
        for i, (t0, name) in enumerate(phases):
            if name == "train":
                t1 = phases[i + 1][0] if i + 1 < len(phases) else MAX_T
                train.append((t0, t1))
        ended = data.meta.get("ended_monotonic_ns")
        live = bool(getattr(data, "live", False))
        end_limit = ended if isinstance(ended, int) and not isinstance(ended, bool) and not live else None
        return cls(train, end_limit)

    def valid(self, chunk) -> np.ndarray | None:
        """Rows that are consistent (duration >= 0, not after the recorded end); None: all of
        them (the piece's statistics say so, no row needs looking at)."""
        p = chunk.piece
        m = None
        if p.d_min is None or p.d_min < 0:
            m = chunk.dur >= 0
        if self.end_limit is not None and (p.t_max is None or p.t_max > self.end_limit):
            after = chunk.t <= self.end_limit
            m = after if m is None else m & after
        return m

    def measured(self, chunk, valid: np.ndarray | None = None, *, checked: bool = False) -> np.ndarray | None:
        """Measured rows (None: all); ``checked``: ``valid`` is :meth:`valid`'s answer already."""
        m = valid if checked else self.valid(chunk)
        if chunk.piece.any_warm is not False:
            m = ~chunk.warm if m is None else m & ~chunk.warm
        if self.train and len(chunk):
            lo, hi = int(chunk.t.min()), int(chunk.t.max())
            for a, b in self.train:
                if b > lo and a <= hi:
                    out = ~((chunk.t >= a) & (chunk.t < b))
                    m = out if m is None else m & out
        return m


def measured_bounds(chunks, filt: RowFilter) -> tuple[int | None, int | None]:
    """(start of the first measured iteration, end of the last one), reading only the pieces
    that can hold them (pieces without statistics are read)."""
    pieces = [p for p in chunks.pieces if p.rows]

    def extreme(order, bound, value, better) -> int | None:
        """Read pieces in ``order`` until ``bound(piece)`` says none can beat the best so far."""
        best = None
        for p in sorted(pieces, key=order):
            if best is not None and not better(bound(p), best):
                break
            ch = chunks.try_read(p)
            if ch is None:
                continue
            m = filt.measured(ch)
            if m is None or m.any():
                v = value(ch, m)
                best = v if best is None or better(v, best) else best
        return best

    def lower(p) -> int:          # no row of p starts before this
        if p.t_min is None or p.d_max is None:
            return -INT_MAX
        return p.t_min - max(p.d_max, 0)

    def upper(p) -> int:          # no row of p ends after this
        return p.t_max if p.t_max is not None else INT_MAX

    last = extreme(lambda p: -upper(p), upper,
                   lambda ch, m: int(ch.t.max() if m is None else ch.t[m].max()), lambda a, b: a > b)
    first = extreme(lower, lower,
                    lambda ch, m: int((ch.t - ch.dur).min() if m is None else (ch.t[m] - ch.dur[m]).min()),
                    lambda a, b: a < b)
    return first, last


def value_range(chunks) -> tuple[int, int] | None:
    """Smallest and largest duration any piece can hold (Parquet statistics), None if unknown."""
    lows = [p.d_min for p in chunks.pieces if p.rows]
    highs = [p.d_max for p in chunks.pieces if p.rows]
    if not lows or any(v is None for v in lows + highs):
        return None
    return max(0, min(lows)), max(0, min(max(highs), TOP))


# ------------------------------------------------------------------ pass-1 consumers


class Activity:
    """Per telemetry sample: did an iteration run within ``slack`` of it (any row, warm-up too)?"""

    def __init__(self, tel_t: np.ndarray, slack_ns: int):
        self.tel_t = tel_t
        self.slack = int(slack_ns)
        self._diff = np.zeros(tel_t.shape[0] + 1, dtype=np.int64)

    def add(self, t: np.ndarray, start: np.ndarray) -> None:
        """Rows with ascending end ``t``: the union of [start - slack, end + slack] marks the samples in it."""
        self.mark(*self.runs(t, start))

    def runs(self, t: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(from, to) times of the runs of widened intervals (no shared state: any thread)."""
        if not self.tel_t.shape[0] or not t.shape[0]:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        # ends ascend; the union of the widened intervals breaks where an end comes more than
        # 2 x slack before every later start (with starts ascending too: before the next start)
        if bool(np.all(start[1:] >= start[:-1])):
            lows = start
            cut = np.flatnonzero(start[1:] - t[:-1] > 2 * self.slack) + 1
        else:   # overlapping rows: the earliest later start decides
            lows = np.minimum.accumulate(start[::-1])[::-1]
            cut = np.flatnonzero(lows[1:] - t[:-1] > 2 * self.slack) + 1
        firsts = np.concatenate(([0], cut))
        lasts = np.concatenate((cut - 1, [t.shape[0] - 1]))
        return lows[firsts] - self.slack, t[lasts] + self.slack

    def mark(self, lo_t: np.ndarray, hi_t: np.ndarray) -> None:
        if not lo_t.shape[0]:
            return
        lo = np.searchsorted(self.tel_t, lo_t, side="left")
        hi = np.searchsorted(self.tel_t, hi_t, side="right")
        keep = hi > lo
        np.add.at(self._diff, lo[keep], 1)
        np.add.at(self._diff, hi[keep], -1)

    def mask(self) -> np.ndarray:
        return np.cumsum(self._diff[:-1]) > 0


@dataclass
class RowFacts:
    """What pass 1 counts over every row."""

    rows: int = 0
    warmup_rows: int = 0
    invalid_negative: int = 0
    invalid_after_end: int = 0
    train_rows: int = 0
    zero_rows: int = 0                      # measured rows with duration 0 (no latency level)
    first_t: int | None = None              # the earliest row (warm-up included): the first inference
    first_dur: int | None = None
    first_start: int | None = None          # earliest start of any valid row
    last_end: int | None = None             # latest end of any valid row
    scatter_t: list = field(default_factory=list)
    scatter_dur: list = field(default_factory=list)


# ------------------------------------------------------------------ the scan


class _Prepared:
    """One piece made ready on a reading thread: its rows, and (pass 1) what it adds to the counts."""

    __slots__ = ("rows", "name", "first")

    def __init__(self, rows: list, name: str = "", first: dict | None = None):
        self.rows, self.name, self.first = rows, name, first


def _time_order(t: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, ...]:
    if t.shape[0] > 1 and not bool(np.all(t[1:] >= t[:-1])):
        order = np.argsort(t, kind="stable")
        return (t[order],) + tuple(c[order] for c in cols)
    return (t,) + cols


class LatencyScan:
    """Pass 0 on construction; :meth:`first_pass`, ``want_*``, then :meth:`resolve` for the exact
    ranks. Families whose groups are only known after pass 1 (throttling episodes, change
    points) are set up provisionally before it and checked after, so that a recording usually
    takes two passes: histograms, then refinement."""

    def __init__(self, data, *, window_s: float | None = None, level_min_share: float = 0.02):
        from edgemon.analysis.windows import window_edges

        self.data = data
        self.chunks = data.latency
        self.filter = RowFilter.of(data)
        self.problems: list[str] = []
        self.facts = RowFacts()
        self.t0, self.t1 = measured_bounds(self.chunks, self.filter)
        vr = value_range(self.chunks)
        self.all = Family("all", [MIN_T], [MAX_T], moments=True, bits=FINE_BITS, value_range=vr)
        families = [self.all]
        # windows
        self.window_s = window_s
        self.windows: Family | None = None
        self.window_edges = None
        if self.t0 is not None and self.t1 is not None:
            w, adaptive, edges, note = window_edges(self.t0, self.t1, window_s, MAX_WINDOWS_HARD)
            if note:
                self.problems.append(note)
            self.window_edges = (w, adaptive, edges)
            starts = edges[:-1] + 1
            ends = edges[1:] + 1
            starts[0], ends[-1] = MIN_T, MAX_T
            self.windows = Family("windows", starts, ends, value_range=vr)
            families.append(self.windows)
        # worker runs: rows between one worker's hello and the next one's
        hellos = sorted(e.t_ns for e in data.events if e.kind == "worker_hello")
        bounds = [MIN_T] + [h for h in hellos if MIN_T < h < MAX_T] + [MAX_T]
        self.runs = Family("runs", bounds[:-1], bounds[1:], hist=False)
        families.append(self.runs)
        # repetitions of a profile
        self.rep_spans = _repetitions(data)
        self.reps: Family | None = None
        if self.rep_spans:
            # A repetition's rows run from the previous repetition's end (its worker's exit) to
            # the next one's: its start is the worker's hello as the session read it, after the
            # worker's first iterations when the machine is loaded; rests have no worker, so no
            # rows of their own, and the first repetition has nothing measured before it.
            rep_starts = [MIN_T]
            for prev, rep in zip(self.rep_spans, self.rep_spans[1:]):
                end, start = prev.get("end_ns"), int(rep["start_ns"])
                if isinstance(end, int) and not isinstance(end, bool) and rep_starts[-1] <= end <= start:
                    rep_starts.append(end + 1)      # a row ending at the exit is the old one's
                else:
                    rep_starts.append(start)
            rep_ends = rep_starts[1:] + [MAX_T]
            keep = [i for i in range(len(rep_starts)) if rep_ends[i] > rep_starts[i]]
            self.reps = Family("repetitions", [rep_starts[i] for i in keep], [rep_ends[i] for i in keep], keep,
                               n_groups=len(rep_starts), moments=True, value_range=vr)
            families.append(self.reps)
        self.value_range = vr
        from edgemon.analysis.throttling import busy_slack_s

        self.activity = Activity(data.tel_t, int(busy_slack_s(data.sample_dt_s) * 1e9))
        n_all = max(1, self.chunks.rows)
        self._scatter_step = max(1, n_all // MAX_SCATTER)
        self._scatter_seen = 0
        self.families: list[Family] = families
        self._candidates = self._edge_candidates()
        self._positions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._pieces_done = 0
        self._first = True
        self.level_min_share = level_min_share
        self.levels_plan: Any = None       # levels.LevelPlan after pass 1
        self.episode_families: dict[str, Family] = {}
        self.inside: Family | None = None
        self._episodes_key: Any = None
        self.change: list[tuple[dict[str, Any], Family]] = []
        self._change_args: dict[str, Any] | None = None
        self._change_key: Any = None
        self._blocks_wanted: set[int] = set()

    def provisional_activity(self) -> np.ndarray:
        """Per telemetry sample, before any row is read: within the time range of a latency piece.
        Differs from the real activity only in gaps inside a piece (a pause); pass 1 checks."""
        t = self.data.tel_t
        act = np.zeros(t.shape[0], dtype=bool)
        slack = self.activity.slack
        for p in self.chunks.pieces:
            if p.rows and p.t_min is not None and p.t_max is not None:
                lo = p.t_min - max(p.d_max or 0, 0) - slack
                a = int(np.searchsorted(t, lo, side="left"))
                b = int(np.searchsorted(t, p.t_max + slack, side="right"))
                act[a:b] = True
        return act

    def first_pass(self) -> bool:
        """Pass 1 over every row (see the module docstring)."""
        one_pass(self._rows, self.families, everything=True)
        self._first = False
        self._after_pass_one()
        if self.count:
            from edgemon.analysis import levels as _levels

            self.levels_plan = _levels.plan_levels(self.all.hist[0], self.all.b0, FINE_BITS, self.count,
                                                   self.facts.zero_rows, min_share=self.level_min_share)
        return True

    # ------------------------------------------------------------------ passes

    def _rows(self, spans, active=(), full: bool = True) -> Iterator[Rows]:
        pieces = None
        if spans is not None:
            lo_s = np.array([a for a, _ in spans], dtype=np.int64)
            hi_s = np.array([b for _, b in spans], dtype=np.int64)
            pieces = [p for p in self.chunks.pieces if p.rows and np.any(
                (lo_s <= (p.t_max if p.t_max is not None else MAX_T))
                & (hi_s > (p.t_min if p.t_min is not None else MIN_T)))]
        light = set() if self._first else {p.name for p in (pieces or self.chunks.pieces) if self._light(p, active)}
        light_cols = ("duration_ns", "items") if full else ("duration_ns",)

        def columns(p):
            return light_cols if p.name in light else COLUMNS

        for prepared in self.chunks.scan(pieces, columns=columns, prepare=lambda c: self._prepare(c, full),
                                         workers=READ_WORKERS):
            if prepared.first is not None:
                self._merge(prepared)
            yield from prepared.rows

    def _prepare(self, chunk, full: bool) -> "_Prepared":
        """On a reading thread (``READ_WORKERS`` may run at once, so nothing shared is changed here): which rows
        are measured, pass 1's counts, the time order, and per quarter row group the starts and
        histogram buckets."""
        p = chunk.piece
        if chunk.t is None:
            times, positions = self._positions[p.name]
            rows = Rows(chunk.dur, items=chunk.items, lo=int(p.t_min), hi=int(p.t_max), times=times,
                        positions=positions)
            rows.fine = buckets(rows.v, FINE_BITS)
            rows.items_each = p.items_each
            return _Prepared([rows])
        valid = self.filter.valid(chunk)
        m = self.filter.measured(chunk, valid, checked=True)
        if m is not None and m.all():
            m = None
        first = self._facts_of(chunk, valid, m) if self._first else None
        if m is None:
            t, v, items = _time_order(chunk.t, chunk.dur, chunk.items)
            if first is not None and first["sorted"] and p.t_min is not None:
                first["positions"] = self._positions_of(t)
        else:
            t, v, items = _time_order(chunk.t[m], chunk.dur[m], chunk.items[m])
        if first is not None:
            first["measured"] = (t, v)
            if p.d_min is None or p.d_min <= 0:
                first["zero_rows"] = int(np.count_nonzero(v == 0))
        vmax = p.d_max if m is None and p.d_max is not None else None
        out = []
        # a quarter of a row group at a time: the per-row temporaries stay a few MB each
        for a in range(0, t.shape[0], SUB_ROWS):
            ts, vs = t[a:a + SUB_ROWS], v[a:a + SUB_ROWS]
            start = ts - vs if full else None
            start_sorted = bool(start is not None and start.shape[0] and np.all(start[1:] >= start[:-1]))
            rows = Rows(vs, ts, items[a:a + SUB_ROWS], start, vmax=vmax, start_sorted=start_sorted)
            rows.fine = buckets(vs, FINE_BITS)
            rows.items_each = p.items_each
            out.append(rows)
        return _Prepared(out, p.name, first)

    def _merge(self, prepared: "_Prepared") -> None:
        """Pass 1's counts of one piece into the scan's state, in piece order (the main thread)."""
        d = prepared.first
        assert d is not None
        f = self.facts
        for key in ("rows", "warmup_rows", "invalid_negative", "invalid_after_end", "train_rows", "zero_rows"):
            setattr(f, key, getattr(f, key) + d.get(key, 0))
        if d.get("first_t") is not None and (f.first_t is None or d["first_t"] < f.first_t):
            f.first_t, f.first_dur = d["first_t"], d["first_dur"]
        if d.get("first_start") is not None:
            f.first_start = d["first_start"] if f.first_start is None else min(f.first_start, d["first_start"])
            f.last_end = d["last_end"] if f.last_end is None else max(f.last_end, d["last_end"])
        if d.get("runs") is not None:
            self.activity.mark(*d["runs"])
        if d.get("positions") is not None:
            self._positions[prepared.name] = d["positions"]
        t, v = d["measured"]
        self._consume_measured(t, v)
        self._pieces_done += 1
        if RELEASE_EVERY and self._pieces_done % RELEASE_EVERY == 0:
            release_memory()

    def _positions_of(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row index of every possible interval edge inside a sorted, all-measured piece: later
        passes then read only its durations."""
        c = self._candidates
        i0 = int(np.searchsorted(c, int(t[0]), side="left"))
        i1 = int(np.searchsorted(c, int(t[-1]), side="right"))
        times = c[i0:i1]
        return times, np.searchsorted(t, times, side="left")

    def _light(self, piece, active) -> bool:
        """Can a later pass read only the durations of ``piece``? Yes when pass 1 found it sorted
        and all measured, and every interval edge inside it is one whose row index it noted."""
        found = self._positions.get(piece.name)
        if found is None:
            return False
        times = found[0]
        for f in active:
            edges = f.edges_within(piece.t_min, piece.t_max)
            if edges.shape[0]:
                k = np.searchsorted(times, edges)
                if np.any(k >= times.shape[0]) or np.any(times[np.minimum(k, times.shape[0] - 1)] != edges):
                    return False
        return True

    def _edge_candidates(self) -> np.ndarray:
        """Every time that can become an interval edge after pass 1: telemetry sample times and
        sample ends (throttling episodes), window edges (change points), the families' edges."""
        from edgemon.analysis.throttling import sample_durations

        tel = self.data.tel_t
        parts = [tel, tel + (sample_durations(tel, self.data.sample_dt_s) * 1e9).astype(np.int64)]
        for f in self.families:
            parts += [f.starts, f.ends]
        c = np.unique(np.concatenate(parts).astype(np.int64))
        return c[(c > MIN_T) & (c < MAX_T)]

    def _facts_of(self, chunk, valid: np.ndarray | None, measured: np.ndarray | None) -> dict[str, Any]:
        """Pass 1's counts over every row of a chunk, its first row, when the worker was active
        (no shared state: a reading thread)."""
        n = len(chunk)
        d: dict[str, Any] = {"rows": n, "sorted": True}
        if not n:
            d["measured"] = (np.empty(0, np.int64), np.empty(0, np.int64))
            return d
        p = chunk.piece
        # each row counts once: inconsistent (negative first), else warm-up, training or measured
        if p.any_warm is not False:
            d["warmup_rows"] = int(np.count_nonzero(chunk.warm if valid is None else chunk.warm & valid))
        if p.d_min is None or p.d_min < 0:
            d["invalid_negative"] = int(np.count_nonzero(chunk.dur < 0))
        if self.filter.end_limit is not None and (p.t_max is None or p.t_max > self.filter.end_limit):
            d["invalid_after_end"] = int(np.count_nonzero((chunk.t > self.filter.end_limit) & (chunk.dur >= 0)))
        if self.filter.train and measured is not None:
            warm = chunk.warm if chunk.warm is not None else np.zeros(n, bool)
            ok = ~warm if valid is None else valid & ~warm
            d["train_rows"] = int(np.count_nonzero(ok & ~measured))
        t: np.ndarray | None
        dur: np.ndarray | None
        if valid is None:
            t, dur = _time_order(chunk.t, chunk.dur)
        elif valid.any():
            t, dur = _time_order(chunk.t[valid], chunk.dur[valid])
        else:
            t = dur = None
        d["sorted"] = valid is None and t is chunk.t
        if t is None or dur is None:
            d["sorted"] = False
            return d
        # the first inference is the earliest consistent row (a negative duration is no latency)
        d["first_t"], d["first_dur"] = int(t[0]), int(dur[0])
        start = t - dur
        d["first_start"] = int(start.min())
        d["last_end"] = int(t[-1])
        d["runs"] = self.activity.runs(t, start)
        return d

    def _consume_measured(self, t: np.ndarray, v: np.ndarray) -> None:
        """Every n-th measured row for the plots (in piece order: the main thread)."""
        n = t.shape[0]
        step = self._scatter_step
        first = (-self._scatter_seen) % step
        if first < n:
            self.facts.scatter_t.append(t[first::step].copy())
            self.facts.scatter_dur.append(v[first::step].copy())
        self._scatter_seen += n

    def _after_pass_one(self) -> None:
        f = self.facts
        if f.invalid_negative:
            rows = "latency row has" if f.invalid_negative == 1 else "latency rows have"
            self.problems.append(f"{f.invalid_negative} {rows} a negative duration: left out")
        if f.invalid_after_end:
            rows = "latency row ends" if f.invalid_after_end == 1 else "latency rows end"
            self.problems.append(f"{f.invalid_after_end} {rows} after the session's recorded end "
                                 "(session.json ended_monotonic_ns): left out")
        if self.chunks.problems:
            self.problems += [p for p in self.chunks.problems if p not in self.problems]

    def resolve(self) -> int:
        """Passes until every wanted rank is exact; change-point medians are asked for as soon as
        the windows are done. Returns the number of passes made."""
        passes = 0
        while True:
            self.want_blocks()
            self._maybe_change_points()
            if not one_pass(self._rows, self.families):
                self._maybe_change_points()
                if not any(f.needs_pass for f in self.families):
                    return passes
                continue
            passes += 1

    # ------------------------------------------------------------------ facts

    @property
    def count(self) -> int:
        return int(self.all.count[0])

    @property
    def items(self) -> int:
        return int(self.all.items[0])

    @property
    def measured_start_ns(self) -> int | None:
        return int(self.all.first_start[0]) if self.count else None

    @property
    def measured_end_ns(self) -> int | None:
        return int(self.all.last_end[0]) if self.count else None

    @property
    def first_start_ns(self) -> int | None:
        return self.facts.first_start

    def value_ms(self, family: Family, group: int):
        return lambda r: family.value(group, r) / 1e6

    def active_intervals(self) -> list[tuple[int, int]]:
        """When measured iterations ran: each worker run's first start to last end, without
        paused time (sorted, disjoint)."""
        runs = [(int(s), int(e)) for s, e, c in zip(self.runs.first_start, self.runs.last_end, self.runs.count)
                if c > 0]
        paused = paused_intervals(self.data)
        out: list[tuple[int, int]] = []
        for s, e in sorted(runs):
            pieces = [(s, e)]
            for ps, pe in paused:
                nxt = []
                for a, b in pieces:
                    if pe <= a or ps >= b:
                        nxt.append((a, b))
                        continue
                    if ps > a:
                        nxt.append((a, ps))
                    if pe < b:
                        nxt.append((pe, b))
                pieces = nxt
            out += [(a, b) for a, b in pieces if b > a]
        return union(out)

    def active_s(self, lo: int | None = None, hi: int | None = None) -> float:
        lo = MIN_T if lo is None else lo
        hi = MAX_T if hi is None else hi
        return overlap_s(self.active_intervals(), lo, hi)

    # ------------------------------------------------------------------ requests

    def want_standard(self) -> None:
        """Ranks of the summary statistics, MLPerf, latency levels, windows and repetitions."""
        from edgemon.analysis.mlperf import singlestream_ranks

        n = self.count
        if n:
            self.all.want(0, stat_ranks(n))
            self.all.want(0, singlestream_ranks(n))
            if self.levels_plan is not None:
                self.all.want(0, self.levels_plan.ranks)
        if self.windows is not None:
            for g in range(self.windows.n):
                c = int(self.windows.count[g])
                if c:
                    self.windows.want(g, block_ranks(c) + [c - 1])
        if self.reps is not None:
            for g in range(self.reps.n):
                c = int(self.reps.count[g])
                if c:
                    self.reps.want(g, stat_ranks(c))

    def set_episodes(self, by_domain: dict[str, list[tuple[int, int]]], union: list[tuple[int, int]]) -> None:
        """Families for each domain's throttling episodes and for inside/outside all episodes
        (replacing earlier ones when the episodes differ)."""
        key = (sorted((d, tuple(e)) for d, e in by_domain.items()), tuple(union))
        if key == self._episodes_key:
            return
        self._episodes_key = key
        old = list(self.episode_families.values()) + ([self.inside] if self.inside is not None else [])
        self.families = [f for f in self.families if all(f is not o for o in old)]
        self.episode_families = {}
        self.inside = None
        if not self._first and not self.count:
            return
        for dom, eps in by_domain.items():
            if not eps:
                continue
            fam = Family(f"episodes {dom}", [s for s, _ in eps], [e for _, e in eps], value_range=self.value_range)
            self.episode_families[dom] = fam
            self.families.append(fam)
        starts, ends, groups = [], [], []
        prev = MIN_T
        for s, e in union:
            if s > prev:
                starts.append(prev)
                ends.append(s)
                groups.append(1)
            starts.append(s)
            ends.append(e)
            groups.append(0)
            prev = e
        starts.append(prev)
        ends.append(MAX_T)
        groups.append(1)
        self.inside = Family("inside/outside", starts, ends, groups, n_groups=2, value_range=self.value_range)
        self.families.append(self.inside)

    def want_change_points(self, **args) -> None:
        """Change points (``levels.find_change_points`` options): found now from the window
        histograms' medians (to within a bucket), their before/after medians refined with the
        windows; once the windows are exact they are found again, and redone if they moved."""
        self._change_args = dict(args)
        self._set_change_points(self._approx_window_rows())

    def _approx_window_rows(self) -> list[dict[str, Any]]:
        from edgemon.analysis.selection import bucket_lo

        if self.windows is None or not self.windows.histogrammed or self.window_edges is None:
            return []
        rows = []
        w = self.windows
        edges = self.window_edges[2]
        for k in range(w.n):
            c = int(w.count[k])
            p50 = float("nan")
            if c:
                j = int(np.searchsorted(np.cumsum(w.hist[k]), block_ranks(c)[0], side="right"))
                lo, hi = bucket_lo(w.b0 + j, w.bits), bucket_lo(w.b0 + j + 1, w.bits)
                p50 = (lo + max(hi - 1, lo)) / 2 / 1e6
            rows.append({"count": c, "p50_ms": p50, "start_s": self.data.rel_s(int(edges[k]))})
        return rows

    def _set_change_points(self, rows: list[dict[str, Any]]) -> None:
        from edgemon.analysis.levels import find_change_points

        if self._change_args is None or self.windows is None:
            return
        windows = self.windows
        found = find_change_points(rows, **self._change_args)
        key = [(p["windows"], p["at_s"]) for p in found]
        if key == self._change_key:
            return
        self._change_key = key
        old = [fam for _, fam in self.change]
        self.families = [f for f in self.families if all(f is not o for o in old)]
        self.change = []
        for point in found:
            wa, wc, wz = point["windows"]
            hist = np.stack([windows.hist[wa:wc].sum(axis=0), windows.hist[wc:wz].sum(axis=0)])
            counts = hist.sum(axis=1)
            edges = windows.starts, windows.ends
            starts = np.concatenate([edges[0][wa:wc], edges[0][wc:wz]])
            ends = np.concatenate([edges[1][wa:wc], edges[1][wc:wz]])
            groups = [0] * (wc - wa) + [1] * (wz - wc)
            fam = Family.from_histogram(f"change point {len(self.change)}", starts, ends, groups, hist, counts,
                                        bits=windows.bits, b0=windows.b0)
            for g in (0, 1):
                c = int(counts[g])
                if c:
                    fam.want(g, median_ranks(c))
            self.change.append((point, fam))
            self.families.append(fam)

    def _maybe_change_points(self) -> None:
        """Once the windows are exact: the change points from the exact medians."""
        if self._change_args is None or self.windows is None or not self.windows.done:
            return
        self._set_change_points(self.window_rows())
        self._change_args = None

    # ------------------------------------------------------------------ results

    def latency_ms(self) -> dict[str, float]:
        n = self.count
        if not n:
            return stats_from(0, lambda r: math.nan, math.nan, math.nan)
        return stats_from(n, self.value_ms(self.all, 0), self.all.average(0) / 1e6, self.all.std(0) / 1e6)

    def mlperf(self) -> dict[str, Any]:
        from edgemon.analysis.mlperf import singlestream_at

        return singlestream_at(self.count, self.value_ms(self.all, 0))

    def levels(self) -> dict[str, Any]:
        from edgemon.analysis.levels import finish_levels

        return finish_levels(self.levels_plan, lambda r: self.all.value(0, r))

    def window_rows(self) -> list[dict[str, Any]]:
        """``window_stats``'s rows: start_s, end_s, count, items, throughput_ips, mean/p50/p90/p99/max ms."""
        if self.windows is None or self.window_edges is None:
            return []
        _, _, edges = self.window_edges
        active = self.active_intervals()
        data = self.data
        out = []
        for k in range(self.windows.n):
            lo, hi = int(edges[k]), int(min(edges[k + 1], self.t1))
            c = int(self.windows.count[k])
            row: dict[str, Any] = {"start_s": data.rel_s(lo), "end_s": data.rel_s(hi), "count": c,
                                   "items": int(self.windows.items[k])}
            span = overlap_s(active, lo, hi)
            row["throughput_ips"] = row["items"] / span if span > 0 else (0.0 if not row["items"] else float("nan"))
            if c:
                p50, p90, p99 = (self.windows.value(k, r) / 1e6 for r in block_ranks(c))
                row.update(mean_ms=self.windows.sum[k] / c / 1e6, p50_ms=p50, p90_ms=p90, p99_ms=p99,
                           max_ms=self.windows.value(k, c - 1) / 1e6)
            else:
                row.update(mean_ms=float("nan"), p50_ms=float("nan"), p90_ms=float("nan"), p99_ms=float("nan"),
                           max_ms=float("nan"))
            out.append(row)
        return out

    def windows_result(self) -> dict[str, Any]:
        if self.window_edges is None:
            return {"window_s": self.window_s, "adaptive": self.window_s is None, "windows": []}
        w, adaptive, _ = self.window_edges
        return {"window_s": w, "adaptive": adaptive, "windows": self.window_rows()}

    def change_points(self) -> list[dict[str, Any]]:
        """The change points found, each with exact before/after medians (ms)."""
        out = []
        for point, fam in self.change:
            meds = []
            for g in (0, 1):
                c = int(fam.count[g])
                meds.append(median_of(c, lambda r, g=g, f=fam: f.value(g, r)) / 1e6 if c else float("nan"))
            out.append({**point, "before_median_ms": meds[0], "after_median_ms": meds[1]})
        return out

    def block(self, family: Family, group: int, seconds: float) -> dict[str, Any]:
        """count, seconds, mean/p50/p90/p99 ms and items/s of one group (throttling's blocks)."""
        c = int(family.count[group])
        out: dict[str, Any] = {"count": c, "seconds": seconds}
        if c:
            p50, p90, p99 = (family.value(group, r) / 1e6 for r in block_ranks(c))
            out.update(mean_ms=family.sum[group] / c / 1e6, p50_ms=p50, p90_ms=p90, p99_ms=p99)
        else:
            out.update(mean_ms=float("nan"), p50_ms=float("nan"), p90_ms=float("nan"), p99_ms=float("nan"))
        out["throughput_ips"] = float(family.items[group]) / seconds if seconds > 0 else float("nan")
        return out

    def want_blocks(self) -> None:
        """p50/p90/p99 of each episode and of inside/outside, once their histograms are in."""
        for fam in list(self.episode_families.values()) + ([self.inside] if self.inside is not None else []):
            if not fam.histogrammed or id(fam) in self._blocks_wanted:
                continue
            self._blocks_wanted.add(id(fam))
            for g in range(fam.n):
                c = int(fam.count[g])
                if c:
                    fam.want(g, block_ranks(c))

    def scatter(self) -> tuple[np.ndarray, np.ndarray]:
        """Every n-th measured row (at most ~6000): t_end_ns and duration_ns, for plots."""
        f = self.facts
        if not f.scatter_t:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(f.scatter_t), np.concatenate(f.scatter_dur)

    def approx_ms(self, fraction: float) -> float:
        """The low edge of the histogram bucket holding that fraction of the positive latencies
        (ms; within 0.02 %, for plot ranges)."""
        from edgemon.analysis.selection import bucket_lo

        hist = self.all.hist[0].copy()
        hist[0] -= self.facts.zero_rows
        n = int(hist.sum())
        if n <= 0:
            return 1e-6
        j = int(np.searchsorted(np.cumsum(hist), min(n - 1, int(fraction * n)), side="right"))
        return max(bucket_lo(self.all.b0 + j, FINE_BITS), 1) / 1e6

    def histogram_ms(self, lo_ms: float, hi_ms: float, n: int = 80) -> tuple[np.ndarray, np.ndarray]:
        """Counts of measured latencies in ``n`` log-spaced bins (plots: bucket resolution 0.02 %)."""
        from edgemon.analysis.selection import bucket_lo

        edges = np.logspace(math.log10(lo_ms), math.log10(hi_ms), n + 1)
        hist = self.all.hist[0]
        mids = np.array([bucket_lo(self.all.b0 + b, FINE_BITS) for b in np.flatnonzero(hist)], dtype=np.float64)
        counts, _ = np.histogram(mids / 1e6, bins=edges, weights=hist[hist > 0].astype(np.float64))
        return edges, counts.astype(np.int64)


def block_ranks(c: int) -> list[int]:
    return [nearest_rank_index(c, p) for p in (50.0, 90.0, 99.0)]


def median_ranks(c: int) -> list[int]:
    return [c // 2] if c % 2 else [c // 2 - 1, c // 2]


def median_of(c: int, value_at) -> float:
    """np.median's rule on ranks: the middle value, or the mean of the two middle ones."""
    if c % 2:
        return float(value_at(c // 2))
    return (float(value_at(c // 2 - 1)) + float(value_at(c // 2))) / 2.0


def paused_intervals(data) -> list[tuple[int, int]]:
    """[pause, resume) spans from the runner's events; a pause without resume lasts to the end."""
    out = []
    start = None
    for ev in data.events:
        if ev.kind == "pause" and start is None:
            start = ev.t_ns
        elif ev.kind == "resume" and start is not None:
            if ev.t_ns > start:
                out.append((start, ev.t_ns))
            start = None
        elif ev.kind == "worker_hello" and start is not None:
            out.append((start, ev.t_ns))   # a new worker runs: the pause of the old one is over
            start = None
    if start is not None:
        out.append((start, MAX_T))
    return out


def _repetitions(data) -> list[dict[str, Any]]:
    """Repetition spans of a profile (``phase`` events named "repetition"), by index."""
    spans: dict[int, dict[str, Any]] = {}
    for ev in data.events_of("phase"):
        d = ev.details
        if d.get("name") != "repetition" or not isinstance(d.get("index"), int) or isinstance(d.get("index"), bool):
            continue
        run = spans.setdefault(d["index"], {"index": d["index"]})
        for key in ("item", "label", "workload", "start_ns", "end_ns", "outcome"):
            if d.get(key) is not None:
                run[key] = d[key]
    return [r for _, r in sorted(spans.items())
            if isinstance(r.get("start_ns"), int) and not isinstance(r.get("start_ns"), bool)]
