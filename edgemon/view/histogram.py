"""Latency histograms with fixed log-spaced buckets, filled a whole LatencyBatch at a time.

Buckets span 1 us .. 100 s with 160 per decade (each ~1.45 % wide), plus one
underflow and one overflow bucket, so a percentile read from the buckets is
within one bucket width of the exact value; min, max and mean are kept exactly.
Filling is a table lookup + ``bincount`` on the batch arrays (no per-row Python),
and memory is fixed (a ~10 KB count array) however long the session runs.

Finding the bucket of each row is the monitor's main per-row cost (16,000 rows/s for
the default workload, in every process that keeps a model). A binary search over the
1,601 edges costs ~55 ns a row here; :func:`bucket_index` instead reads a float's
exponent and top 7 mantissa bits (128 sub-buckets per octave, 0.54 % wide, so at most
one bucket edge falls in each), looks the bucket up in a table and corrects by one
comparison: ~6 ns a row, and the same result as the search for every int64.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

LOW_NS = 1_000                   # 1 us
HIGH_NS = 100_000_000_000        # 100 s
BUCKETS_PER_DECADE = 160


@lru_cache(maxsize=None)
def bucket_edges() -> np.ndarray:
    """Edges in ns: ``edges[k] <= d < edges[k+1]`` is fine bucket ``k + 1`` (0 is underflow)."""
    decades = np.log10(HIGH_NS / LOW_NS)
    n = int(round(decades * BUCKETS_PER_DECADE))
    edges = LOW_NS * np.power(10.0, np.arange(n + 1) / BUCKETS_PER_DECADE)
    edges.setflags(write=False)
    return edges


def n_slots() -> int:
    """Number of count slots: underflow + fine buckets + overflow."""
    return len(bucket_edges()) + 1


_SUB_SHIFT = 52 - 7      # float64 bits below the exponent and the top 7 mantissa bits


@lru_cache(maxsize=None)
def _lookup() -> tuple[int, np.ndarray, np.ndarray]:
    """(first key, slot of each sub-bucket's smallest value, threshold to the next slot by slot)."""
    edges = bucket_edges()
    int_edges = np.ceil(edges).astype(np.int64)          # d >= edges[k] <=> d >= ceil(edges[k]) for integers
    first, last = (int(np.array(v, dtype=np.float64).view(np.int64)) >> _SUB_SHIFT for v in (LOW_NS - 1, HIGH_NS))
    lower = (np.arange(first, last + 1, dtype=np.int64) << _SUB_SHIFT).view(np.float64)
    slots = np.searchsorted(edges, lower, side="right").astype(np.intp)
    above = np.append(int_edges, np.iinfo(np.int64).max)  # above[k]: where slot k + 1 begins
    return first, slots, above


def bucket_index(durations_ns) -> np.ndarray:
    """Slot index per duration (0 = below 1 us, last = 100 s and above); see the module docstring."""
    d = np.asarray(durations_ns, dtype=np.int64)
    first, slots, above = _lookup()
    keys = np.clip(d, LOW_NS - 1, HIGH_NS).astype(np.float64).view(np.int64) >> _SUB_SHIFT
    idx = slots[keys - first]
    idx += d >= above[idx]
    return idx


@lru_cache(maxsize=None)
def slot_bounds() -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bound in ns of every slot (under/overflow are open-ended: 0 and inf)."""
    edges = bucket_edges()
    lower = np.concatenate(([0.0], edges))
    upper = np.concatenate((edges, [np.inf]))
    lower.setflags(write=False)
    upper.setflags(write=False)
    return lower, upper


@dataclass(frozen=True)
class LatencyStats:
    """Summary in milliseconds (NaN when empty), trtexec's set plus p99.9."""

    count: int
    min_ms: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float


_NAN = float("nan")
EMPTY_STATS = LatencyStats(0, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN)


class LogHistogram:
    """All-session latency histogram; ``add`` takes a whole array of durations in ns."""

    def __init__(self) -> None:
        self.counts = np.zeros(n_slots(), dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self.counts[:] = 0
        self.count = 0
        self.total_ns = 0
        self.min_ns: int | None = None
        self.max_ns: int | None = None

    def add(self, durations_ns, slots: np.ndarray | None = None) -> None:
        """Add durations; ``slots`` is their :func:`bucket_index` when the caller has it already."""
        d = np.asarray(durations_ns, dtype=np.int64)
        if d.size == 0:
            return
        self.counts += np.bincount(bucket_index(d) if slots is None else slots, minlength=self.counts.size)
        self._note(int(d.size), int(d.sum()), int(d.min()), int(d.max()))

    def add_cells(self, slots: np.ndarray, counts: np.ndarray, n: int, total_ns: int, min_ns: int,
                  max_ns: int, *, unique: bool = False) -> None:
        """Add counted rows without the rows: ``counts[j]`` in slot ``slots[j]``, and their
        number, sum, min and max (a :class:`~edgemon.view.latency_digest.LatencyDigest`).
        ``unique``: no slot appears twice (one second's cells), so a plain fancy add will do."""
        if n <= 0:
            return
        if unique:
            self.counts[slots] += counts
        else:
            np.add.at(self.counts, slots, counts)
        self._note(int(n), int(total_ns), int(min_ns), int(max_ns))

    def merge(self, other: "LogHistogram") -> None:
        if other.count == 0:
            return
        assert other.min_ns is not None and other.max_ns is not None   # set with the first count
        self.counts += other.counts
        self._note(other.count, other.total_ns, other.min_ns, other.max_ns)

    def _note(self, n: int, total: int, lo: int, hi: int) -> None:
        self.count += n
        self.total_ns += total
        self.min_ns = lo if self.min_ns is None else min(self.min_ns, lo)
        self.max_ns = hi if self.max_ns is None else max(self.max_ns, hi)

    def state(self) -> tuple[dict, np.ndarray]:
        return {"count": self.count, "total_ns": self.total_ns, "min_ns": self.min_ns, "max_ns": self.max_ns}, \
            self.counts.copy()

    def load_state(self, fields: dict, counts: np.ndarray) -> None:
        self.reset()
        if counts.shape != self.counts.shape:
            return
        self.counts[:] = counts
        self.count, self.total_ns = int(fields["count"]), int(fields["total_ns"])
        self.min_ns, self.max_ns = fields.get("min_ns"), fields.get("max_ns")

    @property
    def mean_ns(self) -> float:
        return self.total_ns / self.count if self.count else _NAN

    def percentiles(self, qs) -> np.ndarray:
        """Nearest-rank percentiles (q in 0..100) in ns, read at the bucket's geometric middle.

        The result is clamped to the exact min/max, so p0 and p100 are exact.
        """
        qs = np.atleast_1d(np.asarray(qs, dtype=np.float64))
        if self.count == 0:
            return np.full(qs.shape, _NAN)
        assert self.min_ns is not None and self.max_ns is not None   # set with the first count
        ranks = np.clip(np.ceil(qs / 100.0 * self.count), 1, self.count)
        slots = np.searchsorted(np.cumsum(self.counts), ranks, side="left")
        lower, upper = slot_bounds()
        lo = np.maximum(lower[slots], float(self.min_ns))
        hi = np.minimum(upper[slots], float(self.max_ns))
        mid = np.sqrt(np.maximum(lo, 1.0) * np.maximum(hi, 1.0))
        mid = np.clip(mid, float(self.min_ns), float(self.max_ns))
        # the extreme ranks are known exactly; under/overflow slots have no better estimate
        mid[(ranks <= 1) | (slots == 0)] = float(self.min_ns)
        mid[(ranks >= self.count) | (slots == self.counts.size - 1)] = float(self.max_ns)
        return mid

    def percentile(self, q: float) -> float:
        return float(self.percentiles([q])[0])

    def stats(self) -> LatencyStats:
        if self.count == 0:
            return EMPTY_STATS
        assert self.min_ns is not None and self.max_ns is not None
        p = self.percentiles([50, 90, 95, 99, 99.9]) / 1e6
        return LatencyStats(
            self.count, self.min_ns / 1e6, self.mean_ns / 1e6,
            float(p[0]), float(p[1]), float(p[2]), float(p[3]), float(p[4]), self.max_ns / 1e6,
        )

    def display_bins(self, rows: int, lo_q: float = 0.5, hi_q: float = 99.9):
        """Re-bin into at most ``rows`` log-spaced display bins between two percentiles.

        Returns ``(lower_ns, upper_ns, counts, below, above)``: per display bin its bounds
        and count, plus how many values fall below/above the shown range.
        """
        empty = (np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), 0, 0)
        if self.count == 0 or rows <= 0:
            return empty
        cum = np.cumsum(self.counts)
        first = int(np.searchsorted(cum, max(1, np.ceil(lo_q / 100 * self.count)), side="left"))
        last = int(np.searchsorted(cum, max(1, np.ceil(hi_q / 100 * self.count)), side="left"))
        span = last - first + 1
        if span < rows:  # widen symmetrically so narrow distributions still get a shape
            pad = rows - span
            first = max(0, first - pad // 2)
            last = min(self.counts.size - 1, first + rows - 1)
            span = last - first + 1
        starts = first + np.unique(np.floor(np.arange(min(rows, span)) * span / min(rows, span)).astype(np.int64))
        counts = np.add.reduceat(self.counts[first:last + 1], starts - first)
        lower, upper = slot_bounds()
        ends = np.append(starts[1:], last + 1) - 1
        below = int(cum[first - 1]) if first > 0 else 0
        above = int(self.count - cum[last])
        return lower[starts], upper[ends], counts, below, above


class WindowedHistogram:
    """Latency over the last ``window_s`` seconds of data time, in 1-second slots.

    Rows are placed by their ``t_end_ns``; ``expire(now_ns)`` drops slots that left the
    window (the clock is the data's, so replay and tests are deterministic).
    """

    def __init__(self, window_s: float = 10.0, slot_s: float = 1.0) -> None:
        self.slot_ns = int(slot_s * 1e9)
        self.n_slots = max(1, int(np.ceil(window_s / slot_s)))
        self.window_s = window_s
        self._slots: deque[tuple[int, LogHistogram]] = deque()
        self._newest: int | None = None

    def reset(self) -> None:
        self._slots.clear()
        self._newest = None

    def add(self, t_end_ns, durations_ns, slots: np.ndarray | None = None) -> None:
        """Add rows by their end time; ``slots`` as in :meth:`LogHistogram.add`."""
        t = np.asarray(t_end_ns, dtype=np.int64)
        d = np.asarray(durations_ns, dtype=np.int64)
        if t.size == 0:
            return
        first, last = int(t.min()) // self.slot_ns, int(t.max()) // self.slot_ns
        if first == last:  # the usual case: a batch sits in one slot
            if self._keeps(first):
                self._slot(first).add(d, slots)
        else:
            # Only the newest n_slots seconds can stay in the window: at most n_slots passes.
            slot_ids = t // self.slot_ns
            for sid in range(max(first, last - self.n_slots + 1), last + 1):
                if not self._keeps(sid):
                    continue
                rows = slot_ids == sid
                if rows.any():
                    self._slot(sid).add(d[rows], None if slots is None else slots[rows])
        self.expire((last + 1) * self.slot_ns - 1)

    def add_digest(self, digest) -> None:
        """:meth:`add` for a :class:`~edgemon.view.latency_digest.LatencyDigest` (measured rows)."""
        sids = ((digest.seconds * 1_000_000_000) // self.slot_ns).tolist()
        last = sids[-1]
        one = len(sids) == 1
        for i, sid in enumerate(sids):
            if sid <= last - self.n_slots or not self._keeps(sid):
                continue
            cells = slice(None) if one else digest.cell_second == i
            self._slot(sid).add_cells(digest.cell_slot[cells], digest.cell_count[cells], int(digest.second_rows[i]),
                                      int(digest.second_total_ns[i]), int(digest.second_min_ns[i]),
                                      int(digest.second_max_ns[i]), unique=True)
        self.expire((last + 1) * self.slot_ns - 1)

    def _keeps(self, sid: int) -> bool:
        return self._newest is None or sid > self._newest - self.n_slots

    def _slot(self, sid: int) -> LogHistogram:
        for existing, hist in self._slots:
            if existing == sid:
                return hist
        hist = LogHistogram()
        self._slots.append((sid, hist))
        if len(self._slots) > 1 and self._slots[-2][0] > sid:  # out of order: keep sorted
            self._slots = deque(sorted(self._slots, key=lambda s: s[0]))
        self._newest = sid if self._newest is None else max(self._newest, sid)
        return hist

    def expire(self, now_ns: int) -> None:
        """Forget slots that are entirely older than ``now - window``."""
        now_sid = int(now_ns) // self.slot_ns
        self._newest = now_sid if self._newest is None else max(self._newest, now_sid)
        while self._slots and self._slots[0][0] <= self._newest - self.n_slots:
            self._slots.popleft()

    def state(self) -> tuple[dict, np.ndarray]:
        """Slot ids and each slot's fields, and the slots' counts stacked (one row per slot)."""
        fields = [hist.state()[0] for _, hist in self._slots]
        counts = np.stack([hist.counts for _, hist in self._slots]) if self._slots else np.zeros((0, n_slots()),
                                                                                              dtype=np.int64)
        return {"sids": [sid for sid, _ in self._slots], "slots": fields, "newest": self._newest}, counts

    def load_state(self, fields: dict, counts: np.ndarray) -> None:
        self.reset()
        for sid, slot, row in zip(fields.get("sids", []), fields.get("slots", []), counts):
            hist = LogHistogram()
            hist.load_state(slot, row)
            self._slots.append((int(sid), hist))
        self._newest = fields.get("newest")

    def histogram(self) -> LogHistogram:
        """The window as one histogram (a fresh object; cost: n_slots array adds)."""
        total = LogHistogram()
        for _, hist in self._slots:
            total.merge(hist)
        return total

    @property
    def slot_count(self) -> int:
        return len(self._slots)
