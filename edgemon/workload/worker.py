"""Spawn a worker (a runner, or any command), decode its frames, and say exactly once how it ended.

Frames travel on a pipe of their own: the worker finds its write end in ``EDGEMON_FRAMES_FD``
(``runners/_protocol.py``), so whatever it prints on stdout or stderr cannot corrupt them. A
runner reads commands (pause, resume, stop) on stdin; a command (``edgemon run -- CMD``) gets
/dev/null there and is paused with SIGSTOP/SIGCONT of its process group instead. A command
that imports ``edgemon_probe`` (on its ``PYTHONPATH``) sends the same frames as a runner.

Threads (all daemons):
* dispatch: reads the frame pipe, decodes the frames and calls the callbacks, in frame
  order, then the one exit Event once the waiter has it;
* stdout, stderr: keep what the worker prints in the session folder (bounded,
  :mod:`edgemon.workload.output`), the last lines of stderr for the crash report, and turn
  lines into latency rows with ``--latency-regex`` (delivered like frames);
* waiter: reaps the process (no zombies), waits for the pipes to drain, builds the
  exit Event.
Callbacks never run concurrently (one lock), whichever thread delivers.

The worker must never block on a full pipe. The callbacks are cheap appends (the
recorder, the view queue), and the frame pipe is enlarged to ``PIPE_BYTES`` (seconds
of frames at the highest rates), so a callback or a thread that is late for a while
delays nothing but itself. The monitor's own CPU is what it must keep small, and a
thread wake-up is a good part of it: frames are read and delivered on one thread
(not handed to a second one), and the pipe is read every ``FRAME_PACE_S``, taking the
five 100 ms frames written meanwhile at once, as one batch; sooner for a writer fast enough to fill
the pipe in that time (``FrameReader``: a loop of millions of rows a second must not wait on us).
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
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgemon.datatypes import Event, EventKind, LatencyBatch, merged_batches
from edgemon.errors import UserError
from edgemon.workload import death, registry
from edgemon.workload.output import TextTail

log = logging.getLogger(__name__)

STDERR_LINES = 50
PIPE_BYTES = 1 << 20        # frame pipe: ~3 s of frames at 16,000 iterations/s (64 KiB would be 0.2 s)
FRAME_PACE_S = 0.5          # read the pipe at most this often: the frames written meanwhile come in one read
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)   # Python < 3.10 lacks the names
_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_STOP_GRACE_S = 30.0  # how long a stop waits for the iteration in progress (--stop-grace)
KILL_AFTER_S = 2.0           # after SIGTERM, before SIGKILL (a runner that was told to stop)
_READ_CHUNK = 65536
_MAX_LINE = 1 << 20          # a "line" longer than this is cut (a progress bar without newlines)

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
    """The argv that starts ``spec``'s worker: the command as given, or the runner's script run
    by ``spec.python`` or ours."""
    if spec.is_command:
        return list(spec.command)
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
    env["PYTHONUNBUFFERED"] = "1"  # lines arrive as written (Python < 3.9 buffers stderr on a pipe)
    if spec.threads:
        for name in THREAD_ENV:
            env[name] = str(spec.threads)
    if spec.is_command:            # `import edgemon_probe` works without installing anything
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([str(registry.probe_dir()), *paths])
    env.pop(registry.protocol().FRAMES_FD_ENV, None)
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
    """A LATENCY frame as a batch of read-only views of its bytes (no copies); None when empty.

    Times sent as float64 seconds (``FLAG_SECONDS``: edgemon_probe on Python 3.6) are converted
    to nanoseconds, which copies those two columns."""
    n, flags = proto.LAT_HEADER.unpack_from(payload, 0)
    if n == 0:
        return None
    off = proto.LAT_HEADER.size
    if len(payload) != off + 20 * n:
        raise ValueError(f"latency frame of {len(payload)} bytes does not hold {n} rows")
    if flags & proto.FLAG_SECONDS:
        t_end = np.rint(np.frombuffer(payload, dtype="<f8", count=n, offset=off) * 1e9).astype(np.int64)
        dur = np.rint(np.frombuffer(payload, dtype="<f8", count=n, offset=off + 8 * n) * 1e9).astype(np.int64)
    else:
        t_end = np.frombuffer(payload, dtype="<i8", count=n, offset=off)
        dur = np.frombuffer(payload, dtype="<i8", count=n, offset=off + 8 * n)
    return LatencyBatch(t_end, dur, np.frombuffer(payload, dtype="<i4", count=n, offset=off + 16 * n),
                        bool(flags & proto.FLAG_WARMUP))


def _split_warmup(batch: LatencyBatch, n_warm: int) -> list[LatencyBatch]:
    """The first ``n_warm`` rows of ``batch`` flagged warm-up, the rest as they were."""
    if n_warm <= 0:
        return [batch]
    if n_warm >= len(batch):
        return [LatencyBatch(batch.t_end_ns, batch.duration_ns, batch.items, True)]
    cut = slice(0, n_warm), slice(n_warm, None)
    return [LatencyBatch(batch.t_end_ns[c], batch.duration_ns[c], batch.items[c], w or batch.warmup)
            for c, w in zip(cut, (True, False))]


class WarmupGate:
    """``--warmup`` for a command (a runner applies it itself): the first ``iterations`` rows and
    the rows of the first ``seconds`` after the first one are warm-up, whichever ends later."""

    def __init__(self, iterations: int = 0, seconds: float = 0.0):
        self.iterations = int(iterations or 0)
        self.seconds = float(seconds or 0.0)
        self.seen = 0
        self.first_start_ns: int | None = None
        self.done = not (self.iterations > 0 or self.seconds > 0)

    def apply(self, batch: LatencyBatch) -> tuple[list[LatencyBatch], dict | None]:
        """``(batches, warmup_done details or None)``."""
        if self.done or len(batch) == 0:
            return [batch], None
        if self.first_start_ns is None:
            self.first_start_ns = int(batch.t_end_ns[0] - batch.duration_ns[0])
        by_count = max(0, self.iterations - self.seen)
        end_ns = self.first_start_ns + int(self.seconds * 1e9)
        by_time = int(np.searchsorted(batch.t_end_ns, end_ns, side="left")) if self.seconds > 0 else 0
        n_warm = min(len(batch), max(by_count, by_time))
        self.seen += len(batch)
        if n_warm == len(batch):
            return _split_warmup(batch, n_warm), None
        self.done = True
        t_ns = int(batch.t_end_ns[n_warm - 1]) if n_warm else int(batch.t_end_ns[0])
        return _split_warmup(batch, n_warm), {
            "t_ns": t_ns, "iterations": self.seen - len(batch) + n_warm,
            "seconds": (t_ns - self.first_start_ns) / 1e9, "source": "--warmup"}


class Worker:
    """One worker process. Callbacks run on the worker's threads (mostly dispatch), never concurrently."""

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
        output=None,
        stop_grace_s: float = DEFAULT_STOP_GRACE_S,
        label: str = "worker",
        on_spawn: Callable[[int], Any] | None = None,
        extra_oom_roots: tuple[Path | str, ...] = (),
    ):
        """``output``: a :class:`edgemon.workload.output.WorkerOutput` that keeps what the worker
        prints (None: only the last lines of stderr, in memory). ``stop_grace_s``: how long
        :meth:`stop` waits for the iteration in progress (a runner) or after SIGTERM (a command).
        ``on_spawn(pid)`` runs right after the process starts, before its OOM counters are read
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
        self._output = output
        self.stop_grace_s = float(stop_grace_s)
        self._label = label
        self._pattern = None
        if getattr(spec, "latency_regex", None):
            from edgemon.workload.latency_regex import LatencyPattern

            self._pattern = LatencyPattern.parse(spec.latency_regex)
        self.line_timer: Any = None          # LineTimer with --latency-regex
        self._warmup_gate = WarmupGate(spec.warmup_iters, spec.warmup_s) if spec.is_command else None
        self._frames: Any = None             # the frame pipe's read end
        self.started_ns: int | None = None
        self.paused = False

        self._proc: subprocess.Popen | None = None
        self._deliver_lock = threading.RLock()  # callbacks never run concurrently (re-entrant: a callback may pause)
        self._frames_done = threading.Event()  # the frame pipe reached EOF (or is being discarded)
        self._exit_ready = threading.Event()   # the waiter built the exit Event
        self._pending_exit: Event | None = None
        self._pace_s = 0.0                     # FRAME_PACE_S once the pipe is big enough for it
        self._read_chunk = 1 << 18             # bytes per read: half the pipe once it is enlarged
        self._send_lock = threading.Lock()
        self._stderr = TextTail(STDERR_LINES)
        self._threads: list[threading.Thread] = []
        self._exited = threading.Event()      # process reaped
        self._delivered = threading.Event()   # exit Event handed to on_exit
        self._hello: dict | None = None
        self._bye: dict | None = None
        self._error: dict | None = None
        self._protocol_error: str | None = None
        self._sent_signal: int | None = None
        self._stop_requested = False
        self._grace_used: float | None = None   # what the stop that ended the worker waited
        self._oom_dirs: list[Path] = []
        self._oom_before: death.OomCounters | None = None
        self.exit_event: Event | None = None
        self.returncode: int | None = None
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
        return self._stderr.lines()

    @property
    def stderr_lines(self) -> int:
        return self._stderr.line_count

    @property
    def command(self) -> list[str]:
        return runner_command(self.spec, self.duration_s)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "Worker":
        if self._proc is not None:
            raise RuntimeError("worker already started")
        cmd = self.command
        env = runner_env(self.spec, self._extra_env)
        frames_r, frames_w = os.pipe()      # both ends non-inheritable; pass_fds hands on the write end
        env[self._proto.FRAMES_FD_ENV] = str(frames_w)
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL if self.spec.is_command else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,  # own process group: Ctrl-C in the terminal reaches only the monitor
                close_fds=True,
                pass_fds=(frames_w,),
            )
        except OSError as exc:
            os.close(frames_r)
            if self.spec.is_command:
                raise UserError(f"cannot start {cmd[0]!r}: {exc.strerror or exc}") from exc
            raise UserError(f"cannot start the {self.spec.runner} runner with {cmd[0]}: {exc.strerror or exc};"
                            " check --python") from exc
        finally:
            os.close(frames_w)              # the worker holds the only write end: its exit is our EOF
        self.started_ns = time.monotonic_ns()
        pipe_bytes = _enlarge_pipe(frames_r)
        if pipe_bytes >= PIPE_BYTES // 4:
            # A pause lets at most half a read pile up (FrameReader): a quarter of the pipe.
            self._pace_s, self._read_chunk = FRAME_PACE_S, pipe_bytes // 2
        self._frames = os.fdopen(frames_r, "rb")
        if self._output is not None:
            self._output.header(f"{self._label} started (pid {self._proc.pid}): {' '.join(cmd)}")
        if self._pattern is not None:
            from edgemon.workload.latency_regex import LineTimer

            self.line_timer = LineTimer(self._pattern, self._queue_rows)
        if self._on_spawn is not None:
            try:
                self._on_spawn(self._proc.pid)
            except OSError:
                pass                 # the worker runs on; only its OOM diagnosis is the poorer
        self._oom_dirs = [d for r in self._oom_roots for d in death.oom_dirs_for(self._proc.pid, r)]
        self._oom_before = death.OomCounters.read(self._oom_dirs)
        out = self._output
        threads: list[tuple[str, Callable[..., None], tuple]] = [
            ("dispatch", self._read_frames, ()),
            ("stdout", self._read_output, (self._proc.stdout, out.stdout if out else None, None)),
            ("stderr", self._read_output, (self._proc.stderr, out.stderr if out else None, self._stderr)),
            ("waiter", self._wait, ()),         # joins stdout and stderr: keep them second and third
        ]
        for name, target, args in threads:
            t = threading.Thread(target=target, args=args, name=f"edgemon-worker-{name}", daemon=True)
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
        if self.spec.is_command:
            return self._stop_signal(signal.SIGSTOP, "pause")
        return self.send({"cmd": "pause"})

    def resume(self) -> bool:
        if self.spec.is_command:
            return self._stop_signal(signal.SIGCONT, "resume")
        return self.send({"cmd": "resume"})

    def _stop_signal(self, signum: int, kind: str) -> bool:
        """Pause or resume a command's whole process group; the event says how (a command does
        not acknowledge, and an iteration in flight at SIGSTOP includes the pause)."""
        if self._proc is None or self._exited.is_set():
            return False
        try:
            os.killpg(self._proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        self.paused = signum == signal.SIGSTOP
        self._deliver(self._deliver_event, {"kind": kind, "t_ns": time.monotonic_ns(),
                                            "signal": death.signal_name(signum), "iterations": self.iterations})
        return True

    def set_rate(self, rate: float | None) -> bool:
        return self.send({"cmd": "set_rate", "rate": rate})

    def stop(self, timeout: float | None = None, kill_after: float = KILL_AFTER_S) -> int | None:
        """Stop the worker; returns the exit code (negative signal number, as subprocess has it).

        A runner is told to stop and gets ``timeout`` s (default: ``stop_grace_s``) to finish
        the iteration in progress; then SIGTERM, and SIGKILL ``kill_after`` s later. A command
        gets SIGTERM at once and SIGKILL after ``timeout`` s. Safe to call from a callback, from
        several threads, and after the process ended.
        """
        proc = self._proc
        if proc is None:
            return None
        grace = self.stop_grace_s if timeout is None else timeout
        self._grace_used = grace
        self._stop_requested = True
        steps: tuple[tuple[int | None, float | None], ...]
        if self.spec.is_command:
            steps = ((signal.SIGTERM, grace), (signal.SIGKILL, None))
        else:
            if not self._exited.is_set():
                self.send({"cmd": "stop"})
                with self._send_lock:  # EOF on stdin also means stop, for a runner between reads
                    try:
                        if proc.stdin is not None:   # a runner's stdin is a pipe
                            proc.stdin.close()
                    except OSError:
                        pass
            steps = ((None, grace), (signal.SIGTERM, kill_after), (signal.SIGKILL, None))
        for signum, wait_s in steps:
            if signum is not None and not self._exited.is_set():
                self._signal(signum)
                if self.paused and signum == signal.SIGTERM:   # a stopped group acts on SIGTERM once continued
                    self._signal(signal.SIGCONT, record=False)
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

    def _signal(self, signum: int, record: bool = True) -> None:
        proc = self._proc
        assert proc is not None   # callers signal a started process only
        if record:
            self._sent_signal = signum
        try:
            os.killpg(proc.pid, signum)  # the runner leads its own group: take its children too
        except (ProcessLookupError, PermissionError):
            try:
                proc.send_signal(signum)
            except ProcessLookupError:
                pass

    # ------------------------------------------------------------ threads

    def _read_frames(self) -> None:
        """Read, decode and deliver every frame; at EOF deliver the exit Event (see the waiter)."""
        proto = self._proto
        stream = self._frames
        try:
            for frames in proto.FrameReader(stream, pace_s=self._pace_s, chunk=self._read_chunk).reads():
                # The latency frames of one read (a runner sends ~10 a second, the pipe is read ~2
                # times) go on as one batch: one hand-over to the recorder, the view and the
                # throttling detection instead of one per frame. An event between them splits them,
                # so everything keeps its order.
                joined: list[LatencyBatch] = []
                for ftype, payload in frames:
                    if ftype == proto.LATENCY:
                        batch = decode_latency(proto, payload)   # a malformed frame is a corrupt stream
                        if batch is not None:
                            joined.append(batch)
                        continue
                    self._deliver_joined(joined)
                    if ftype == proto.EVENT:
                        if payload.get("kind") == "error":
                            self._error = payload  # for the crash reason, read by the waiter after this thread ends
                        self._deliver(self._deliver_event, payload)
                    elif ftype == proto.HELLO:
                        self._hello = payload
                        self._deliver(self._on_hello, payload)
                    elif ftype == proto.BYE:
                        self._bye = payload
                self._deliver_joined(joined)
        except Exception as exc:  # corrupt stream: say so, then keep draining so the worker never blocks
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

    def _deliver_joined(self, batches: list[LatencyBatch]) -> None:
        """Deliver ``batches`` as few batches as the warm-up flag allows, and empty the list."""
        for batch in merged_batches(batches):
            self._deliver(self._deliver_batch, batch)
        batches.clear()

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

    def _read_output(self, stream, keep, tail: TextTail | None) -> None:
        """Drain one output pipe: into its file, the stderr tail, and the latency regex."""
        timer = self.line_timer
        try:
            if timer is None:           # no line needs a time of its own: take chunks as they come
                fd = stream.fileno()
                while True:
                    data = os.read(fd, _READ_CHUNK)
                    if not data:
                        break
                    self._keep(data, keep, tail)
            else:
                for line in iter(lambda: stream.readline(_MAX_LINE), b""):
                    timer.feed(line)
                    self._keep(line, keep, tail)
        except (OSError, ValueError):
            pass
        finally:
            try:
                stream.close()
            except OSError:
                pass

    @staticmethod
    def _keep(data: bytes, keep, tail: TextTail | None) -> None:
        if keep is not None:
            keep.write(data)
        if tail is not None:
            tail.feed(data)

    def _queue_rows(self, t_end: list[int], dur: list[int], items: list[int]) -> None:
        """Rows from --latency-regex: delivered like a runner's latency frames, in order."""
        batch = LatencyBatch(np.asarray(t_end, dtype=np.int64), np.asarray(dur, dtype=np.int64),
                             np.asarray(items, dtype=np.int32), False)
        self._deliver(self._deliver_batch, batch)

    def _wait(self) -> None:
        proc = self._proc
        assert proc is not None   # the waiter thread starts after the process
        rc = proc.wait()
        self.returncode = rc
        oom_after = death.OomCounters.read(self._oom_dirs)
        self._exited.set()
        # Pipes are drained when the runner's last frames and stderr lines are in; a
        # grandchild holding them open must not hold up the report forever.
        self._frames_done.wait(timeout=5.0)
        for t in self._threads[1:3]:           # stdout, stderr
            t.join(timeout=5.0)
        if self.line_timer is not None:
            self.line_timer.flush()
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        facts = death.ExitFacts(
            returncode=rc,
            command=self.spec.is_command,
            stop_grace_s=self._grace_used,
            said_bye=self._bye is not None,
            bye=self._bye,
            sent_signal=self._sent_signal,
            stop_requested=self._stop_requested,
            error=self._error,
            stderr_tail=self._stderr.lines(),
            oom_before=self._oom_before,
            oom_after=oom_after,
        )
        kind, details = death.classify(facts)
        details["pid"] = proc.pid
        details["stderr_lines"] = self.stderr_lines
        if self.started_ns is not None:
            details["lived_s"] = round((time.monotonic_ns() - self.started_ns) / 1e9, 3)
        if self.line_timer is not None:
            details["regex_rows"] = self.line_timer.matched
            if self.line_timer.unusable:
                details["regex_unusable_lines"] = self.line_timer.unusable
        if self._protocol_error:
            details["protocol_error"] = self._protocol_error
        self._pending_exit = Event(time.monotonic_ns(), kind, details)
        self._exit_ready.set()
        if not self._frames_done.is_set():   # the frame pipe still open (a grandchild holds it): report now
            self._deliver_exit()

    def _deliver_batch(self, batch: LatencyBatch) -> None:
        batches, done = [batch], None
        if self._warmup_gate is not None and not self._warmup_gate.done:
            batches, done = self._warmup_gate.apply(batch)
        for b in batches:
            n = len(b)
            if n == 0:
                continue
            self.iterations += n
            if b.warmup:
                self.warmup_iterations += n
            self._on_latency(b)
        if done is not None:            # after the warm-up rows, as a runner sends it
            self._on_event(Event(done.pop("t_ns"), EventKind.WARMUP_DONE, done))

    def _deliver_event(self, payload: dict) -> None:
        details = dict(payload)
        kind = str(details.pop("kind", "unknown"))
        t_ns = details.pop("t_ns", None)
        t_ns = int(t_ns) if isinstance(t_ns, (int, float)) else time.monotonic_ns()
        kind = RUNNER_EVENT_KINDS.get(kind, kind)
        self._on_event(Event(t_ns, kind, details))
