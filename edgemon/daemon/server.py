"""The control socket of a detached session: ``<session folder>/control.sock``.

The session process (``edgemon.daemon.process``) is the only one that drains its
:class:`~edgemon.session.live.LiveSession`. Every tick (~2 Hz, fixed delay) the
server drains it, feeds its own :class:`~edgemon.view.model.DashboardModel` (what an
attaching dashboard starts from: every chart's whole window, the whole-session latency
histogram, events, throttling state; bounded like any dashboard's model) and fans the
tick out to every attached client through a per-client bounded queue: a slow client
falls behind and is resynchronised with a fresh snapshot, it never blocks the session
or the others.

Wire format: frames ``header payload`` with the runner protocol's header (struct
``"<BI"``: type, payload length; ``runners/_protocol.py``). Type 1 is a JSON object
with a ``"t"`` field; type 3 the model so far (a snapshot); type 4 a batch of latency
rows as a digest (``edgemon/view/latency_digest.py``: per second, items and histogram
cells), not the rows: what an attached dashboard costs does not grow with the workload's
rate. A client whose protocol differs from the hello's is told so (``open_remote``).

server -> client
  hello   {pid, folder, protocol}           first frame of every connection
  refused {reason}                          then the server closes
  meta    {meta}                            session.json contents (again when it changes)
  reset   {}                                drop what you have: a snapshot follows
  STATE frame (the model so far), then
  update  {samples, events, status, machine?, sources?}   (then DIGEST frames + update per tick)
  reply   {id, message}                     answer to a command
  end     {state, message}                  the session is over and its recording closed
client -> server
  cmd     {id, name, kw}                    pause, resume, mark, stop, power_mode, core, jetson_clocks, fan

Access: the socket is mode 0600 and every connection's peer uid (SO_PEERCRED) must be
the session's own uid.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import struct
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, is_dataclass, replace
from pathlib import Path
from typing import Any, Callable

from edgemon.datatypes import Event, Sample, merged_batches
from edgemon.feeds import commands as cmds
from edgemon.feeds.base import FeedUpdate
from edgemon.view.latency_digest import LatencyDigest, decode_digest, digest_batch, encode_digest
from edgemon.view.model import DashboardModel, ModelState

SOCKET_NAME = "control.sock"
LOG_NAME = "session.log"
PROTOCOL_VERSION = 2          # 2: latency as digests (type 4) instead of rows (type 2)

# Same header as the runner protocol (runners/_protocol.py).
HEADER = struct.Struct("<BI")
STATE_HEADER = struct.Struct("<I")
JSON_FRAME = 1
STATE_FRAME = 3
DIGEST_FRAME = 4
MAX_FRAME = 64 * 1024 * 1024
STATE_DTYPES = frozenset({"<i8", "<f8", "<i4", "|b1"})

# Commands a client may send; anything else is answered "not available".

_UNIX_PATH_MAX = 100  # sun_path is 108 bytes; longer folders are reached through /proc/self/fd


# ---------------------------------------------------------------------------- encoding

def encode_json(obj: dict[str, Any]) -> bytes:
    payload = json.dumps(obj, separators=(",", ":"), default=str).encode("utf-8")
    return HEADER.pack(JSON_FRAME, len(payload)) + payload


def encode_digest_frame(digest: LatencyDigest) -> bytes:
    payload = encode_digest(digest)
    return HEADER.pack(DIGEST_FRAME, len(payload)) + payload


def decode_digest_frame(payload: bytes) -> LatencyDigest:
    """A DIGEST frame's digest; ValueError (saying where) for one that does not add up."""
    try:
        return decode_digest(payload)
    except ValueError as exc:
        raise ValueError(f"{exc} on the control socket") from None


def encode_state(state: ModelState) -> bytes:
    """A DashboardModel's state as one STATE frame."""
    import numpy as np

    specs, blobs = [], []
    for name, arr in state.arrays.items():
        a = np.ascontiguousarray(arr)
        a = a.astype(a.dtype.newbyteorder("<")) if a.dtype.byteorder == ">" else a
        specs.append([name, a.dtype.str, list(a.shape)])
        blobs.append(a.tobytes())
    head = json.dumps({"fields": state.fields, "arrays": specs}, separators=(",", ":"), default=str).encode("utf-8")
    payload = STATE_HEADER.pack(len(head)) + head + b"".join(blobs)
    return HEADER.pack(STATE_FRAME, len(payload)) + payload


