"""Fixed-capacity history for the dashboard: metric ring buffers and per-second throughput.

Everything here has a capacity set at construction (default: 10 minutes at 10 Hz
for metrics, 10 minutes of 1-second buckets for throughput), so a session of
hours keeps the same memory as one of minutes.
"""

from __future__ import annotations

import numpy as np

from edgemon.datatypes import LatencyBatch, Sample

NS = 1_000_000_000


class RingSeries:
    """``(t_ns, value)`` pairs in a circular numpy buffer; the oldest fall out when full."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._t = np.zeros(capacity, dtype=np.int64)
        self._v = np.zeros(capacity, dtype=np.float64)
        self._head = 0      # next write position
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def clear(self) -> None:
        self._head = 0
        self._size = 0

    def append(self, t_ns: int, value: float) -> None:
        self._t[self._head] = t_ns
        self._v[self._head] = value
        self._head = (self._head + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def extend(self, t_ns, values) -> None:
        t = np.asarray(t_ns, dtype=np.int64)[-self.capacity:]
        v = np.asarray(values, dtype=np.float64)[-self.capacity:]
        n = t.size
        idx = (self._head + np.arange(n)) % self.capacity
        self._t[idx] = t
        self._v[idx] = v
        self._head = (self._head + n) % self.capacity
        self._size = min(self._size + n, self.capacity)

    def _order(self) -> np.ndarray:
        start = (self._head - self._size) % self.capacity
        return (start + np.arange(self._size)) % self.capacity

    def times(self) -> np.ndarray:
        return self._t[self._order()]

    def values(self) -> np.ndarray:
        """Values oldest first (a copy)."""
        return self._v[self._order()]

    def since(self, t_ns: int) -> tuple[np.ndarray, np.ndarray]:
        order = self._order()
        t = self._t[order]
        keep = t >= t_ns
        return t[keep], self._v[order][keep]

    def last(self) -> float | None:
        if self._size == 0:
            return None
        return float(self._v[(self._head - 1) % self.capacity])

    @property
    def nbytes(self) -> int:
        return self._t.nbytes + self._v.nbytes


class MetricHistory:
    """One :class:`RingSeries` per metric name, created on first sight (at most ``max_metrics``)."""

    def __init__(self, capacity: int = 6000, max_metrics: int = 1024) -> None:
        self.capacity = capacity
        self.max_metrics = max_metrics
        self.series: dict[str, RingSeries] = {}
        self.dropped_metrics = 0     # names refused because max_metrics was reached

    def clear(self) -> None:
        self.series.clear()
        self.dropped_metrics = 0

    def add(self, sample: Sample) -> None:
        for name, value in sample.values.items():
            ring = self.series.get(name)
            if ring is None:
                if len(self.series) >= self.max_metrics:
                    self.dropped_metrics += 1
                    continue
                ring = self.series[name] = RingSeries(self.capacity)
            ring.append(sample.t_ns, value)

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Names and lengths, and every ring oldest first, concatenated (see :meth:`load_state`)."""
        names = list(self.series)
        rings = [self.series[n] for n in names]
        t = np.concatenate([r.times() for r in rings]) if rings else np.zeros(0, dtype=np.int64)
        v = np.concatenate([r.values() for r in rings]) if rings else np.zeros(0)
        return ({"names": names, "lengths": [len(r) for r in rings], "dropped": self.dropped_metrics},
                {"t": t, "v": v})

    def load_state(self, fields: dict, arrays: dict[str, np.ndarray]) -> None:
        self.clear()
        self.dropped_metrics = int(fields.get("dropped", 0))
        offset = 0
        for name, n in zip(fields.get("names", []), fields.get("lengths", [])):
            ring = self.series[str(name)] = RingSeries(self.capacity)
            ring.extend(arrays["t"][offset:offset + n], arrays["v"][offset:offset + n])
            offset += int(n)

    def get(self, name: str) -> RingSeries | None:
        return self.series.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.series


