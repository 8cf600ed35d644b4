"""`edgemon ls`: states from session.json + the writer lock, on real folders and through the CLI."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest
from detach_helpers import edgemon

from edgemon.recording.layout import FolderLock
from edgemon.recording.listing import format_table, human_duration, human_size, list_sessions, session_info


def _started_ago_ns() -> int:
    """An hour, or less on a machine booted less than an hour ago (a fresh CI machine): a session
    cannot have started before the boot, and CLOCK_MONOTONIC counts from it."""
    return min(int(3600e9), time.monotonic_ns() // 2)


def _recording(root, name, state, *, seconds=None, runner="numpy", model="mnist_1d", blob=0):
    folder = root / name
    folder.mkdir(parents=True)
    ago = _started_ago_ns()
    start_mono = time.monotonic_ns() - ago
    meta = {
        "state": state,
        "workload": {"runner": runner, "model": model},
        "clock": {"monotonic_ns": start_mono, "unix_ns": time.time_ns() - ago},
    }
    if seconds is not None:
        meta["ended_monotonic_ns"] = start_mono + int(seconds * 1e9)
    (folder / "session.json").write_text(json.dumps(meta))
    if blob:
        (folder / "latency").mkdir()
        (folder / "latency" / "part-00000.parquet").write_bytes(b"\0" * blob)
    return folder


def test_states_sizes_and_durations(tmp_path):
    root = tmp_path / "recordings"
    _recording(root, "a-ended", "ended", seconds=90, blob=5000)
    _recording(root, "b-crashed", "crashed", seconds=12)
    running = _recording(root, "c-running", "running")
    _recording(root, "d-died", "running")
    (root / "not-a-recording").mkdir()
    lock = FolderLock(running)
    assert lock.acquire()           # a live writer holds the lock, as a running session does
    try:
        infos = {i.name: i for i in list_sessions([root])}
    finally:
        lock.release()
    assert set(infos) == {"a-ended", "b-crashed", "c-running", "d-died"}
    assert infos["a-ended"].state == "ended" and infos["a-ended"].duration_s == 90.0
    assert infos["a-ended"].size_bytes >= 5000
    assert infos["b-crashed"].state == "crashed"
    assert infos["c-running"].state == "running" and infos["c-running"].pid == os.getpid()
    assert infos["c-running"].duration_s >= round(_started_ago_ns() / 1e9, 1) - 0.1
    assert not infos["c-running"].detached, "no control socket: runs in its terminal"
    died = infos["d-died"]
    assert died.state == "died" and died.pid is None
    assert died.hint == f"edgemon recover {root / 'd-died'}"
    assert infos["a-ended"].runner == "numpy" and infos["a-ended"].model == "mnist_1d"
    assert infos["a-ended"].started

    table = format_table(list(infos.values()))
    assert table.splitlines()[0].split() == ["STATE", "STARTED", "WORKLOAD", "DURATION", "SIZE", "FOLDER"]
    assert f"{root / 'd-died'} died: run `edgemon recover" in table


def test_a_recording_folder_itself_and_odd_folders(tmp_path):
    rec = _recording(tmp_path, "one", "ended", seconds=1)
    assert [i.name for i in list_sessions([rec])] == ["one"]
    assert session_info(tmp_path / "nothing-here") is None
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "session.json").write_text("{not json")
    assert session_info(broken).state == "unknown"
    assert list_sessions([tmp_path / "missing"]) == []


def test_detached_needs_a_live_writer_and_a_socket(tmp_path):
    rec = _recording(tmp_path, "rec", "running")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(rec / "control.sock"))
    s.close()
    assert not session_info(rec).detached       # a socket without a writer is stale
    lock = FolderLock(rec)
    assert lock.acquire()
    try:
        assert session_info(rec).detached
    finally:
        lock.release()


@pytest.mark.parametrize("n, text", [(0, "0 B"), (999, "999 B"), (1500, "1.5 kB"), (2_500_000, "2.5 MB")])
def test_human_size(n, text):
    assert human_size(n) == text


def test_human_duration():
    assert human_duration(None) == "-"
    assert human_duration(3725.9) == "1:02:05"


def test_cli(tmp_path):
    p = edgemon("ls", cwd=tmp_path)
    assert p.returncode == 0 and "no sessions" in p.stdout
    _recording(tmp_path / "recordings", "r1", "ended", seconds=5)
    p = edgemon("ls", "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["name"] for r in rows] == ["r1"] and rows[0]["state"] == "ended"
    p = edgemon("ls", cwd=tmp_path)
    assert "r1" in p.stdout and "ended" in p.stdout
    p = edgemon("ls", str(tmp_path / "missing"), cwd=tmp_path)
    assert p.returncode == 2 and "does not exist" in p.stderr and "Traceback" not in p.stderr


def test_duration_of_a_recovered_or_died_session_comes_from_its_own_clock(tmp_path):
    """Issue 11: a recovered 10 s session showed 0:00:16 (the files' modification times)."""
    import numpy as np

    from edgemon.datatypes import LatencyBatch, Sample
    from edgemon.recording.writer import Recorder

    S = 1_000_000_000
    for name, recovered in (("recovered", True), ("died", False)):
        folder = tmp_path / "recordings" / name
        rec = Recorder(folder, {"workload": {"runner": "numpy", "model": "mnist_1d"}}, fsync=False,
                       flush_s=3600, roll_s=3600).open()
        t0 = int(rec.meta["clock"]["monotonic_ns"]) - 60 * S           # started a minute ago
        for k in range(101):                                            # 10 s of telemetry
            rec.on_sample(Sample(t0 + k * S // 10, {"cpu_util_pct": 50.0}))
        t_end = t0 + np.arange(1, 1001, dtype=np.int64) * S // 100
        rec.on_latency(LatencyBatch(t_end, np.full(1000, S // 200), np.ones(1000, np.int32)))
        rec.flush()
        meta = dict(rec.meta, state="running" if not recovered else "crashed")
        meta["clock"] = dict(meta["clock"], monotonic_ns=t0)
        if recovered:
            rec.close({"reason": "test"})
            meta.pop("ended_monotonic_ns", None)
        else:                                                           # killed: tails stay, no end,
            rec._stop.set()                                             # nobody holds the lock
            rec._lock.release(remove=False)
        (folder / "session.json").write_text(json.dumps(meta))
        later = time.time() + 16
        for p in folder.rglob("*"):
            os.utime(p, (later, later))                                 # recover/copy touched the files
        info = session_info(folder)
        assert info.duration_s == 10.0, (name, info)
        assert human_duration(info.duration_s) == "0:00:10"