def decode_state(payload: bytes) -> ModelState:
    """The inverse of :func:`encode_state`; ValueError for a frame that does not add up."""
    import math

    import numpy as np

    (n,) = STATE_HEADER.unpack_from(payload, 0)
    head = json.loads(payload[STATE_HEADER.size:STATE_HEADER.size + n].decode("utf-8"))
    off = STATE_HEADER.size + n
    arrays = {}
    for name, dtype, shape in head["arrays"]:
        if dtype not in STATE_DTYPES:
            raise ValueError(f"unexpected array type {dtype!r} in a state frame")
        dt = np.dtype(dtype)
        count = math.prod(int(x) for x in shape)
        if off + count * dt.itemsize > len(payload):
            raise ValueError("a state frame shorter than its arrays")
        arrays[str(name)] = np.frombuffer(payload, dtype=dt, count=count, offset=off).reshape(shape).copy()
        off += count * dt.itemsize
    return ModelState(dict(head["fields"]), arrays)


def read_frame(recv_exact: Callable[[int], bytes | None]) -> tuple[int, Any] | None:
    """One frame from ``recv_exact(n)`` (None at EOF): ``(JSON_FRAME, dict)``, or the raw payload
    of a ``DIGEST_FRAME`` or ``STATE_FRAME``."""
    head = recv_exact(HEADER.size)
    if head is None:
        return None
    ftype, length = HEADER.unpack(head)
    if length > MAX_FRAME or ftype not in (JSON_FRAME, DIGEST_FRAME, STATE_FRAME):
        raise ValueError(f"corrupt frame on the control socket (type {ftype}, length {length})")
    payload = recv_exact(length) if length else b""
    if payload is None:
        return None
    if ftype == JSON_FRAME:
        return ftype, json.loads(payload.decode("utf-8"))
    return ftype, payload


def socket_recv_exact(sock: socket.socket) -> Callable[[int], bytes | None]:
    """``recv_exact(n)`` over a buffer: one recv takes a whole tick's frames (not two per frame)."""
    buf = bytearray()

    def recv_exact(n: int) -> bytes | None:
        while len(buf) < n:
            b = sock.recv(max(n - len(buf), 1 << 18))
            if not b:
                return None
            buf.extend(b)
        out = bytes(buf[:n])
        del buf[:n]
        return out
    return recv_exact


def _plain(obj: Any) -> Any:
    if obj is None:
        return None
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    return dict(vars(obj))


def samples_json(samples) -> list:
    return [[s.t_ns, s.values] for s in samples]


def events_json(events) -> list:
    return [[e.t_ns, e.kind, e.details] for e in events]


def samples_from_json(rows) -> list[Sample]:
    return [Sample(int(t), {k: float(v) for k, v in values.items() if v is not None}) for t, values in rows]


def events_from_json(rows) -> list[Event]:
    return [Event(int(t), str(kind), dict(details or {})) for t, kind, details in rows]


# ---------------------------------------------------------------------------- access

def peer_allowed(peer_uid: int, own_uid: int) -> bool:
    """Only the user who started the session may watch or steer it (root included: no exception)."""
    return int(peer_uid) == int(own_uid)


