"""A session in its own process, so that an SSH drop or a closed dashboard does not end the test.

Parent side (``edgemon run``): :func:`spawn` starts ``python -m edgemon.daemon.process
--config JSON`` in a new session (no controlling terminal, stdin /dev/null) and waits
for one handshake line on the child's stdout: ``{"ready": true, "folder": ...}`` once the
recording folder and ``control.sock`` exist, or ``{"error": "one line"}``.

Child side (:func:`main`): runs a :class:`~edgemon.session.live.LiveSession` and a
:class:`~edgemon.daemon.server.SessionServer` on ``<folder>/control.sock``; once ready its
stdout and stderr go to ``<folder>/session.log``. It drains the session at ~2 Hz (fixed
delay), and when the session ends (worker finished, duration reached, ``edgemon stop``,
SIGTERM) it closes the recording, restores the machine, tells attached clients and exits
(0, 1 when the workload crashed, 3 when the recording stopped early). With ``--headless`` it also writes the headless
status lines and the final summary to session.log.

Which mode runs where (``edgemon run``):
  dashboard (default)     session process + dashboard on a RemoteFeed; quitting asks detach/stop,
                          an SSH drop detaches, SIGINT/SIGTERM to `edgemon run` stop the session
  --detach                session process only; prints the folder, `edgemon attach/stop` it
  --headless              in-process, as before: status lines on stdout, ends with the terminal
  --headless --detach     session process writing the status lines to session.log: headless
                          beyond the SSH session
  --no-record             in-process (a detached session must record: its folder is how you find
                          it again, and holds its socket and log); --no-record --detach is refused
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from edgemon.errors import UserError

TICK_S = 0.5                  # drain + fan-out period: the dashboard redraws at 2 Hz by default
START_TIMEOUT_S = 60.0        # parent waits this long for the handshake


@dataclass
class Started:
    """A detached session that is up: where it records and which process runs it."""

    folder: Path
    pid: int

    @property
    def log(self) -> Path:
        from edgemon.daemon.server import LOG_NAME

        return self.folder / LOG_NAME


# ------------------------------------------------------------------------------ config <-> JSON

def config_to_dict(config, argv: list[str] | None = None) -> dict[str, Any]:
    """A RunConfig as JSON-able data (paths absolute: the daemon may resolve them later)."""
    from dataclasses import asdict

    data = asdict(config)
    for key in ("record_dir", "recordings_root", "sysfs_root"):
        if data.get(key) is not None:
            data[key] = str(Path(data[key]).absolute())
    data["argv"] = list(argv if argv is not None else sys.argv[1:])
    return data


def config_from_dict(data: dict[str, Any]):
    from edgemon.session.config import RunConfig
    from edgemon.workload.spec import WorkloadSpec

    data = dict(data)
    data.pop("argv", None)
    wl_names = {f.name for f in fields(WorkloadSpec)}
    workload = WorkloadSpec(**{k: v for k, v in (data.pop("workload", None) or {}).items() if k in wl_names})
    names = {f.name for f in fields(RunConfig)}
    known = {k: v for k, v in data.items() if k in names}
    for key in ("record_dir", "recordings_root", "sysfs_root"):
        if known.get(key) is not None:
            known[key] = Path(known[key])
    return RunConfig(workload=workload, **known)


# ------------------------------------------------------------------------------ parent side

def _child_env() -> dict[str, str]:
    """Our environment, with this edgemon importable in the child even from a source checkout."""
    import edgemon

    env = dict(os.environ)
    pkg_parent = str(Path(edgemon.__file__).resolve().parents[1])
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if pkg_parent not in paths:
        env["PYTHONPATH"] = os.pathsep.join([pkg_parent, *paths])
    return env


def spawn(config, *, argv: list[str] | None = None, timeout_s: float = START_TIMEOUT_S,
          python: str | None = None) -> Started:
    """Start a detached session for ``config``; returns once it serves its control socket.

    Bad input (unknown model, a folder already recorded into, ...) raises UserError with the
    session's own one-line message; nothing is left running.
    """
    import tempfile

    if not config.record:
        raise UserError("a detached session must record (that is how you find it again); drop --no-record")
    payload = json.dumps(config_to_dict(config, argv), default=str)
    # stderr goes to an unlinked file, not a pipe: a helper the session starts before the
    # handshake inherits it and must not die of SIGPIPE once we are gone.
    with tempfile.TemporaryFile() as early_stderr:
        proc = subprocess.Popen(
            [python or sys.executable, "-m", "edgemon.daemon.process", "--config", payload],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=early_stderr,
            start_new_session=True,   # no controlling terminal: SIGHUP from an SSH drop never reaches it
            close_fds=True,
            env=_child_env(),
        )
        assert proc.stdout is not None   # a pipe, opened above
        try:
            line = _read_handshake(proc, timeout_s)
        except KeyboardInterrupt:   # the user gave up on the start: leave nothing running
            _terminate(proc)
            raise
        except TimeoutError:
            _terminate(proc)
            raise UserError(f"the session process did not become ready within {timeout_s:.0f} s "
                            f"({_last_line(early_stderr) or 'no output'}); it was stopped, try again") from None
        finally:
            proc.stdout.close()
        if line is None:
            rc = proc.wait(10)
            raise UserError(f"the session process exited (code {rc}) before it was ready: "
                            f"{_last_line(early_stderr) or 'no message'}")
    try:
        msg = json.loads(line)
    except ValueError:
        _terminate(proc)
        raise UserError(f"the session process said something unexpected: {line[:200]!r}") from None
    if msg.get("error"):
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            _terminate(proc)
        raise UserError(str(msg["error"]))
    # The child outlives us: do not let Popen's destructor warn about a running process.
    proc.returncode = 0
    for warning in msg.get("warnings") or []:
        print(f"edgemon: warning: {warning}", file=sys.stderr, flush=True)
    return Started(Path(msg["folder"]), int(msg["pid"]))


def _read_handshake(proc: subprocess.Popen, timeout_s: float) -> str | None:
    """One line from the child's stdout; None at EOF (it died); TimeoutError when too slow."""
    assert proc.stdout is not None   # the handshake pipe
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout_s
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return buf.decode("utf-8", "replace").strip() or None
        buf += chunk
    return buf.split(b"\n", 1)[0].decode("utf-8", "replace")


