"""merged_batches: consecutive latency batches joined in order, split at warm-up changes and at
MERGE_ROWS rows, for the worker's reads, the dashboard model and an attached dashboard."""

from __future__ import annotations

import numpy as np

from edgemon.datatypes import MERGE_ROWS, LatencyBatch, merged_batches


def _batch(start: int, n: int, warmup: bool = False) -> LatencyBatch:
    t = np.arange(start, start + n, dtype=np.int64)
    return LatencyBatch(t, t * 2, np.full(n, 3, dtype=np.int32), warmup)


def _rows(batches):
    return np.concatenate([b.t_end_ns for b in batches]).tolist()


def test_order_kept_warmup_changes_split_empty_left_out():
    batches = [_batch(0, 5, True), _batch(5, 0, True), _batch(5, 3, True), _batch(8, 4), _batch(12, 2),
               _batch(14, 1, True)]
    out = merged_batches(batches)
    assert [(len(b), b.warmup) for b in out] == [(8, True), (6, False), (1, True)]
    assert _rows(out) == list(range(15))
    assert np.array_equal(out[1].duration_ns, np.arange(8, 14) * 2) and (out[1].items == 3).all()


def test_runs_stop_at_merge_rows_and_a_big_batch_stays_as_it_is():
    third = MERGE_ROWS // 3 + 1
    big = _batch(10 * MERGE_ROWS, MERGE_ROWS + 5)
    batches = [_batch(k * third, third) for k in range(5)] + [big]
    out = merged_batches(batches)
    assert all(len(b) <= MERGE_ROWS for b in out[:-1]) and out[-1] is big
    assert [len(b) for b in out] == [2 * third, 2 * third, third, MERGE_ROWS + 5]
    assert _rows(out[:-1]) == list(range(5 * third))
