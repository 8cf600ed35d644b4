from __future__ import annotations

import math

import numpy as np
import pytest

from edgemon.view.histogram import (
    BUCKETS_PER_DECADE,
    LogHistogram,
    WindowedHistogram,
    bucket_edges,
    n_slots,
)

# one fine bucket is 10 ** (1/160) wide (~1.45 %); a bucket-accurate answer is within one
BUCKET_RATIO = 10 ** (1 / BUCKETS_PER_DECADE)
QS = [1, 10, 50, 90, 95, 99, 99.9]


def lognormal_ns(n: int, median_ms: float = 8.0, sigma: float = 0.3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.lognormal(math.log(median_ms * 1e6), sigma, n)).astype(np.int64)


def test_bucket_layout_covers_1us_to_100s():
    edges = bucket_edges()
    assert edges[0] == pytest.approx(1_000)
    assert edges[-1] == pytest.approx(100e9, rel=1e-9)
    ratios = edges[1:] / edges[:-1]
    assert np.allclose(ratios, BUCKET_RATIO)
    assert n_slots() == len(edges) + 1


@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.0])
def test_percentiles_match_numpy_within_a_bucket(sigma):
    d = lognormal_ns(200_000, sigma=sigma)
    hist = LogHistogram()
    for chunk in np.array_split(d, 200):   # batches, as the runner sends them
        hist.add(chunk)
    exact = np.percentile(d, QS, method="inverted_cdf")
    got = hist.percentiles(QS)
    assert np.all(got / exact <= BUCKET_RATIO)
    assert np.all(exact / got <= BUCKET_RATIO)


def test_min_max_mean_count_are_exact():
    d = lognormal_ns(10_001)
    hist = LogHistogram()
    hist.add(d[:5000])
    hist.add(d[5000:])
    assert hist.count == d.size
    assert hist.min_ns == int(d.min())
    assert hist.max_ns == int(d.max())
    assert hist.mean_ns == pytest.approx(float(d.mean()))
    assert hist.percentile(0) == d.min()
    assert hist.percentile(100) == d.max()
    stats = hist.stats()
    assert stats.count == d.size
    assert stats.min_ms == pytest.approx(d.min() / 1e6)
    assert stats.max_ms == pytest.approx(d.max() / 1e6)


def test_values_outside_the_bucket_range_are_counted_and_clamped():
    hist = LogHistogram()
    hist.add(np.array([10, 500, 200 * 10**9], dtype=np.int64))   # 10 ns, 0.5 us, 200 s
    assert hist.count == 3
    assert hist.counts[0] == 2 and hist.counts[-1] == 1
    assert hist.percentile(100) == 200 * 10**9
    assert hist.percentile(1) == 10


def test_empty_histogram_gives_nan_and_reset_empties():
    hist = LogHistogram()
    assert math.isnan(hist.percentile(50))
    assert hist.stats().count == 0
    hist.add(lognormal_ns(100))
    hist.reset()
    assert hist.count == 0 and hist.counts.sum() == 0 and hist.min_ns is None
    assert math.isnan(hist.stats().p99_ms)


def test_merge_equals_adding_everything():
    d = lognormal_ns(5000)
    a, b, both = LogHistogram(), LogHistogram(), LogHistogram()
    a.add(d[:1000])
    b.add(d[1000:])
    both.add(d)
    a.merge(b)
    assert np.array_equal(a.counts, both.counts)
    assert (a.count, a.min_ns, a.max_ns, a.total_ns) == (both.count, both.min_ns, both.max_ns, both.total_ns)


def test_display_bins_partition_the_counts():
    d = lognormal_ns(50_000, sigma=0.5)
    hist = LogHistogram()
    hist.add(d)
    lower, upper, counts, below, above = hist.display_bins(12)
    assert 1 <= counts.size <= 12
    assert counts.sum() + below + above == hist.count
    assert np.all(lower[1:] == upper[:-1])           # contiguous, increasing
    assert np.all(upper > lower)
    inside = (d >= lower[0]) & (d < upper[-1])
    assert int(inside.sum()) == int(counts.sum())


def test_display_bins_of_a_single_value_still_has_rows():
    hist = LogHistogram()
    hist.add(np.full(100, 5_000_000))
    lower, upper, counts, below, above = hist.display_bins(5)
    assert counts.size == 5 and counts.sum() == 100 and below == above == 0


def test_window_keeps_only_the_last_seconds():
    win = WindowedHistogram(window_s=10)
    s = 1_000_000_000
    for sec in range(30):
        t = np.full(100, sec * s + s // 2, dtype=np.int64)
        win.add(t, np.full(100, (sec + 1) * 1_000_000, dtype=np.int64))   # latency (sec+1) ms
    hist = win.histogram()
    assert hist.count == 10 * 100
    assert hist.min_ns == 21 * 1_000_000 and hist.max_ns == 30 * 1_000_000
    assert win.slot_count <= 10
    win.expire(100 * s)
    assert win.histogram().count == 0


def test_window_splits_a_batch_that_spans_seconds_and_drops_old_rows():
    win = WindowedHistogram(window_s=2)
    s = 1_000_000_000
    t = np.array([0, s + 1, 2 * s + 1, 3 * s + 1], dtype=np.int64)
    win.add(t, np.array([1, 2, 3, 4], dtype=np.int64) * 1_000_000)
    hist = win.histogram()
    assert hist.count == 2 and hist.min_ns == 3_000_000
    win.add(np.array([0], dtype=np.int64), np.array([9_000_000], dtype=np.int64))  # too old: ignored
    assert win.histogram().count == 2
