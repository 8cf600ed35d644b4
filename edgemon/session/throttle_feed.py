"""Live throttling detection fed in bursts: what the session publishes waits in an inbox and
reaches the classifier a few times a second, in the order it was published.

Handing every sample and every latency batch to the classifier as it was published took a
lock and a decision pass each time, on the sampler and the worker-pipe threads: 20 calls a
second, each cold after the thread's sleep, about 60 us apiece on the 2-core VM (0.12 % of a
core, a tenth of the headless monitor's CPU). The classifier decides a sample only once the
data that follows it has arrived (its delay is seconds), so deciding in bursts of half a second
finds the same episodes with the same times; only their events are published up to
``every_s`` later.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Callable

from edgemon.datatypes import Event, EventKind, LatencyBatch, Sample

if TYPE_CHECKING:
    from edgemon.analysis.throttle_online import ThrottleChange, ThrottleClassifier

EVERY_S = 0.5            # how often the inbox is handed to the classifier
_MAX_INBOX = 100_000     # a stuck drain (cannot happen while anything publishes) must not grow without end


class ThrottleFeed:
    """Collects samples, latency batches and events; :meth:`poll` hands them over when due.

    Any thread may publish and poll; the classifier sees the items under one lock, in order.
    ``publish(change)`` is called (outside the lock) for every episode begin or end;
    ``failed(message)`` once if the classifier raises, after which the feed does nothing
    (a bug there must never stop the session)."""

    def __init__(self, classifier: ThrottleClassifier, publish: Callable[[ThrottleChange], None],
                 failed: Callable[[str], None], *, every_s: float = EVERY_S):
        self.classifier: ThrottleClassifier | None = classifier
        self._publish = publish
        self._failed = failed
        self.every_ns = int(every_s * 1e9)
        self._inbox: deque[Sample | LatencyBatch | Event] = deque()
        self._lock = threading.Lock()
        self._next_ns = time.monotonic_ns() + self.every_ns

    def add(self, item: Sample | LatencyBatch | Event) -> None:
        """Queue one published item (deque.append: safe from any thread without a lock)."""
        if self.classifier is None:
            return
        if len(self._inbox) >= _MAX_INBOX:
            self.poll(force=True)
        self._inbox.append(item)

    def poll(self, *, force: bool = False) -> None:
        """Hand the inbox to the classifier if ``every_s`` has passed since the last time (or ``force``)."""
        now = time.monotonic_ns()
        if not force and now < self._next_ns:
            return
        self._next_ns = now + self.every_ns
        self._run(None)

    def finish(self) -> None:
        """The session ended: the rest of the inbox, then every open episode closes."""
        self._run(lambda c: c.finish())

    def _run(self, last: Callable[[ThrottleClassifier], list[ThrottleChange]] | None) -> None:
        changes: list[ThrottleChange] = []
        message = ""
        with self._lock:
            classifier = self.classifier
            if classifier is None:
                return
            inbox = self._inbox
            try:
                while inbox:
                    item = inbox.popleft()
                    if isinstance(item, Sample):
                        changes += classifier.add_sample(item.t_ns, item.values)
                    elif isinstance(item, LatencyBatch):
                        changes += classifier.add_latency(item.t_end_ns, item.duration_ns)
                    elif item.kind not in (EventKind.THROTTLE_BEGIN, EventKind.THROTTLE_END):
                        changes += classifier.add_event(item.t_ns, item.kind, item.details)
                if last is not None:
                    changes += last(classifier)
            except Exception as exc:  # noqa: BLE001 - a classifier bug must never stop the session
                self.classifier = None
                inbox.clear()
                message = f"live throttling detection stopped: {type(exc).__name__}: {exc}"
        if message:
            self._failed(message)
        for change in changes:
            self._publish(change)
