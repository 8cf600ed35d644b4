"""Clock/temperature/power sparklines: bucketing on the throughput graph's axis, scaling, labels."""

from __future__ import annotations

import numpy as np

from edgemon.datatypes import Sample
from edgemon.view.series import NS, MetricHistory, RingSeries
from edgemon.view.trend import Trend, bucket_means, dropped, levels, trends

T0 = 1_000 * NS


def _history(seconds: int, fn) -> MetricHistory:
    h = MetricHistory(capacity=10_000)
    for k in range(seconds * 10):
        h.add(Sample(T0 + k * NS // 10, fn(k / 10)))
    return h


def test_bucket_means_line_up_with_seconds():
    ring = RingSeries(100)
    ring.extend(T0 + np.arange(10) * NS // 2, np.arange(10, dtype=float))   # 0, 0.5 .. 4.5 s
    got = bucket_means(ring, T0, 2 * NS, 4)                                   # [0,2) [2,4) [4,6) [6,8)
    np.testing.assert_array_equal(got, [1.5, 5.5, 8.5, np.nan])
    assert np.isnan(bucket_means(ring, T0 + 100 * NS, NS, 3)).all()          # nothing that late
    assert np.isnan(bucket_means(RingSeries(5), T0, NS, 2)).all()
    later = bucket_means(ring, T0 + 3 * NS, NS, 2)                            # rows before lo are left out
    np.testing.assert_array_equal(later, [6.5, 8.5])


def test_trends_pick_the_fastest_core_the_hottest_zone_and_total_power():
    def metrics(t):
        d = {"cpu0_freq_mhz": 1500.0 if t < 30 else 1200.0, "cpu1_freq_mhz": 800.0,
             "temp_cpu_c": 60.0, "temp_gpu_c": 70.0 + t / 10, "power_total_mw": 9000.0, "power_vdd_soc_mw": 1.0}
        return d
    h = _history(60, metrics)
    latest = metrics(59.9)
    got = trends(h, latest, T0, 10 * NS, 6)
    assert [t.name for t in got] == ["cpu", "temp", "pwr"]          # no GPU clock recorded
    cpu, temp, pwr = got
    np.testing.assert_array_equal(cpu.values, [1500, 1500, 1500, 1200, 1200, 1200])
    np.testing.assert_allclose(temp.values, [70.0 + (s + 4.95) / 10 for s in range(0, 60, 10)])
    assert cpu.label == "cpu 1200M" and temp.label == "temp  76C" and pwr.label == "pwr  9.0W"
    assert [t.name for t in trends(h, latest, T0, 10 * NS, 6, limit=2)] == ["cpu", "temp"]
    assert trends(h, latest, T0, 10 * NS, 6, limit=0) == []


def test_an_offline_core_does_not_set_the_cpu_label():
    h = _history(2, lambda t: {"cpu0_freq_mhz": 1000.0, "cpu1_freq_mhz": 0.0})
    (cpu,) = trends(h, {"cpu0_freq_mhz": 1000.0, "cpu1_freq_mhz": 0.0}, T0, NS, 2)
    assert cpu.now == 1000.0


def test_levels_scale_to_the_window_and_a_steady_value_is_flat():
    np.testing.assert_array_equal(levels(np.array([1510, 1510, 1208, np.nan, 1208.0])), [7, 7, 0, -1, 0])
    flat = levels(np.array([1510.0, 1509.0, 1511.0]))       # sensor noise, not a drop
    assert len(set(flat.tolist())) == 1 and 0 < flat[0] < 7
    np.testing.assert_array_equal(levels(np.array([0.0, 7.0, 3.5])), [0, 7, 4])
    assert (levels(np.full(3, np.nan)) == -1).all()


def test_dropped_marks_buckets_below_the_window_high():
    np.testing.assert_array_equal(dropped(np.array([1510.0, 1500.0, 1208.0, np.nan])), [False, False, True, False])
    assert not dropped(np.full(2, np.nan)).any()


def test_labels_for_missing_and_large_values():
    assert Trend("gpu", "clock", np.zeros(1), None).label == "gpu     -"
    assert Trend("pwr", "power", np.zeros(1), 123_456.0).label == "pwr  123W"
