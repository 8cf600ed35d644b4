"""Numbers that are right in ordinary situations (issue 11): zero measured iterations, paused time,
repetitions, and inconsistent recordings -- each with a known answer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis_helpers import analyze_folder, back_to_back, build_session


def _zero_measured(folder):
    """--warmup 30s --duration 8s: every row is warm-up."""
    t_end, dur = back_to_back(0.5, 8.0, 10.0)
    meta = {"workload": {"runner": "numpy", "model": "mnist_1d", "warmup_iters": 0, "warmup_s": 30.0},
            "duration_s": 8.0}
    return build_session(folder, meta=meta, latency=(t_end, dur), warmup_rows=t_end.shape[0], duration_s=8.0,
                         sample=lambda t: {"cpu0_freq_mhz": 1479.0, "power_total_mw": 5000.0})


def test_zero_measured_iterations_analyse_to_a_result_that_says_so(tmp_path):
    from edgemon.analysis.summary import format_analysis, to_json

    result = analyze_folder(_zero_measured(tmp_path / "s"))
    assert result["latency_ms"]["count"] == 0 and math.isnan(result["latency_ms"]["median"])
    assert result["warmup_iterations"] == 750 and result["items"] == 0
    notes = [p for p in result["problems"] if p.startswith("no measured iterations")]
    assert len(notes) == 1 and "750 latency rows, all 750 warm-up" in notes[0]
    assert "--duration 8 s, which includes it" in notes[0]
    text = format_analysis(result)
    assert "no measured iterations" in text
    json.loads(to_json(result))


@pytest.mark.parametrize("command", ["analyze", "report", "report-html", "compare"])
def test_zero_measured_iterations_on_the_command_line(tmp_path, run_edgemon, command):
    folder = _zero_measured(tmp_path / "s")
    args = {"analyze": ["analyze", str(folder)], "report": ["report", str(folder)],
            "report-html": ["report", str(folder), "--out", str(tmp_path / "r.html")],
            "compare": ["compare", str(folder), str(folder)]}[command]
    out = run_edgemon(*args)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    if command != "report-html" and command != "compare":
        assert "no measured iterations" in out.stdout
    if command == "report-html":
        assert "no measured iterations" in (tmp_path / "r.html").read_text()


def test_first_inference_stays_out_and_is_reported_on_its_own(tmp_path):
    """The runner flags the cold first inference as warm-up; analyze reports it separately."""
    t_end, dur = back_to_back(0, 10, 1.0)
    dur = dur.copy()
    dur[0] = 183.0
    folder = build_session(tmp_path / "s", latency=(t_end, dur), warmup_rows=1, duration_s=10)
    result = analyze_folder(folder)
    assert result["first_inference_ms"] == 183.0
    assert result["latency_ms"]["max"] == 1.0 and result["latency_ms"]["count"] == 9999


def test_an_inconsistent_row_is_neither_the_first_inference_nor_warm_up(tmp_path):
    """A negative duration is no latency: the first inference is the earliest consistent row, and
    each row is counted once (inconsistent, warm-up or measured)."""
    t_end, dur = back_to_back(0, 10, 1.0)
    dur = dur.copy()
    dur[0], dur[1] = -5.0, 183.0
    folder = build_session(tmp_path / "s", latency=(t_end, dur), warmup_rows=2, duration_s=10)
    result = analyze_folder(folder)
    assert result["first_inference_ms"] == 183.0
    assert result["warmup_iterations"] == 1 and result["latency_ms"]["count"] == 9998
    assert "1 latency row has a negative duration: left out" in result["problems"]


def test_paused_time_is_left_out_of_throughput_and_window_rates(tmp_path):
    """100 iterations/s for 10 s, paused 3 s, 10 s more: 100 items/s, not 87 (issue: -3.7 %)."""
    a_t, a_d = back_to_back(0, 10, 10.0)
    b_t, b_d = back_to_back(13, 23, 10.0)
    events = [(0.0, "worker_hello", {}), (10.0, "pause", {"iterations": 1000}), (13.0, "resume", {"iterations": 1000})]
    folder = build_session(tmp_path / "s", latency=(np.concatenate([a_t, b_t]), np.concatenate([a_d, b_d])),
                           duration_s=23, events=events, sample=lambda t: {"power_total_mw": 5000.0})
    result = analyze_folder(folder, window_s=5.0)
    assert result["items"] == 2000
    assert result["measured_s"] == pytest.approx(20.0)
    assert result["throughput_ips"] == pytest.approx(100.0)
    rates = [w["throughput_ips"] for w in result["windows"]["windows"]]
    assert rates == pytest.approx([100.0, 100.0, 100.0, 100.0, 100.0])   # the window with the pause too
    assert any("paused for 3.0 s" in p for p in result["problems"])
    assert result["energy"]["window_s"] == pytest.approx(20.0)          # 5 W x 20 s, not x 23 s
    assert result["energy"]["energy_j"] == pytest.approx(100.0)


def test_time_between_worker_runs_is_not_in_throughput(tmp_path):
    """Two repetitions (fresh workers) with a 10 s rest: the rest is not measured time."""
    a_t, a_d = back_to_back(1, 11, 10.0)
    b_t, b_d = back_to_back(22, 32, 10.0)
    events = [(0.5, "worker_hello", {}), (11.0, "phase", {"name": "rest", "at": "start"}),
              (21.5, "worker_hello", {})]
    folder = build_session(tmp_path / "s", latency=(np.concatenate([a_t, b_t]), np.concatenate([a_d, b_d])),
                           duration_s=32, events=events)
    result = analyze_folder(folder)
    assert result["throughput_ips"] == pytest.approx(100.0) and result["measured_s"] == pytest.approx(20.0)


def test_run_warns_when_the_warm_up_leaves_nothing_to_measure(run_edgemon):
    help_text = " ".join(run_edgemon("run", "--help").stdout.split())
    assert "it includes the model build and the warm-up" in help_text
    assert "the first inference is always left out of the statistics" in help_text
    out = run_edgemon("run", "--headless", "--no-record", "--warmup", "30s", "--duration", "2s", timeout=180)
    warnings = [line for line in out.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "the warm-up (30 s) is as long as --duration (2 s)" in warnings[0], out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert "0 measured iterations" in out.stdout
