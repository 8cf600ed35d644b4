"""Latency levels (known shares) and change points (known times)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis_helpers import analyze_folder, build_session
from edgemon.analysis.levels import latency_levels


def _three_levels(rng, n=20000, shares=(0.5, 0.3, 0.2), centers=(2.0, 4.0, 8.0)):
    counts = [int(round(n * s)) for s in shares]
    parts = [c * rng.lognormal(0.0, 0.03, k) for c, k in zip(centers, counts)]
    d = np.concatenate(parts)
    rng.shuffle(d)
    return d, counts


def test_three_levels_with_known_shares():
    rng = np.random.default_rng(11)
    d, counts = _three_levels(rng)
    lev = latency_levels(d)
    assert lev["count"] == 3
    assert [lv["count"] for lv in lev["levels"]] == counts
    assert [lv["share"] for lv in lev["levels"]] == pytest.approx([0.5, 0.3, 0.2])
    for lv, c in zip(lev["levels"], (2.0, 4.0, 8.0)):
        assert lv["median_ms"] == pytest.approx(c, rel=0.01)


def test_four_close_levels_like_the_ncs2():
    rng = np.random.default_rng(5)
    d, counts = _three_levels(rng, n=40000, shares=(0.4, 0.3, 0.2, 0.1), centers=(11.5, 13.5, 16.0, 19.0))
    lev = latency_levels(d)
    assert lev["count"] == 4
    assert [lv["share"] for lv in lev["levels"]] == pytest.approx([0.4, 0.3, 0.2, 0.1], abs=0.003)


def test_one_level_with_a_long_tail_stays_one_level():
    rng = np.random.default_rng(2)
    d = np.concatenate([5.0 * rng.lognormal(0.0, 0.08, 20000), 5.0 + rng.exponential(3.0, 200)])
    lev = latency_levels(d)
    assert lev["count"] == 1
    assert lev["levels"][0]["share"] == 1.0


def test_small_level_under_min_share_is_merged():
    rng = np.random.default_rng(9)
    d = np.concatenate([2.0 * rng.lognormal(0, 0.03, 9900), 8.0 * rng.lognormal(0, 0.03, 100)])  # 1 % at 8 ms
    assert latency_levels(d, min_share=0.02)["count"] == 1
    assert latency_levels(d, min_share=0.005)["count"] == 2


def test_too_few_rows_gives_no_levels():
    assert latency_levels(np.array([1.0, 2.0]))["count"] == 0


def test_change_point_where_the_device_slowed(tmp_path):
    # Coral-like: 3 ms until 600 s, then 3.6 ms (+20 %), one iteration every 100 ms
    rng = np.random.default_rng(4)
    t_end = np.arange(1, 9001) * 0.1
    dur = np.where(t_end <= 600, 3.0, 3.6) * rng.lognormal(0, 0.02, t_end.shape)
    folder = build_session(tmp_path / "s", latency=(t_end, dur), duration_s=900, sample=None)
    result = analyze_folder(folder, window_s=10.0)
    (cp,) = result["change_points"]["points"]
    assert cp["at_s"] == pytest.approx(600.0, abs=10.0)
    assert cp["before_median_ms"] == pytest.approx(3.0, rel=0.01)
    assert cp["after_median_ms"] == pytest.approx(3.6, rel=0.01)
    assert cp["change_pct"] == pytest.approx(20.0, abs=1.0)


def test_steady_latency_has_no_change_point(tmp_path):
    rng = np.random.default_rng(8)
    t_end = np.arange(1, 9001) * 0.1
    dur = 3.0 * rng.lognormal(0, 0.05, t_end.shape)
    folder = build_session(tmp_path / "s", latency=(t_end, dur), duration_s=900, sample=None)
    assert analyze_folder(folder, window_s=10.0)["change_points"]["points"] == []
