"""A recording that stops is a reported fault (README "Exit codes", "Disk space").

Real `edgemon run --headless` sessions on disks that fail: a small tmpfs that fills up, one
that runs low (stopped cleanly before it is full), an ext4 the kernel remounts read-only under
the writer, a folder deleted mid-session, and a disk that never answers (an injected blocking
write, and a frozen loop-mounted ext4). Each time: the status line says so at once, the summary
says how much was kept, session.json says recording_failed where it can still be written, what
was written stays readable, the exit code is 3, and the session ends on time -- Ctrl-C included.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import pyarrow.dataset as ds
import pytest
from fault_helpers import (
    Edgemon,
    blocking_writes_env,
    edgemon_env,
    fill,
    loop_ext4,
    tmpfs,
)

from edgemon.recording.reader import open_recording

pytestmark = pytest.mark.slow

EXIT_RECORDING_FAILED = 3


def _headless(rec, *extra, duration="8s"):
    return ["run", "--headless", "--duration", duration, "--record", str(rec), "--status-every", "1s", *extra]


def _meta(rec):
    return json.loads((rec / "session.json").read_text())


def _said_at_once(run: Edgemon, flag: str) -> None:
    """The error line comes while the session runs: a status line after it carries the flag."""
    lines = run.lines
    error = next(i for i, line in enumerate(lines) if line.startswith("edgemon: recording error:"))
    later = [line for line in lines[error + 1:] if line.startswith("running ")]
    assert later and all(flag in line for line in later), run.output


def test_disk_full_on_a_small_tmpfs(tmp_path):
    with tmpfs(tmp_path / "small", "2m") as mnt:
        fill(mnt, 700 * 1024)
        rec = mnt / "rec"
        run = Edgemon(*_headless(rec, "--min-free", "0"), cwd=tmp_path)
        code = run.finish()
        out = run.output
        assert code == EXIT_RECORDING_FAILED, out
        assert "recording stopped: disk full after" in out and "No space left on device" in out
        _said_at_once(run, "REC STOPPED: disk full after")
        assert "recording: STOPPED after" in out and "latency rows" in out
        meta = _meta(rec)   # the space reserve made room for this last word
        failed = meta["recording_failed"]
        assert meta["state"] == "recording_failed" and failed["kind"] == "disk_full"
        assert failed["headline"] in out
        # what was written stays readable: every row it says it kept (a torn last batch is not one)
        r = open_recording(rec)
        assert r.latency().num_rows == failed["rows_kept"]["latency"] > 0
        assert r.telemetry().num_rows == failed["rows_kept"]["telemetry"] > 0
        assert any("stopped early (disk full after" in p for p in r.problems)
        ls = subprocess.run([*Edgemon.argv_prefix(), "ls", str(mnt)], capture_output=True, text=True, timeout=60,
                            env=edgemon_env(), cwd=tmp_path)
        assert "recording_failed" in ls.stdout and f"rec: recording stopped: {failed['headline']}" in ls.stdout


def test_low_space_stops_the_recording_cleanly_before_the_disk_is_full(tmp_path):
    with tmpfs(tmp_path / "small", "4m") as mnt:
        fill(mnt, 2 << 20)
        rec = mnt / "rec"
        run = Edgemon(*_headless(rec, "--min-free", "1M"), cwd=tmp_path)
        code = run.finish()
        out = run.output
        assert code == EXIT_RECORDING_FAILED, out
        assert out.splitlines()[0].startswith("disk: ") and "recording stops cleanly with 1.0 MiB left" in out
        assert "stopped before the disk was full after" in out
        meta = _meta(rec)
        assert meta["state"] == "recording_failed" and meta["recording_failed"]["kind"] == "low_space"
        # cleanly: every stream rolled into Parquet, nothing left for recover, plain pyarrow reads it
        assert not list(rec.rglob("*.arrows")) and not list(rec.rglob("*.tmp"))
        lat = ds.dataset(str(rec / "latency"), format="parquet").to_table()
        assert lat.num_rows == meta["recording_failed"]["rows_kept"]["latency"] > 0
        st = os.statvfs(mnt)
        assert st.f_bavail * st.f_frsize > 512 * 1024, "it stopped with room to spare"


def test_read_only_remount_under_the_writer(tmp_path):
    with loop_ext4(tmp_path) as (mnt, fs):
        if not (fs / "trigger_fs_error").exists():
            pytest.skip(f"no {fs}/trigger_fs_error to make the kernel remount read-only")
        rec = mnt / "rec"
        run = Edgemon(*_headless(rec, "--min-free", "1M"), cwd=tmp_path)
        run.wait_for("running 00:02")
        (fs / "trigger_fs_error").write_text("edgemon test: remount read-only\n")
        code = run.finish()
        out = run.output
        assert code == EXIT_RECORDING_FAILED, out
        assert "file system read-only after" in out and "recording: STOPPED after" in out
        _said_at_once(run, "REC STOPPED: file system read-only after")
        # nothing can be written there any more; what was, stays readable (recover cannot run: read-only)
        r = open_recording(rec)
        assert r.latency().num_rows > 0 and r.telemetry().num_rows > 0
        assert any("automatic recovery failed" in p for p in r.problems)


def test_recording_folder_deleted_mid_session(tmp_path):
    rec = tmp_path / "rec"
    run = Edgemon(*_headless(rec), cwd=tmp_path)
    run.wait_for("running 00:02")
    shutil.rmtree(rec)
    code = run.finish()
    out = run.output
    assert code == EXIT_RECORDING_FAILED, out
    assert "recording folder removed after" in out
    _said_at_once(run, "REC STOPPED: recording folder removed after")
    assert "recording: STOPPED after" in out and not rec.exists()


def test_a_disk_that_never_answers_does_not_hold_the_session(tmp_path):
    rec = tmp_path / "rec"
    run = Edgemon(*_headless(rec, duration="4s"), cwd=tmp_path, env=blocking_writes_env(tmp_path))
    # Without the stall watch this never ends: close() would wait on the writer forever. With
    # it, the end waits at most 10 s for a disk that makes no progress (Recorder.close_stall_s).
    code = run.finish(timeout=120)
    out = run.output
    assert code == EXIT_RECORDING_FAILED, out
    assert "recording stopped: disk stalled after" in out and "recording: STOPPED after" in out
    assert "no write finished for 10 s" in out


def test_ctrl_c_ends_a_session_whose_disk_never_answers(tmp_path):
    rec = tmp_path / "rec"
    run = Edgemon(*_headless(rec, duration="1h"), cwd=tmp_path, env=blocking_writes_env(tmp_path))
    run.wait_for("running 00:03")
    os.kill(run.proc.pid, signal.SIGINT)
    code = run.finish(timeout=120)
    assert code == EXIT_RECORDING_FAILED, run.output
    assert "recording: STOPPED after" in run.output


def test_a_detached_session_whose_disk_never_answers_still_stops(tmp_path):
    env = blocking_writes_env(tmp_path)
    rec = tmp_path / "rec"
    p = subprocess.run([*Edgemon.argv_prefix(), "run", "--detach", "--headless", "--duration", "1h", "--record",
                        str(rec)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    pid = int(p.stdout.split("(pid ")[1].split(")")[0])
    try:
        stop = subprocess.run([*Edgemon.argv_prefix(), "stop", str(rec)], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        gone = _wait_gone(pid, 120)
        assert gone, "the session process outlived its end"
    finally:
        if not _wait_gone(pid, 0):
            os.kill(pid, signal.SIGKILL)


def _wait_gone(pid: int, timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def test_frozen_file_system_session_ends_on_time(tmp_path):
    """fsfreeze on a loop-mounted ext4 (never the real disk): the kernel parks every writer
    until the thaw. The session must still end, say so and print its summary while frozen."""
    if shutil.which("fsfreeze") is None:
        pytest.skip("no fsfreeze here")
    with loop_ext4(tmp_path) as (mnt, _fs):
        rec = mnt / "rec"
        run = Edgemon(*_headless(rec, "--min-free", "1M", duration="6s"), cwd=tmp_path)
        try:
            run.wait_for("running 00:02")
            r = subprocess.run(["fsfreeze", "-f", str(mnt)], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                run.kill()
                pytest.skip(f"fsfreeze refused: {r.stderr.strip()}")
            # The summary comes while the disk is still frozen (the process itself is reaped only
            # after the thaw: the kernel holds a thread parked in a write until then).
            run.wait_for("recording: STOPPED after", timeout=120)
        finally:
            subprocess.run(["fsfreeze", "-u", str(mnt)], capture_output=True, timeout=60)
        code = run.finish(timeout=120)
        assert code == EXIT_RECORDING_FAILED, run.output
        assert "disk stalled after" in run.output
