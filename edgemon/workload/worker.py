"""Spawn a runner, decode its frames, and say exactly once how it ended.

Threads (all daemons):
* dispatch: reads stdout frames, decodes them and calls the callbacks, one at a time,
  in frame order, then the one exit Event once the waiter has it;
* stderr: keeps the last lines (bounded) for the crash report;
* waiter: reaps the process (no zombies), waits for both pipes to drain, builds the
  exit Event.

The runner must never block on a full pipe. The callbacks are cheap appends (the
recorder, the view queue), and the stdout pipe is enlarged to ``PIPE_BYTES`` (seconds
of frames at the highest rates), so a callback or a thread that is late for a while
delays nothing but itself. The monitor's own CPU is what it must keep small, and a
thread wake-up is a good part of it: frames are read and delivered on one thread
(not handed to a second one), and the pipe is read every ``FRAME_PACE_S``, taking the
two or three 100 ms frames written meanwhile at once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
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
PIPE_BYTES = 1 << 20        # stdout pipe: ~3 s of frames at 16,000 iterations/s (64 KiB would be 0.2 s)
FRAME_PACE_S = 0.25         # read the pipe at most this often: the frames written meanwhile come in one read
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)   # Python < 3.10 lacks the names
_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
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


def _enlarge_pipe(fd: int) -> int:
    """Make the pipe ``PIPE_BYTES`` where the system allows; returns its size in bytes (0: unknown)."""
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:   # above /proc/sys/fs/pipe-max-size: the default pipe still works, unpaced
        pass
    try:
        return fcntl.fcntl(fd, _F_GETPIPE_SZ)
    except OSError:
        return 0


def decode_latency(proto, payload: bytes) -> LatencyBatch | None:
    """A LATENCY frame as a batch of read-only views of its bytes (no copies); None when empty."""
    n, flags = proto.LAT_HEADER.unpack_from(payload, 0)
    if n == 0:
        return None
    off = proto.LAT_HEADER.size
    if len(payload) != off + 20 * n:
        raise ValueError(f"latency frame of {len(payload)} bytes does not hold {n} rows")
    return LatencyBatch(
        np.frombuffer(payload, dtype="<i8", count=n, offset=off),
        np.frombuffer(payload, dtype="<i8", count=n, offset=off + 8 * n),
        np.frombuffer(payload, dtype="<i4", count=n, offset=off + 16 * n),
        bool(flags & proto.FLAG_WARMUP),
    )


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
        self._deliver_lock = threading.Lock()  # callbacks never run concurrently
        self._frames_done = threading.Event()  # stdout reached EOF (or is being discarded)
        self._exit_ready = threading.Event()   # the waiter built exit_event
        self._pending_exit: Event | None = None
        self._pace_s = 0.0                     # FRAME_PACE_S once the pipe is big enough for it
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
        if self._proc.stdout is not None and _enlarge_pipe(self._proc.stdout.fileno()) >= PIPE_BYTES // 4:
            self._pace_s = FRAME_PACE_S
        if self._on_spawn is not None:
            try:
                self._on_spawn(self._proc.pid)
            except OSError:
                pass                 # the worker runs on; only its OOM diagnosis is the poorer
        self._oom_dirs = [d for r in self._oom_roots for d in death.oom_dirs_for(self._proc.pid, r)]
        self._oom_before = death.OomCounters.read(self._oom_dirs)
        for name, target in (("dispatch", self._read_frames), ("stderr", self._read_stderr),
                             ("waiter", self._wait)):
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
        """Read, decode and deliver every frame; at EOF deliver the exit Event (see the waiter)."""
        proto = self._proto
        stream = self._proc.stdout
        try:
            for ftype, payload in proto.FrameReader(stream, pace_s=self._pace_s):
                if ftype == proto.LATENCY:
                    batch = decode_latency(proto, payload)   # a malformed frame is a corrupt stream
                    if batch is not None:
                        self._deliver(self._deliver_latency, batch)
                elif ftype == proto.EVENT:
                    if payload.get("kind") == "error":
                        self._error = payload  # for the crash reason, read by the waiter after this thread ends
                    self._deliver(self._deliver_event, payload)
                elif ftype == proto.HELLO:
                    self._hello = payload
                    self._deliver(self._on_hello, payload)
                elif ftype == proto.BYE:
                    self._bye = payload
        except Exception as exc:  # corrupt stream: say so, then keep draining so the runner never blocks
            self._protocol_error = f"unreadable output from runner: {exc}"
            message = self._protocol_error
            self._deliver(self._on_event, Event(time.monotonic_ns(), EventKind.ERROR,
                                                {"message": message, "reason": message, "source": "workload"}))
            try:
                while stream.read(65536):
                    pass
            except (OSError, ValueError):
                pass
        finally:
            self._frames_done.set()
            try:
                stream.close()
            except OSError:
                pass
        self._exit_ready.wait()
        self._deliver_exit()

    def _deliver(self, callback: Callable, *args) -> None:
        with self._deliver_lock:
            if self._delivered.is_set():
                return            # frames after the exit (a grandchild kept the pipe open) are not news
            try:
                callback(*args)
            except Exception:
                log.exception("worker callback %s failed", getattr(callback, "__name__", callback))

    def _deliver_exit(self) -> None:
        with self._deliver_lock:
            if self._delivered.is_set() or self._pending_exit is None:
                return
            self.exit_event = self._pending_exit
            try:
                self._on_exit(self._pending_exit)
            except Exception:
                log.exception("worker callback for exit failed")
            self._delivered.set()

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
        self._frames_done.wait(timeout=5.0)
        self._threads[1].join(timeout=5.0)     # stderr
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
        self._pending_exit = Event(time.monotonic_ns(), kind, details)
        self._exit_ready.set()
        if not self._frames_done.is_set():   # stdout still open (a grandchild holds it): report now
            self._deliver_exit()

    def _deliver_latency(self, batch: LatencyBatch) -> None:
        n = len(batch)
        self.iterations += n
        if batch.warmup:
            self.warmup_iterations += n
        self._on_latency(batch)

    def _deliver_event(self, payload: dict) -> None:
        details = dict(payload)
        kind = str(details.pop("kind", "unknown"))
        t_ns = details.pop("t_ns", None)
        t_ns = int(t_ns) if isinstance(t_ns, (int, float)) else time.monotonic_ns()
        kind = RUNNER_EVENT_KINDS.get(kind, kind)
        self._on_event(Event(t_ns, kind, details))
