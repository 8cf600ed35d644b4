"""The session's throttling feed: items wait in an inbox and reach the classifier in bursts, in
order, with the same episodes as feeding them one at a time (edgemon/session/throttle_feed.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from analysis_helpers import back_to_back, build_session
from throttle_helpers import causal_items, online_changes

from edgemon.analysis.throttle_online import ThrottleClassifier
from edgemon.datatypes import Event, EventKind, LatencyBatch, Sample
from edgemon.session.throttle_feed import ThrottleFeed

from test_analysis_throttling import CEIL, TRIPS
from test_throttle_online import SCENARIOS


@pytest.mark.parametrize("burst", [1, 5, 37])
@pytest.mark.parametrize("name", ["thermal 60-90 s", "drop right after a power-mode change", "short dips dropped, gaps merged",
                                  "memory controller: demand scaling is no episode, held down while saturated is"])
def test_bursts_find_the_episodes_one_at_a_time_finds(tmp_path, name, burst):
    spec = dict(SCENARIOS[name])
    spec.setdefault("latency", back_to_back(0, 100, 10.0))
    folder = build_session(tmp_path / "s", **spec)
    expected, data = online_changes(folder)
    assert expected, "the scenario has no episode: nothing would be compared"
    items, _ = causal_items(folder)
    got = []
    feed = ThrottleFeed(ThrottleClassifier(data.meta, sample_dt_s=data.sample_dt_s, origin_ns=data.start_ns),
                        publish=got.append, failed=pytest.fail, every_s=3600)
    for k, item in enumerate(items):
        feed.add(item)
        if k % burst == burst - 1:
            feed.poll(force=True)
    feed.finish()
    assert got == expected


def test_poll_hands_over_only_when_due_and_keeps_the_order():
    seen = []

    class Recorder:  # stands in for the classifier: notes what it is given, in order
        def add_sample(self, t, values):
            seen.append(("sample", t))
            return []

        def add_latency(self, t_end, dur):
            seen.append(("latency", int(t_end[0])))
            return []

        def add_event(self, t, kind, details):
            seen.append((kind, t))
            return []

        def finish(self):
            seen.append(("finish", None))
            return []

    feed = ThrottleFeed(Recorder(), publish=pytest.fail, failed=pytest.fail, every_s=0.2)
    one = np.ones(1, dtype=np.int64)
    feed.add(Sample(1, {"x": 1.0}))
    feed.add(LatencyBatch(one * 2, one, one.astype(np.int32)))
    feed.add(Event(3, EventKind.MARK, {}))
    feed.add(Event(4, EventKind.THROTTLE_BEGIN, {}))    # its own output: never fed back
    feed.poll()
    assert seen == []                                  # not due yet
    time.sleep(0.25)
    feed.poll()
    assert seen == [("sample", 1), ("latency", 2), (EventKind.MARK, 3)]
    feed.add(Sample(5, {}))
    feed.finish()
    assert seen[3:] == [("sample", 5), ("finish", None)]


def test_a_classifier_that_raises_is_reported_once_and_then_left_alone():
    failures, published = [], []
    meta = {"clock_ceilings": CEIL, "trip_points": TRIPS}
    feed = ThrottleFeed(ThrottleClassifier(meta, sample_dt_s=0.1), publish=published.append,
                        failed=failures.append, every_s=0)
    feed.add(Sample(1, {"cpu0_freq_mhz": object()}))   # not a number: the classifier raises
    feed.poll()
    feed.add(Sample(2, {"cpu0_freq_mhz": 1000.0}))
    feed.poll()
    feed.finish()
    assert len(failures) == 1 and failures[0].startswith("live throttling detection stopped: ")
    assert feed.classifier is None and published == []
