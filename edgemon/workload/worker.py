"""Spawn a runner, decode its frames, and say exactly once how it ended.

Threads (all daemons):
* reader: decodes stdout frames as fast as they come (the runner must never block
  on a full pipe) and queues them;
* stderr: keeps the last lines (bounded) for the crash report;
* waiter: reaps the process (no zombies), waits for both pipes to drain, queues
  the one exit Event;
* dispatcher: calls the callbacks, one at a time, in frame order. A slow callback
  delays later callbacks, never the runner.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgemon.datatypes import Event, EventKind, LatencyBatch
from edgemon.errors import UserError
from edgemon.workload import death, registry

log = logging.getLogger(__name__)

STDERR_LINES = 50
MAX_PENDING = 100_000       # queued frames; beyond this latency batches are dropped (and counted)
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# runner EVENT kind -> recorded Event kind (unknown kinds pass through unchanged)
RUNNER_EVENT_KINDS = {
    "warmup_done": EventKind.WARMUP_DONE,
    "error": EventKind.ERROR,
    "phase": EventKind.PHASE,
    "epoch": EventKind.EPOCH,
    "pause": EventKind.PAUSE,    # the runner's acknowledgement: details {iterations}, all rows before it sent
    "resume": EventKind.RESUME,
}


def _ignore(*_args) -> None:
    pass


def runner_command(spec, duration_s: float | None = None) -> list[str]:
    """The argv that starts ``spec``'s runner (its script run by ``spec.python`` or ours)."""
    cmd = [spec.python or sys.executable, str(registry.runner_script(spec.runner)),
           "--model", str(spec.model), "--batch", str(spec.batch)]
    if spec.threads:
        cmd += ["--threads", str(spec.threads)]
    if spec.warmup_iters:
        cmd += ["--warmup-iters", str(spec.warmup_iters)]
    if spec.warmup_s:
        cmd += ["--warmup-seconds", repr(float(spec.warmup_s))]
    if duration_s:
        cmd += ["--duration", repr(float(duration_s))]
    if spec.iterations:
        cmd += ["--iterations", str(int(spec.iterations))]
    for key, value in spec.options.items():
        cmd += ["--opt", f"{key}={value}"]
    return cmd


