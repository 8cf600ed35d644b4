"""Helpers for the workload/runner tests: collect a Worker's callbacks and wait on them."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

from edgemon.datatypes import Event, LatencyBatch

REPO = Path(__file__).resolve().parent.parent
RUNNERS = REPO / "runners"
PY36 = Path(os.environ.get("EDGEMON_TEST_PY36", "/root/.pyenv/versions/3.6.15/bin/python"))
WAIT_S = 30.0  # a guard against hangs, never a performance expectation


class Collector:
    """Records every callback of a Worker; ``wait_for(pred)`` blocks until ``pred()`` holds."""

    def __init__(self):
        self.cond = threading.Condition()
        self.hello: dict | None = None
        self.batches: list[LatencyBatch] = []
        self.events: list[Event] = []
        self.exits: list[Event] = []
        self.threads: set[str] = set()

    def _add(self, fn):
        with self.cond:
            self.threads.add(threading.current_thread().name)
            fn()
            self.cond.notify_all()

    def on_hello(self, hello: dict) -> None:
        self._add(lambda: setattr(self, "hello", hello))

    def on_latency(self, batch: LatencyBatch) -> None:
        self._add(lambda: self.batches.append(batch))

    def on_event(self, event: Event) -> None:
        self._add(lambda: self.events.append(event))

    def on_exit(self, event: Event) -> None:
        self._add(lambda: self.exits.append(event))

    def callbacks(self) -> dict:
        return {"on_hello": self.on_hello, "on_latency": self.on_latency, "on_event": self.on_event,
                "on_exit": self.on_exit}

    def wait_for(self, predicate, timeout: float = WAIT_S) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def rows(self) -> int:
        with self.cond:
            return sum(len(b) for b in self.batches)

    def kinds(self) -> list[str]:
        with self.cond:
            return [e.kind for e in self.events]

    def first(self, kind: str) -> Event | None:
        with self.cond:
            return next((e for e in self.events if e.kind == kind), None)

    @property
    def exit(self) -> Event:
        assert len(self.exits) == 1, f"expected exactly one exit event, got {self.exits}"
        return self.exits[0]


def run_runner(script, *argv, python=sys.executable, commands: bytes = b"", close_stdin: bool = False,
               timeout: float = 60):
    """Run a runner script to its end; returns ``(returncode, frames, stderr)``.

    Frames are ``(type, payload)`` with LATENCY payloads decoded. stdin stays open
    while it runs (EOF means "stop") unless ``close_stdin``; ``commands`` are written first.
    """
    from edgemon.workload import registry

    proto = registry.protocol()
    r, w = os.pipe()
    try:
        p = subprocess.Popen([str(python), str(script), *argv], stdin=r, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        os.close(r)
        os.write(w, commands)
        if close_stdin:
            os.close(w)
            w = None
        out, err = p.communicate(timeout=timeout)
    finally:
        if w is not None:
            os.close(w)
    frames = [(t, proto.decode_latency(f) if t == proto.LATENCY else f)
              for t, f in proto.FrameReader(io.BytesIO(out))]
    return p.returncode, frames, err.decode("utf-8", "replace")


def py36_with_numpy() -> str | None:
    """Why a Python 3.6 + numpy check cannot run here, or None if it can."""
    if not PY36.is_file():
        return f"no Python 3.6 interpreter at {PY36} (set EDGEMON_TEST_PY36)"
    probe = subprocess.run([str(PY36), "-c", "import numpy"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"{PY36} has no numpy (pip install numpy with that interpreter)"
    return None