def peer_credentials(conn: socket.socket) -> tuple[int, int, int]:
    """``(pid, uid, gid)`` of the process at the other end of a unix socket (SO_PEERCRED)."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", raw)


class _DirPath:
    """A unix socket path for ``folder/name`` that fits in sun_path (via /proc/self/fd when long)."""

    def __init__(self, folder: Path, name: str = SOCKET_NAME):
        self.folder = Path(folder)
        self.name = name
        self._fd: int | None = None

    def __enter__(self) -> str:
        plain = str(self.folder / self.name)
        if len(plain.encode()) < _UNIX_PATH_MAX:
            return plain
        self._fd = os.open(str(self.folder), os.O_RDONLY | os.O_DIRECTORY)
        return f"/proc/self/fd/{self._fd}/{self.name}"

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _unlink_bounded(path: Path, *, timeout_s: float) -> None:
    """Remove ``path``; on a frozen or hung file system give up after ``timeout_s`` (a stuck
    helper thread is left behind, not the session)."""
    def unlink() -> None:
        try:
            path.unlink()
        except OSError:
            pass

    helper = threading.Thread(target=unlink, name="edgemon-unlink", daemon=True)
    helper.start()
    helper.join(timeout_s)


def socket_path(folder: Path) -> Path:
    return Path(folder) / SOCKET_NAME


def connect_unix(folder: Path, timeout: float = 5.0) -> socket.socket:
    """A connected socket to ``folder``'s control socket (OSError as connect() raises it)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with _DirPath(folder) as path:
            sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


# ---------------------------------------------------------------------------- clients

