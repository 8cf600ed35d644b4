"""No symlink is followed inside a recording folder (README "Recording layout").

edgemon runs as root on shared boards and on recordings copied from elsewhere. For every file
it creates or rewrites in a recording folder, a test plants a symlink under that name (pointing
at a "victim" file) and shows the victim untouched; a folder owned by another user is refused.
These tests run as root here, so "another user" is uid 65534 set with os.chown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from analysis_helpers import back_to_back, build_session
from detach_helpers import ScriptedSession
from recording_helpers import child_env

from edgemon import cli
from edgemon.daemon.server import SessionServer
from edgemon.datatypes import LatencyBatch, Sample
from edgemon.errors import UserError
from edgemon.recording.layout import FolderLock, is_live, writer_pid
from edgemon.recording.reader import open_recording
from edgemon.recording.recover import recover
from edgemon.recording.writer import Recorder

T0 = 5_000_000_000
VICTIM_TEXT = "precious: must never change\n"


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text(VICTIM_TEXT)
    before = os.stat(path)
    yield path
    after = os.stat(path)
    assert path.read_text() == VICTIM_TEXT, "the link target was written"
    assert (after.st_size, after.st_mtime_ns, after.st_mode) == (before.st_size, before.st_mtime_ns, before.st_mode)


def _crashed(tmp_path, name="crashed"):
    """A session killed mid-write: state running, tails, no lock holder."""
    folder = tmp_path / name
    rec = Recorder(folder, {"host": "h"}, flush_s=3600, roll_s=3600, fsync=False).open()
    for i in range(5):
        rec.on_sample(Sample(T0 + i, {"x": float(i)}))
    rec.on_latency(LatencyBatch.from_lists([T0 + 10], [5], [1]))
    rec.flush()
    rec._lock.release(remove=False)   # like a SIGKILL: the kernel drops the flock, the file stays
    rec._stop.set()
    return folder


def test_recording_writes_session_json_through_no_planted_temporary_name(tmp_path, victim):
    folder = tmp_path / "rec"
    rec = Recorder(folder, {"host": "h"}, flush_s=3600, roll_s=3600, fsync=False).open()
    os.symlink(victim, folder / "session.json.tmp")
    rec.update_meta(note="after the link was planted")
    rec.flush()
    assert json.loads((folder / "session.json").read_text())["note"] == "after the link was planted"
    rec.close()
    assert not (folder / "session.json.tmp").exists() and not os.path.islink(folder / "session.json.tmp")


def test_roll_replaces_planted_parquet_and_temporary_names_not_their_targets(tmp_path, victim):
    folder = tmp_path / "rec"
    rec = Recorder(folder, {}, flush_s=3600, roll_s=3600, fsync=False).open()
    rec.on_latency(LatencyBatch.from_lists([T0], [5], [1]))
    rec.flush()
    os.symlink(victim, folder / "latency" / "part-00000.parquet.tmp")
    os.symlink(victim, folder / "latency" / "part-00000.parquet")
    rec.close()
    assert not rec.error, rec.error
    assert not os.path.islink(folder / "latency" / "part-00000.parquet")
    assert open_recording(folder).latency().column("duration_ns").to_pylist() == [5]


def test_live_tail_is_never_opened_over_a_planted_name(tmp_path, victim):
    folder = tmp_path / "rec"
    errors = []
    rec = Recorder(folder, {}, flush_s=3600, roll_s=3600, fsync=False, on_error=errors.append).open()
    os.symlink(victim, folder / "events" / "part-00000.arrows")
    from edgemon.datatypes import Event

    rec.on_event(Event(T0, "mark", {}))
    rec.flush()
    rec.close()
    assert errors and "part-00000.arrows" in errors[0]


@pytest.mark.parametrize("name", ["session.lock", "session.json.tmp", "telemetry/part-00000.parquet.tmp"])
def test_recover_and_analyze_never_write_through_a_planted_link(tmp_path, victim, capsys, name):
    folder = _crashed(tmp_path)
    (folder / name).unlink(missing_ok=True)
    os.symlink(victim, folder / name)
    try:
        recover(folder, fsync=False)
    except UserError as e:      # a planted lock: recover refuses, names the file
        assert name == "session.lock" and "symbolic link" in str(e)
    # analyze recovers by itself: it must not write through the link either, and still answers
    assert cli.main(["analyze", str(folder), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["latency_ms"]["count"] == 1


def test_recover_rewrites_a_session_json_link_as_a_file(tmp_path, victim):
    folder = _crashed(tmp_path)
    real = json.loads((folder / "session.json").read_text())
    (folder / "session.json").unlink()
    (tmp_path / "elsewhere.json").write_text(json.dumps(real))
    os.symlink(tmp_path / "elsewhere.json", folder / "session.json")
    # a session.json that is a link is not a recording edgemon opens
    with pytest.raises(UserError, match="not a regular file"):
        recover(folder, fsync=False)
    (folder / "session.json").unlink()
    (folder / "session.json").write_text(json.dumps(real))
    (folder / "session.reserve").unlink(missing_ok=True)
    os.symlink(victim, folder / "session.reserve")   # the space reserve's name: removed, never followed
    report = recover(folder, fsync=False)
    assert report.state_after == "crashed" and not os.path.lexists(folder / "session.reserve")


def test_recover_does_not_follow_a_stream_folder_that_is_a_link(tmp_path, victim):
    folder = _crashed(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.tmp").write_text("not edgemon's")
    (outside / "part-00000.arrows").write_text("not edgemon's")
    os.rename(folder / "events", tmp_path / "events-moved")
    os.symlink(outside, folder / "events")
    recover(folder, fsync=False)
    assert sorted(p.name for p in outside.iterdir()) == ["keep.tmp", "part-00000.arrows"]


def test_recover_deletes_only_names_edgemon_writes(tmp_path):
    folder = _crashed(tmp_path)
    (folder / "notes.tmp").write_text("the user's")
    (folder / "telemetry" / "mine.tmp").write_text("the user's")
    recover(folder, fsync=False)
    assert (folder / "notes.tmp").exists() and (folder / "telemetry" / "mine.tmp").exists()


def test_lock_probes_do_not_follow_links_or_hang_on_a_fifo(tmp_path, victim):
    folder = tmp_path / "rec"
    folder.mkdir()
    os.symlink(victim, folder / "session.lock")
    assert not is_live(folder) and writer_pid(folder) is None
    (folder / "session.lock").unlink()
    os.mkfifo(folder / "session.lock")
    done = threading.Event()

    def probe():
        is_live(folder)
        writer_pid(folder)
        done.set()

    threading.Thread(target=probe, daemon=True).start()
    assert done.wait(20), "a FIFO as session.lock blocked the lock probe"
    with pytest.raises(OSError, match="FIFO"):
        FolderLock(folder).acquire()


def test_a_fifo_as_session_json_is_one_line_not_a_hang(tmp_path, capsys):
    folder = tmp_path / "rec"
    folder.mkdir()
    os.mkfifo(folder / "session.json")
    for argv in (["analyze", str(folder)], ["ls", str(tmp_path)], ["recover", str(folder)]):
        code = cli.main(argv)
        out = capsys.readouterr()
        assert code in (0, 2), (argv, out)


def test_lock_with_a_second_name_is_not_truncated(tmp_path):
    folder = _crashed(tmp_path)
    other = tmp_path / "hardlinked.txt"
    other.write_text(VICTIM_TEXT)
    (folder / "session.lock").unlink()
    os.link(other, folder / "session.lock")
    recover(folder, fsync=False)
    assert other.read_text() == VICTIM_TEXT


def test_report_into_a_recording_folder_replaces_planted_names(tmp_path, victim, capsys):
    folder = build_session(tmp_path / "s", latency=back_to_back(0, 50, 5.0))
    os.symlink(victim, folder / "report.html.tmp")
    os.symlink(victim, folder / "report.html")
    assert cli.main(["report", str(folder), "--out", str(folder)]) == 0
    assert not os.path.islink(folder / "report.html") and "<html" in (folder / "report.html").read_text()


def test_control_socket_replaces_a_planted_link(tmp_path, victim):
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "session.json").write_text(json.dumps({"state": "running"}))
    os.symlink(victim, folder / "control.sock")
    server = SessionServer(ScriptedSession(), folder, log=lambda line: None).start()
    try:
        assert not os.path.islink(folder / "control.sock")
        assert oct(os.stat(folder / "control.sock").st_mode & 0o777) == oct(0o600)
    finally:
        server.close()


def test_clock_store_is_a_new_file_not_a_planted_link(tmp_path, victim):
    from control_helpers import FakeBoard

    from edgemon.control import Controls

    board = FakeBoard(tmp_path / "board")
    state_dir = tmp_path / "rec"
    state_dir.mkdir()
    os.symlink(victim, state_dir / "l4t_dfs.conf")
    controls = Controls(board.root, board.executables("allow"), is_root=True, state_dir=state_dir)
    assert controls.store_clocks().ok
    assert not os.path.islink(state_dir / "l4t_dfs.conf")


_PLANT_LOG = r'''
import os, sys
from edgemon.recording import writer
from edgemon.daemon import process
real_open = writer.Recorder.open
VICTIM = sys.argv[1]
def open_then_plant(self):
    out = real_open(self)
    os.symlink(VICTIM, self.folder / "session.log")   # planted between our check and our create
    return out
writer.Recorder.open = open_then_plant
sys.exit(process.main(["--config", sys.argv[2]]))
'''


def test_session_log_is_never_opened_through_a_planted_link(tmp_path, victim):
    from edgemon.daemon.process import config_to_dict
    from edgemon.session.config import RunConfig
    from edgemon.workload.spec import WorkloadSpec

    config = RunConfig(workload=WorkloadSpec(runner="numpy", model="mnist_1d"), record_dir=tmp_path / "rec",
                       duration_s=1.0)
    p = subprocess.run([sys.executable, "-c", _PLANT_LOG, str(victim), json.dumps(config_to_dict(config, []))],
                       capture_output=True, text=True, timeout=120, env=child_env(), cwd=tmp_path)
    assert p.returncode != 0 and "File exists" in p.stdout, p.stdout + p.stderr


def test_recording_into_a_folder_of_another_user_is_refused(tmp_path, victim, capsys):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    with pytest.raises(UserError, match="belongs to .*not to you"):
        Recorder(theirs, {}).open()
    assert list(theirs.iterdir()) == []
    open_to_all = tmp_path / "open"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    with pytest.raises(UserError, match="writable by every user"):
        Recorder(open_to_all, {}).open()
    link = tmp_path / "link"
    os.symlink(tmp_path / "elsewhere", link)
    with pytest.raises(UserError, match="symbolic link"):
        Recorder(link, {}).open()
    # the CLI says it in one line, before anything runs
    code = cli.main(["run", "--headless", "--duration", "1s", "--record", str(theirs)])
    err = capsys.readouterr().err
    assert code == 2 and "not to you" in err and len(err.strip().splitlines()) == 1
