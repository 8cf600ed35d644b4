"""The client side of a detached session: :class:`RemoteFeed` over ``<folder>/control.sock``.

The dashboard cannot tell a RemoteFeed from an in-process LiveSession, except that
``can_detach`` is True: quitting may leave the session running (``command("detach")``)
or end it (``command("stop")``). One reader thread decodes what the session sends into
bounded buffers that ``drain`` hands over; when the session process goes away the
feed reports state "ended" or "crashed" with a message instead of raising.

:func:`open_remote` turns every way attaching can fail into one-line UserErrors:
a finished session, a folder that is not a recording, a session that died (stale
socket, nobody holds the writer lock), a session running in someone's terminal
(nothing to attach to), a socket of another user.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgemon.control.machine_view import MachineView
from edgemon.datatypes import Event, Sample
from edgemon.errors import UserError
from edgemon.feeds import commands as cmds
from edgemon.feeds.base import Capabilities, Feed, FeedStatus, FeedUpdate

if TYPE_CHECKING:
    from edgemon.view.latency_digest import LatencyDigest
    from edgemon.view.model import ModelState

# Same bounds as LiveSession's pending queues: ~10 min at 10 Hz for a consumer that stalls.
_MAX_PENDING_SAMPLES = 6000
_MAX_PENDING_DIGESTS = 6000
_MAX_PENDING_EVENTS = 2000
COMMAND_TIMEOUT_S = 60.0      # nvpmodel can take seconds; a stop waits for the worker to exit


def terminal_gone(fd: int = 0) -> bool:
    """True when ``fd`` (stdin) is no longer a terminal: an SSH drop hangs the tty up and
    isatty() then fails with EIO. The dashboard checks this every few seconds and exits
    instead of spinning on a dead terminal (a detached session goes on)."""
    try:
        return not os.isatty(fd)
    except (OSError, ValueError):
        return True


class RemoteFeed(Feed):
    """A :class:`Feed` on a detached session's control socket. Use :func:`open_remote` to make one."""

    capabilities = Capabilities(detach=True)

    def __init__(self, folder: Path, sock: socket.socket, hello: dict[str, Any], first: list,
                 recv_exact=None):
        self.folder = Path(folder)
        self.pid = int(hello.get("pid") or 0)
        self.meta: dict[str, Any] = {}
        self._sock = sock
        self._recv_exact = recv_exact      # the reader that took ``first``: it may hold what follows
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._samples: deque[Sample] = deque(maxlen=_MAX_PENDING_SAMPLES)
        self._digests: deque[LatencyDigest] = deque(maxlen=_MAX_PENDING_DIGESTS)
        self._events: deque[Event] = deque(maxlen=_MAX_PENDING_EVENTS)
        self._reset = False
        self._state: ModelState | None = None   # a ModelState to start from (the attach snapshot)
        self._status = FeedStatus(state="starting")
        self._status_at = time.monotonic_ns()
        self._machine: MachineView | None = None
        self._sources: list = []
        self._replies: dict[int, str | None] = {}
        self._reply_cond = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._end: dict[str, Any] | None = None
        self._gone: str | None = None        # why the connection ended, when it did
        self._detached = False
        self.stop_requested = False          # a stop was sent: the session is ending, not detached
        self.closed = threading.Event()
        for frame in first:
            self._handle(*frame)
        self._thread = threading.Thread(target=self._read_loop, name="edgemon-remote", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ Feed
    def drain(self) -> FeedUpdate:
        with self._lock:
            up = FeedUpdate(list(self._samples), [], list(self._events), reset=self._reset,
                            state=self._state, digests=list(self._digests))
            self._samples.clear()
            self._digests.clear()
            self._events.clear()
            self._reset = False
            self._state = None
        return up

    def status(self) -> FeedStatus:
        with self._lock:
            st = self._status
            at = self._status_at
            end, gone, detached = self._end, self._gone, self._detached
        if end is not None:
            return FeedStatus(state=str(end.get("state") or "ended"), elapsed_s=st.elapsed_s, t_ns=st.t_ns,
                              message=str(end.get("message") or ""),
                              recording=str(end.get("recording") or st.recording),
                              recording_level=str(end.get("recording_level") or st.recording_level))
        if gone is not None:
            return FeedStatus(state="crashed", elapsed_s=st.elapsed_s, t_ns=st.t_ns, message=gone)
        if detached:   # the last state we saw; the session itself goes on
            return FeedStatus(state=st.state, elapsed_s=st.elapsed_s, remaining_s=st.remaining_s, t_ns=st.t_ns,
                              message=f"detached; the session goes on: edgemon attach {self.folder}")
        if st.state in ("running", "paused", "starting") and st.t_ns:
            # Between ticks (2 Hz) the clock keeps moving, as it does in-process.
            now = time.monotonic_ns()
            dt = (now - at) / 1e9
            remaining = None if st.remaining_s is None else max(0.0, st.remaining_s - dt)
            return FeedStatus(state=st.state, elapsed_s=st.elapsed_s + dt, remaining_s=remaining, t_ns=now,
                              message=st.message, recording=st.recording, recording_level=st.recording_level)
        return st

    def command(self, cmd: cmds.AnyCommand, **kw: Any) -> str | None:
        cmd = cmds.as_command(cmd, kw)
        name = cmds.wire_name(cmd)
        if isinstance(cmd, cmds.Detach):
            self.close()
            return f"detached; the session goes on (edgemon attach {self.folder}, edgemon stop {self.folder})"
        if self.closed.is_set():
            return f"{name}: the session is no longer connected"
        if isinstance(cmd, cmds.Stop):
            self.stop_requested = True
        with self._lock:
            cid = next(self._ids)
            self._replies[cid] = None
        try:
            self._send({"t": "cmd", "id": cid, "name": name, "kw": cmd.kwargs()})
        except OSError as exc:
            return f"{name}: the session did not take the command ({exc.strerror or exc})"
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        with self._reply_cond:
            while self._replies.get(cid) is None and not self.closed.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._reply_cond.wait(min(left, 0.5))
            answer = self._replies.pop(cid, None)
        if answer is None:
            if isinstance(cmd, cmds.Stop) and self._end is not None:
                return "stopped"
            return f"{name}: no answer from the session"
        return answer

    @property
    def source_statuses(self) -> list:
        with self._lock:
            return list(self._sources)

    def machine_state(self) -> MachineView | None:
        with self._lock:
            return self._machine

    def close(self) -> None:
        """Detach: the session goes on."""
        with self._lock:
            if self.closed.is_set():
                return
            if self._end is None and self._gone is None:
                self._detached = True
        try:
            self._send({"t": "bye"})
        except OSError:
            pass
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self.closed.set()
        with self._reply_cond:
            self._reply_cond.notify_all()

    # ------------------------------------------------------------ extras
    @property
    def ended(self) -> bool:
        """The session is over (end received) or gone (connection lost)."""
        with self._lock:
            return self._end is not None or self._gone is not None

    def wait_end(self, timeout: float | None = None) -> bool:
        """Wait until the connection closes; True if it did within ``timeout``."""
        return self.closed.wait(timeout)

    # ------------------------------------------------------------ wire
    def _send(self, msg: dict[str, Any]) -> None:
        from edgemon.daemon.server import encode_json

        data = encode_json(msg)
        with self._send_lock:
            self._sock.sendall(data)

    def _read_loop(self) -> None:
        from edgemon.daemon.server import read_frame, socket_recv_exact

        recv = self._recv_exact or socket_recv_exact(self._sock)
        why = None
        try:
            while True:
                frame = read_frame(recv)
                if frame is None:
                    break
                self._handle(*frame)
        except (OSError, ValueError) as exc:
            why = str(exc)
        with self._lock:
            if self._end is None and not self._detached:
                self._gone = (f"lost the session process (pid {self.pid}){': ' + why if why else ''}; "
                              f"if it died, `edgemon recover {self.folder}` makes its recording whole")
        self.closed.set()
        with self._reply_cond:
            self._reply_cond.notify_all()
        try:
            self._sock.close()
        except OSError:
            pass

    def _handle(self, ftype: int, msg: Any) -> None:
        from edgemon.daemon.server import (
            JSON_FRAME,
            STATE_FRAME,
            decode_digest_frame,
            decode_state,
            events_from_json,
            samples_from_json,
        )

        if ftype == STATE_FRAME:
            state = decode_state(msg)
            with self._lock:
                self._state = state
            return
        if ftype != JSON_FRAME:
            digest = decode_digest_frame(msg)
            with self._lock:
                self._digests.append(digest)
            return
        t = msg.get("t")
        if t == "update":
            samples = samples_from_json(msg.get("samples") or [])
            events = events_from_json(msg.get("events") or [])
            status = msg.get("status")
            machine = msg.get("machine", ...)
            sources = msg.get("sources")
            with self._lock:
                self._samples.extend(samples)
                self._events.extend(events)
                if status:
                    self._status = FeedStatus(**status)
                    self._status_at = time.monotonic_ns()
                if machine is not ...:
                    self._machine = MachineView(**machine) if machine else None
                if sources is not None:
                    self._sources = _source_statuses(sources)
        elif t == "meta":
            with self._lock:
                self.meta = dict(msg.get("meta") or {})
        elif t == "reset":
            with self._lock:
                self._samples.clear()
                self._digests.clear()
                self._events.clear()
                self._state = None
                self._reset = True
        elif t == "reply":
            with self._reply_cond:
                cid = msg.get("id")
                if cid in self._replies:
                    self._replies[cid] = str(msg.get("message") or "")
                    self._reply_cond.notify_all()
        elif t == "end":
            with self._lock:
                self._end = dict(msg)


def _source_statuses(rows: list[dict]) -> list:
    from edgemon.telemetry.base import SourceStatus

    out = []
    for r in rows:
        try:
            out.append(SourceStatus(**r))
        except TypeError:
            out.append(SourceStatus(str(r.get("name", "?")), bool(r.get("available")), str(r.get("reason", ""))))
    return out


# ---------------------------------------------------------------------------- opening

def _state_of(folder: Path) -> tuple[dict[str, Any], str]:
    from edgemon.recording.layout import load_session_json

    meta = load_session_json(folder)
    return meta, str(meta.get("state", "unknown"))


def open_remote(path: Path | str, *, timeout: float = 10.0) -> RemoteFeed:
    """Attach to the detached session recording into ``path``; UserError (one line) when it cannot be."""
    from edgemon.daemon.server import (
        JSON_FRAME,
        PROTOCOL_VERSION,
        SOCKET_NAME,
        connect_unix,
        read_frame,
        socket_recv_exact,
    )
    from edgemon.recording.layout import is_live, recording_folder, writer_pid

    folder = recording_folder(path)
    meta, state = _state_of(folder)
    if state != "running":
        raise UserError(f"session {folder} has ended (state {state}); use `edgemon replay {folder}` to watch it")
    sock_file = folder / SOCKET_NAME
    try:
        st = os.stat(sock_file)
    except FileNotFoundError:
        if is_live(folder):
            pid = writer_pid(folder)
            raise UserError(f"session {folder} runs in a terminal (pid {pid or '?'}), not detached, so there is "
                            f"nothing to attach to; `edgemon replay {folder}` shows what it recorded so far") from None
        raise _died(folder) from None
    if st.st_uid != os.getuid():
        raise UserError(f"the control socket of {folder} belongs to uid {st.st_uid}, not you (uid {os.getuid()}); "
                        "attach as the user who started the session")
    try:
        sock = connect_unix(folder, timeout)
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            if is_live(folder):
                raise UserError(f"session {folder} (pid {writer_pid(folder) or '?'}) does not answer on its "
                                "control socket; try again, or `edgemon stop` it") from None
            raise _died(folder, stale=True) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise UserError(f"not allowed to open {sock_file}; attach as the user who started the session") from None
        raise UserError(f"cannot connect to {sock_file}: {exc.strerror or exc}") from None
    # Read the greeting synchronously: a refusal or a silent peer becomes a one-line error here.
    first: list = []
    try:
        recv = socket_recv_exact(sock)
        frame = read_frame(recv)
        if frame is None or frame[0] != JSON_FRAME or frame[1].get("t") != "hello":
            raise UserError(f"{sock_file} did not greet like an edgemon session; is it one?")
        hello = frame[1]
        if hello.get("protocol") != PROTOCOL_VERSION:
            raise UserError(f"session {folder} speaks control protocol {hello.get('protocol')}, this edgemon "
                            f"{PROTOCOL_VERSION}: attach with the edgemon that started it (pid {hello.get('pid')}, "
                            f"see {folder / 'session.log'}), or `edgemon replay {folder}`")
        frame = read_frame(recv)
        if frame is not None and frame[0] == JSON_FRAME and frame[1].get("t") == "refused":
            raise UserError(f"session {folder} refused the connection: {frame[1].get('reason', '')}")
        # The snapshot (meta, reset, history, status) ends with the first update: take it all
        # now, so the first drain() fills the dashboard at once.
        while True:
            if frame is None:
                raise UserError(f"session {folder} closed the connection at once; it may be ending, try "
                                f"`edgemon ls`")
            first.append(frame)
            if frame[0] == JSON_FRAME and frame[1].get("t") == "update":
                break
            frame = read_frame(recv)
    except socket.timeout:
        sock.close()
        raise UserError(f"session {folder} does not answer on its control socket within {timeout:.0f} s") from None
    except (OSError, ValueError) as exc:
        sock.close()
        raise UserError(f"lost the connection to session {folder}: {exc}") from None
    except UserError:
        sock.close()
        raise
    sock.settimeout(None)
    return RemoteFeed(folder, sock, hello, first, recv)


def _died(folder: Path, *, stale: bool = False) -> UserError:
    what = "its control socket is stale and " if stale else ""
    return UserError(f"session {folder} died ({what}nobody is recording it); "
                     f"run `edgemon recover {folder}` to make its recording whole")


def stop_remote(path: Path | str, *, timeout: float = 120.0, out=None) -> Path:
    """``edgemon stop``: ask the session to stop and wait until its recording is closed."""
    from edgemon.daemon.server import SOCKET_NAME
    from edgemon.recording.layout import is_live, recording_folder

    out = out or sys.stdout
    folder = recording_folder(path)
    _meta, state = _state_of(folder)
    if state == "running" and not (folder / SOCKET_NAME).exists() and is_live(folder):
        return _stop_in_terminal(folder, timeout, out)
    feed = open_remote(folder)
    answer = feed.command(cmds.Stop())
    if not feed.wait_end(timeout):
        feed.close()
        raise UserError(f"session {folder} did not end within {timeout:.0f} s after stop ({answer}); "
                        f"see {folder / 'session.log'}")
    status = feed.status()
    # The daemon closes the recording before it says "end"; the lock is gone with it.
    deadline = time.monotonic() + 10
    while is_live(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    _meta, state = _state_of(folder)
    print(f"stopped: {folder} ({state}{'; ' + status.message if status.message else ''})", file=out, flush=True)
    return folder


def _stop_in_terminal(folder: Path, timeout: float, out) -> Path:
    """A session running in someone's terminal (``--headless``): SIGTERM is its graceful stop."""
    import signal

    from edgemon.recording.layout import is_live, writer_pid

    pid = writer_pid(folder)
    if not pid:
        raise UserError(f"session {folder} runs in a terminal but its pid is unknown; stop it there (Ctrl-C)")
    try:
        os.kill(pid, signal.SIGTERM)
    except PermissionError:
        raise UserError(f"session {folder} (pid {pid}) belongs to another user; stop it as that user") from None
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while is_live(folder):
        if time.monotonic() > deadline:
            raise UserError(f"session {folder} (pid {pid}) did not end within {timeout:.0f} s after SIGTERM; "
                            "stop it in its terminal")
        time.sleep(0.1)
    _meta, state = _state_of(folder)
    print(f"stopped: {folder} ({state})", file=out, flush=True)
    return folder