def seconds_of(t_end_ns: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """A non-empty batch's rows by the second they ended: ``(order, starts, seconds)``. ``order``
    sorts the rows by time (None: they are in time order already, the usual case); in that order
    each second's rows begin at ``starts``, and ``seconds`` are those seconds, ascending."""
    t = np.asarray(t_end_ns, dtype=np.int64)
    n = int(t.shape[0])
    order = None
    if n > 1 and not (t[1:] >= t[:-1]).all():
        order = np.argsort(t, kind="stable")
        t = t[order]
    lo, hi = int(t[0]) // NS, int(t[-1]) // NS
    if lo == hi:
        return order, np.zeros(1, dtype=np.intp), np.array([lo], dtype=np.int64)
    if hi - lo < n:     # a bisection per second, no division per row
        bounds = np.searchsorted(t, np.arange(lo, hi + 2, dtype=np.int64) * NS, side="left")
        filled = np.flatnonzero(bounds[1:] > bounds[:-1])
        return order, bounds[filled], lo + filled.astype(np.int64)
    # more seconds than rows (rows far apart): memory follows the rows, not the span
    secs = t // NS
    starts = np.flatnonzero(np.concatenate(([True], secs[1:] != secs[:-1])))
    return order, starts, secs[starts]


class ThroughputSeries:
    """Items per 1-second bucket of ``t_end_ns``, measured and warm-up kept apart.

    Seconds with no completed item are zeros (a stall shows as a gap in the graph).
    Index by absolute second modulo capacity; a second older than the ring is dropped.
    """

    def __init__(self, capacity_s: int = 600) -> None:
        self.capacity = capacity_s
        self._measured = np.zeros(capacity_s, dtype=np.float64)
        self._warmup = np.zeros(capacity_s, dtype=np.float64)
        self.first_sec: int | None = None
        self.last_sec: int | None = None

    def clear(self) -> None:
        self._measured[:] = 0
        self._warmup[:] = 0
        self.first_sec = None
        self.last_sec = None

    def add(self, batch: LatencyBatch) -> None:
        """Items of ``batch`` by the second each row ended (rows in any order)."""
        if len(batch) == 0:
            return
        order, starts, seconds = seconds_of(batch.t_end_ns)
        items = batch.items if order is None else batch.items[order]
        self.add_seconds(seconds, np.add.reduceat(items, starts, dtype=np.int64), batch.warmup)

    def add_seconds(self, seconds: np.ndarray, items: np.ndarray, warmup: bool) -> None:
        """Items done per second (``seconds`` ascending), as :meth:`add` counts them from rows
        (a :class:`~edgemon.view.latency_digest.LatencyDigest`)."""
        if seconds.shape[0] == 0:
            return
        lo, hi = int(seconds[0]), int(seconds[-1])
        if hi - lo >= self.capacity:             # seconds the ring cannot hold are dropped anyway,
            self._put(lo, 0.0, warmup)           # but the first one still counts as the first
            keep = seconds > hi - self.capacity
            seconds, items = seconds[keep], items[keep]
        for sec, total in zip(seconds.tolist(), items.tolist()):
            self._put(sec, float(total), warmup)

    def _put(self, sec: int, items: float, warmup: bool) -> None:
        self._advance(sec)
        assert self.last_sec is not None   # _advance set it
        if sec <= self.last_sec - self.capacity:
            return  # older than what the ring holds
        self.first_sec = sec if self.first_sec is None else min(self.first_sec, sec)
        (self._warmup if warmup else self._measured)[sec % self.capacity] += items

    def _advance(self, sec: int) -> None:
        """Move the newest second forward, zeroing the buckets that are reused."""
        if self.last_sec is None:
            self.last_sec = sec
            return
        if sec <= self.last_sec:
            return
        gap = sec - self.last_sec
        if gap >= self.capacity:
            self._measured[:] = 0
            self._warmup[:] = 0
        else:
            idx = (self.last_sec + 1 + np.arange(gap)) % self.capacity
            self._measured[idx] = 0
            self._warmup[idx] = 0
        self.last_sec = sec

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        return ({"first_sec": self.first_sec, "last_sec": self.last_sec, "capacity": self.capacity},
                {"measured": self._measured.copy(), "warmup": self._warmup.copy()})

    def load_state(self, fields: dict, arrays: dict[str, np.ndarray]) -> None:
        self.clear()
        if int(fields.get("capacity", -1)) != self.capacity or fields.get("last_sec") is None:
            return          # another ring size (a differently configured sender): start empty
        self._measured[:] = arrays["measured"]
        self._warmup[:] = arrays["warmup"]
        self.first_sec, self.last_sec = fields.get("first_sec"), fields.get("last_sec")

    def window(self, now_ns: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``n`` complete seconds before ``now``: (measured, warmup, valid) arrays, oldest first.

        ``valid`` is False for seconds before the first item or outside the ring.
        """
        end = int(now_ns) // NS            # the current, incomplete second is left out
        if self.last_sec is not None:
            self._advance(end - 1)
        secs = np.arange(end - n, end)
        valid = np.zeros(n, dtype=bool)
        if self.first_sec is not None and self.last_sec is not None:
            valid = (secs >= self.first_sec) & (secs > self.last_sec - self.capacity) & (secs <= self.last_sec)
        idx = secs % self.capacity
        measured = np.where(valid, self._measured[idx], 0.0)
        warmup = np.where(valid, self._warmup[idx], 0.0)
        return measured, warmup, valid

    def rate(self, now_ns: int, seconds: int = 1) -> tuple[float, float]:
        """(measured, warm-up) items/s over the last ``seconds`` complete seconds."""
        measured, warmup, valid = self.window(now_ns, seconds)
        n = int(valid.sum())
        if n == 0:
            return 0.0, 0.0
        return float(measured.sum()) / n, float(warmup.sum()) / n

    @property
    def nbytes(self) -> int:
        return self._measured.nbytes + self._warmup.nbytes
