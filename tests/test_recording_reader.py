"""Reader: what is not a recording, corrupt session.json, foreign/corrupt files, live reading, naming."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.errors import UserError
from edgemon.recording.naming import default_session_dir
from edgemon.recording.reader import open_recording
from edgemon.recording.recover import recover
from edgemon.recording.writer import Recorder


def _small_recording(folder, n=5):
    rec = Recorder(folder, {"host": "h"}, flush_s=3600, roll_s=3600, fsync=False).open()
    for i in range(n):
        rec.on_sample(Sample(1_000 + i, {"cpu_util_pct": float(i)}))
    rec.on_latency(LatencyBatch.from_lists([1_000], [5], [1]))
    rec.on_event(Event(1_000, "mark", {"note": "x"}))
    rec.close()
    return folder


@pytest.mark.parametrize("opener", [open_recording, recover])
def test_not_a_recording(tmp_path, opener):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("x")
    with pytest.raises(UserError, match=r"is not an edgemon recording \(no session.json\); pass a folder made by"):
        opener(tmp_path / "junk")
    with pytest.raises(UserError, match="does not exist"):
        opener(tmp_path / "missing")
    with pytest.raises(UserError, match="is not a folder"):
        opener(tmp_path / "junk" / "a.txt")


def test_corrupt_session_json(tmp_path):
    folder = _small_recording(tmp_path / "rec")
    (folder / "session.json").write_text('{"state": "ended", ')
    with pytest.raises(UserError, match="session.json is corrupt") as err:
        open_recording(folder)
    assert "\n" not in str(err.value)
    (folder / "session.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="corrupt"):
        open_recording(folder)


def test_foreign_and_corrupt_files_are_skipped_and_named(tmp_path):
    folder = _small_recording(tmp_path / "rec")
    pq.write_table(pa.table({"x": [1, 2]}), str(folder / "telemetry" / "foreign.parquet"))
    (folder / "telemetry" / "part-00007.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    pq.write_table(pa.table({"t_ns": [5], "gpu_util_pct": ["high"]}), str(folder / "telemetry" / "strings.parquet"))
    pq.write_table(pa.table({"t_end_ns": [1]}), str(folder / "latency" / "part-00009.parquet"))

    rec = open_recording(folder)
    problems = rec.problems
    assert len(problems) == 4, problems
    assert any("telemetry/foreign.parquet" in p and "no t_ns column" in p for p in problems)
    assert any("telemetry/part-00007.parquet" in p and "not a readable Parquet file" in p for p in problems)
    assert any("telemetry/strings.parquet" in p and "unexpected type" in p for p in problems)
    assert any("latency/part-00009.parquet" in p and "missing duration_ns" in p for p in problems)
    assert rec.telemetry().column("cpu_util_pct").to_pylist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert rec.latency().num_rows == 1 and rec.events().num_rows == 1


def test_foreign_numeric_telemetry_is_merged(tmp_path):
    folder = _small_recording(tmp_path / "rec", n=3)
    # e.g. a segment made by another tool with int columns and a metric we never saw
    pq.write_table(pa.table({"t_ns": pa.array([900, 2_000], pa.int64()), "fan0_rpm": [1200, 1300]}),
                   str(folder / "telemetry" / "zz-extra.parquet"))
    tel = open_recording(folder).telemetry()
    assert tel.column("t_ns").to_pylist() == [900, 1_000, 1_001, 1_002, 2_000]  # sorted across files
    assert tel.column("fan0_rpm").to_pylist() == [1200.0, None, None, None, 1300.0]
    assert tel.column("cpu_util_pct").to_pylist() == [None, 0.0, 1.0, 2.0, None]


def test_empty_recording_has_typed_empty_tables(tmp_path):
    folder = tmp_path / "rec"
    Recorder(folder, {}, fsync=False).open().close()
    rec = open_recording(folder)
    assert rec.telemetry().column_names == ["t_ns"]
    assert rec.latency().schema.names == ["t_end_ns", "duration_ns", "items", "warmup"]
    assert str(rec.events().schema.field("details").type) == "string"
    assert rec.end_ns >= rec.start_ns and rec.problems == []


def test_live_recording_is_reread_on_every_call(tmp_path):
    folder = tmp_path / "rec"
    writer = Recorder(folder, {}, flush_s=3600, roll_s=3600, fsync=False).open()
    try:
        writer.on_sample(Sample(1_000, {"a": 1.0}))
        writer.flush()
        live = open_recording(folder)
        assert live.is_live and live.telemetry().num_rows == 1
        writer.on_sample(Sample(1_001, {"a": 2.0, "b": 3.0}))  # new metric: rolls to Parquet + new tail
        writer.flush()
        assert live.telemetry().column("b").to_pylist() == [None, 3.0]
        assert live.problems == []
    finally:
        writer.close()


def test_default_session_dir(tmp_path):
    now = dt.datetime(2026, 3, 4, 5, 6, 7)
    first = default_session_dir(tmp_path, "jetson nano/01", "resnet50 (fp16)", now=now)
    assert first == tmp_path / "20260304-050607-jetson_nano_01-resnet50_fp16"
    first.mkdir()
    second = default_session_dir(tmp_path, "jetson nano/01", "resnet50 (fp16)", now=now)
    assert second.name == first.name + "-2"
    second.mkdir()
    assert default_session_dir(tmp_path, "jetson nano/01", "resnet50 (fp16)", now=now).name == first.name + "-3"
    assert default_session_dir(tmp_path, "", "../..", now=now).name == "20260304-050607-host-workload"