def _last_line(f) -> str:
    try:
        f.seek(0)
        lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _terminate(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


# ------------------------------------------------------------------------------ child side

class _Log:
    """Lines for session.log, written by a thread of their own: the log is in the session folder,
    and a full or frozen disk there must never stop the session (lines beyond ``max_lines``
    waiting are dropped). ``stream``: write there directly instead (tests)."""

    def __init__(self, stream=None, *, max_lines: int = 1000):
        import collections

        self.stream = stream
        self._lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def __call__(self, line: str, *, stamp: bool = True) -> None:
        text = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}" if stamp else line
        if self.stream is not None:
            try:
                print(text, file=self.stream, flush=True)
            except (OSError, ValueError):
                pass
            return
        self._idle.clear()
        self._lines.append(text + "\n")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="edgemon-log", daemon=True)
            self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._lines:
                try:
                    os.write(1, self._lines.popleft().encode("utf-8", "replace"))
                except (OSError, IndexError):
                    pass
            self._idle.set()

    def flush(self, timeout_s: float = 2.0) -> bool:
        """Wait until the lines are written, at most ``timeout_s``; False when the disk did not take them."""
        if self.stream is not None or self._thread is None:
            return True
        return self._idle.wait(timeout_s)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m edgemon.daemon.process")
    parser.add_argument("--config", required=True, help="RunConfig as JSON (see config_to_dict)")
    args = parser.parse_args(argv)

    # fd 1 is the handshake pipe; keep it aside and send anything printed to stderr until ready.
    handshake_fd: int | None = os.dup(1)
    os.dup2(2, 1)

    def handshake(msg: dict[str, Any]) -> None:
        nonlocal handshake_fd
        if handshake_fd is None:
            return
        try:
            os.write(handshake_fd, (json.dumps(msg, default=str) + "\n").encode("utf-8"))
        except OSError:
            pass  # the parent is gone (Ctrl-C): run anyway, the user can attach later
        os.close(handshake_fd)
        handshake_fd = None

    data = json.loads(args.config)
    user_argv = list(data.get("argv") or [])
    config = config_from_dict(data)
    sys.argv = ["edgemon", *user_argv]   # the session records the command the user typed
    return run_session(config, handshake)


