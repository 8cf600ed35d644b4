"""Latency statistics: trtexec's nearest-rank rule, numpy agreement, throughput definition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgemon.analysis.latency import latency_stats, nearest_rank, throughput_ips


def test_nearest_rank_matches_trtexec_rule_on_hand_computed_values():
    # 10 values 1..10 ms: exclude = int((1-0.9)*10) = 1 -> sorted[10-1-1] = 9
    vals = np.arange(1, 11, dtype=np.float64)
    assert nearest_rank(vals, 90) == 9.0
    # p99 of 10 values: exclude = int(0.01*10) = 0 -> max
    assert nearest_rank(vals, 99) == 10.0
    # p50 of 10 values: exclude = 5 -> sorted[4] = 5 (trtexec's, not the median 5.5)
    assert nearest_rank(vals, 50) == 5.0


def test_stats_in_ms_with_population_std_and_cov():
    d_ms = np.array([1.0, 2.0, 3.0, 4.0])
    st = latency_stats((d_ms * 1e6).astype(np.int64))
    assert st["count"] == 4
    assert st["min"] == 1.0 and st["max"] == 4.0
    assert st["mean"] == 2.5
    assert st["median"] == 2.5  # mean of the two middle values
    assert st["std"] == pytest.approx(math.sqrt(1.25))  # population
    assert st["cov_pct"] == pytest.approx(math.sqrt(1.25) / 2.5 * 100)


def test_linear_method_agrees_with_numpy():
    rng = np.random.default_rng(7)
    d = rng.lognormal(mean=15, sigma=0.3, size=5000).astype(np.int64)
    st = latency_stats(d, method="linear")
    for key, p in (("p90", 90), ("p95", 95), ("p99", 99), ("p999", 99.9)):
        assert st[key] == pytest.approx(np.percentile(d / 1e6, p))


def test_nearest_rank_is_always_an_observed_value():
    rng = np.random.default_rng(3)
    d = rng.integers(1_000, 9_000_000, size=997)
    st = latency_stats(d)
    observed = set((d / 1e6).tolist())
    for key in ("p90", "p95", "p99", "p999"):
        assert st[key] in observed


def test_empty_input_gives_count_zero():
    st = latency_stats(np.empty(0, dtype=np.int64))
    assert st["count"] == 0 and math.isnan(st["mean"])


def test_throughput_is_items_over_wall_time_not_inverse_latency():
    # two iterations of 1 ms each, 10 ms apart, 4 items each: wall = 11 ms from first start to last end
    t_end = np.array([1_000_000, 11_000_000], dtype=np.int64)
    dur = np.array([1_000_000, 1_000_000], dtype=np.int64)
    items = np.array([4, 4], dtype=np.int32)
    ips, wall = throughput_ips(t_end, dur, items)
    assert wall == pytest.approx(0.011)
    assert ips == pytest.approx(8 / 0.011)
