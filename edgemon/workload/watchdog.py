"""Notice a worker that stopped talking: no frame for ``timeout_s`` seconds while not paused.

A runner flushes a latency frame about every 100 ms while it iterates, so silence
for tens of seconds means it is stuck (a deadlocked driver, a GPU hang, an
endless kernel). The watchdog only watches: it calls ``on_hung(silent_s)`` once
per silence and the session decides what to do (record an event, restart the
worker). It is armed by the worker's hello, so a long model load (a TensorRT
engine build takes minutes) is not mistaken for a hang.

One daemon thread that wakes every ``check_every_s``; ``beat()`` is a single
attribute store, cheap enough for every frame.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

DEFAULT_HANG_TIMEOUT_S = 30.0


class Watchdog:
    def __init__(
        self,
        timeout_s: float,
        on_hung: Callable[[float], None],
        *,
        is_paused: Callable[[], bool] = lambda: False,
        check_every_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.timeout_s = float(timeout_s)
        self.on_hung = on_hung
        self.is_paused = is_paused
        self.check_every_s = check_every_s or min(1.0, self.timeout_s / 4)
        self.clock = clock
        self.hangs = 0                   # how many silences were reported
        self._last = clock()
        self._armed = False
        self._reported = False           # this silence was reported already
        self._was_paused = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self) -> None:
        """Start watching (the worker said hello); the silence counts from now."""
        self._last = self.clock()
        self._reported = False
        self._armed = True

    def disarm(self) -> None:
        """Stop watching (worker gone or being replaced) until the next ``arm``."""
        self._armed = False

    def beat(self) -> bool:
        """A frame arrived. True when it ends a silence that was reported (the worker came back)."""
        self._last = self.clock()
        was, self._reported = self._reported, False
        return was

    def silent_s(self) -> float:
        return self.clock() - self._last

    def check(self) -> float | None:
        """One look; returns the silence in seconds when it is newly reported, else None."""
        if not self._armed:
            return None
        paused = bool(self.is_paused())
        if paused or self._was_paused:
            # Time spent paused is not silence: count again from the resume.
            self._was_paused = paused
            self._last = self.clock()
            return None
        silent = self.silent_s()
        if silent < self.timeout_s or self._reported:
            return None
        self._reported = True
        self.hangs += 1
        return silent

    def start(self) -> "Watchdog":
        self._thread = threading.Thread(target=self._run, name="edgemon-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.wait(self.check_every_s):
            silent = self.check()
            if silent is not None:
                try:
                    self.on_hung(silent)
                except Exception:  # noqa: BLE001 - a failing handler must not end the watching
                    pass
