"""Disk space: the rate and free space are said before and while recording, less than 10 minutes
left is a warning event and a header flag, and the recording stops cleanly before the disk is
full (the disk watch in recording/faults.py; end-to-end runs in test_recording_faults.py)."""

from __future__ import annotations

import json
import threading

import pytest

from edgemon import cli
from edgemon.datatypes import EventKind, LatencyBatch, Sample
from edgemon.errors import UserError
from edgemon.feeds.base import FeedStatus
from edgemon.recording import faults
from edgemon.recording.faults import DiskWatch, FolderGone
from edgemon.recording.writer import Recorder
from edgemon.session.recording_watch import RecordingWatch, disk_outlook, summary_lines
from edgemon.tui.widgets.base import ViewState
from edgemon.tui.widgets.header import Header
from edgemon.view.model import DashboardModel
from edgemon.view.status_line import status_line

MB = 1 << 20
T0 = 5_000_000_000


class FakeDisk:
    def __init__(self, free: int):
        self.free = free
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def statvfs(self, _folder) -> int:
        return self.free


def _watch(tmp_path, disk: FakeDisk, min_free: int = 64 * MB) -> DiskWatch:
    return DiskWatch(tmp_path, min_free_bytes=min_free, clock=disk.clock, statvfs=disk.statvfs)


def test_rate_is_reported_once_measured_then_low_space_warns_once_then_stops(tmp_path):
    disk = FakeDisk(free=10_000 * MB)
    w = _watch(tmp_path, disk)
    disk.now = 5.0
    first = w.check(recorded_bytes=5 * MB, open_tail_bytes=5 * MB)
    assert first.rate_bytes_per_s is None and not (first.rate_report or first.warn or first.stop)
    disk.now = 10.0      # 1 MiB/s
    c = w.check(recorded_bytes=10 * MB, open_tail_bytes=10 * MB)
    assert c.rate_report and c.rate_bytes_per_s == pytest.approx(MB)
    assert c.left_s == pytest.approx((10_000 - 64 - 10) * 1.0)
    assert not w.check(10 * MB, 10 * MB).rate_report, "the rate is said once"
    disk.free = (64 + 10 + 500) * MB     # 500 s left at 1 MiB/s: less than 10 minutes
    low = w.check(10 * MB, 10 * MB)
    assert low.warn and not low.stop and low.left_s == pytest.approx(500.0)
    assert not w.check(10 * MB, 10 * MB).warn, "warned once per descent"
    disk.free = 2000 * MB                # space freed: the warning re-arms
    assert not w.check(10 * MB, 10 * MB).warn
    disk.free = (64 + 10 + 100) * MB
    assert w.check(10 * MB, 10 * MB).warn
    disk.free = (64 + 9) * MB            # below the minimum plus room to roll the open tails
    assert w.check(10 * MB, 10 * MB).stop


def test_min_free_zero_means_until_the_disk_is_full(tmp_path):
    disk = FakeDisk(free=0)
    assert not _watch(tmp_path, disk, min_free=0).check(MB, MB).stop