class _Client:
    """One attached connection: a writer thread fed by a bounded queue, a reader thread for commands."""

    def __init__(self, server: "SessionServer", conn: socket.socket, peer_pid: int, max_items: int):
        self.server = server
        self.conn = conn
        self.peer_pid = peer_pid
        self.max_items = max_items
        self.cond = threading.Condition()
        self.queue: deque[tuple[str, bytes]] = deque()
        self.closing = False      # send what is queued, then close
        self.closed = False
        self.resyncs = 0

    def start(self) -> None:
        for name, target in (("writer", self._write_loop), ("reader", self._read_loop)):
            threading.Thread(target=target, name=f"edgemon-client-{name}", daemon=True).start()

    def offer(self, kind: str, data: bytes) -> bool:
        """Queue ``data``; False (nothing queued) when the client is this far behind."""
        with self.cond:
            if self.closed:
                return True
            if kind == "update" and sum(1 for k, _ in self.queue if k == "update") >= self.max_items:
                return False
            self.queue.append((kind, data))
            self.cond.notify()
        return True

    def resync(self, snapshot: bytes) -> None:
        """Too far behind: forget its queued updates (replies stay) and start over from a snapshot."""
        with self.cond:
            kept = [(k, d) for k, d in self.queue if k != "update"]
            self.queue.clear()
            self.queue.extend(kept)
            self.queue.append(("update", snapshot))
            self.resyncs += 1
            self.cond.notify()

    def finish(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify()

    def _write_loop(self) -> None:
        try:
            while True:
                with self.cond:
                    while not self.queue and not self.closing and not self.closed:
                        self.cond.wait()
                    if self.closed or (self.closing and not self.queue):
                        break
                    _, data = self.queue.popleft()
                self.conn.sendall(data)
        except OSError:
            pass  # gone, or stuck past the send timeout: dropped below
        self.server._drop(self)

    def _read_loop(self) -> None:
        recv = socket_recv_exact(self.conn)
        try:
            while True:
                frame = read_frame(recv)
                if frame is None:
                    break
                ftype, msg = frame
                if ftype == JSON_FRAME and msg.get("t") == "cmd":
                    self.server._command(self, msg)
                elif ftype == JSON_FRAME and msg.get("t") == "bye":
                    break
        except (OSError, ValueError):
            pass
        self.server._drop(self)

    def close(self) -> None:
        with self.cond:
            if self.closed:
                return
            self.closed = True
            self.queue.clear()
            self.cond.notify_all()
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


# ---------------------------------------------------------------------------- server

class SessionServer:
    """Serves one LiveSession on ``folder/control.sock``. ``tick()`` is called by the daemon's loop."""

    def __init__(
        self,
        session,
        folder: Path,
        *,
        max_client_updates: int = 120,     # ~60 s of ticks queued for one client before it is resynced
        send_timeout_s: float = 30.0,      # a client that takes nothing for this long is dropped
        machine_every_s: float = 1.0,
        meta_every_s: float = 2.0,         # how often session.json and the source list are checked for changes
        log: Callable[[str], None] | None = None,
    ):
        self.session = session
        self.folder = Path(folder)
        self.path = socket_path(self.folder)
        self.model = DashboardModel()      # what an attaching dashboard starts from
        self.max_client_updates = max_client_updates
        self.send_timeout_s = send_timeout_s
        self.machine_every_s = machine_every_s
        self.meta_every_s = meta_every_s
        self._meta_at = 0.0
        self.log = log or (lambda line: print(line, flush=True))
        self.uid = os.getuid()
        self.clients: list[_Client] = []
        self.ticks = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._accepting = False
        self._commands = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgemon-command")
        self._meta_text = ""
        self._sources_text = ""
        self._machine: dict | None = None
        self._machine_at = 0.0

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "SessionServer":
        """Bind ``control.sock`` (0600) and start accepting. A stale socket file is replaced."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Mode 0600 from the start, through the umask: chmod() after bind() would follow a link
        # planted in its place. The uid check below is the real gate; this keeps others off the file.
        old_umask = os.umask(0o177)
        try:
            with _DirPath(self.folder) as path:
                sock.bind(path)
        finally:
            os.umask(old_umask)
        sock.listen(8)
        self._listener = sock
        self._accepting = True
        threading.Thread(target=self._accept_loop, name="edgemon-accept", daemon=True).start()
        return self

    def close(self, state: str = "ended", message: str = "", *, flush_s: float = 3.0,
              **extra: Any) -> None:
        """Tell every client the session is over (after what is queued), then close and remove the socket.

        ``extra`` goes into the "end" frame (e.g. the recording's flag: recording, recording_level).
        Never waits long on the disk: removing the socket file of a frozen file system is given up."""
        self._accepting = False
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        # gone before anyone hears "end": a client that saw the end finds no socket
        _unlink_bounded(self.path, timeout_s=2.0)
        end = encode_json({"t": "end", "state": state, "message": message, **extra})
        with self._lock:
            clients = list(self.clients)
        for c in clients:
            c.offer("end", end)
            c.finish()
        deadline = time.monotonic() + flush_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self.clients:
                    break
            time.sleep(0.05)
        with self._lock:
            clients, self.clients = list(self.clients), []
        for c in clients:
            c.close()
        self._commands.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------ tick
    def tick(self) -> FeedUpdate:
        """Drain the session once, remember it, send it to every client. Returns what was drained
        (its latency as digests: computed once, for this model and every client)."""
        drained = self.session.drain()
        update = replace(drained, latency=[],
                         digests=drained.digests + [digest_batch(b) for b in merged_batches(drained.latency)])
        status = self.session.status()
        self.ticks += 1
        with self._lock:
            self.model.apply(update)
            self.model.observe(status)
            if self.clients:
                self._fan_out(update, status)
        return update

    def _fan_out(self, update: FeedUpdate, status) -> None:
        """Under _lock."""
        frames = [encode_digest_frame(g) for g in update.digests]
        msg: dict[str, Any] = {"t": "update", "samples": samples_json(update.samples),
                               "events": events_json(update.events), "status": _plain(status)}
        # session.json and the source list change rarely (a hello, a source failing): they are
        # serialised and compared every meta_every_s, not on every tick.
        now = time.monotonic()
        check = now - self._meta_at >= self.meta_every_s
        if check:
            self._meta_at = now
        self._add_changes(msg, check_sources=check)
        frames.append(encode_json(msg))
        meta = self._meta_frame(changed_only=True) if check else None
        data = (meta or b"") + b"".join(frames)
        for c in list(self.clients):
            if not c.offer("update", data):
                c.resync(self._snapshot())
                self.log(f"client pid {c.peer_pid} fell behind; resent the whole state")

    def _add_changes(self, msg: dict[str, Any], *, check_sources: bool = True) -> None:
        now = time.monotonic()
        if now - self._machine_at >= self.machine_every_s:
            self._machine_at = now
            try:
                self._machine = _plain(self.session.machine_state())
            except Exception as exc:  # noqa: BLE001 - controls never kill the session
                self._machine = {"unavailable": {"all": str(exc)}}
        msg["machine"] = self._machine
        if not check_sources:
            return
        try:
            sources = [_plain(s) for s in self.session.source_statuses]
            text = json.dumps(sources, sort_keys=True, default=str)
        except Exception:  # noqa: BLE001 - a source list that cannot be sent is skipped this tick
            return
        if text != self._sources_text:
            self._sources_text = text
            msg["sources"] = sources

    def _meta_frame(self, *, changed_only: bool) -> bytes | None:
        try:
            meta = dict(self.session.meta)
            text = json.dumps(meta, sort_keys=True, default=str)
        except (RuntimeError, TypeError, ValueError):  # changed while we read it: next tick
            return None
        if changed_only and text == self._meta_text:
            return None
        self._meta_text = text
        return encode_json({"t": "meta", "meta": json.loads(text)})

    def _snapshot(self) -> bytes:
        """Under _lock: meta, reset, the model so far, current status/machine/sources."""
        parts = [self._meta_frame(changed_only=False) or encode_json({"t": "meta", "meta": {}}),
                 encode_json({"t": "reset"}), encode_state(self.model.state())]
        msg: dict[str, Any] = {"t": "update", "samples": [], "events": []}
        msg["status"] = _plain(self.session.status())
        self._machine_at = 0.0
        self._sources_text = ""
        self._meta_at = 0.0    # the next tick checks session.json again
        self._add_changes(msg)
        parts.append(encode_json(msg))
        return b"".join(parts)

    # ------------------------------------------------------------ connections
    def _accept_loop(self) -> None:
        while self._accepting:
            listener = self._listener
            if listener is None:
                return
            try:
                conn, _ = listener.accept()
            except OSError as e:
                if not self._accepting or e.errno in (errno.EBADF, errno.EINVAL):
                    return
                time.sleep(0.1)
                continue
            try:
                self._admit(conn)
            except OSError:
                conn.close()

    def _admit(self, conn: socket.socket) -> None:
        pid, uid, _gid = peer_credentials(conn)
        hello = {"t": "hello", "pid": os.getpid(), "folder": str(self.folder), "protocol": PROTOCOL_VERSION}
        if not peer_allowed(uid, self.uid):
            conn.settimeout(2.0)
            try:
                conn.sendall(encode_json(hello) + encode_json(
                    {"t": "refused", "reason": f"this session belongs to uid {self.uid}, you are uid {uid}"}))
            finally:
                conn.close()
            self.log(f"refused a connection from pid {pid} (uid {uid})")
            return
        # Sends give up after send_timeout_s so a stuck client cannot hold a writer thread forever.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(self.send_timeout_s), 0))
        client = _Client(self, conn, pid, self.max_client_updates)
        with self._lock:
            client.offer("hello", encode_json(hello))
            client.offer("update", self._snapshot())
            self.clients.append(client)
            n = len(self.clients)
        self.log(f"client attached (pid {pid}); {n} attached")
        client.start()

    def _drop(self, client: _Client) -> None:
        with self._lock:
            if client not in self.clients:
                client.close()
                return
            self.clients.remove(client)
            n = len(self.clients)
        client.close()
        self.log(f"client detached (pid {client.peer_pid}); {n} attached")

    def _command(self, client: _Client, msg: dict[str, Any]) -> None:
        name = str(msg.get("name", ""))
        kw = msg.get("kw") if isinstance(msg.get("kw"), dict) else {}
        cid = msg.get("id")
        cmd = cmds.parse(name, kw)

        def run() -> None:
            if cmds.wire_name(cmd) in cmds.SESSION_COMMAND_NAMES:
                try:
                    answer = self.session.command(cmd)
                except Exception as exc:  # noqa: BLE001 - a failing control must not kill the daemon
                    answer = f"{name} failed: {type(exc).__name__}: {exc}"
            else:
                answer = f"{name}: not available in a detached session"
            self._machine_at = 0.0   # show the control's effect on the next tick
            self.log(f"command {name} {kw or ''} from pid {client.peer_pid}: {answer}")
            client.offer("reply", encode_json({"t": "reply", "id": cid, "message": answer}))

        try:
            self._commands.submit(run)
        except RuntimeError:  # shutting down
            client.offer("reply", encode_json({"t": "reply", "id": cid, "message": "the session is ending"}))

