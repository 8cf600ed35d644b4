"""Bad input: truncated, corrupt or foreign Parquet, an empty session, no telemetry, no latency.

The analysis names what it could not use (``problems``) and still reports the rest.
"""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis_helpers import analyze_folder, back_to_back, build_session
from edgemon.analysis.summary import format_analysis, to_json
from edgemon.recording.writer import Recorder


def _session(tmp_path):
    return build_session(tmp_path / "s", meta={"clock_ceilings": {"cpu0_freq_mhz": 1479}},
                         sample=lambda t: {"cpu0_freq_mhz": 1479.0, "power_total_mw": 4000.0,
                                           "proc_worker_cpu_pct": 100.0},
                         latency=back_to_back(0, 100, 10.0))


def _no_failures(result):
    assert not [p for p in result["problems"] if "analysis failed" in p], result["problems"]
    json.loads(to_json(result))
    assert format_analysis(result)


def test_truncated_parquet_segment_is_named_and_the_rest_reported(tmp_path):
    folder = _session(tmp_path)
    seg = folder / "latency" / "part-00000.parquet"
    # a second latency segment, then cut in half: the first still counts
    pq.write_table(pa.table({"t_end_ns": pa.array([1], pa.int64()), "duration_ns": pa.array([1], pa.int64()),
                             "items": pa.array([1], pa.int32()), "warmup": [False]}),
                   str(folder / "latency" / "part-00001.parquet"))
    data = (folder / "latency" / "part-00001.parquet").read_bytes()
    (folder / "latency" / "part-00001.parquet").write_bytes(data[: len(data) // 2])
    assert seg.exists()
    result = analyze_folder(folder)
    assert any("latency/part-00001.parquet" in p and "not a readable Parquet" in p for p in result["problems"])
    assert result["latency_ms"]["count"] == 10000
    assert result["energy"]["mj_per_item"] == pytest.approx(40.0)
    _no_failures(result)


def test_corrupt_and_foreign_telemetry_files(tmp_path):
    folder = _session(tmp_path)
    (folder / "telemetry" / "part-00005.parquet").write_bytes(b"PAR1 garbage garbage PAR1")
    pq.write_table(pa.table({"x": [1, 2, 3]}), str(folder / "telemetry" / "foreign.parquet"))
    pq.write_table(pa.table({"t_ns": [5], "gpu_util_pct": ["high"]}), str(folder / "telemetry" / "strings.parquet"))
    result = analyze_folder(folder)
    text = "\n".join(result["problems"])
    assert "part-00005.parquet" in text and "foreign.parquet" in text and "strings.parquet" in text
    assert result["throttling"]["available"] and result["throttling"]["episodes"] == []
    assert result["energy"]["available"]
    _no_failures(result)


def test_all_telemetry_corrupt_still_reports_latency(tmp_path):
    folder = _session(tmp_path)
    for f in (folder / "telemetry").glob("*.parquet"):
        f.write_bytes(b"not parquet at all")
    result = analyze_folder(folder)
    assert result["telemetry_samples"] == 0
    assert result["latency_ms"]["count"] == 10000
    assert result["mlperf"]["early_stopping_p90"]["ok"]
    assert result["throttling"]["available"] is False
    assert result["energy"]["available"] is False
    assert any("no telemetry rows" in p for p in result["problems"])
    _no_failures(result)


def test_empty_session(tmp_path):
    rec = Recorder(tmp_path / "e", {"host": "h"}, fsync=False).open()
    rec.close({"reason": "nothing happened"})
    result = analyze_folder(tmp_path / "e")
    assert result["latency_ms"]["count"] == 0 and math.isnan(result["latency_ms"]["mean"])
    assert result["items"] == 0 and result["duration_s"] == 0.0
    assert "mlperf" not in result
    assert result["windows"]["windows"] == []
    assert result["levels"]["count"] == 0
    joined = "\n".join(result["problems"])
    assert "no latency rows" in joined and "no telemetry rows" in joined
    _no_failures(result)


def test_session_without_telemetry(tmp_path):
    folder = build_session(tmp_path / "s", latency=back_to_back(0, 30, 10.0), sample=None,
                           events=[(5.0, "mark", {"note": "x"})])
    result = analyze_folder(folder)
    assert result["latency_ms"]["count"] == 3000
    assert result["throughput_ips"] == pytest.approx(100.0)
    assert result["throttling"]["available"] is False
    assert "no telemetry" in result["throttling"]["reason"]
    _no_failures(result)


def test_session_without_latency_still_analyses_telemetry(tmp_path):
    folder = build_session(tmp_path / "s", sample=lambda t: {"cpu0_freq_mhz": 1479.0, "power_total_mw": 3000.0},
                           latency=None)
    result = analyze_folder(folder)
    assert result["telemetry_samples"] == 1000
    assert result["energy"]["available"] is False and "no measured iterations" in result["energy"]["reason"]
    assert result["throttling"]["available"] and result["throttling"]["busy_s"] == 0.0
    _no_failures(result)


def test_malformed_meta_values_are_ignored(tmp_path):
    folder = build_session(tmp_path / "s", meta={"clock_ceilings": {"cpu0_freq_mhz": "fast", "gpu_freq_mhz": None},
                                                 "trip_points": {"temp_cpu_c": "hot"}, "power_limits": [1, 2],
                                                 "idle_baseline_mw": "low"},
                           sample=lambda t: {"cpu0_freq_mhz": 1479.0, "temp_cpu_c": 50.0, "power_total_mw": 1.0,
                                             "proc_worker_cpu_pct": 100.0},
                           latency=back_to_back(0, 100, 10.0),
                           events=[(10.0, "power_mode", {"ceilings": "x", "name": None})])
    result = analyze_folder(folder)
    assert result["throttling"]["available"]
    assert result["energy"]["baseline_mw"] is None
    _no_failures(result)
