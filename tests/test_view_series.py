from __future__ import annotations

import numpy as np
import pytest

from edgemon.datatypes import LatencyBatch, Sample
from edgemon.view.series import NS, MetricHistory, RingSeries, ThroughputSeries


def test_ring_keeps_newest_in_order_when_it_wraps():
    ring = RingSeries(5)
    for i in range(12):
        ring.append(i, float(i) * 10)
    assert len(ring) == 5
    assert ring.times().tolist() == [7, 8, 9, 10, 11]
    assert ring.values().tolist() == [70, 80, 90, 100, 110]
    assert ring.last() == 110
    t, v = ring.since(10)
    assert t.tolist() == [10, 11] and v.tolist() == [100, 110]


def test_ring_extend_longer_than_capacity_and_clear():
    ring = RingSeries(4)
    ring.append(0, 1.0)
    ring.extend(np.arange(1, 11), np.arange(1, 11) * 2.0)
    assert ring.times().tolist() == [7, 8, 9, 10]
    assert ring.values().tolist() == [14, 16, 18, 20]
    ring.clear()
    assert len(ring) == 0 and ring.last() is None
    with pytest.raises(ValueError):
        RingSeries(0)


def test_metric_history_caps_metrics_and_length():
    hist = MetricHistory(capacity=3, max_metrics=2)
    for t in range(5):
        hist.add(Sample(t, {"a": t, "b": -t, "c": 1.0}))
    assert set(hist.series) == {"a", "b"}
    assert hist.dropped_metrics == 5
    assert hist.get("a").values().tolist() == [2, 3, 4]
    assert "c" not in hist


def batch(times_s, items=1, warmup=False):
    t = (np.asarray(times_s) * NS).astype(np.int64)
    return LatencyBatch.from_lists(t, np.full(t.size, 1_000_000), np.full(t.size, items), warmup)


def test_throughput_counts_items_per_second_with_warmup_apart():
    tp = ThroughputSeries(capacity_s=60)
    tp.add(batch([0.1, 0.5, 0.9], warmup=True))
    tp.add(batch([1.0, 1.2, 1.4, 2.5], items=4))
    measured, warmup, valid = tp.window(4 * NS, 4)       # seconds 0..3, all complete at t=4 s
    assert valid.tolist() == [True, True, True, True]
    assert measured.tolist() == [0, 12, 4, 0]
    assert warmup.tolist() == [3, 0, 0, 0]
    assert tp.rate(3 * NS, seconds=2) == (8.0, 0.0)
    assert tp.window(3 * NS, 5)[2].tolist() == [False, False, True, True, True]   # before the first item


def test_throughput_gap_seconds_are_zero_and_ring_is_bounded():
    tp = ThroughputSeries(capacity_s=10)
    tp.add(batch([0.5]))
    tp.add(batch([5.5, 5.6]))
    measured, _, valid = tp.window(6 * NS, 6)
    assert measured.tolist() == [1, 0, 0, 0, 0, 2]
    assert valid.all()
    tp.add(batch([100.5]))                                # far ahead: the old seconds fall out
    measured, _, valid = tp.window(101 * NS, 20)
    assert measured.sum() == 1
    assert not valid[:10].any()
    before = tp.nbytes
    for sec in range(200, 1000):
        tp.add(batch([sec + 0.5]))
    assert tp.nbytes == before


def test_throughput_batch_spanning_seconds():
    tp = ThroughputSeries(capacity_s=10)
    tp.add(batch([0.1, 0.2, 1.1, 3.9]))
    measured, _, _ = tp.window(4 * NS, 4)
    assert measured.tolist() == [2, 1, 0, 1]


@pytest.mark.parametrize("seed", range(6))
def test_throughput_of_rows_in_time_order_equals_the_general_path(seed):
    """Rows in time order take a bisection path; shuffled, the same rows take the general one."""
    rng = np.random.default_rng(seed)
    in_order, shuffled = ThroughputSeries(capacity_s=10), ThroughputSeries(capacity_s=10)
    t = 1_000 * NS
    for _ in range(8):
        n = int(rng.integers(2, 400))
        span = int(rng.choice([NS // 10, 3 * NS, 25 * NS]))        # within a second, a few, past the ring
        ends = np.sort(t + rng.integers(0, span, n)).astype(np.int64)
        items = rng.integers(1, 5, n).astype(np.int32)
        warm = bool(rng.integers(0, 2))
        order = rng.permutation(n)
        while (np.diff(ends[order]) >= 0).all():                 # must really be out of order
            order = rng.permutation(n)
        in_order.add(LatencyBatch(ends, np.ones(n, np.int64), items, warm))
        shuffled.add(LatencyBatch(ends[order], np.ones(n, np.int64), items[order], warm))
        t = int(ends[-1]) + int(rng.integers(0, 2 * NS))
    a, b = in_order.state(), shuffled.state()
    assert a[0] == b[0]
    assert np.array_equal(a[1]["measured"], b[1]["measured"]) and np.array_equal(a[1]["warmup"], b[1]["warmup"])
    assert a[1]["measured"].sum() + a[1]["warmup"].sum() > 0
