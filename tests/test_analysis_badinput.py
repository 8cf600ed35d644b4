"""Bad input: truncated, corrupt or foreign Parquet, an empty session, no telemetry, no latency.

The analysis names what it could not use (``problems``) and still reports the rest.
"""

from __future__ import annotations

import json
import math

import numpy as np
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


# ---------------------------------------------------------------- latency files that disagree with session.json


def _write_latency(path, t_end, dur, warm=False):
    n = len(t_end)
    pq.write_table(pa.table({"t_end_ns": pa.array(t_end, pa.int64()), "duration_ns": pa.array(dur, pa.int64()),
                             "items": pa.array([1] * n, pa.int32()), "warmup": pa.array([warm] * n)}), str(path))


def _first_segment(folder):
    return pq.read_table(str(folder / "latency" / "part-00000.parquet"))


@pytest.mark.parametrize("how", ["rows_after_end", "negative_durations", "duplicated_segment", "overlapping_segment",
                                 "bad_row_group", "all_three"])
def test_latency_files_that_disagree_with_session_json(tmp_path, how, run_edgemon):
    """Issue 11 item 5: a result with the problems listed, never a traceback (also on the command line)."""
    folder = _session(tmp_path)
    meta = json.loads((folder / "session.json").read_text())
    end = meta["ended_monotonic_ns"]
    t = _first_segment(folder).column("t_end_ns").to_pylist()
    expect_count, needles = 10000, []
    if how in ("rows_after_end", "all_three"):
        _write_latency(folder / "latency" / "part-00007.parquet", [end + 10**9, end + 2 * 10**9], [10**6, 10**6])
        needles.append("2 latency rows end after the session's recorded end")
    if how in ("negative_durations", "all_three"):
        _write_latency(folder / "latency" / "part-00008.parquet", [end - 5, end - 4, end - 3], [-5, -1, 10])
        expect_count += 1
        needles.append("2 latency rows have a negative duration")
    if how in ("duplicated_segment", "all_three"):
        (folder / "latency" / "part-00009.parquet").write_bytes((folder / "latency" / "part-00000.parquet").read_bytes())
        needles.append("latency/part-00009.parquet: repeats the rows of latency/part-00000.parquet")
    if how == "overlapping_segment":
        _write_latency(folder / "latency" / "part-00005.parquet", t[100:110], [10**7] * 10)
        expect_count += 10
        needles.append("latency/part-00005.parquet: its rows overlap in time those of latency/part-00000.parquet")
    if how == "bad_row_group":       # a column of the wrong type: the file is named and skipped
        pq.write_table(pa.table({"t_end_ns": pa.array(["x"]), "duration_ns": pa.array([1], pa.int64()),
                                 "items": pa.array([1], pa.int32()), "warmup": [False]}),
                       str(folder / "latency" / "part-00006.parquet"))
        needles.append("latency/part-00006.parquet: column t_end_ns is string")
    result = analyze_folder(folder)
    assert result["latency_ms"]["count"] == expect_count, result["problems"]
    for needle in needles:
        assert any(needle in p for p in result["problems"]), (needle, result["problems"])
    _no_failures(result)
    for args in ([["analyze", str(folder)], ["report", str(folder), "--out", str(tmp_path / "r.html")],
                  ["compare", str(folder), str(folder)]] if how in ("all_three", "bad_row_group") else []):
        out = run_edgemon(*args)
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    from edgemon.recording.reader import open_recording
    from edgemon.feeds.replay import ReplayFeed

    feed = ReplayFeed(open_recording(folder), playing=False, analyze=True)
    feed.command("seek", to=50)
    assert feed.drain().reset
    assert feed.wait_loaded(60) and feed.analysis_state == "ready", feed.analysis_error


def _impossible_rows(end: int) -> pa.Table:
    """A latency over a day, an item count an int32 cast would wrap to 1, a time before boot; one
    good row."""
    return pa.table({"t_end_ns": pa.array([end - 5, end - 4, -3, end - 2], pa.int64()),
                     "duration_ns": pa.array([2 * 86400 * 10**9, 10**6, 10**6, 10**6], pa.int64()),
                     "items": pa.array([1, (1 << 32) + 1, 1, 1], pa.int64()),
                     "warmup": pa.array([False] * 4)})


def test_rows_no_recording_can_hold_are_left_out_and_counted(tmp_path, run_edgemon):
    """A forged or corrupt latency segment: its impossible rows are left out of the streaming
    analysis (and replay), the piece's statistics are those of the rows kept, the problem is named."""
    folder = _session(tmp_path)
    end = json.loads((folder / "session.json").read_text())["ended_monotonic_ns"]
    pq.write_table(_impossible_rows(end), str(folder / "latency" / "part-00008.parquet"))
    result = analyze_folder(folder)
    assert any("latency/part-00008.parquet#0: 3 row(s) with impossible values" in p
               for p in result["problems"]), result["problems"]
    assert result["latency_ms"]["count"] == 10000 + 1, result["problems"]
    assert result["latency_ms"]["max"] == pytest.approx(10.0)      # the 2-day row is not the maximum
    assert result["items"] == 10000 + 1
    _no_failures(result)
    out = run_edgemon("report", str(folder))
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr


def test_impossible_rows_of_a_live_tail_are_left_out(tmp_path):
    from edgemon.recording.chunks import index_latency

    folder = _session(tmp_path)
    end = json.loads((folder / "session.json").read_text())["ended_monotonic_ns"]
    table = _impossible_rows(end)
    with pa.OSFile(str(folder / "latency" / "part-00008.arrows"), "wb") as sink, \
            pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    chunks = index_latency(folder, live=True)
    assert any("latency/part-00008.arrows: 3 row(s) with impossible values" in p for p in chunks.problems)
    tail = next(p for p in chunks.pieces if p.name.endswith(".arrows"))
    assert (tail.rows, tail.t_min, tail.t_max, tail.d_max) == (1, end - 2, end - 2, 10**6)
    assert chunks.read(tail).items.tolist() == [1]


def test_terminal_report_with_windows_that_have_no_rows(tmp_path):
    """A gap longer than a window (a pause, a rest) leaves windows without rows: their NaN
    percentiles never reach plotext, which aborts the whole process on a NaN among numbers."""
    import subprocess
    import sys

    from tests.conftest import REPO

    t1, d1 = back_to_back(0, 20, 10.0)
    t2, d2 = back_to_back(80, 100, 10.0)
    folder = build_session(tmp_path / "gap", latency=(np.concatenate([t1, t2]), np.concatenate([d1, d2])))
    result = analyze_folder(folder)
    assert any(w["count"] == 0 for w in result["windows"]["windows"])
    p = subprocess.run([sys.executable, "-m", "edgemon", "report", str(folder)], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr[-2000:]
    assert "latency per window" in p.stdout and "terminal charts unavailable" not in p.stdout
