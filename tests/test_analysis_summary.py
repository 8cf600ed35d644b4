"""`analyze`: existing keys kept, MLPerf block, per-window statistics, text and JSON output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis_helpers import analyze_folder, back_to_back, build_session
from edgemon.analysis.summary import format_analysis, to_json
from edgemon.analysis.windows import choose_window_s


def _folder(tmp_path):
    t_end, dur = back_to_back(0, 100, 10.0)
    dur = dur.copy()
    dur[t_end > 50] = 20.0  # second half twice as slow: 50 rows/s after 50 s ... end times stay 10 ms apart
    return build_session(tmp_path / "s", meta={"workload": {"runner": "numpy", "model": "mnist_1d", "batch": 1}},
                         sample=lambda t: {"power_total_mw": 5000.0}, latency=(t_end, dur), warmup_rows=100)


def test_existing_keys_are_kept(tmp_path):
    result = analyze_folder(_folder(tmp_path))
    for key in ("count", "min", "mean", "median", "p90", "p95", "p99", "p999", "max", "std", "cov_pct"):
        assert key in result["latency_ms"]
    assert result["latency_ms"]["count"] == 9900
    assert result["warmup_iterations"] == 100
    assert {"throughput_ips", "duration_s", "measured_s", "items", "problems", "events"} <= set(result)


def test_mlperf_block(tmp_path):
    result = analyze_folder(_folder(tmp_path))
    ml = result["mlperf"]
    d = np.sort(np.where(back_to_back(0, 100, 10.0)[0][100:] > 50, 20.0, 10.0))
    assert ml["p90_ms"] == d[int(len(d) * 0.9)]
    es = ml["early_stopping_p90"]
    assert es["ok"] and es["queries"] == 9900 and es["estimate_ms"] == 20.0


def test_windows_of_fixed_width(tmp_path):
    result = analyze_folder(_folder(tmp_path), window_s=10.0)
    win = result["windows"]
    assert win["window_s"] == 10.0 and not win["adaptive"]
    ws = win["windows"]
    assert len(ws) == 10
    # windows run from the first measured iteration's start (1.0 s: 100 warm-up rows of 10 ms before it)
    assert ws[0]["start_s"] == pytest.approx(1.0)
    assert [w["count"] for w in ws] == [1000] * 9 + [900]
    assert ws[-1]["end_s"] == pytest.approx(100.0)
    assert all(w["throughput_ips"] == pytest.approx(100.0, rel=0.002) for w in ws)
    assert ws[2]["p50_ms"] == 10.0 and ws[7]["p50_ms"] == 20.0


def test_adaptive_window_width():
    assert choose_window_s(100) == 1.0
    assert choose_window_s(3 * 3600) == 120.0
    assert choose_window_s(600) == 5.0
    assert choose_window_s(5) == 0.1


def test_text_and_json_output(tmp_path):
    result = analyze_folder(_folder(tmp_path))
    text = format_analysis(result)
    for needle in ("MLPerf SingleStream", "early stopping", "per window", "latency levels", "energy",
                   "change points"):
        assert needle in text
    back = json.loads(to_json(result))
    assert back["energy"]["mj_per_item"] == pytest.approx(5000.0 * 99.0 / 9900)  # measured window 1..100 s
    assert back["levels"]["count"] == 2
