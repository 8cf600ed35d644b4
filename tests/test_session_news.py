"""LiveSession.wait_news: the headless loop sleeps until an event or the end, not per sample."""

from __future__ import annotations

import threading
import time

from edgemon.datatypes import Event, EventKind, Sample
from edgemon.session.config import RunConfig
from edgemon.session.live import LiveSession
from edgemon.workload.spec import WorkloadSpec


def _session() -> LiveSession:
    return LiveSession(RunConfig(workload=WorkloadSpec(), record=False))   # never started: only the seam


def test_samples_do_not_wake_it_an_event_does():
    s = _session()
    for k in range(20):
        s._publish_sample(Sample(k, {"cpu_util_pct": 1.0}))
    assert s.wait_news(0.05) is False
    timer = threading.Timer(0.1, lambda: s._publish_event(Event(time.monotonic_ns(), EventKind.MARK, {})))
    timer.start()
    try:
        assert s.wait_news(60.0) is True          # woken by the event, long before the timeout
    finally:
        timer.cancel()
    update = s.drain()
    assert len(update.samples) == 20 and [e.kind for e in update.events] == [EventKind.MARK]


def test_news_seen_once_and_an_event_before_the_wait_is_not_missed():
    s = _session()
    s._publish_event(Event(1, EventKind.MARK, {}))
    assert s.wait_news(0) is True       # published before anyone waited: still news
    assert s.wait_news(0.05) is False   # and only once


def test_the_end_wakes_it():
    s = _session()
    assert s.wait_news(0) is False
    timer = threading.Timer(0.1, s.finish, args=("plan done",))   # ends without publishing an event
    timer.start()
    try:
        assert s.wait_news(60.0) is True and s.wait(0) is True
    finally:
        timer.cancel()