def runner_env(spec, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"  # stderr lines arrive as written (Python < 3.9 buffers it)
    if spec.threads:
        for name in THREAD_ENV:
            env[name] = str(spec.threads)
    if extra:
        env.update(extra)
    return env


class Worker:
    """One runner process. Callbacks run on the worker's dispatch thread, never concurrently."""

    def __init__(
        self,
        spec,
        *,
        on_hello: Callable[[dict], Any] = _ignore,
        on_latency: Callable[[LatencyBatch], Any] = _ignore,
        on_event: Callable[[Event], Any] = _ignore,
        on_exit: Callable[[Event], Any] = _ignore,
        duration_s: float | None = None,
        env: dict[str, str] | None = None,
        root: Path | str = "/",
        on_spawn: Callable[[int], Any] | None = None,
        extra_oom_roots: tuple[Path | str, ...] = (),
    ):
        """``on_spawn(pid)`` runs right after the process starts, before its OOM counters are read
        (an emulated board puts the worker in its own memory cgroup there); ``extra_oom_roots``:
        more trees whose cgroup ``oom_kill`` counts say whether a SIGKILL was the OOM killer."""
        self.spec = spec
        self._on_hello = on_hello
        self._on_latency = on_latency
        self._on_event = on_event
        self._on_exit = on_exit
        self.duration_s = duration_s
        self._extra_env = env
        self._oom_roots = [Path(root)] + [Path(r) for r in extra_oom_roots]
        self._on_spawn = on_spawn
        self._proto = registry.protocol()

        self._proc: subprocess.Popen | None = None
        self._queue: queue.Queue = queue.Queue()
        self._send_lock = threading.Lock()
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._threads: list[threading.Thread] = []
        self._exited = threading.Event()      # process reaped
        self._delivered = threading.Event()   # exit Event handed to on_exit
        self._hello: dict | None = None
        self._bye: dict | None = None
        self._error: dict | None = None
        self._protocol_error: str | None = None
        self._sent_signal: int | None = None
        self._stop_requested = False
        self._oom_dirs: list[Path] = []
        self._oom_before: death.OomCounters | None = None
        self.exit_event: Event | None = None
        self.returncode: int | None = None
        self.stderr_lines = 0
        self.iterations = 0
        self.warmup_iterations = 0
        self.dropped_batches = 0

    # ------------------------------------------------------------ properties

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def hello(self) -> dict | None:
        return self._hello

    @property
    def bye(self) -> dict | None:
        return self._bye

    @property
    def running(self) -> bool:
        return self._proc is not None and not self._exited.is_set()

    @property
    def stderr_tail(self) -> list[str]:
        return list(self._stderr)

    @property
    def command(self) -> list[str]:
        return runner_command(self.spec, self.duration_s)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "Worker":
        if self._proc is not None:
            raise RuntimeError("worker already started")
        cmd = self.command
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=runner_env(self.spec, self._extra_env),
                start_new_session=True,  # own process group: Ctrl-C in the terminal reaches only the monitor
                close_fds=True,
            )
        except OSError as exc:
            raise UserError(f"cannot start the {self.spec.runner} runner with {cmd[0]}: {exc.strerror or exc};"
                            " check --python") from exc
        if self._on_spawn is not None:
            try:
                self._on_spawn(self._proc.pid)
            except OSError:
                pass                 # the worker runs on; only its OOM diagnosis is the poorer
        self._oom_dirs = [d for r in self._oom_roots for d in death.oom_dirs_for(self._proc.pid, r)]
        self._oom_before = death.OomCounters.read(self._oom_dirs)
        for name, target in (("reader", self._read_frames), ("stderr", self._read_stderr),
                             ("waiter", self._wait), ("dispatch", self._dispatch)):
            t = threading.Thread(target=target, name=f"edgemon-worker-{name}", daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def send(self, message: dict) -> bool:
        """Send one command to the runner; False if it can no longer be told anything."""
        proc = self._proc
        if proc is None or proc.stdin is None or self._exited.is_set():
            return False
        data = (json.dumps(message) + "\n").encode("utf-8")
        with self._send_lock:
            try:
                proc.stdin.write(data)
                proc.stdin.flush()
                return True
            except (BrokenPipeError, ValueError, OSError):  # ValueError: stdin already closed
                return False

    def pause(self) -> bool:
        return self.send({"cmd": "pause"})

    def resume(self) -> bool:
        return self.send({"cmd": "resume"})

    def set_rate(self, rate: float | None) -> bool:
        return self.send({"cmd": "set_rate", "rate": rate})

    def stop(self, timeout: float = 5.0, kill_after: float = 2.0) -> int | None:
        """Ask the runner to stop; after ``timeout`` s SIGTERM, after ``kill_after`` more SIGKILL.

        Returns the exit code (negative signal number, as subprocess has it). Safe to
        call from a callback, from several threads, and after the process ended.
        """
        proc = self._proc
        if proc is None:
            return None
        self._stop_requested = True
        if not self._exited.is_set():
            self.send({"cmd": "stop"})
            with self._send_lock:  # EOF on stdin also means stop, for a runner between reads
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        for signum, wait_s in ((None, timeout), (signal.SIGTERM, kill_after), (signal.SIGKILL, None)):
            if signum is not None and not self._exited.is_set():
                self._signal(signum)
            if self._exited.wait(wait_s):
                break
        return self.returncode

    def kill(self) -> None:
        """SIGKILL now, counted as sent by edgemon."""
        if self._proc is not None and not self._exited.is_set():
            self._signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until on_exit has been called; True if it was."""
        return self._delivered.wait(timeout)

    def _signal(self, signum: int) -> None:
        self._sent_signal = signum
        try:
            os.killpg(self._proc.pid, signum)  # the runner leads its own group: take its children too
        except (ProcessLookupError, PermissionError):
            try:
                self._proc.send_signal(signum)
            except ProcessLookupError:
                pass

    # ------------------------------------------------------------ threads

    def _read_frames(self) -> None:
        proto = self._proto
        stream = self._proc.stdout
        put = self._queue.put
        try:
            for ftype, payload in proto.FrameReader(stream):
                if ftype == proto.LATENCY:
                    if self._queue.qsize() >= MAX_PENDING:
                        self.dropped_batches += 1
                        continue
                    put(("latency", payload))
                elif ftype == proto.EVENT:
                    if payload.get("kind") == "error":
                        self._error = payload  # for the crash reason, read by the waiter after this thread ends
                    put(("event", payload))
                elif ftype == proto.HELLO:
                    self._hello = payload
                    put(("hello", payload))
                elif ftype == proto.BYE:
                    self._bye = payload
        except Exception as exc:  # corrupt stream: say so, then keep draining so the runner never blocks
            self._protocol_error = f"unreadable output from runner: {exc}"
            put(("protocol_error", self._protocol_error))
            try:
                while stream.read(65536):
                    pass
            except (OSError, ValueError):
                pass
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def _read_stderr(self) -> None:
        stream = self._proc.stderr
        try:
            for raw in stream:
                self._stderr.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self.stderr_lines += 1
        except (OSError, ValueError):
            pass
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def _wait(self) -> None:
        proc = self._proc
        rc = proc.wait()
        self.returncode = rc
        oom_after = death.OomCounters.read(self._oom_dirs)
        self._exited.set()
        # Pipes are drained when the runner's last frames and stderr lines are in; a
        # grandchild holding them open must not hold up the report forever.
        for t in self._threads[:2]:
            t.join(timeout=5.0)
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        facts = death.ExitFacts(
            returncode=rc,
            said_bye=self._bye is not None,
            bye=self._bye,
            sent_signal=self._sent_signal,
            stop_requested=self._stop_requested,
            error=self._error,
            stderr_tail=list(self._stderr),
            oom_before=self._oom_before,
            oom_after=oom_after,
        )
        kind, details = death.classify(facts)
        details["pid"] = proc.pid
        details["stderr_lines"] = self.stderr_lines
        if self._protocol_error:
            details["protocol_error"] = self._protocol_error
        if self.dropped_batches:
            details["dropped_batches"] = self.dropped_batches
        self._queue.put(("exit", Event(time.monotonic_ns(), kind, details)))

    def _dispatch(self) -> None:
        proto = self._proto
        while True:
            tag, payload = self._queue.get()
            try:
                if tag == "latency":
                    self._deliver_latency(proto, payload)
                elif tag == "event":
                    self._deliver_event(payload)
                elif tag == "hello":
                    self._on_hello(payload)
                elif tag == "protocol_error":
                    self._on_event(Event(time.monotonic_ns(), EventKind.ERROR,
                                         {"message": payload, "reason": payload, "source": "workload"}))
                elif tag == "exit":
                    self.exit_event = payload
                    self._on_exit(payload)
            except Exception:
                log.exception("worker callback for %s failed", tag)
            if tag == "exit":
                self._delivered.set()
                return

    def _deliver_latency(self, proto, payload: bytes) -> None:
        t_end, dur, items, warmup = proto.decode_latency(payload)
        n = len(t_end)
        if n == 0:
            return
        batch = LatencyBatch(
            np.frombuffer(t_end, dtype=np.int64).copy(),
            np.frombuffer(dur, dtype=np.int64).copy(),
            np.frombuffer(items, dtype=np.int32).copy(),
            warmup,
        )
        self.iterations += n
        if warmup:
            self.warmup_iterations += n
        self._on_latency(batch)

    def _deliver_event(self, payload: dict) -> None:
        details = dict(payload)
        kind = str(details.pop("kind", "unknown"))
        t_ns = details.pop("t_ns", None)
        t_ns = int(t_ns) if isinstance(t_ns, (int, float)) else time.monotonic_ns()
        kind = RUNNER_EVENT_KINDS.get(kind, kind)
        self._on_event(Event(t_ns, kind, details))