def test_a_removed_or_replaced_folder_is_noticed(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    w = DiskWatch(folder)
    w.check(0, 0)
    folder.rename(tmp_path / "moved")
    with pytest.raises(FolderGone):
        w.check(0, 0)
    folder.mkdir()      # a new folder of the same name is not the one we record into
    with pytest.raises(FolderGone):
        w.check(0, 0)


def test_recorder_reports_rate_and_low_space_then_stops_cleanly(tmp_path):
    disk = FakeDisk(free=10_000 * MB)
    seen: list[tuple[str, dict]] = []
    errors: list[str] = []
    stopped = threading.Event()
    folder = tmp_path / "rec"
    rec = Recorder(folder, {}, flush_s=0.02, roll_s=3600, fsync=False, min_free_bytes=MB,
                   on_disk=lambda kind, d: seen.append((kind, d)),
                   on_error=lambda m: (errors.append(m), stopped.set())).open()
    rec.disk = DiskWatch(folder, min_free_bytes=MB, clock=disk.clock, statvfs=disk.statvfs)
    disk.now = 20.0

    def feed(n):
        for i in range(n):
            rec.on_latency(LatencyBatch.from_lists([T0 + i], [i], [1]))
            rec.flush()

    def wait_for(kinds):   # the writer thread's next ticks (every 0.02 s); bounded, not a timing assert
        for _ in range(2000):
            if [k for k, _ in seen] == kinds:
                return
            threading.Event().wait(0.01)

    feed(3)
    wait_for(["rate"])
    assert [k for k, _ in seen] == ["rate"]
    rate = seen[0][1]["rate_bytes_per_h"]
    assert rate > 0 and seen[0][1]["free_bytes"] == 10_000 * MB
    disk.free = MB + 5 * 60 * rate // 3600   # about 5 minutes of recording left
    feed(1)
    wait_for(["rate", "low"])
    assert [k for k, _ in seen] == ["rate", "low"] and seen[1][1]["left_s"] < 600
    disk.free = MB // 2
    feed(1)
    assert stopped.wait(20) and "stopped before the disk was full" in errors[0]
    assert rec.fault.kind == faults.LOW_SPACE
    rec.close({"reason": "done"})
    meta = json.loads((folder / "session.json").read_text())
    assert meta["state"] == "recording_failed" and meta["recording_failed"]["kind"] == "low_space"
    assert not list(folder.rglob("*.arrows")), "stopped cleanly: every tail rolled into Parquet"


def test_open_refuses_a_disk_with_less_than_min_free(tmp_path, capsys):
    with pytest.raises(UserError, match="--min-free"):
        Recorder(tmp_path / "rec", {}, min_free_bytes=1 << 60).open()
    assert not (tmp_path / "rec").exists()
    code = cli.main(["run", "--headless", "--duration", "1s", "--record", str(tmp_path / "r2"), "--min-free", "1P"])
    assert code == 2 and "malformed --min-free" in capsys.readouterr().err


def test_outlook_before_the_start_says_free_space_rate_and_the_stop(tmp_path):
    text = disk_outlook(tmp_path / "not" / "yet", 64 * MB)
    assert text.startswith("disk: ") and str(tmp_path) in text and "64.0 MiB left (--min-free)" in text
    assert "measured after 10 s" in text
    assert "until the disk is full" in disk_outlook(tmp_path, 0)
    # with an earlier session of the same workload here, its rate is the one to expect
    old = tmp_path / "recordings" / "earlier"
    rec = Recorder(old, {"workload": {"runner": "numpy", "model": "mnist_1d"}}, fsync=False).open()
    rec.on_latency(LatencyBatch.from_lists([T0], [1], [1]))
    rec.close()
    meta = json.loads((old / "session.json").read_text())
    meta["ended_monotonic_ns"] = meta["clock"]["monotonic_ns"] + 3600 * 10**9   # it lasted an hour
    (old / "session.json").write_text(json.dumps(meta))
    size = sum(p.stat().st_size for p in old.rglob("*") if p.is_file())
    text = disk_outlook(tmp_path / "recordings", 0, runner="numpy", model="mnist_1d",
                        sessions_root=tmp_path / "recordings")
    assert f"expect about {faults.human_bytes(size)}/h (as earlier)" in text
    assert "measured after" in disk_outlook(tmp_path / "recordings", 0, runner="torch", model="resnet18",
                                            sessions_root=tmp_path / "recordings")


def test_low_space_is_a_flag_in_the_header_and_the_status_line(tmp_path):
    watch = RecordingWatch()
    watch.recording_started(tmp_path)     # from the start: the free space, until the rate is known
    note, level = watch.flag()
    assert level == "info" and note.endswith("free (rate after 10 s)")
    ev = watch.disk_event("rate", {"free_bytes": 41 << 30, "rate_bytes_per_h": 320 << 20, "left_s": 130 * 3600})
    assert ev.kind == EventKind.DISK_SPACE and "320.0 MiB/h" in ev.details["message"]
    note, level = watch.flag()
    assert level == "info" and "41.0 GiB free" in note
    ev = watch.disk_event("low", {"free_bytes": 80 << 20, "rate_bytes_per_h": 320 << 20, "left_s": 480})
    assert ev.kind == EventKind.DISK_LOW
    note, level = watch.flag()
    assert (note, level) == ("DISK 8 min left", "warn")
    meta = {"host": "vm", "record_path": "/data/" + "x" * 60, "workload": {"runner": "numpy", "model": "mnist_1d"}}
    status = FeedStatus(state="running", elapsed_s=12, recording=note, recording_level=level)
    header = Header().render_panel(ViewState(model=DashboardModel(), status=status, meta=meta), 80, 2).plain
    assert header.splitlines()[1].startswith(" DISK 8 min left rec /data/"), header   # kept at 80 columns
    assert "DISK 8 min left" in status_line(DashboardModel(), status)


def test_a_fault_is_the_header_flag_and_it_stays():
    watch = RecordingWatch()

    class _Rec:
        fault = faults.RecordingFault("disk_full", "disk full", 6.2, "x: No space left on device", "/data/rec",
                                      {"telemetry": 62, "latency": 98765, "events": 12})

    ev = watch.fault_event(_Rec(), _Rec.fault.message)
    assert ev.kind == EventKind.RECORDING_ERROR and ev.details["headline"] == "disk full after 6.2 s"
    watch.disk_event("low", {"free_bytes": 0, "rate_bytes_per_h": 1, "left_s": 0})
    assert watch.flag() == ("REC STOPPED: disk full after 6.2 s", "fail")
    status = FeedStatus(state="running", recording="REC STOPPED: disk full after 6.2 s", recording_level="fail")
    header = Header().render_panel(ViewState(model=DashboardModel(), status=status,
                                             meta={"host": "vm", "record_path": "/data/rec"}), 80, 2).plain
    assert "REC STOPPED: disk full after 6.2 s" in header.splitlines()[1]
    lines = summary_lines(_Rec(), "/data/rec", 20.0)
    assert lines[0].startswith("recording: STOPPED after 6.2 s of 20.0 s: disk full")
    assert "62 telemetry rows, 98,765 latency rows, 12 events" in lines[1]


def test_sample_api_unchanged_after_a_fault(tmp_path):
    rec = Recorder(tmp_path / "rec", {}, fsync=False).open()
    rec._fail(OSError(28, "No space left on device", "x"))
    rec.on_sample(Sample(T0, {"a": 1.0}))
    assert rec.buffered_rows == 0
    rec.close()


def test_the_flag_reaches_an_attached_dashboard_and_the_end(tmp_path):
    """A session in its own process: the recording flag travels in every status and in "end"."""
    from detach_helpers import ScriptedSession, wait_for

    from edgemon.daemon.server import SessionServer
    from edgemon.feeds.remote import open_remote
    from edgemon.recording.layout import FolderLock

    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "session.json").write_text(json.dumps({"state": "running"}))
    lock = FolderLock(folder)
    assert lock.acquire()
    session = ScriptedSession()
    session.status = lambda: FeedStatus(state="running", elapsed_s=3.0, recording="REC STOPPED: disk full after 2.0 s",
                                        recording_level="fail")
    server = SessionServer(session, folder, log=lambda line: None).start()
    feed = open_remote(folder)
    try:
        def flagged():
            server.tick()
            feed.drain()
            return feed.status().recording_level == "fail"

        wait_for(flagged, what="the recording flag over the control socket")
        assert feed.status().recording == "REC STOPPED: disk full after 2.0 s"
        server.close("ended", "duration reached", recording="REC STOPPED: disk full after 2.0 s",
                     recording_level="fail")
        wait_for(lambda: feed.ended, what="the end frame")
        end = feed.status()
        assert (end.state, end.recording_level) == ("ended", "fail") and "disk full" in end.recording
    finally:
        feed.close()
        server.close()
        lock.release()