def run_session(config, handshake) -> int:
    from edgemon.daemon.server import LOG_NAME, SessionServer
    from edgemon.session.live import LiveSession

    session = LiveSession(config)
    try:
        session.start()
    except UserError as exc:
        session.fail_start(str(exc))
        session.close()
        handshake({"error": str(exc)})
        return exc.exit_code
    except BaseException as exc:
        import traceback

        traceback.print_exc()
        session.fail_start(f"{type(exc).__name__}: {exc}")
        session.close()
        handshake({"error": f"the session could not start: {type(exc).__name__}: {exc}"})
        return 1
    folder = Path(session.meta["record_path"])
    log = _Log()
    try:
        from edgemon.recording.safe_io import create_exclusive

        log_fd = create_exclusive(folder / LOG_NAME)   # a new file: never through a planted link
        server = SessionServer(session, folder, log=log).start()
    except OSError as exc:
        session.close()
        handshake({"error": f"cannot open the control socket in {folder}: {exc.strerror or exc}"})
        return 2

    stopping: list[int] = []

    def on_signal(signum, _frame):
        if not stopping:   # stop gracefully, once; Worker.stop escalates to SIGKILL by itself
            stopping.append(signum)
            threading.Thread(target=session.command, args=("stop",), name="edgemon-stop", daemon=True).start()

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    handshake({"ready": True, "folder": str(folder), "pid": os.getpid(), "socket": str(server.path),
               "warnings": list(session.warnings)})
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    log(f"session started (pid {os.getpid()}) recording into {folder}; "
        f"attach: edgemon attach {folder}  stop: edgemon stop {folder}")
    code = serve(session, server, log, headless=bool(config.headless), status_every_s=config.status_every_s)
    from edgemon.session.recording_watch import leave_if_disk_stalled

    if not log.flush(2.0):      # session.log is on a disk that does not take it: do not wait at exit
        os._exit(code)
    leave_if_disk_stalled(session.recorder, code)
    return code


def serve(session, server, log, *, headless: bool = False, status_every_s: float = 5.0) -> int:
    """Drain and fan out until the session ends; close it; tell the clients. Exit code."""
    from edgemon.view.status_line import status_line, summary_table

    model = server.model            # the server keeps it for attaching dashboards; headless reads it
    next_status = time.monotonic() + status_every_s
    try:
        while not session.wait(TICK_S):   # fixed delay after each tick: ticks never pile up
            server.tick()
            if headless and time.monotonic() >= next_status:
                next_status += status_every_s
                log(status_line(model, session.status()))
        server.tick()
    finally:
        session.close()    # SESSION_END event, recording closed (bounded), machine restored
        server.tick()
        status = session.status()
        from edgemon.session.recording_watch import summary_lines

        lines = summary_lines(session.recorder, session.meta.get("record_path"), status.elapsed_s)
        if headless:
            print(summary_table(model, status, session.meta) + "".join("\n" + line for line in lines), flush=True)
        elif session.recording_failed:
            for line in lines:
                log(line)
        server.close(status.state, status.message, recording=status.recording,
                     recording_level=status.recording_level)
        log(f"session {status.state}: {status.message}; recording in {session.meta.get('record_path')}")
    from edgemon.session.headless import exit_code

    return exit_code(session, status.state == "crashed")



if __name__ == "__main__":
    sys.exit(main())
