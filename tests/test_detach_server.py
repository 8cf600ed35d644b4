"""The control socket in one process: a SessionServer on a scripted session, RemoteFeed clients."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest
from detach_helpers import ScriptedSession, wait_for

from edgemon.errors import UserError
from edgemon.recording.layout import FolderLock
from edgemon.daemon import server as srv
from edgemon.feeds.remote import RemoteFeed, open_remote, terminal_gone
from edgemon.daemon.server import SessionServer, peer_allowed
from edgemon.feeds.base import FeedUpdate
from edgemon.view.model import DashboardModel


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "session.json").write_text(json.dumps({"state": "running", "workload": {"runner": "numpy"}}))
    lock = FolderLock(folder)
    assert lock.acquire()
    session = ScriptedSession()
    log: list[str] = []
    server = SessionServer(session, folder, log=log.append).start()
    yield folder, session, server, log
    server.close()
    lock.release()


def _drain_until(feed: RemoteFeed, server: SessionServer, pred, what: str) -> FeedUpdate:
    """Tick the server and collect what the feed receives until ``pred(total)`` holds."""
    total = FeedUpdate()

    def step():
        server.tick()
        up = feed.drain()
        total.reset |= up.reset
        total.samples += up.samples
        total.latency += up.latency
        total.digests += up.digests
        total.events += up.events
        return pred(total)

    wait_for(step, what=what)
    return total


def test_socket_is_private_and_the_owner_check_refuses_other_uids(served):
    folder, _session, server, _log = served
    mode = stat.S_IMODE(os.stat(folder / "control.sock").st_mode)
    assert mode == 0o600
    assert peer_allowed(os.getuid(), os.getuid())
    assert not peer_allowed(os.getuid() + 1, os.getuid())
    assert not peer_allowed(0, 1000), "root gets no exception"
    # Pretend the session belongs to someone else: our connection is then a foreign uid.
    server.uid = os.getuid() + 1
    with pytest.raises(UserError, match="refused"):
        open_remote(folder)


def test_attach_gets_history_first_then_live_updates_and_commands(served):
    folder, session, server, _log = served
    session.push(samples=30, rows=500, events=["mark"])
    server.tick()                                   # before anyone attached: goes to the server's model only
    feed = open_remote(folder)
    first = feed.drain()
    assert first.reset, "an attach starts with a reset so the dashboard fills from the history"
    assert first.state is not None and not first.samples and not first.latency and not first.digests
    model = DashboardModel()
    model.apply(first)
    assert model.samples_seen == 30 and model.iterations == 500
    assert [e.kind for e in model.events] == ["mark"]
    assert feed.meta["host"] == "test"
    assert {s.name for s in feed.source_statuses} == {"procstat", "nvml"}
    assert feed.can_detach and not feed.is_replay

    session.push(samples=3, rows=70)
    got = _drain_until(feed, server, lambda t: len(t.samples) >= 3 and sum(g.rows for g in t.digests) >= 70,
                       "update")
    assert not got.reset and got.latency == []
    assert len(got.samples) == 3 and sum(g.rows for g in got.digests) == 70
    model.apply(got)
    assert model.iterations == 570

    assert feed.command("mark", note="door opened") == "did mark"
    assert feed.command("power_mode", id=2) == "did power_mode"
    assert "not available" in feed.command("format_disk")
    assert session.commands == [("mark", {"note": "door opened"}), ("power_mode", {"id": 2})]
    assert feed.status().state == "running"
    feed.close()


def test_detach_leaves_the_session_and_end_is_reported(served):
    folder, session, server, log = served
    a = open_remote(folder)
    b = open_remote(folder)
    wait_for(lambda: len(server.clients) == 2, what="two clients")
    msg = a.command("detach")
    assert "goes on" in msg
    wait_for(lambda: len(server.clients) == 1, what="the detached client to be dropped")
    assert session.commands == [], "detach is not forwarded: the session goes on"
    session.state = "ended"
    server.close("ended", "stopped by user")
    assert b.wait_end(10)
    st = b.status()
    assert (st.state, st.message) == ("ended", "stopped by user")
    assert any("client detached" in line for line in log)
    assert not (folder / "control.sock").exists()


def test_a_vanished_session_reads_as_crashed_not_an_exception(served):
    folder, _session, server, _log = served
    feed = open_remote(folder)
    assert feed.drain().reset
    # The daemon dies without a word: its socket just closes.
    for c in list(server.clients):
        c.close()
    assert feed.wait_end(10)
    st = feed.status()
    assert st.state == "crashed"
    assert "edgemon recover" in st.message
    assert "no longer connected" in feed.command("pause")
    assert feed.drain() == FeedUpdate()


def test_a_client_that_reads_nothing_never_blocks_the_session(served):
    folder, session, server, log = served
    server.max_client_updates = 5
    raw = srv.connect_unix(folder)            # connects and then never reads
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    wait_for(lambda: server.clients, what="the raw client")
    client = server.clients[0]
    for _ in range(60):                       # ~55 kB of samples a tick: far more than the socket holds
        session.push(samples=1000, rows=1000)
        server.tick()                          # must return: a stuck client only loses its queue
    queued = sum(1 for kind, _ in client.queue if kind == "update")
    assert queued <= server.max_client_updates
    assert client.resyncs > 0
    assert any("fell behind" in line for line in log)
    raw.close()


class _ClockedSession(ScriptedSession):
    """A scripted session whose "now" is its data's clock (a long session in no time)."""

    def status(self):
        from edgemon.feeds.base import FeedStatus

        return FeedStatus(state=self.state, elapsed_s=(self.t_ns - self.t0) / 1e9, t_ns=self.t_ns)


