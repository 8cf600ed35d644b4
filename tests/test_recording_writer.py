"""Recorder: round trip through plain pyarrow/duckdb/polars, segment rolls, schema growth, errors."""

from __future__ import annotations

import errno
import json
import os
import threading

import duckdb
import numpy as np
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from edgemon.datatypes import Event, EventKind, LatencyBatch, Sample
from edgemon.errors import UserError
from edgemon.recording import writer as writer_mod
from edgemon.recording.reader import open_recording
from edgemon.recording.writer import Recorder

T0 = 5_000_000_000


def _samples(n: int, start: int = 0) -> list[Sample]:
    return [
        Sample(T0 + (start + i) * 100_000_000, {"cpu0_util_pct": float(i % 100), "temp_cpu_c": 40.0 + i / 10})
        for i in range(n)
    ]


def test_round_trip_plain_readers(tmp_path):
    folder = tmp_path / "rec"
    rec = Recorder(folder, {"host": "box", "workload": {"model": "m"}}, flush_s=3600, roll_s=3600)
    rec.open()
    samples = _samples(30)
    for s in samples[:20]:
        rec.on_sample(s)
    rec.flush()
    for s in samples[20:]:
        rec.on_sample(s)
    rng = np.random.default_rng(1)
    t_end = T0 + np.cumsum(rng.integers(1_000_000, 5_000_000, 50))
    dur = rng.integers(1_000_000, 9_000_000, 50)
    rec.on_latency(LatencyBatch.from_lists(t_end[:10], dur[:10], np.ones(10), warmup=True))
    rec.on_latency(LatencyBatch.from_lists(t_end[10:], dur[10:], np.full(40, 4), warmup=False))
    rec.on_event(Event(T0, EventKind.SESSION_START, {"pid": 1}))
    rec.on_event(Event(T0 + 7, EventKind.MARK, {"note": "hot ü"}))
    rec.close({"reason": "duration reached"})

    meta = json.loads((folder / "session.json").read_text())
    assert meta["state"] == "ended" and meta["end"] == {"reason": "duration reached"}
    assert meta["schema_version"] == 2 and meta["host"] == "box" and "ended_wall" in meta
    sid = meta["session_id"]
    assert sid.endswith(tuple("0123456789abcdef")) and "-box-" in sid
    assert set(meta["clock"]) >= {"monotonic_ns", "wall_time", "unix_ns"}
    assert not list(folder.glob("*/*.arrows")) and not (folder / "session.lock").exists()

    tel = ds.dataset(str(folder / "telemetry"), format="parquet").to_table()
    assert tel.column("t_ns").to_pylist() == [s.t_ns for s in samples]
    assert tel.column("temp_cpu_c").to_pylist() == [s.values["temp_cpu_c"] for s in samples]
    assert str(tel.schema.field("cpu0_util_pct").type) == "double"

    lat = pq.read_table(str(folder / "latency"))
    assert lat.column("t_end_ns").to_pylist() == t_end.tolist()
    assert lat.column("duration_ns").to_pylist() == dur.tolist()
    assert lat.column("items").to_pylist() == [1] * 10 + [4] * 40
    assert lat.column("warmup").to_pylist() == [True] * 10 + [False] * 40
    assert str(lat.schema.field("items").type) == "int32"

    ev = pq.read_table(str(folder / "events"))
    assert ev.column("kind").to_pylist() == ["session_start", "mark"]
    # every row of every stream names its session, as a plain string for every engine
    for table in (tel, lat, ev):
        assert table.column("session_id").to_pylist() == [sid] * table.num_rows
        assert str(table.schema.field("session_id").type) == "string"
    assert json.loads(ev.column("details")[1].as_py()) == {"note": "hot ü"}

    glob = str(folder / "telemetry" / "*.parquet")
    duck = duckdb.sql(f"SELECT t_ns, temp_cpu_c FROM read_parquet('{glob}', union_by_name=true) ORDER BY t_ns").fetchall()
    assert duck == [(s.t_ns, s.values["temp_cpu_c"]) for s in samples]
    measured = duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder}/latency/*.parquet') WHERE NOT warmup")
    assert measured.fetchall() == [(40,)]

    # times and durations are delta-encoded (recording/segments.py); every engine reads them
    lat_file = pq.ParquetFile(next((folder / "latency").glob("*.parquet")))
    chunks = {lat_file.schema_arrow.field(i).name: lat_file.metadata.row_group(0).column(i)
              for i in range(lat_file.metadata.num_columns)}
    for name in ("t_end_ns", "duration_ns"):
        assert "DELTA_BINARY_PACKED" in chunks[name].encodings, name
    assert chunks["t_end_ns"].statistics.min == int(t_end.min())
    assert "DELTA_BINARY_PACKED" not in chunks["items"].encodings
    duck_lat = duckdb.sql(f"SELECT t_end_ns, duration_ns FROM read_parquet('{folder}/latency/*.parquet') "
                          "ORDER BY t_end_ns").fetchall()
    assert duck_lat == list(zip(t_end.tolist(), dur.tolist()))

    pol = pl.read_parquet(glob).sort("t_ns")
    assert pol["cpu0_util_pct"].to_list() == [s.values["cpu0_util_pct"] for s in samples]
    assert pl.read_parquet(str(folder / "latency" / "*.parquet"))["duration_ns"].to_list() == dur.tolist()

    r = open_recording(folder)
    assert not r.is_live and r.problems == [] and r.recovered is None
    assert r.telemetry().to_pydict() == tel.drop_columns(["session_id"]).to_pydict()
    assert r.latency().num_rows == 50 and r.events().num_rows == 2
    assert r.start_ns == meta["clock"]["monotonic_ns"]
    assert r.wall_time(r.start_ns).year >= 2024


def test_segments_roll_and_new_metric_mid_session(tmp_path):
    folder = tmp_path / "rec"
    rolled = []
    rec = Recorder(folder, {}, flush_s=3600, roll_s=3600, fsync=False, on_roll=lambda k, p: rolled.append((k, p)))
    rec.open()
    rows = []
    for i in range(12):
        values = {"cpu_util_pct": float(i)}
        if i >= 4:
            values["gpu_util_pct"] = float(10 * i)     # a source appears
        if i >= 8:
            values["power_total_mw"] = 5000.0 + i
            del values["cpu_util_pct"]                 # and one disappears
        s = Sample(T0 + i, values)
        rows.append(s)
        rec.on_sample(s)
        rec.flush()
    rec.close()

    files = sorted((folder / "telemetry").glob("*.parquet"))
    assert [p.name for p in files] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert [k for k, _ in rolled] == ["telemetry"] * 3
    # rolled with the columns known then, rewritten at close to the session's full set
    schemas = [pq.read_schema(str(f)) for f in files]
    assert all(s == schemas[0] for s in schemas)
    assert schemas[0].names == ["t_ns", "cpu_util_pct", "gpu_util_pct", "power_total_mw", "session_id"]

    tel = open_recording(folder).telemetry()
    assert tel.column("t_ns").to_pylist() == [s.t_ns for s in rows]
    for name in ("cpu_util_pct", "gpu_util_pct", "power_total_mw"):
        assert tel.column(name).to_pylist() == [s.values.get(name) for s in rows]

    glob = str(folder / "telemetry" / "*.parquet")
    duck = duckdb.sql(
        f"SELECT t_ns, cpu_util_pct, gpu_util_pct, power_total_mw FROM read_parquet('{glob}', union_by_name=true) "
        "ORDER BY t_ns"
    ).fetchall()
    assert duck == [(s.t_ns, s.values.get("cpu_util_pct"), s.values.get("gpu_util_pct"),
                     s.values.get("power_total_mw")) for s in rows]
    pol = pl.concat([pl.read_parquet(f) for f in files], how="diagonal").sort("t_ns")
    assert pol["gpu_util_pct"].to_list() == [s.values.get("gpu_util_pct") for s in rows]
    # readers that take the first file's schema lose nothing now
    plain = duckdb.sql(f"SELECT * FROM read_parquet('{glob}') ORDER BY t_ns").fetchall()
    assert [r[3] for r in plain] == [s.values.get("power_total_mw") for s in rows]
    assert pl.read_parquet(glob).sort("t_ns")["power_total_mw"].to_list() == [s.values.get("power_total_mw")
                                                                             for s in rows]
    assert ds.dataset(str(folder / "telemetry"), format="parquet").to_table().num_columns == 5


def test_time_based_roll_by_the_writer_thread(tmp_path):
    folder = tmp_path / "rec"
    rolled = threading.Event()
    rec = Recorder(folder, {}, flush_s=0.02, roll_s=0.05, fsync=False,
                   on_roll=lambda k, p: rolled.set() if k == "latency" else None)
    rec.open()
    rec.on_latency(LatencyBatch.from_lists([T0, T0 + 1], [5, 6], [1, 1]))
    assert rolled.wait(20), "the writer thread never rolled the latency tail"
    rec.on_latency(LatencyBatch.from_lists([T0 + 2], [7], [1]))
    rec.close()
    files = sorted((folder / "latency").glob("part-*.parquet"))
    assert len(files) == 2
    assert pq.read_table(str(folder / "latency")).column("duration_ns").to_pylist() == [5, 6, 7]


def test_update_meta_and_end_state(tmp_path):
    folder = tmp_path / "rec"
    rec = Recorder(folder, {"host": "a"}, fsync=False).open()
    running = json.loads((folder / "session.json").read_text())
    assert running["state"] == "running" and running["writer_pid"] == os.getpid()
    rec.update_meta(worker={"framework": "numpy", "version": "2.0"})
    # the writer thread rewrites session.json by itself (update_meta never waits on the disk)
    for _ in range(2000):  # bounded wait for the writer thread, not a timing assertion
        if "worker" in json.loads((folder / "session.json").read_text()):
            break
        threading.Event().wait(0.01)
    assert json.loads((folder / "session.json").read_text())["worker"]["framework"] == "numpy"
    rec.update_meta(worker={"framework": "numpy", "version": "2.1"})
    rec.flush()  # ... and flush() writes it now
    assert json.loads((folder / "session.json").read_text())["worker"]["version"] == "2.1"
    rec.close({"state": "crashed", "reason": "worker crashed", "returncode": -9})
    rec.close()  # idempotent
    meta = json.loads((folder / "session.json").read_text())
    assert meta["state"] == "crashed" and meta["end"] == {"reason": "worker crashed", "returncode": -9}
    assert meta["worker"]["version"] == "2.1" and meta["host"] == "a"
    assert not list(folder.rglob("*.tmp"))


def test_open_refuses_bad_folders(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot record into"):
        Recorder(blocker / "sub", {}).open()
    with pytest.raises(UserError, match="not a folder"):
        Recorder(blocker, {}).open()

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        Recorder(other, {}).open()

    live = tmp_path / "live"
    first = Recorder(live, {}, fsync=False).open()
    try:
        with pytest.raises(UserError, match=f"being recorded by a running edgemon \\(pid {os.getpid()}\\)"):
            Recorder(live, {}).open()
    finally:
        first.close()
    with pytest.raises(UserError, match="already holds a recording"):
        Recorder(live, {}).open()

    empty = tmp_path / "empty"
    empty.mkdir()
    Recorder(empty, {}, fsync=False).open().close()
    assert (empty / "session.json").exists()


def test_a_planted_tail_name_is_never_written_through(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full as a link target")
    folder = tmp_path / "rec"
    errors = []
    rec = Recorder(folder, {}, flush_s=3600, roll_s=3600, on_error=errors.append).open()
    # Another name already where the telemetry tail goes: edgemon creates its files exclusively
    # and without following links, so it stops recording instead of writing through the link.
    os.symlink("/dev/full", folder / "telemetry" / "part-00000.arrows")
    rec.on_sample(_samples(1)[0])
    rec.flush()
    assert len(errors) == 1 and rec.error == errors[0]
    assert "File exists" in errors[0] and "part-00000.arrows" in errors[0] and "\n" not in errors[0]
    for s in _samples(100):  # the session goes on; rows are dropped, nothing piles up
        rec.on_sample(s)
    rec.on_latency(LatencyBatch.from_lists([T0], [1], [1]))
    rec.on_event(Event(T0, EventKind.MARK, {}))
    rec.flush()
    assert rec.buffered_rows == 0
    rec.close({"reason": "done"})
    assert len(errors) == 1
    meta = json.loads((folder / "session.json").read_text())
    assert meta["state"] == "recording_failed" and "File exists" in meta["recording_error"]
    assert meta["end"] == {"reason": "done", "session": "ended"}
    assert os.path.islink(folder / "telemetry" / "part-00000.arrows")


def test_write_error_mid_session_keeps_what_was_written(tmp_path, monkeypatch):
    folder = tmp_path / "rec"
    errors = []
    rec = Recorder(folder, {}, flush_s=3600, roll_s=3600, fsync=False, on_error=errors.append).open()
    first = _samples(10)
    for s in first:
        rec.on_sample(s)
    rec.flush()

    real_write = writer_mod._Tail.write

    def full_disk(self, batch):
        if self.kind == "telemetry":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        return real_write(self, batch)

    monkeypatch.setattr(writer_mod._Tail, "write", full_disk)
    for s in _samples(10, start=10):
        rec.on_sample(s)
    rec.flush()
    rec.flush()
    rec.close({"reason": "done"})  # must not raise
    assert len(errors) == 1 and "No space left on device" in errors[0]
    assert str(folder / "telemetry" / "part-00000.arrows") in errors[0]

    monkeypatch.undo()
    r = open_recording(folder)  # the tail left behind is recovered
    assert r.recovered is not None and r.recovered.rows["telemetry"] == 10
    assert r.telemetry().column("t_ns").to_pylist() == [s.t_ns for s in first]
    assert r.meta["state"] == "recording_failed" and "recording_error" in r.meta
    assert r.meta["recording_failed"]["kind"] == "disk_full"
    assert r.meta["recording_failed"]["rows_kept"]["telemetry"] == 10


def test_buffer_is_bounded_when_the_writer_falls_behind(tmp_path):
    rec = Recorder(tmp_path / "rec", {}, flush_s=3600, roll_s=3600, fsync=False, max_buffered_rows=5).open()
    for s in _samples(8):
        rec.on_sample(s)
    assert rec.buffered_rows == 5 and rec.dropped_rows["telemetry"] == 3
    rec.close()
    meta = json.loads((tmp_path / "rec" / "session.json").read_text())
    assert meta["dropped_rows"]["telemetry"] == 3 and meta["rows"]["telemetry"] == 5


def test_urgent_event_is_written_without_waiting_for_the_tick(tmp_path):
    folder = tmp_path / "rec"
    rec = Recorder(folder, {}, flush_s=3600, roll_s=3600, fsync=False).open()
    try:
        rec.on_event(Event(T0, EventKind.WORKER_CRASHED, {"returncode": -9}))
        tail = folder / "events" / "part-00000.arrows"
        for _ in range(2000):  # bounded wait for the writer thread, not a timing assertion
            if open_recording(folder).events().num_rows:
                break
            threading.Event().wait(0.01)
        assert tail.exists()
        assert open_recording(folder).events().column("kind").to_pylist() == ["worker_crashed"]
    finally:
        rec.close()


def test_threads_hand_rows_concurrently(tmp_path):
    folder = tmp_path / "rec"
    rec = Recorder(folder, {}, flush_s=0.01, roll_s=0.05, fsync=False).open()

    def feed(k):
        for i in range(200):
            rec.on_latency(LatencyBatch.from_lists([T0 + k * 1000 + i], [i], [1]))

    threads = [threading.Thread(target=feed, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rec.close()
    lat = open_recording(folder).latency()
    assert lat.num_rows == 800
    assert sorted(lat.column("t_end_ns").to_pylist()) == sorted(T0 + k * 1000 + i for k in range(4) for i in range(200))


def test_on_error_may_close_the_recorder_from_the_writer_thread(tmp_path, monkeypatch):
    folder = tmp_path / "rec"
    closed = threading.Event()

    def give_up(message):
        rec.close({"reason": message})
        closed.set()

    def full_disk(self, batch):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.folder / "part-00000.arrows"))

    monkeypatch.setattr(writer_mod._Tail, "write", full_disk)
    rec = Recorder(folder, {}, flush_s=0.01, roll_s=3600, fsync=False, on_error=give_up).open()
    rec.on_latency(LatencyBatch.from_lists([T0], [1], [1]))
    assert closed.wait(20), "the writer thread never reported the error"
    assert not rec.is_open
    meta = json.loads((folder / "session.json").read_text())
    assert meta["state"] == "recording_failed" and "No space left" in meta["end"]["reason"]
    assert meta["recording_failed"]["headline"].startswith("disk full after ")


@pytest.mark.parametrize("odd", [None, "abc"])
def test_telemetry_columns_keep_each_sample_value_and_null_where_absent(tmp_path, odd):
    """The metric columns are cut from one matrix: each value stays in its own row and column,
    a metric a sample lacks, None or NaN is null; a value that is no number sends the batch
    down the column-by-column path, where it alone becomes null."""
    folder = tmp_path / "rec"
    rec = Recorder(folder, {"host": "box"}, flush_s=3600, roll_s=3600)
    rec.open()
    rows = [
        {"a": 1.5, "b": 2, "c": float("nan")},
        {"b": None, "c": float("inf")},
        {"a": -3.25, "c": 4.0, "b": True},
        {"a": odd, "b": 7},
    ]
    for i, values in enumerate(rows):
        rec.on_sample(Sample(T0 + i, values))
    rec.close({"reason": "test"})
    tel = ds.dataset(str(folder / "telemetry"), format="parquet").to_table()
    assert tel.column("a").to_pylist() == [1.5, None, -3.25, None]
    assert tel.column("b").to_pylist() == [2.0, None, 1.0, 7.0]
    assert tel.column("c").to_pylist() == [None, float("inf"), 4.0, None]
    assert all(str(tel.schema.field(m).type) == "double" for m in "abc")
