"""Crash safety with real child processes: SIGKILL, torn tails, recover vs a live writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pyarrow.dataset as ds
import pytest

from edgemon.errors import UserError
from edgemon.recording.reader import open_recording
from edgemon.recording.recover import recover

from recording_helpers import run_child, start_child

@pytest.mark.slow
def test_sigkill_loses_at_most_the_last_flushes(tmp_path):
    folder = tmp_path / "rec"
    child = start_child(tmp_path, "stream", str(folder), "1.0")  # roll every 1 s: segments + a tail
    handed: list[tuple[int, int]] = []
    try:
        assert child.stdout.readline().strip() == "open", child.stderr.read()
        # Let it record for ~3.5 s of its own clock (not a timing assertion: just how long we watch).
        for line in child.stdout:
            _, i, t = line.split()
            handed.append((int(i), int(t)))
            if handed[-1][1] - handed[0][1] >= 3_500_000_000:
                break
        kill_ns = time.monotonic_ns()
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    handed += [(int(i), int(t)) for _, i, t in (ln.split() for ln in rest.splitlines() if ln.startswith("row "))]
    assert child.returncode == -signal.SIGKILL
    assert list(folder.glob("*/*.arrows")), "a killed writer leaves its live tail"
    assert json.loads((folder / "session.json").read_text())["state"] == "running"

    rec = open_recording(folder)  # recovers by itself: no live writer any more
    assert rec.recovered is not None and rec.meta["state"] == "crashed" and "recovered_wall" in rec.meta
    assert not list(folder.glob("*/*.arrows")) and not list(folder.rglob("*.tmp"))
    assert not rec.is_live

    got_t = dict(zip(rec.telemetry().column("i").to_pylist(), rec.telemetry().column("t_ns").to_pylist()))
    got_lat = set(rec.latency().column("duration_ns").to_pylist())  # the child stores i as duration
    old_enough = [(i, t) for i, t in handed if t <= kill_ns - 2_000_000_000]
    assert len(old_enough) > 50
    missing = [i for i, t in old_enough if got_t.get(float(i)) != t]
    assert not missing, f"rows handed >2 s before the kill are lost: {missing[:10]}"
    assert {i for i, _ in old_enough} <= got_lat
    # and nothing is invented
    assert set(got_t) <= {float(i) for i, _ in handed}
    assert got_lat <= {i for i, _ in handed}
    # the same files read without edgemon
    assert ds.dataset(str(folder / "telemetry"), format="parquet").to_table().num_rows == len(got_t)

    again = recover(folder)
    assert not again.changed and again.summary().endswith("nothing to recover")


def test_torn_tail_keeps_the_complete_batches(tmp_path):
    folder = tmp_path / "rec"
    p = run_child(tmp_path, "batches", str(folder), "5")
    assert p.returncode == 0 and "done" in p.stdout, p.stderr
    tail = folder / "telemetry" / "part-00000.arrows"
    size = tail.stat().st_size
    os.truncate(tail, size - 5)  # the last batch was cut mid-write

    read_only = open_recording(folder, recover=False)
    assert read_only.recovered is None and tail.exists()
    assert read_only.telemetry().column("i").to_pylist() == [float(i) for i in range(40)]
    assert any("part-00000.arrows" in p and "torn" in p for p in read_only.problems)

    report = recover(folder)
    assert report.converted == ["telemetry/part-00000.parquet"]
    assert report.rows["telemetry"] == 40
    assert 0 < report.bytes_dropped < size
    assert report.state_before == "running" and report.state_after == "crashed"
    assert "1 tail(s) converted (40 telemetry rows)" in report.summary()

    rec = open_recording(folder)
    assert rec.recovered is None and rec.problems == []
    assert rec.telemetry().column("t_ns").to_pylist() == [1_000 + i for i in range(40)]
    assert not recover(folder).changed


def test_tail_with_no_complete_batch_and_stale_tmp_files(tmp_path):
    folder = tmp_path / "rec"
    p = run_child(tmp_path, "batches", str(folder), "1")
    assert p.returncode == 0, p.stderr
    tail = folder / "telemetry" / "part-00000.arrows"
    os.truncate(tail, 20)  # not even the schema survives
    (folder / "telemetry" / "part-00000.parquet.tmp").write_bytes(b"PAR1 half a file")
    (folder / "session.json.tmp").write_text("{")

    report = recover(folder)
    assert report.converted == [] and report.rows["telemetry"] == 0
    assert sorted(report.removed_tmp) == ["session.json.tmp", "telemetry/part-00000.parquet.tmp"]
    assert report.removed_tails == ["telemetry/part-00000.arrows"]
    assert any("no complete batch" in p for p in report.problems)
    assert not list(folder.rglob("*.tmp")) and not tail.exists()
    assert open_recording(folder).telemetry().num_rows == 0


def test_killed_between_rename_and_delete(tmp_path):
    folder = tmp_path / "rec"
    p = run_child(tmp_path, "batches", str(folder), "2")
    assert p.returncode == 0, p.stderr
    tail = folder / "telemetry" / "part-00000.arrows"
    copy = tail.read_bytes()
    recover(folder)
    tail.write_bytes(copy)  # as if the writer died after renaming the Parquet in, before deleting the tail
    report = recover(folder)
    assert report.removed_tails == ["telemetry/part-00000.arrows"] and report.converted == []
    assert open_recording(folder).telemetry().num_rows == 20  # not doubled


def test_recover_refused_while_a_live_writer_holds_the_lock(tmp_path):
    folder = tmp_path / "rec"
    child = start_child(tmp_path, "hold", str(folder), stdin=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        with pytest.raises(UserError, match=rf"being recorded by a running edgemon \(pid {child.pid}\)"):
            recover(folder)
        live = open_recording(folder)  # read-only view of the growing recording
        assert live.is_live and live.meta["state"] == "running"
        assert live.telemetry().column("i").to_pylist() == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert (folder / "telemetry" / "part-00000.arrows").exists(), "a reader must not touch a live tail"
        out, err = child.communicate(timeout=30)  # closes stdin: the child closes its session
        assert child.returncode == 0 and "closed" in out, err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    first = recover(folder)
    assert not first.changed
    rec = open_recording(folder)
    assert not rec.is_live and rec.meta["state"] == "ended"
    assert rec.telemetry().num_rows == 5