def _run_for(server, session, seconds: int, rows_per_s: int = 160) -> None:
    for _ in range(seconds * 10):            # 10 Hz samples, a latency batch with each, ticked at 4 Hz
        session.push(samples=1, rows=rows_per_s // 10, events=["phase"] if _ % 100 == 0 else ())
        if _ % 3 == 0:
            server.tick()
    server.tick()


def test_attach_fills_every_chart_window_at_once(tmp_path):
    """Five minutes into a session, an attaching dashboard has the whole session's latency
    histogram, the widest throughput chart (172 s at 200 columns) and the metric histories its
    trend lines need, at once (before: 20-25 s from a row-limited ring)."""
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "session.json").write_text(json.dumps({"state": "running"}))
    session = _ClockedSession()
    session.t0 = session.t_ns
    server = SessionServer(session, folder, log=lambda line: None).start()
    try:
        _run_for(server, session, 300, rows_per_s=16_000)     # the default model's rate
        feed = open_remote(folder)
        model = DashboardModel()
        model.apply(feed.drain())          # "now" comes with the state (the feed's would be wall time)
        assert model.iterations == 300 * 16_000 == model.latency_all.count
        measured, _warm, valid = model.throughput.window(model.now_ns, 172)
        assert valid.all() and (measured == 16_000).all()
        t = model.history.get("cpu_util_pct").times()
        assert (t[-1] - t[0]) / 1e9 >= 299
        assert model.relative_s(model.now_ns) == pytest.approx(300, abs=1)
        # and it goes on from there: the next ticks add to that state, nothing twice
        _run_for(server, session, 2, rows_per_s=16_000)
        wait_for(lambda: model.apply(feed.drain()) or model.iterations == 302 * 16_000, what="two more seconds")
        feed.close()
    finally:
        server.close()


def test_the_attach_state_is_bounded_however_long_the_session():
    session = _ClockedSession()
    session.t0 = session.t_ns
    server = SessionServer(session, Path("/nonexistent"), log=lambda line: None)
    sizes = []
    for _minutes in range(3):
        _run_for(server, session, 600, rows_per_s=1000)      # 10 minutes more each time
        sizes.append(len(srv.encode_state(server.model.state())))
    assert sizes[2] <= sizes[1] * 1.02, "a 30-minute session sends what a 20-minute one does (a few digits more)"
    assert sizes[2] < 4_000_000
    assert len(server.model.history.get("cpu_util_pct")) == server.model.history.capacity


def test_state_frames_round_trip_and_refuse_odd_arrays():
    session = _ClockedSession()
    session.t0 = session.t_ns
    server = SessionServer(session, Path("/nonexistent"), log=lambda line: None)
    _run_for(server, session, 20)
    data = srv.encode_state(server.model.state())
    ftype, length = srv.HEADER.unpack_from(data)
    assert ftype == srv.STATE_FRAME and length == len(data) - srv.HEADER.size
    back = DashboardModel()
    back.load_state(srv.decode_state(data[srv.HEADER.size:]))
    assert back.latency_stats() == server.model.latency_stats()
    assert back.samples_seen == server.model.samples_seen == 200
    with pytest.raises(ValueError):
        srv.decode_state(data[srv.HEADER.size:-100])          # shorter than its arrays
    head = json.dumps({"fields": {}, "arrays": [["x", "|O", [3]]]}).encode()
    with pytest.raises(ValueError, match="unexpected array type"):
        srv.decode_state(srv.STATE_HEADER.pack(len(head)) + head + b"\0" * 24)


def test_latency_goes_out_as_digest_frames_not_rows():
    from edgemon.view.latency_digest import digest_batch

    session = ScriptedSession()
    session.push(rows=1234)
    batch = session.drain().latency[0]
    data = srv.encode_digest_frame(digest_batch(batch))
    ftype, length = srv.HEADER.unpack_from(data)
    assert ftype == srv.DIGEST_FRAME and length == len(data) - srv.HEADER.size
    assert length < 20 * len(batch) / 4          # a quarter of the rows' bytes at most
    back = srv.decode_digest_frame(data[srv.HEADER.size:])
    assert back.rows == len(batch) and back.items == int(batch.items.sum()) and not back.warmup
    with pytest.raises(ValueError, match="on the control socket"):
        srv.decode_digest_frame(data[srv.HEADER.size:-4])


