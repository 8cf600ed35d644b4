"""A batch of latency rows as the dashboard model takes it, without the rows.

Of the workload's rows, a :class:`~edgemon.view.model.DashboardModel` keeps only, per second
of end time, the items done (throughput) and, for measured rows, the histogram's bucket
counts with the count, sum, min and max of the durations (the whole-session and the
10-second histograms), plus the batch's first end, earliest start and latest end (which
worker run it belongs to, how long measured iterations ran). :func:`digest_batch` computes
that once; the model applies it (:meth:`DashboardModel.add_digest`).

A detached session's process does this for its own model and sends the same digests to every
attached dashboard (``edgemon/daemon/server.py``): a few hundred numbers a tick instead of
every row (~15,000 a tick for the default model), so a dashboard's cost does not grow with the
workload's rate. In-process models go through the same two steps, so a dashboard attached to a
session and one running inside it show the same numbers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from edgemon.datatypes import LatencyBatch
from edgemon.view.histogram import bucket_index, n_slots
from edgemon.view.series import seconds_of

# Past this many seconds in one batch, cells are counted with np.unique instead of one
# bincount over seconds x slots (which would allocate seconds x 1,602 counters).
_DENSE_SECONDS = 16


@dataclass(frozen=True)
class LatencyDigest:
    """One batch of latency rows, summarised per second of ``t_end_ns``.

    ``seconds`` ascending, the seconds (``t_end_ns // 1e9``) that have rows; the ``second_*``
    arrays are parallel to it. For measured rows the histogram cells are sparse: cell ``j``
    holds ``cell_count[j]`` rows of second ``seconds[cell_second[j]]`` in histogram slot
    ``cell_slot[j]`` (:func:`~edgemon.view.histogram.bucket_index`). A warm-up digest has no
    cells and zero durations."""

    warmup: bool
    rows: int
    items: int
    first_t_end_ns: int       # the batch's first row as sent: which worker run it belongs to
    start_ns: int             # earliest start (t_end - duration) of its rows
    end_ns: int               # latest end
    seconds: np.ndarray       # int64 [k]
    second_items: np.ndarray  # int64 [k]
    second_rows: np.ndarray   # int64 [k]
    second_total_ns: np.ndarray   # int64 [k], sum of durations
    second_min_ns: np.ndarray     # int64 [k]
    second_max_ns: np.ndarray     # int64 [k]
    cell_second: np.ndarray   # int32 [m]
    cell_slot: np.ndarray     # int32 [m]
    cell_count: np.ndarray    # int64 [m]


def digest_batch(batch: LatencyBatch) -> LatencyDigest:
    """The digest of a non-empty batch (rows in any order)."""
    t = np.asarray(batch.t_end_ns, dtype=np.int64)
    d = np.asarray(batch.duration_ns, dtype=np.int64)
    items = np.asarray(batch.items)
    n = int(t.shape[0])
    if n == 0:
        raise ValueError("an empty batch has no digest")
    first_t_end = int(t[0])
    order, starts, seconds = seconds_of(t)
    if order is not None:       # rare: rows out of time order
        t, d, items = t[order], d[order], items[order]
    k = int(seconds.shape[0])
    if k == 1:
        second_rows = np.array([n], dtype=np.int64)
        second_items = np.array([items.sum(dtype=np.int64)], dtype=np.int64)
    else:
        second_rows = np.diff(np.append(starts, n)).astype(np.int64)
        second_items = np.add.reduceat(items, starts, dtype=np.int64)
    empty32 = np.zeros(0, dtype=np.int32)
    if batch.warmup:
        zeros = np.zeros(k, dtype=np.int64)
        return LatencyDigest(True, n, int(second_items.sum()), first_t_end, int((t - d).min()), int(t[-1]),
                             seconds, second_items, second_rows, zeros, zeros, zeros, empty32, empty32,
                             np.zeros(0, dtype=np.int64))
    slots = bucket_index(d)
    if k == 1:
        total, lows, highs = (np.array([f()], dtype=np.int64) for f in (d.sum, d.min, d.max))
    else:
        total = np.add.reduceat(d, starts)
        lows = np.minimum.reduceat(d, starts)
        highs = np.maximum.reduceat(d, starts)
    width = n_slots()
    if k == 1:
        counts = np.bincount(slots, minlength=width)
        cells = np.flatnonzero(counts)
        cell_second = np.zeros(cells.shape[0], dtype=np.int32)
        cell_slot, cell_count = cells.astype(np.int32), counts[cells].astype(np.int64)
    else:
        key = np.repeat(np.arange(k, dtype=np.int64), second_rows) * width + slots
        if k <= _DENSE_SECONDS:
            counts = np.bincount(key, minlength=k * width)
            cells = np.flatnonzero(counts)
            cell_count = counts[cells].astype(np.int64)
        else:
            cells, cell_count = np.unique(key, return_counts=True)
            cell_count = cell_count.astype(np.int64)
        cell_second = (cells // width).astype(np.int32)
        cell_slot = (cells % width).astype(np.int32)
    return LatencyDigest(False, n, int(second_items.sum()), first_t_end, int((t - d).min()), int(t[-1]),
                         seconds, second_items, second_rows, total.astype(np.int64), lows.astype(np.int64),
                         highs.astype(np.int64), cell_second, cell_slot, cell_count)


# ---------------------------------------------------------------------------- wire

# flags (bit 0: warm-up), rows, items, first_t_end_ns, start_ns, end_ns, seconds k, cells m
_HEAD = struct.Struct("<Bqqqqqii")
_PER_SECOND = 6 * 8      # six int64 arrays of k
_PER_CELL = 4 + 4 + 8    # cell_second int32, cell_slot int32, cell_count int64


def encode_digest(g: LatencyDigest) -> bytes:
    """A digest as bytes (little-endian), for the control socket."""
    k, m = int(g.seconds.shape[0]), int(g.cell_slot.shape[0])
    parts = [_HEAD.pack(1 if g.warmup else 0, g.rows, g.items, g.first_t_end_ns, g.start_ns, g.end_ns, k, m)]
    for arr in (g.seconds, g.second_items, g.second_rows, g.second_total_ns, g.second_min_ns, g.second_max_ns):
        parts.append(np.asarray(arr, dtype="<i8").tobytes())
    parts += [np.asarray(g.cell_second, dtype="<i4").tobytes(), np.asarray(g.cell_slot, dtype="<i4").tobytes(),
              np.asarray(g.cell_count, dtype="<i8").tobytes()]
    return b"".join(parts)


def decode_digest(payload: bytes) -> LatencyDigest:
    """The inverse of :func:`encode_digest`; ValueError for bytes that do not make a digest."""
    if len(payload) < _HEAD.size:
        raise ValueError(f"corrupt latency digest ({len(payload)} bytes)")
    flags, rows, items, first, start, end, k, m = _HEAD.unpack_from(payload, 0)
    if k < 1 or m < 0 or rows < 1 or len(payload) != _HEAD.size + k * _PER_SECOND + m * _PER_CELL:
        raise ValueError(f"corrupt latency digest ({len(payload)} bytes for {k} seconds and {m} cells)")
    off = _HEAD.size
    arrays = []
    for _ in range(6):
        arrays.append(np.frombuffer(payload, dtype="<i8", count=k, offset=off).astype(np.int64))
        off += 8 * k
    cell_second = np.frombuffer(payload, dtype="<i4", count=m, offset=off).astype(np.int32)
    cell_slot = np.frombuffer(payload, dtype="<i4", count=m, offset=off + 4 * m).astype(np.int32)
    cell_count = np.frombuffer(payload, dtype="<i8", count=m, offset=off + 8 * m).astype(np.int64)
    seconds, second_items, second_rows = arrays[0], arrays[1], arrays[2]
    bad = ((k > 1 and not (seconds[1:] > seconds[:-1]).all()) or (second_rows < 1).any()
           or int(second_rows.sum()) != rows or (second_items < 0).any()
           or (m and ((cell_second < 0).any() or (cell_second >= k).any() or (cell_slot < 0).any()
                      or (cell_slot >= n_slots()).any() or (cell_count < 1).any())))
    if bad or (flags & 1 and m) or (not flags & 1 and int(cell_count.sum()) != rows):
        raise ValueError("corrupt latency digest (its counts do not add up)")
    return LatencyDigest(bool(flags & 1), int(rows), int(items), int(first), int(start), int(end), seconds,
                         second_items, second_rows, arrays[3], arrays[4], arrays[5], cell_second, cell_slot,
                         cell_count)