def test_a_write_that_never_returns_stops_the_recording_while_the_session_runs(tmp_path, monkeypatch):
    """The stall watch runs on the sampler's thread (on_sample): the writer thread may never come back."""
    from edgemon.recording import writer as writer_mod

    blocked = threading.Event()
    real_write = writer_mod._Tail.write

    def hang(self, batch):
        blocked.set()
        threading.Event().wait()      # a disk that never answers
        return real_write(self, batch)

    errors: list[str] = []
    rec = Recorder(tmp_path / "rec", {}, flush_s=0.02, roll_s=3600, fsync=False, stall_s=0.5,
                   close_stall_s=0.5, on_error=errors.append).open()
    monkeypatch.setattr(writer_mod._Tail, "write", hang)
    rec.on_latency(LatencyBatch.from_lists([T0], [1], [1]))
    assert blocked.wait(20)
    for i in range(2000):               # samples keep coming while the writer hangs
        rec.on_sample(Sample(T0 + i, {"x": 1.0}))
        if errors:
            break
        threading.Event().wait(0.01)
    assert errors and "disk stalled after" in errors[0] and rec.fault.kind == faults.STALLED
    assert rec.is_open, "noticed while the session runs, not at its end"
    rec.close()                          # returns at once: nothing will finish on that disk
    assert not rec.is_open