def test_long_folder_paths_still_get_a_socket(tmp_path):
    folder = tmp_path / ("x" * 60) / ("y" * 60)
    folder.mkdir(parents=True)
    (folder / "session.json").write_text(json.dumps({"state": "running"}))
    assert len(str(folder / "control.sock")) > 108
    server = SessionServer(ScriptedSession(), folder, log=lambda line: None).start()
    try:
        feed = open_remote(folder)
        assert feed.drain().reset
        feed.close()
    finally:
        server.close()


def test_terminal_gone_follows_the_tty():
    import pty

    master, slave = pty.openpty()
    try:
        assert not terminal_gone(slave)
        os.close(master)                      # what an SSH drop does to the session's tty
        master = -1
        assert terminal_gone(slave)
    finally:
        os.close(slave)
        if master >= 0:
            os.close(master)
    r, w = os.pipe()
    try:
        assert terminal_gone(r)
    finally:
        os.close(r)
        os.close(w)


def test_run_config_survives_the_trip_to_the_session_process(tmp_path):
    from edgemon.session.config import RunConfig
    from edgemon.workload.spec import WorkloadSpec
    from edgemon.daemon.process import config_from_dict, config_to_dict

    config = RunConfig(workload=WorkloadSpec(model="matmul", batch=4, options={"size": "64"}),
                       duration_s=90.0, record_dir=tmp_path / "rec", sample_hz=5.0, headless=True)
    config.hang_timeout_s = 12.0
    config.restart_on_hang = True
    data = json.loads(json.dumps(config_to_dict(config, ["run", "--detach"])))
    back = config_from_dict(data)
    assert back.workload == config.workload
    assert back.record_dir == (tmp_path / "rec").absolute()
    assert (back.duration_s, back.sample_hz, back.headless) == (90.0, 5.0, True)
    assert (back.hang_timeout_s, back.restart_on_hang) == (12.0, True)
    assert data["argv"] == ["run", "--detach"]


def test_frames_that_arrive_with_the_greeting_are_not_lost(served, monkeypatch):
    """The first read of an attach may take more than the greeting (reads are buffered): the
    feed's reader must go on from there, not from a fresh buffer."""
    import numpy as np

    from edgemon.datatypes import LatencyBatch
    from edgemon.view.latency_digest import digest_batch

    folder, _session, _server, _log = served
    ours, theirs = socket.socketpair()
    batch = LatencyBatch(np.arange(1, 101, dtype=np.int64), np.full(100, 5, dtype=np.int64),
                         np.ones(100, dtype=np.int32))
    update = {"t": "update", "samples": [[1, {"cpu_util_pct": 5.0}]], "events": []}
    theirs.sendall(srv.encode_json({"t": "hello", "pid": os.getpid(), "protocol": srv.PROTOCOL_VERSION})
                   + srv.encode_json({"t": "meta", "meta": {"host": "test"}}) + srv.encode_json(update)
                   + srv.encode_digest_frame(digest_batch(batch))
                   + srv.encode_json({**update, "samples": [[2, {"cpu_util_pct": 7.0}]]})
                   + srv.encode_json({"t": "end", "state": "ended", "message": "done"}))
    monkeypatch.setattr(srv, "connect_unix", lambda _folder, _timeout=5.0: ours)
    feed = open_remote(folder)
    try:
        wait_for(lambda: feed.ended, what="the end message, read after the greeting")
        got = feed.drain()
        assert [s.t_ns for s in got.samples] == [1, 2]
        assert [g.rows for g in got.digests] == [100] and got.latency == []
        assert feed.status().state == "ended"
    finally:
        feed.close()
        theirs.close()


def test_a_session_of_another_protocol_is_refused_in_one_line(served, monkeypatch):
    """An edgemon upgraded while a 3-hour session runs must not misread what that session sends."""
    folder, _session, _server, _log = served
    ours, theirs = socket.socketpair()
    theirs.sendall(srv.encode_json({"t": "hello", "pid": 4242, "protocol": srv.PROTOCOL_VERSION - 1}))
    monkeypatch.setattr(srv, "connect_unix", lambda _folder, _timeout=5.0: ours)
    try:
        with pytest.raises(UserError) as err:
            open_remote(folder)
        message = str(err.value)
        assert "\n" not in message and f"protocol {srv.PROTOCOL_VERSION - 1}" in message
        assert "pid 4242" in message and str(folder / "session.log") in message
    finally:
        theirs.close()
