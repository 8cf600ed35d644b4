"""Energy per inference by trapezoid integration, with and without the idle baseline."""

from __future__ import annotations

import numpy as np
import pytest

from analysis_helpers import analyze_folder, back_to_back, build_session
from edgemon.analysis.energy import integrate_mw


def test_constant_5_w_for_100_s_over_10000_items_is_50_mj(tmp_path):
    folder = build_session(tmp_path / "s", sample=lambda t: {"power_total_mw": 5000.0},
                           latency=back_to_back(0, 100, 10.0), meta={"idle_baseline_mw": 1000})
    en = analyze_folder(folder)["energy"]
    assert en["available"]
    assert en["items"] == 10000
    assert en["window_s"] == pytest.approx(100.0)
    assert en["energy_j"] == pytest.approx(500.0)
    assert en["avg_power_mw"] == pytest.approx(5000.0)
    assert en["mj_per_item"] == pytest.approx(50.0)
    assert en["baseline_mw"] == 1000.0 and en["baseline_source"] == "session.json idle_baseline_mw"
    assert en["mj_per_item_above_baseline"] == pytest.approx(40.0)


def test_idle_baseline_phase_is_measured_from_the_recording(tmp_path):
    # 0..20 s idle at 1000 mW (phase event), then 20..120 s of work at 5000 mW; 4 items per iteration
    folder = build_session(
        tmp_path / "s", duration_s=121, sample=lambda t: {"power_total_mw": 1000.0 if t < 20 else 5000.0},
        latency=back_to_back(20.1, 120.1, 20.0), items=4,
        events=[(0.0, "phase", {"name": "idle_baseline"}), (20.0, "phase", {"name": "inference"})])
    en = analyze_folder(folder)["energy"]
    assert en["baseline_source"] == "idle_baseline phase"
    # the trapezoid over 0..20 s includes the ramp 19.9 -> 20.0 s: mean = 1000 + 4000 * 0.05 / 20
    assert en["baseline_mw"] == pytest.approx(1000.0 + 4000 * 0.05 / 20)
    assert en["items"] == 5000 * 4
    assert en["mj_per_item"] == pytest.approx(5000.0 * 100 / 20000)
    assert en["mj_per_item_above_baseline"] == pytest.approx((5000.0 - en["baseline_mw"]) * 100 / 20000)


def test_trapezoid_on_a_ramp_and_interpolated_edges():
    t = np.array([0, 1, 2, 3, 4], dtype=np.int64) * 1_000_000_000
    p = np.array([0.0, 1000.0, 2000.0, 3000.0, 4000.0])
    mj, s = integrate_mw(t, p, 500_000_000, 3_500_000_000)  # 0.5 .. 3.5 s of a 1000 mW/s ramp
    assert s == pytest.approx(3.0)
    assert mj == pytest.approx((500.0 + 3500.0) / 2 * 3.0)
    p[2] = np.nan  # a missing sample is bridged linearly
    assert integrate_mw(t, p, 0, 4_000_000_000)[0] == pytest.approx(8000.0)


def test_no_power_metric_says_so(tmp_path):
    folder = build_session(tmp_path / "s", sample=lambda t: {"ram_used_mb": 1.0}, latency=back_to_back(0, 10, 10.0),
                           duration_s=10)
    result = analyze_folder(folder)
    assert result["energy"]["available"] is False
    assert any("power_total_mw" in p for p in result["problems"])


def test_rail_averages_are_reported(tmp_path):
    folder = build_session(tmp_path / "s", sample=lambda t: {"power_total_mw": 5000.0, "power_cpu_gpu_cv_mw": 2000.0,
                                                             "power_soc_avg_mw": 1.0},
                           latency=back_to_back(0, 100, 10.0))
    en = analyze_folder(folder)["energy"]
    assert en["rails_avg_mw"] == {"power_cpu_gpu_cv_mw": pytest.approx(2000.0)}
