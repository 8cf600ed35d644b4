"""Exact order statistics of latencies in memory that does not grow with the number of rows.

Every percentile edgemon reports is a latency that really happened (a rank of the sorted
``duration_ns``), yet a 3-hour session has 170 million of them: too many to sort in the 4 GB
of a Jetson Nano. The selection runs in passes over the recording's pieces
(:class:`edgemon.recording.chunks.LatencyChunks`):

1. **histogram**: per group, counts in log-linear buckets of the integer value (``2**bits``
   buckets per power of two, from the bit pattern of the value as a float64: two numpy
   operations per row), plus count, sum, item count, first start and last end, and on
   request mean and M2 merged by Chan's parallel rule (a numerically stable std);
2. **refinement**: the bucket that holds a wanted rank is split into at most ``K`` equal
   sub-ranges and counted again, or, when it holds no more than ``K`` rows, its values are
   collected and sorted; repeated until the sub-range is one integer wide. With the bucket
   widths used here one refinement pass is enough for latencies below a few milliseconds.

A *group* is a set of rows by time: a :class:`Family` is a list of disjoint half-open
intervals ``[start, end)`` of ``t_end_ns``, each labelled with a group (all rows, the
per-window rows, one group per throttling episode, inside/outside episodes...). Memory is
the families' histograms (sized to a budget by choosing ``bits``) plus ``K`` counters per
wanted rank: it depends on the number of groups, never on the number of rows.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import numpy as np

FINE_BITS = 12                      # the all-rows histogram: 4096 buckets per octave (0.02 %)
MAX_BITS = 12
MIN_BITS = 4
TOP = (1 << 41) - 1                 # values above (> 36 minutes) share the top bucket
INT_MAX = (1 << 63) - 1
FAMILY_BUDGET_BYTES = 8 << 20       # histogram memory per family
REFINE_COUNTERS = 1 << 21           # counters per refinement pass, all targets together (16 MB)
MIN_K = 256
MAX_K = 1 << 16


def _one(bits: int) -> int:
    """Bucket-index offset: the float64 bit pattern of 1.0 shifted like the values."""
    return int(np.array([1.0]).view(np.int64)[0]) >> (52 - bits)


def buckets(values: np.ndarray, bits: int) -> np.ndarray:
    """Log-linear bucket of each non-negative int64 (monotone: a larger value never gets a
    smaller bucket; 0 and 1 share bucket 0; values above :data:`TOP` share the top one)."""
    f = values.astype(np.float64)
    np.clip(f, 1.0, float(TOP), out=f)
    b = f.view(np.int64)
    b >>= 52 - bits
    b -= _one(bits)
    return b


def n_buckets(bits: int) -> int:
    return int(buckets(np.array([TOP], dtype=np.int64), bits)[0]) + 1


def bucket_lo(b: int, bits: int) -> int:
    """The smallest integer in bucket ``b``."""
    if b <= 0:
        return 0
    x = float(np.array([(b + _one(bits)) << (52 - bits)], dtype=np.int64).view(np.float64)[0])
    return int(math.ceil(x))


def bucket_los(b: np.ndarray, bits: int) -> np.ndarray:
    """:func:`bucket_lo` of many buckets (float64; exact below 2**53)."""
    b = np.asarray(b, dtype=np.int64)
    x = np.ceil(((b + _one(bits)) << (52 - bits)).view(np.float64))
    return np.where(b <= 0, 0.0, x)


def bucket_hi(b: int, bits: int) -> int:
    """One past the largest integer in bucket ``b`` (the top bucket reaches to INT_MAX)."""
    if b >= n_buckets(bits) - 1:
        return INT_MAX
    return bucket_lo(b + 1, bits)


def coarser(fine: np.ndarray, bits: int) -> np.ndarray:
    """Buckets at ``bits`` from buckets at :data:`FINE_BITS` (same float bit pattern, shifted)."""
    if bits == FINE_BITS:
        return fine
    out = fine + _one(FINE_BITS)
    out >>= FINE_BITS - bits
    out -= _one(bits)
    return out


class Rows:
    """Measured rows of one chunk for :meth:`Family.consume`.

    ``t`` ascending, or None when every row lies in ``[lo, hi]`` and that range is within one
    interval (or none) of each family reading them; ``items`` and ``start`` (= t - v) are
    needed by the histogram stage only."""

    __slots__ = ("v", "t", "items", "start", "lo", "hi", "times", "positions", "vmax", "start_sorted", "fine",
                 "items_each", "_vf", "_sums", "_buckets")

    def __init__(self, v: np.ndarray, t: np.ndarray | None = None, items: np.ndarray | None = None,
                 start: np.ndarray | None = None, lo: int = 0, hi: int = 0,
                 times: np.ndarray | None = None, positions: np.ndarray | None = None,
                 vmax: int | None = None, start_sorted: bool = False):
        self.v, self.t, self.items, self.start, self.lo, self.hi = v, t, items, start, lo, hi
        # without t: row index of each boundary time in ``times`` (searchsorted left, taken in pass 1)
        self.times, self.positions = times, positions
        self.vmax = vmax if vmax is not None else (int(v.max()) if v.shape[0] else 0)
        self.start_sorted = start_sorted      # start ascends: a slice's first start is its minimum
        self.fine: np.ndarray | None = None   # buckets(v, FINE_BITS) when the producer made them
        self.items_each: int | None = None    # every row has this many items (the file says so)
        self._vf: np.ndarray | None = None
        self._sums: dict = {}
        self._buckets: dict = {}

    def sum_v(self, a: int, b: int) -> float:
        """Sum of v[a:b] (remembered: several families often take the same rows)."""
        key = ("v", a, b)
        got = self._sums.get(key)
        if got is None:
            if self.vmax < (1 << 40):    # an int64 sum of a million such values cannot overflow
                got = float(self.v[a:b].sum())
            else:
                got = float(self.v[a:b].sum(dtype=np.float64))
            self._sums[key] = got
        return got

    def sum_items(self, a: int, b: int) -> int:
        if self.items_each is not None:
            return self.items_each * (b - a)
        key = ("i", a, b)
        got = self._sums.get(key)
        if got is None:
            assert self.items is not None
            got = self._sums[key] = int(self.items[a:b].sum(dtype=np.int64))
        return got

    def sum_squares(self, a: int, b: int) -> float:
        key = ("q", a, b)
        got = self._sums.get(key)
        if got is None:
            vf = self.vf()[a:b]
            got = self._sums[key] = float(np.einsum("i,i->", vf, vf))
        return got

    def buckets_at(self, bits: int, b0: int, nb: int, clip: bool) -> np.ndarray:
        """``fine`` at ``bits``, less ``b0`` (shared by families of the same resolution)."""
        key = (bits, b0, nb, clip)
        got = self._buckets.get(key)
        if got is None:
            assert self.fine is not None
            got = coarser(self.fine, bits)
            if b0:
                got = got - b0
            if clip:
                np.clip(got, 0, nb - 1, out=got)
            self._buckets[key] = got
        return got

    def first_start(self, a: int, b: int) -> int:
        start = self.start
        assert start is not None
        return int(start[a]) if self.start_sorted else int(start[a:b].min())

    def vf(self) -> np.ndarray:
        vf = self._vf
        if vf is None:
            vf = self._vf = self.v.astype(np.float64)
        return vf

    def index_of(self, when: int) -> int:
        """``np.searchsorted(t, when, "left")`` of the rows' times, from the pass-1 table."""
        if when <= self.lo:
            return 0
        if when > self.hi:
            return int(self.v.shape[0])
        times, positions = self.times, self.positions
        if times is None or positions is None:
            raise KeyError(when)
        k = int(np.searchsorted(times, when))
        if k >= times.shape[0] or int(times[k]) != when:
            raise KeyError(when)
        return int(positions[k])


