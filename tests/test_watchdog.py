"""The hang watchdog: the timing logic on a fake clock, then real stalled workers in a LiveSession."""

from __future__ import annotations

import pytest
from detach_helpers import wait_for

from edgemon.datatypes import EventKind
from edgemon.session.config import RunConfig
from edgemon.workload.spec import WorkloadSpec
from edgemon.session.live import LiveSession
from edgemon.workload.watchdog import Watchdog


class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _dog(timeout=10.0):
    clock = _Clock()
    paused = []
    hung = []
    dog = Watchdog(timeout, hung.append, is_paused=lambda: bool(paused), clock=clock)
    return dog, clock, paused


def test_reports_a_silence_once_and_again_after_frames_resume():
    dog, clock, _ = _dog()
    assert dog.check() is None, "not armed before the worker's hello"
    clock.t += 60
    assert dog.check() is None
    dog.arm()
    clock.t += 9
    assert dog.check() is None
    clock.t += 2
    assert dog.check() == pytest.approx(11)
    clock.t += 30
    assert dog.check() is None, "one report per silence"
    dog.beat()
    clock.t += 10.5
    assert dog.check() == pytest.approx(10.5)
    assert dog.hangs == 2
    dog.disarm()
    clock.t += 100
    assert dog.check() is None


def test_time_paused_is_not_silence():
    dog, clock, paused = _dog()
    dog.arm()
    clock.t += 8
    paused.append(True)
    assert dog.check() is None
    clock.t += 500
    assert dog.check() is None
    paused.clear()
    assert dog.check() is None          # resumed: silence counts from here
    clock.t += 9
    assert dog.check() is None
    clock.t += 2
    assert dog.check() == pytest.approx(11)


def test_rejects_a_non_positive_timeout():
    with pytest.raises(ValueError):
        Watchdog(0, lambda s: None)


def _session(tmp_path, *, restart: bool, hang_after: int = 300) -> LiveSession:
    config = RunConfig(
        workload=WorkloadSpec(options={"hang_after": str(hang_after)}),
        record_dir=tmp_path / "rec",
        sample_hz=2.0,
    )
    config.hang_timeout_s = 1.0
    config.restart_on_hang = restart
    return LiveSession(config)


def _kinds(events):
    return [e.kind for e in events]


@pytest.mark.timeout(120)
def test_a_stalled_worker_is_recorded_as_hung_and_the_session_goes_on(tmp_path):
    session = _session(tmp_path, restart=False)
    events = []
    session.start()
    try:
        wait_for(lambda: events.extend(session.drain().events) or EventKind.WORKER_HUNG in _kinds(events),
                 what="worker_hung")
        hung = next(e for e in events if e.kind == EventKind.WORKER_HUNG)
        assert hung.details["silent_s"] >= 1.0
        assert hung.details["action"] == "none"
        assert hung.details["pid"] == session.worker.pid
        assert session.status().state == "running"
        assert "sent nothing" in session.status().message
        assert session.worker_restarts == 0
    finally:
        session.worker.kill()     # the hook ignores stop; do not wait for the escalation
        session.close()


@pytest.mark.timeout(120)
def test_restart_on_hang_replaces_the_worker(tmp_path):
    session = _session(tmp_path, restart=True)
    events = []
    session.start()
    first_pid = session.worker.pid
    try:
        wait_for(lambda: events.extend(session.drain().events) or "worker_restarted" in _kinds(events),
                 what="worker_restarted")
        restarted = next(e for e in events if e.kind == "worker_restarted")
        assert restarted.details["old_pid"] == first_pid
        assert restarted.details["new_pid"] == session.worker.pid != first_pid
        replaced = [e for e in events if e.details.get("replaced")]
        assert replaced and replaced[0].details["pid"] == first_pid
        # the new worker says hello and runs
        wait_for(lambda: events.extend(session.drain().events) or
                 any(e.kind == EventKind.WORKER_HELLO and e.details.get("pid") == session.worker.pid
                     for e in events), what="the new worker's hello")
        assert not session.ended and session.status().state == "running"
    finally:
        if session.worker is not None:
            session.worker.kill()
        session.close()
    from edgemon.recording.reader import open_recording

    kinds = open_recording(tmp_path / "rec").events().column("kind").to_pylist()
    assert EventKind.WORKER_HUNG in kinds and "worker_restarted" in kinds
    assert kinds.count(EventKind.WORKER_HELLO) >= 2
