"""Telemetry from a long-running ``tegrastats --interval <ms>`` subprocess.

A reader thread parses each line as it arrives and keeps only the newest;
:meth:`TegrastatsSource.read` hands that over without waiting, so the sampler
is never blocked by the tool. If tegrastats exits it is restarted with a
growing delay (capped, default 5 s); garbage is skipped and counted; a partial
line (the tool killed mid-write) is dropped rather than parsed, because a cut
number ("VDD_IN 4520/46") would parse as a wrong value.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, cast

from edgemon.telemetry.base import Source, SourceContext, SourceStatus
from edgemon.telemetry.tegrastats import parse_line_ex

__all__ = ["TegrastatsSource", "TegrastatsStats", "interval_ms", "next_restart_delay"]

MIN_INTERVAL_MS = 100          # tegrastats' own lower limit
DEFAULT_PATH = "/usr/bin/tegrastats"


def interval_ms(sample_hz: float) -> int:
    """tegrastats ``--interval`` for a sampling rate: one line per sample, at least 100 ms."""
    try:
        if sample_hz > 0:
            return max(MIN_INTERVAL_MS, int(round(1000.0 / sample_hz)))
    except TypeError:
        pass
    return 1000


def next_restart_delay(previous_s: float, max_s: float) -> float:
    """Doubling back-off between restarts, capped at ``max_s``."""
    return min(max(previous_s, 0.001) * 2, max_s)


@dataclass
class TegrastatsStats:
    """Counters since the source started (a snapshot; see :meth:`TegrastatsSource.stats`)."""

    lines: int = 0              # complete lines read
    lines_with_values: int = 0  # lines that gave at least one metric
    skipped_tokens: int = 0     # tokens the parser did not understand
    implausible: int = 0        # values dropped as physically impossible (-256 C "sensor off", ...)
    partial_lines: int = 0      # unterminated/oversized lines dropped
    starts: int = 0             # processes started
    restarts: int = 0           # starts after the first
    start_failures: int = 0     # exec failed (OSError)
    last_exit: int | None = None
    last_error: str = ""        # last stderr line or exec error


class TegrastatsSource(Source):
    """``{metric: value}`` from the newest tegrastats line (docs/architecture.md "Metric names")."""

    name = "tegrastats"

    def __init__(
        self,
        ctx: SourceContext,
        *,
        restart_min_s: float = 1.0,
        restart_max_s: float = 5.0,
        stop_timeout_s: float = 2.0,
        max_line_bytes: int = 64 * 1024,
    ):
        super().__init__(ctx)
        self.restart_min_s = restart_min_s
        self.restart_max_s = restart_max_s
        self.stop_timeout_s = stop_timeout_s
        self.max_line_bytes = max_line_bytes
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None
        self._newest: dict[str, float] | None = None   # newest values not yet handed out
        self._newest_t_ns = 0
        self._total_source: str | None = None   # what the newest line's power_total_mw is
        self._stats = TegrastatsStats()
        self._exe: str | None = None
        self._closed = False
        self._term_lock = threading.Lock()   # one terminator at a time (close vs reader)

    # -- discovery ---------------------------------------------------------------------

    def find_executable(self) -> str | None:
        """Configured ``ctx.executables["tegrastats"]``, else PATH / /usr/bin; under a non-/ root
        only inside it (usr/sbin, usr/bin, bin: where an emulated board keeps its tools)."""
        configured = self.ctx.executables.get("tegrastats")
        if configured:
            found = configured if os.sep in configured else shutil.which(configured)
            return found if found and _is_executable(found) else None
        if Path(self.ctx.root) == Path("/"):
            found = shutil.which("tegrastats")
            if found:
                return found
            candidate = str(self.ctx.path(DEFAULT_PATH))
            return candidate if _is_executable(candidate) else None
        from edgemon.platform.tools import board_tool

        return board_tool(Path(self.ctx.root), "tegrastats")

    def command(self, exe: str | None = None) -> list[str]:
        exe = exe or self._exe or self.find_executable() or "tegrastats"
        return [exe, "--interval", str(interval_ms(self.ctx.sample_hz))]

    def probe(self) -> SourceStatus:
        try:
            exe = self.find_executable()
        except Exception as e:  # probe must not raise
            return SourceStatus(self.name, False, reason=f"tegrastats lookup failed: {e}")
        if exe is None:
            configured = self.ctx.executables.get("tegrastats")
            reason = (f"configured tegrastats {configured!r} is not an executable file" if configured
                      else "tegrastats not found (not a Jetson, or not on PATH)")
            return SourceStatus(self.name, False, reason=reason)
        self._exe = exe
        return SourceStatus(self.name, True, detail=" ".join(self.command(exe)))

    # -- sampling ----------------------------------------------------------------------

    def read(self) -> dict[str, float]:
        """Values of the newest line since the last call; ``{}`` if none arrived. Never blocks."""
        with self._lock:
            if self._thread is None and not self._closed:
                self._start()   # lazily: probing (`edgemon info`) must not spawn anything
            values, self._newest = self._newest, None
        return values or {}

    @property
    def power_total_source(self) -> str:
        """What ``power_total_mw`` is: the newest line's input rail, or the sum of its rails."""
        with self._lock:
            got = self._total_source
        if got is None:
            return "tegrastats: the input rail where a line prints one (POM_5V_IN, VDD_IN, VIN), else the sum"
        return "tegrastats: sum of rails (no input rail printed)" if got == "sum" else f"tegrastats: input rail {got}"

    @property
    def last_line_t_ns(self) -> int:
        """``time.monotonic_ns()`` when the newest line arrived (0: none yet)."""
        return self._newest_t_ns

    def stats(self) -> TegrastatsStats:
        with self._lock:
            return replace(self._stats)

    def status_detail(self) -> str:
        """One line for the dashboard / ``edgemon info``."""
        s = self.stats()
        parts = [" ".join(self.command()),
                 f"{s.lines} lines", f"{s.skipped_tokens} skipped tokens", f"{s.restarts} restarts"]
        if s.partial_lines:
            parts.append(f"{s.partial_lines} partial lines dropped")
        if s.implausible:
            parts.append(f"{s.implausible} implausible values dropped")
        if s.start_failures:
            parts.append(f"{s.start_failures} failed starts")
        if s.last_exit is not None:
            parts.append(f"last exit {s.last_exit}")
        if s.last_error:
            parts.append(f"last error: {s.last_error}")
        return ", ".join(parts)

    def close(self) -> None:
        """Stop the reader and the process (SIGTERM, then SIGKILL); reaps it. Idempotent."""
        with self._lock:
            self._closed = True
            self._stop.set()
            proc = self._proc
        if proc is not None:
            with self._term_lock:
                _terminate(proc, self.stop_timeout_s)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.stop_timeout_s + 2.0)

    # -- reader thread -----------------------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="edgemon-tegrastats", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = self.restart_min_s
        while not self._stop.is_set():
            exe = self._exe or self.find_executable()
            proc = self._spawn(exe) if exe else None
            if exe is None:
                with self._lock:
                    self._stats.last_error = "tegrastats not found"
            started = time.monotonic()
            if proc is not None:
                try:
                    self._pump(proc)
                finally:
                    self._reap(proc)
            if self._stop.is_set():
                break
            if time.monotonic() - started >= 2 * self.restart_max_s:
                delay = self.restart_min_s   # it ran fine for a while: restart promptly
            self._stop.wait(delay)
            delay = next_restart_delay(delay, self.restart_max_s)

    def _spawn(self, exe: str) -> subprocess.Popen | None:
        if self._stop.is_set():
            return None
        try:  # outside the lock: a fork can take milliseconds and read() must not wait
            proc = subprocess.Popen(
                self.command(exe),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,   # own process group: close() reaches its children
                close_fds=True,
            )
        except OSError as e:
            with self._lock:
                self._stats.start_failures += 1
                self._stats.last_error = f"cannot run {exe}: {e.strerror or e}"
            return None
        with self._lock:
            self._stats.starts += 1
            if self._stats.starts > 1:
                self._stats.restarts += 1
            self._proc = proc
            stopped = self._stop.is_set()
        if stopped:  # close() ran while we were starting it
            self._reap(proc)
            return None
        return proc

    def _pump(self, proc: subprocess.Popen) -> None:
        """Read stdout (lines) and stderr (last message) until both close or we are stopped."""
        assert proc.stdout is not None and proc.stderr is not None   # _spawn opens both as pipes
        buffers: dict[IO[bytes], _Pending] = {proc.stdout: _Pending(), proc.stderr: _Pending()}
        sel = selectors.DefaultSelector()
        try:
            for stream in buffers:
                sel.register(stream, selectors.EVENT_READ)
            while buffers and not self._stop.is_set():
                events = sel.select(timeout=0.25)
                if not events and _has_exited(proc):
                    break  # exited, but a child of it still holds the pipe open
                for key, _ in events:
                    stream = cast("IO[bytes]", key.fileobj)   # one of the pipes registered above
                    is_stdout = stream is proc.stdout
                    state = buffers[stream]
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(stream)
                        del buffers[stream]
                        if state.data.strip() and not state.dropping:
                            self._on_partial(is_stdout, bytes(state.data))
                        continue
                    state.data += chunk
                    *complete, rest = state.data.split(b"\n")
                    if complete and state.dropping:
                        del complete[0]          # the end of the oversized line
                        state.dropping = False
                    if len(rest) > self.max_line_bytes:
                        if not state.dropping:
                            self._on_partial(is_stdout, bytes(rest[:200]))
                        rest, state.dropping = bytearray(), True
                    state.data = bytearray(rest)
                    for raw in complete:
                        if len(raw) > self.max_line_bytes:
                            self._on_partial(is_stdout, bytes(raw[:200]))
                        elif is_stdout:
                            self._on_line(raw)
                        else:
                            self._on_stderr(raw)
        except (OSError, ValueError) as e:  # pipe closed under us by close()
            if not self._stop.is_set():
                with self._lock:
                    self._stats.last_error = f"reading tegrastats: {e}"
        finally:
            sel.close()

    def _on_line(self, raw: bytes | bytearray) -> None:
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            return
        result = parse_line_ex(line)
        now = time.monotonic_ns()
        with self._lock:
            self._stats.lines += 1
            self._stats.skipped_tokens += len(result.skipped)
            self._stats.implausible += len(result.implausible)
            if result.values:
                self._stats.lines_with_values += 1
                self._newest = result.values
                self._newest_t_ns = now
                if result.power_total_source is not None:
                    self._total_source = result.power_total_source

    def _on_stderr(self, raw: bytes | bytearray) -> None:
        msg = raw.decode("utf-8", "replace").strip()
        if msg:
            with self._lock:
                self._stats.last_error = msg[:200]

    def _on_partial(self, is_stdout: bool, raw: bytes) -> None:
        if is_stdout:
            with self._lock:
                self._stats.partial_lines += 1
        else:
            self._on_stderr(raw)

    def _reap(self, proc: subprocess.Popen) -> None:
        with self._term_lock:
            _terminate(proc, self.stop_timeout_s)
        for stream in (proc.stdout, proc.stderr):
            if stream is None:
                continue
            try:
                stream.close()
            except (OSError, AttributeError):
                pass
        with self._lock:
            self._stats.last_exit = proc.returncode
            if self._proc is proc:
                self._proc = None


class _Pending:
    """One pipe's bytes after its last newline, and whether the rest of an oversized line is being dropped."""

    __slots__ = ("data", "dropping")

    def __init__(self) -> None:
        self.data = bytearray()
        self.dropping = False


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _has_exited(proc: subprocess.Popen) -> bool:
    """Whether the process has exited, without reaping it (its pid stays ours to signal)."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _terminate(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM the process group, SIGKILL it after ``timeout``; always reaps the leader.

    The group id is the leader's pid, which cannot be reused before we reap it, so
    signalling the group before ``wait()`` cannot hit an unrelated process.
    """
    if proc.returncode is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, timeout), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