class _Target:
    """One value range of one group whose rows the next pass counts (or collects)."""

    __slots__ = ("group", "lo", "hi", "count", "width", "k", "planned", "counts", "values")

    def __init__(self, group: int, lo: int, hi: int, count: int):
        self.group, self.lo, self.hi, self.count = group, lo, hi, count
        self.width = 0            # 0: collect the values
        self.k = 0
        self.planned = False
        self.counts: np.ndarray = np.zeros(0, dtype=np.int64)
        self.values: list[np.ndarray] = []


class Family:
    """Groups of rows given by disjoint half-open ``t_end_ns`` intervals; see the module docstring.

    ``groups[i]`` is the group of interval ``i`` (default: its own). ``moments``: keep the
    per-group mean and M2 (std). ``hist``: False for a family that wants only counts, sums
    and spans. ``value_range``: (smallest, largest) value that can occur, to size the
    histogram (None: every value up to :data:`TOP`). ``bits``: fixed bucket resolution
    (default: as fine as the budget allows).
    """

    def __init__(self, name: str, starts: Sequence[int] | np.ndarray, ends: Sequence[int] | np.ndarray,
                 groups: Sequence[int] | np.ndarray | None = None,
                 *, n_groups: int | None = None, moments: bool = False, hist: bool = True,
                 value_range: tuple[int, int] | None = None, bits: int | None = None,
                 budget_bytes: int = FAMILY_BUDGET_BYTES):
        self.name = name
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)
        order = np.argsort(self.starts, kind="stable")
        self.starts, self.ends = self.starts[order], self.ends[order]
        gid = np.arange(len(order)) if groups is None else np.asarray(groups, dtype=np.int64)[order]
        self.gid = gid.astype(np.int64)
        self.n = int(n_groups if n_groups is not None else (int(self.gid.max()) + 1 if self.gid.size else 0))
        g = self.n
        self.count = np.zeros(g, dtype=np.int64)
        self.sum = np.zeros(g, dtype=np.float64)
        self.items = np.zeros(g, dtype=np.int64)
        self.first_start = np.full(g, INT_MAX, dtype=np.int64)
        self.last_end = np.full(g, -INT_MAX, dtype=np.int64)
        self.moments = moments
        self.s1 = np.zeros(g, dtype=np.float64)       # with moments: sums of x and x^2
        self.m2 = np.zeros(g, dtype=np.float64)
        self.use_hist = hist
        lo_v, hi_v = value_range if value_range is not None else (0, TOP)
        self._clip = value_range is None     # values outside a known range cannot occur
        if bits is None:
            bits = MAX_BITS
            while bits > MIN_BITS and g * self._span(lo_v, hi_v, bits) * 8 > budget_bytes:
                bits -= 1
        self.bits = bits
        self.b0 = int(buckets(np.array([max(lo_v, 0)], dtype=np.int64), bits)[0])
        self.nb = self._span(lo_v, hi_v, bits)
        self.hist: np.ndarray = np.zeros((0, 0), dtype=np.int64)   # (groups, buckets) after pass 1
        self.histogrammed = False
        self._queries: dict[tuple[int, int], int | None] = {}    # (group, rank) -> value once known
        self._pending: dict[tuple[int, int], tuple[_Target, int]] = {}  # (group, rank) -> (target, rank inside)
        self._targets: list[_Target] = []
        self._by_group: dict[int, tuple[list[_Target], np.ndarray | None]] = {}
        self._lut: np.ndarray = np.zeros(0, dtype=bool)

    @staticmethod
    def _span(lo_v: int, hi_v: int, bits: int) -> int:
        b = buckets(np.array([max(lo_v, 0), max(hi_v, 0)], dtype=np.int64), bits)
        return int(b[1] - b[0]) + 1

    # ------------------------------------------------------------------ state

    @classmethod
    def from_histogram(cls, name: str, starts, ends, groups, hist: np.ndarray, counts: np.ndarray, *, bits: int,
                       b0: int) -> "Family":
        """A family whose histogram is known already (a sum of another family's groups)."""
        f = cls(name, starts, ends, groups, n_groups=hist.shape[0], bits=bits, value_range=None)
        f.b0, f.nb = b0, hist.shape[1]
        f.hist = hist
        f._clip = True
        f.count = counts.astype(np.int64)
        f.histogrammed = True
        return f

    @property
    def needs_pass(self) -> bool:
        return not self.histogrammed or bool(self._targets)

    @property
    def done(self) -> bool:
        return self.histogrammed and not self._targets

    def spans(self) -> list[tuple[int, int]]:
        """Time ranges the next pass must read (all intervals, or those of groups with targets)."""
        if not self.histogrammed:
            return list(zip(self.starts.tolist(), self.ends.tolist()))
        wanted = {t.group for t in self._targets}
        return [(s, e) for s, e, g in zip(self.starts.tolist(), self.ends.tolist(), self.gid.tolist()) if g in wanted]

    def want(self, group: int, ranks: Iterable[int]) -> None:
        """Ask for the values at 0-based ``ranks`` of ``group``'s sorted rows (after the histogram)."""
        if not self.histogrammed:
            raise RuntimeError("want() needs the histogram pass first")
        fresh = []
        n = int(self.count[group])
        for r in ranks:
            r = int(r)
            if not 0 <= r < n:
                raise ValueError(f"rank {r} outside 0..{n - 1} of {self.name}[{group}]")
            if (group, r) not in self._queries:
                self._queries[(group, r)] = None
                fresh.append(r)
        if fresh:
            self._start(group, fresh)

    def value(self, group: int, rank: int) -> int:
        v = self._queries.get((group, int(rank)))
        if v is None:
            raise KeyError(f"{self.name}[{group}] rank {rank} is not resolved")
        return v

    def values(self, group: int, ranks: Iterable[int]) -> list[int]:
        return [self.value(group, r) for r in ranks]

    def cumulative(self, group: int) -> np.ndarray:
        return np.cumsum(self.hist[group])

    def _start(self, group: int, ranks: list[int]) -> None:
        cum = np.cumsum(self.hist[group])
        for r in ranks:
            b = int(np.searchsorted(cum, r, side="right"))
            below = int(cum[b - 1]) if b > 0 else 0
            lo = bucket_lo(self.b0 + b, self.bits) if b > 0 else 0
            hi = bucket_hi(self.b0 + b, self.bits) if b < self.nb - 1 else INT_MAX
            self._aim(group, r, lo, hi, r - below, int(self.hist[group][b]))

    def _aim(self, group: int, rank: int, lo: int, hi: int, inside: int, count: int) -> None:
        if hi - lo <= 1:
            self._queries[(group, rank)] = lo
            self._pending.pop((group, rank), None)
            return
        for t in self._targets:
            if t.group == group and t.lo == lo and t.hi == hi:
                break
        else:
            t = _Target(group, lo, hi, count)
            self._targets.append(t)
        self._pending[(group, rank)] = (t, inside)

    def _plan_targets(self, k: int) -> None:
        for t in self._targets:
            if t.planned:
                continue
            t.planned = True
            if t.count <= k or t.hi >= TOP:
                t.width = 0                                  # collect: at most k values (or huge ones)
            else:
                t.k = k
                t.width = max(1, -(-(t.hi - t.lo) // k))
                t.k = -(-(t.hi - t.lo) // t.width)
                t.counts = np.zeros(t.k, dtype=np.int64)

    # ------------------------------------------------------------------ one pass

    def edges_within(self, lo: int, hi: int) -> np.ndarray:
        """Interval edges in ``(lo, hi]``: the times whose row positions a chunk without times needs."""
        i0 = int(np.searchsorted(self.ends, lo, side="right"))
        i1 = int(np.searchsorted(self.starts, hi, side="right"))
        e = np.concatenate([self.starts[i0:i1], self.ends[i0:i1]])
        return e[(e > lo) & (e <= hi)]

    def group_of_range(self, lo: int, hi: int) -> int | None:
        """The group whose interval holds all of ``[lo, hi]``, -1 when no interval touches it,
        None when it straddles an edge (then the rows' times are needed)."""
        i = int(np.searchsorted(self.starts, lo, side="right")) - 1
        if i >= 0 and self.ends[i] > hi:
            return int(self.gid[i])
        j = int(np.searchsorted(self.starts, hi, side="right"))   # intervals starting at or before hi
        k = int(np.searchsorted(self.ends, lo, side="right"))     # intervals ending after lo
        return -1 if j <= k else None

    def _slices(self, rows: Rows) -> list[tuple[int, int, int]]:
        """(group, a, b): rows ``a:b`` in this family's intervals."""
        n = int(rows.v.shape[0])
        if not n or not self.starts.shape[0]:
            return []
        t = rows.t
        if t is None:
            g = self.group_of_range(rows.lo, rows.hi)
            if g is not None:
                return [(g, 0, n)] if g >= 0 else []
            i0 = int(np.searchsorted(self.ends, rows.lo, side="right"))
            i1 = int(np.searchsorted(self.starts, rows.hi, side="right"))
            out = []
            for g, s, e in zip(self.gid[i0:i1].tolist(), self.starts[i0:i1].tolist(), self.ends[i0:i1].tolist()):
                a, b = rows.index_of(s), rows.index_of(e)
                if b > a:
                    out.append((g, a, b))
            return out
        first, last = int(t[0]), int(t[-1])
        i0 = int(np.searchsorted(self.ends, first, side="right"))
        i1 = int(np.searchsorted(self.starts, last, side="right"))
        if i1 <= i0:
            return []
        lo = np.searchsorted(t, self.starts[i0:i1], side="left")
        hi = np.searchsorted(t, self.ends[i0:i1], side="left")
        out = []
        for g, a, b in zip(self.gid[i0:i1].tolist(), lo.tolist(), hi.tolist()):
            if b > a:
                out.append((g, a, b))
        return out

    def consume(self, rows: Rows, fine: np.ndarray | None, stage_hist: bool) -> None:
        """One chunk of measured rows."""
        if stage_hist:
            self._consume_hist(rows, fine)
        else:
            assert fine is not None
            self._consume_refine(rows, fine)

    def _consume_hist(self, rows: Rows, fine) -> None:
        if self.use_hist and self.hist.shape != (self.n, self.nb):
            self.hist = np.zeros((self.n, self.nb), dtype=np.int64)
        t = rows.t
        bk = None
        if rows.fine is None:
            rows.fine = fine
        for g, a, b in self._slices(rows):
            n = b - a
            if self.use_hist:
                if bk is None:
                    bk = rows.buckets_at(self.bits, self.b0, self.nb, self._clip)
                seg = bk[a:b]
                if n < 2048:
                    np.add.at(self.hist[g], seg, 1)
                else:
                    self.hist[g] += np.bincount(seg, minlength=self.nb)
                self.sum[g] += rows.sum_v(a, b)
            self.count[g] += n
            if rows.items is not None:
                self.items[g] += rows.sum_items(a, b)
            if rows.start is not None:
                first = rows.first_start(a, b)
                if first < self.first_start[g]:
                    self.first_start[g] = first
            last = int(t[b - 1]) if t is not None else rows.hi
            if last > self.last_end[g]:
                self.last_end[g] = last
            if self.moments:
                self.s1[g] += rows.sum_v(a, b)
                self.m2[g] += rows.sum_squares(a, b)

    def _group_targets(self) -> dict[int, tuple[list[_Target], np.ndarray | None]]:
        """Per group: its targets by value, and their [lo, hi) edges when they do not overlap
        (one binary search per row then finds a row's target)."""
        by_group: dict[int, list[_Target]] = {}
        for tg in self._targets:
            by_group.setdefault(tg.group, []).append(tg)
        out = {}
        for g, tgs in by_group.items():
            tgs.sort(key=lambda x: x.lo)
            edges = np.array([x for tg in tgs for x in (tg.lo, tg.hi)], dtype=np.int64)
            disjoint = bool(np.all(edges[1:] >= edges[:-1]))
            out[g] = (tgs, edges if disjoint else None)
        return out

    def _fine_lut(self) -> np.ndarray:
        """Fine buckets that touch any target: a cheap first filter of a chunk's rows."""
        lut = np.zeros(n_buckets(FINE_BITS), dtype=bool)
        for tg in self._targets:
            lo, hi = buckets(np.array([tg.lo, max(tg.lo, min(tg.hi, INT_MAX) - 1)], dtype=np.int64), FINE_BITS)
            lut[int(lo):int(hi) + 1] = True
        return lut

    def _consume_refine(self, rows: Rows, fine: np.ndarray) -> None:
        by_group = self._by_group
        v = rows.v
        hit = np.flatnonzero(self._lut[fine])
        if not hit.shape[0]:
            return
        for g, a, b in self._slices(rows):
            found = by_group.get(g)
            if not found:
                continue
            tgs, edges = found
            sub = hit[int(np.searchsorted(hit, a)):int(np.searchsorted(hit, b))]
            if not sub.shape[0]:
                continue
            vs = v[sub]
            if edges is not None:
                pos = np.searchsorted(edges, vs, side="right")
                inside = (pos & 1).astype(bool)
                sel_all = vs[inside]
                which = (pos[inside] - 1) >> 1
                parts = [(tg, sel_all[which == j]) for j, tg in enumerate(tgs)] if len(tgs) > 1 else [(tgs[0], sel_all)]
            else:
                parts = [(tg, vs[(vs >= tg.lo) & (vs < tg.hi)]) for tg in tgs]
            for tg, sel in parts:
                if not sel.shape[0]:
                    continue
                if tg.width == 0:
                    tg.values.append(sel.copy())
                else:
                    tg.counts += np.bincount((sel - tg.lo) // tg.width, minlength=tg.k)[:tg.k]

    def finish_pass(self, stage_hist: bool) -> None:
        if stage_hist:
            self.histogrammed = True
            return
        old = self._targets
        self._targets = []
        pending = self._pending
        self._pending = {}
        for (g, r), (tg, inside) in pending.items():
            if tg.width == 0:
                vals = np.concatenate(tg.values) if tg.values else np.empty(0, np.int64)
                if inside >= vals.shape[0]:
                    raise RuntimeError(f"{self.name}: rows changed between passes")
                vals.sort()
                self._queries[(g, r)] = int(vals[inside])
                continue
            cum = np.cumsum(tg.counts)
            j = int(np.searchsorted(cum, inside, side="right"))
            if j >= tg.k:
                raise RuntimeError(f"{self.name}: rows changed between passes")
            below = int(cum[j - 1]) if j else 0
            lo = tg.lo + j * tg.width
            hi = min(tg.hi, lo + tg.width)
            self._aim(g, r, lo, hi, inside - below, int(tg.counts[j]))
        for tg in old:
            tg.values = []
            tg.counts = np.zeros(0, dtype=np.int64)

    def std(self, group: int) -> float:
        """Population std of the group's values, from the sums of x and x^2 (float64: for
        latencies with a CoV above 0.01 % the error stays below 1e-6 of the std)."""
        n = int(self.count[group])
        if not n:
            return float("nan")
        m1 = self.s1[group] / n
        return math.sqrt(max(self.m2[group] / n - m1 * m1, 0.0))

    def average(self, group: int) -> float:
        n = int(self.count[group])
        return self.sum[group] / n if n else float("nan")


def one_pass(rows: Callable[[list[tuple[int, int]] | None, list[Family], bool], Iterable[Rows]],
             families: Sequence[Family], *, everything: bool = False) -> bool:
    """One pass for every family that needs one; False when none did (and ``everything`` is False).

    ``rows(spans, active, full)`` yields :class:`Rows` of the measured rows from the chunks
    overlapping ``spans`` (None: every chunk, as ``everything`` asks, e.g. because other
    consumers of the same pass need every row); ``full``: a histogram stage needs times,
    items and starts of every row.
    """
    active = [f for f in families if f.needs_pass]
    if not active and not everything:
        return False
    stages = {id(f): not f.histogrammed for f in active}
    total = sum(len(f._targets) for f in active if not stages[id(f)])
    k = int(min(MAX_K, max(MIN_K, REFINE_COUNTERS // max(total, 1))))
    wanted: list[tuple[int, int]] = []
    for f in active:
        if not stages[id(f)]:
            f._plan_targets(k)
            f._by_group = f._group_targets()
            f._lut = f._fine_lut()
        wanted.extend(f.spans())
    spans: list[tuple[int, int]] | None = None if everything else wanted
    need_fine = any(f.use_hist or not stages[id(f)] for f in active)
    full = any(stages[id(f)] for f in active)
    for chunk_rows in rows(spans, active, full):
        fine = chunk_rows.fine
        if fine is None and need_fine:
            fine = buckets(chunk_rows.v, FINE_BITS)
        for f in active:
            f.consume(chunk_rows, fine, stages[id(f)])
    for f in active:
        f.finish_pass(stages[id(f)])
    return True
