"""One schema per stream and a session_id in every row: at close, in recover, and when recover
upgrades a recording from before session ids (schema 1)."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from edgemon.datatypes import LatencyBatch, Sample
from edgemon.recording.reader import open_recording
from edgemon.recording.recover import recover
from edgemon.recording.unify import unify_session
from edgemon.recording.writer import Recorder

T0 = 7_000_000_000


def _grow(rec: Recorder, n: int = 9) -> list[Sample]:
    """Samples whose metric set grows twice, flushed one by one: three telemetry segments."""
    out = []
    for i in range(n):
        values = {"cpu_util_pct": float(i)}
        if i >= 3:
            values["gpu_util_pct"] = 10.0 * i
        if i >= 6:
            values["power_total_mw"] = 5000.0 + i
        s = Sample(T0 + i * 100_000_000, values)
        out.append(s)
        rec.on_sample(s)
        rec.flush()
    return out


def _recorder(folder, host: str = "h") -> Recorder:
    """A recorder that writes only when told (flush) and rolls only at close."""
    return Recorder(folder, {"host": host}, flush_s=3600, roll_s=3600, fsync=False).open()


def _schemas(folder, kind):
    return [pq.read_schema(str(p)) for p in sorted((folder / kind).glob("*.parquet"))]


def test_recover_of_a_killed_session_unifies_what_the_writer_could_not(tmp_path):
    folder = tmp_path / "rec"
    rec = _recorder(folder)
    samples = _grow(rec)
    rec.on_latency(LatencyBatch.from_lists([T0 + 5], [5], [1]))
    rec.flush()
    # the writer dies here: its tails stay, session.json says running
    rec._lock.release(remove=False)
    sid = json.loads((folder / "session.json").read_text())["session_id"]

    report = recover(folder, fsync=False)
    assert report.state_after == "crashed" and report.rewritten
    schemas = _schemas(folder, "telemetry")
    assert len(schemas) == 3 and all(s == schemas[0] for s in schemas)
    assert schemas[0].names == ["t_ns", "cpu_util_pct", "gpu_util_pct", "power_total_mw", "session_id"]
    tel = ds.dataset(str(folder / "telemetry"), format="parquet").to_table().sort_by("t_ns")
    assert tel.column("power_total_mw").to_pylist() == [s.values.get("power_total_mw") for s in samples]
    assert set(tel.column("session_id").to_pylist()) == {sid}
    lat = pq.read_table(str(folder / "latency"))
    assert lat.column("session_id").to_pylist() == [sid]
    # a second recover finds nothing to do
    assert not recover(folder, fsync=False).changed


def _downgrade_to_schema_1(folder):
    """What an edgemon before session ids wrote: no session_id anywhere, a schema per file."""
    meta = json.loads((folder / "session.json").read_text())
    del meta["session_id"]
    meta["schema_version"] = 1
    (folder / "session.json").write_text(json.dumps(meta))
    for path in folder.glob("*/*.parquet"):
        table = pq.read_table(str(path)).drop_columns(["session_id"])
        if path.parent.name == "telemetry":   # back to the columns known when it was rolled
            keep = [c for c in table.column_names if pa.compute.any(pa.compute.is_valid(table[c])).as_py()]
            table = table.select(keep)
        pq.write_table(table, str(path))


def test_recover_upgrades_a_schema_1_recording(tmp_path):
    folder = tmp_path / "old"
    rec = _recorder(folder, "old-box")
    samples = _grow(rec)
    rec.on_latency(LatencyBatch.from_lists([T0 + 1, T0 + 2], [5, 6], [1, 1]))
    rec.close()
    _downgrade_to_schema_1(folder)
    assert len({tuple(s.names) for s in _schemas(folder, "telemetry")}) == 3
    # what readers without union_by_name did to it: the later columns are gone
    first_only = duckdb.sql(f"SELECT * FROM read_parquet('{folder}/telemetry/*.parquet')").columns
    assert "power_total_mw" not in first_only

    report = recover(folder, fsync=False)
    meta = json.loads((folder / "session.json").read_text())
    assert meta["schema_version"] == 2 and "-old-box-" in meta["session_id"]
    assert len(report.rewritten) == 4 and "rewritten to one schema" in report.summary()
    plain = duckdb.sql(f"SELECT * FROM read_parquet('{folder}/telemetry/*.parquet') ORDER BY t_ns")
    assert "power_total_mw" in plain.columns
    assert [r[plain.columns.index("gpu_util_pct")] for r in plain.fetchall()] == \
        [s.values.get("gpu_util_pct") for s in samples]
    ids = duckdb.sql(f"SELECT DISTINCT session_id FROM read_parquet('{folder}/*/*.parquet', union_by_name=true)")
    assert ids.fetchall() == [(meta["session_id"],)]
    # edgemon's own reader sees the same rows as before
    r = open_recording(folder)
    assert r.problems == [] and r.latency().column("duration_ns").to_pylist() == [5, 6]
    assert r.telemetry().column_names == ["t_ns", "cpu_util_pct", "gpu_util_pct", "power_total_mw"]


def test_a_foreign_file_is_left_alone_and_named(tmp_path):
    folder = tmp_path / "rec"
    rec = _recorder(folder)
    _grow(rec)
    rec.close()
    pq.write_table(pa.table({"t_ns": [1], "note": ["text, not a metric"]}), str(folder / "telemetry" / "zz.parquet"))
    (folder / "telemetry" / "part-00009.parquet").write_bytes(b"PAR1 torn")
    report = unify_session(folder, json.loads((folder / "session.json").read_text())["session_id"], fsync=False)
    assert report.rewritten == []
    assert len(report.skipped) == 2 and any("part-00009" in s for s in report.skipped)
    assert pq.read_table(str(folder / "telemetry" / "zz.parquet")).column_names == ["t_ns", "note"]


def test_a_closed_session_needs_nothing_more(tmp_path):
    folder = tmp_path / "rec"
    rec = _recorder(folder)
    _grow(rec)
    rec.on_latency(LatencyBatch.from_lists([T0 + 1], [5], [1]))
    rec.close()
    sid = json.loads((folder / "session.json").read_text())["session_id"]
    before = {p: p.stat().st_mtime_ns for p in folder.glob("*/*.parquet")}
    assert unify_session(folder, sid, fsync=False).rewritten == []
    assert not recover(folder, fsync=False).changed
    assert {p: p.stat().st_mtime_ns for p in folder.glob("*/*.parquet")} == before
