"""Percentile definitions (trtexec, numpy, LoadGen) and LoadGen's early-stopping estimate."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from edgemon.analysis.latency import latency_stats, nearest_rank
from edgemon.analysis.mlperf import early_stopping, min_queries, mlperf_percentile, overlatency_allowance


def _loadgen_t(n: int, p=Fraction(9, 10), c=Fraction(99, 100)) -> int:
    """LoadGen's SingleStream loop (results.cc) with exact binomial odds, for small n."""

    def odds(h, t):  # P(at most t over-latency queries in h + t), over-latency chance 1 - p
        total = h + t
        return sum(math.comb(total, x) * (1 - p) ** x * p ** (total - x) for x in range(t + 1))

    def find_min_passing(t):
        h = 1
        while odds(h, t) >= 1 - c:
            h += 1
        return h

    h_min = find_min_passing(1)
    if n < h_min + 1:
        return 0
    t = 1
    for i in range(2, n + 1):
        if n < find_min_passing(i) + i:
            t = i - 1
            break
    return t


def test_three_percentile_rules_on_hand_computed_values():
    s = np.arange(1, 11, dtype=np.float64)  # 1..10 ms
    assert nearest_rank(s, 90) == 9.0                # trtexec: sorted[10-1-int(0.1*10)]
    assert mlperf_percentile(s, 0.9) == 10.0         # LoadGen: sorted[int(10*0.9)]
    assert np.percentile(s, 90) == pytest.approx(9.1)  # numpy: linear interpolation
    s = np.arange(1, 101, dtype=np.float64)
    assert nearest_rank(s, 99) == 99.0 and mlperf_percentile(s, 0.99) == 100.0
    assert nearest_rank(s, 99.9) == 100.0
    st = latency_stats((s * 1e6).astype(np.int64))
    assert (st["p90"], st["p95"], st["p99"]) == (90.0, 95.0, 99.0)


def test_minimum_queries_are_64_for_p90_and_662_for_p99():
    assert min_queries(0.9) == 64
    assert min_queries(0.99) == 662
    assert overlatency_allowance(63) == 0 and overlatency_allowance(64) == 1


def test_early_stopping_matches_a_real_loadgen_summary():
    # "Processed at least 64 queries (79944). Would discard 7796 highest latency queries."
    assert overlatency_allowance(79944) - 1 == 7796


@pytest.mark.parametrize("n", [64, 65, 80, 100, 137, 200, 260])
def test_early_stopping_matches_loadgen_loop_exactly(n):
    assert overlatency_allowance(n) == _loadgen_t(n)


def test_hand_computed_binomial_at_64_queries():
    # P(Bin(64, 0.1) <= 1) = 0.9^64 + 64 * 0.1 * 0.9^63 = 0.00956 < 0.01; <= 2 adds C(64,2) 0.01 0.9^62 -> 0.0294
    p1 = 0.9 ** 64 + 64 * 0.1 * 0.9 ** 63
    p2 = p1 + math.comb(64, 2) * 0.01 * 0.9 ** 62
    assert p1 < 0.01 < p2
    s = np.arange(1, 65, dtype=np.float64)
    es = early_stopping(s)
    assert es["ok"] and es["discarded"] == 0 and es["estimate_ms"] == 64.0  # t = 1: the highest


def test_estimate_is_the_t_th_highest_latency():
    s = np.arange(1, 1001, dtype=np.float64)
    t = overlatency_allowance(1000)
    es = early_stopping(s)
    assert es["discarded"] == t - 1
    assert es["estimate_ms"] == s[1000 - t]
    assert es["estimate_ms"] >= mlperf_percentile(s, 0.9)  # conservative: at or above the plain p90


def test_too_few_queries():
    es = early_stopping(np.arange(10, dtype=np.float64))
    assert not es["ok"] and es["estimate_ms"] is None and es["min_queries"] == 64
