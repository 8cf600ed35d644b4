"""Wire protocol between a runner (worker process) and the edgemon monitor.

Runs on Python 3.6+ with only the standard library: runners may be started by
another interpreter than the monitor (JetPack 4.6 ships 3.6). The monitor
imports this same module (as ``edgemon._runners._protocol``) to decode frames,
so there is exactly one definition of the format.

Runner -> monitor, on a pipe of its own: edgemon passes its write end to the worker
and names the descriptor in the environment variable ``EDGEMON_FRAMES_FD``
(:func:`open_frames`), so nothing the worker prints on stdout or stderr can corrupt a
frame. A runner started by hand, without that variable, writes the frames on its
stdout instead (and sends anything printed there to stderr).

    frame   = header payload
    header  = struct "<BI": frame type (1 byte), payload length (uint32)
    HELLO   JSON object: runner, framework, framework_version, device, model,
            inputs [{name, shape, dtype}], params, batch, pid, python
    LATENCY struct "<IB" (n rows, flags; bit 0 = warm-up) followed by
            n int64 t_end_ns, n int64 duration_ns, n int32 items (little-endian,
            CLOCK_MONOTONIC nanoseconds); with flag bit 1 the two time columns are
            float64 seconds of the same clock instead (Python 3.6 has no
            monotonic_ns, and converting floats row by row costs more than the loop)
    EVENT   JSON object {"kind": ..., "t_ns": ..., ...details}
    BYE     JSON object {"reason": "duration"|"stopped"|"error"|"done", "iterations": n}

Monitor -> runner, on the runner's stdin: one JSON object per line,
{"cmd": "pause"|"resume"|"stop"|"set_rate", ...}. EOF on stdin means stop.
"""

import json
import os
import stat
import struct
import sys
import threading
import time
from array import array

HELLO = 1
LATENCY = 2
EVENT = 3
BYE = 4

HEADER = struct.Struct("<BI")
LAT_HEADER = struct.Struct("<IB")
FLAG_WARMUP = 1
FLAG_SECONDS = 2
MAX_FRAME = 64 * 1024 * 1024
FRAMES_FD_ENV = "EDGEMON_FRAMES_FD"

if hasattr(time, "monotonic_ns"):
    monotonic_ns = time.monotonic_ns  # novm (guarded by hasattr; 3.6 uses the fallback below)
else:  # Python 3.6: same CLOCK_MONOTONIC, float precision is ~0.1 us at boot-scale uptimes
    def monotonic_ns():
        return int(time.monotonic() * 1e9)


def _le(arr):
    if sys.byteorder != "little":
        arr = array(arr.typecode, arr)
        arr.byteswap()
    return arr.tobytes()


def open_frames(environ=None):
    """The binary stream for frames that edgemon passed in ``EDGEMON_FRAMES_FD``, or None.

    The variable is removed from the environment, and the descriptor is made
    non-inheritable, so a program the worker starts does not mistake the pipe for its
    own. A value that is not a number or not an open pipe is ignored (None): a stale
    variable must never make us write frames into some other file.
    """
    environ = os.environ if environ is None else environ
    text = environ.pop(FRAMES_FD_ENV, None)
    if not text:
        return None
    try:
        fd = int(text)
        if fd < 0 or not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return None
        os.set_inheritable(fd, False)
        return os.fdopen(fd, "wb")  # buffered: a frame is one write(), the writer flushes
    except (ValueError, OSError):
        return None


class FrameWriter(object):
    """Writes frames to a binary stream; thread-safe so a control thread can emit events."""

    def __init__(self, stream=None):
        self._out = stream if stream is not None else sys.stdout.buffer
        self._lock = threading.Lock()

    def _frame(self, ftype, payload):
        with self._lock:
            self._out.write(HEADER.pack(ftype, len(payload)) + payload)
            self._out.flush()

    def _json(self, ftype, obj):
        self._frame(ftype, json.dumps(obj, default=str).encode("utf-8"))

    def hello(self, info):
        self._json(HELLO, info)

    def event(self, kind, **details):
        details["kind"] = kind
        details.setdefault("t_ns", monotonic_ns())
        self._json(EVENT, details)

    def bye(self, reason, **details):
        details["reason"] = reason
        self._json(BYE, details)

    def latency(self, t_end, durations, items, warmup=False):
        """``t_end``/``durations``: array('q'); ``items``: array('i')."""
        n = len(t_end)
        if n == 0:
            return
        payload = LAT_HEADER.pack(n, FLAG_WARMUP if warmup else 0) + _le(t_end) + _le(durations) + _le(items)
        self._frame(LATENCY, payload)

    def latency_packed(self, n, t_end, durations, items, warmup=False, seconds=False):
        """Like :meth:`latency` with the columns already packed little-endian: ``t_end`` and
        ``durations`` int64 ns (or float64 seconds with ``seconds``), ``items`` int32."""
        if n:
            flags = (FLAG_WARMUP if warmup else 0) | (FLAG_SECONDS if seconds else 0)
            self._frame(LATENCY, LAT_HEADER.pack(n, flags) + t_end + durations + items)


class LatencyBuffer(object):
    """Collects (t_end, duration, items) rows and flushes them as one frame every ``period_s``.

    ``add`` is the only call in the timed loop: three appends and one compare.
    """

    def __init__(self, writer, period_s=0.1):
        self.writer = writer
        self.period_ns = int(period_s * 1e9)
        self.warmup = False
        self._reset()
        self.next_flush = monotonic_ns() + self.period_ns

    def _reset(self):
        self.t_end = array("q")
        self.dur = array("q")
        self.items = array("i")

    def add(self, t_end_ns, duration_ns, items):
        self.t_end.append(t_end_ns)
        self.dur.append(duration_ns)
        self.items.append(items)
        if t_end_ns >= self.next_flush:
            self.flush()

    def flush(self):
        if len(self.t_end):
            t_end, dur, items = self.t_end, self.dur, self.items
            self._reset()
            self.writer.latency(t_end, dur, items, self.warmup)
        self.next_flush = monotonic_ns() + self.period_ns

    def set_warmup(self, warmup):
        """Flush at the boundary so every frame is all warm-up or all measured."""
        if warmup != self.warmup:
            self.flush()
            self.warmup = warmup


class Control(object):
    """Reads monitor commands from stdin on a daemon thread; the loop polls plain attributes."""

    def __init__(self, stream=None):
        self.paused = False
        self.stopped = False
        self.rate = None  # iterations per second cap, None = as fast as possible
        self._resume = threading.Event()
        self._resume.set()
        self._in = stream if stream is not None else sys.stdin
        t = threading.Thread(target=self._run, name="edgemon-control")
        t.daemon = True
        t.start()

    def _run(self):
        try:
            for line in self._in:
                line = line.strip()
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                self.apply(msg)
        except Exception:  # a broken stdin must never kill the workload
            pass
        self.apply({"cmd": "stop"})  # EOF: the monitor is gone

    def apply(self, msg):
        cmd = msg.get("cmd")
        if cmd == "pause":
            self.paused = True
            self._resume.clear()
        elif cmd == "resume":
            self.paused = False
            self._resume.set()
        elif cmd == "stop":
            self.stopped = True
            self._resume.set()
        elif cmd == "set_rate":
            rate = msg.get("rate")
            self.rate = float(rate) if rate else None

    def wait_while_paused(self):
        self._resume.wait()


class FrameReader(object):
    """Decodes frames from a binary stream (monitor side). Yields ``(type, payload)``.

    LATENCY payloads are returned raw; use :func:`decode_latency`.
    Stops at EOF or at a torn frame (a runner killed mid-write).

    Reads whatever the stream has (up to ``chunk`` bytes) and yields every complete frame
    in it. ``pace_s`` > 0 sleeps that long after each read before the next one, so the
    frames written meanwhile arrive in one read: one wake-up of the reading thread per
    pace instead of one per frame. The writer must then have room to keep writing for
    that long (a big enough pipe). A fast writer (a loop of millions of rows a second)
    gets shorter pauses: at the writer's byte rate, a pause lets at most half a chunk pile
    up, and a read that filled the whole chunk is followed by none: the writer must never
    wait on a full pipe because the reader was asleep. The rate is the highest seen lately
    (halved every ``RATE_HALF_LIFE_S``), so one short read, as when the reader wakes at the
    first bytes of a big write, does not buy a whole pace.
    """

    RATE_HALF_LIFE_S = 1.0

    def __init__(self, stream, pace_s=0.0, chunk=1 << 18):
        self._in = stream
        self._pace_s = pace_s
        self._chunk = chunk
        self._rate = 0.0        # bytes/s: the writer's rate, highest lately

    def __iter__(self):
        for frames in self.reads():
            for frame in frames:
                yield frame

    def reads(self):
        """Like iterating, but yields the frames of each read together, as one list (never
        empty): a reader can then handle what one wake-up brought in one go. A corrupt frame
        raises after the list of the frames before it."""
        # read1: at most one read of the underlying file, returning what is there (a plain
        # read() of a buffered stream would wait for the whole chunk).
        read = getattr(self._in, "read1", None) or self._in.read
        buf = bytearray()
        need = HEADER.size
        last_read = time.monotonic()
        while True:
            data = read(max(self._chunk, need - len(buf)))
            if not data:
                return          # EOF; a partial frame left in buf is a torn write
            now = time.monotonic()
            pause = self._pause_after(len(data), now - last_read)
            last_read = now
            buf += data
            frames = []
            try:
                pos = self._parse(buf, frames)
            except ValueError:      # corrupt: what came before it is still news
                if frames:
                    yield frames
                raise
            del buf[:pos]
            need = HEADER.size
            if len(buf) >= HEADER.size:
                need = HEADER.size + HEADER.unpack_from(buf, 0)[1]
            if frames:
                yield frames
            if pause > 0:
                time.sleep(pause)

    @staticmethod
    def _parse(buf, frames):
        """Append every complete frame at the start of ``buf`` to ``frames``; the bytes used."""
        pos = 0
        while len(buf) - pos >= HEADER.size:
            ftype, length = HEADER.unpack_from(buf, pos)
            if length > MAX_FRAME or ftype not in (HELLO, LATENCY, EVENT, BYE):
                raise ValueError("corrupt frame from runner (type %d, length %d)" % (ftype, length))
            end = pos + HEADER.size + length
            if end > len(buf):
                break
            payload = bytes(buf[pos + HEADER.size:end])
            pos = end
            if ftype == LATENCY:
                frames.append((ftype, payload))
            else:
                frames.append((ftype, json.loads(payload.decode("utf-8"))))
        return pos

    def _pause_after(self, nbytes, since_last_read_s):
        """How long to sleep after a read of ``nbytes`` that came ``since_last_read_s`` after the previous one."""
        if self._pace_s <= 0 or nbytes >= self._chunk:
            return 0.0
        rate = nbytes / max(since_last_read_s, 1e-6)     # bytes/s the writer wrote meanwhile
        self._rate = max(rate, self._rate * 0.5 ** (since_last_read_s / self.RATE_HALF_LIFE_S))
        return min(self._pace_s, 0.5 * self._chunk / self._rate)


def decode_latency(payload):
    """``(t_end array('q'), durations array('q'), items array('i'), warmup bool)``."""
    n, flags = LAT_HEADER.unpack_from(payload, 0)
    off = LAT_HEADER.size
    code = "d" if flags & FLAG_SECONDS else "q"
    t_end = array(code)
    t_end.frombytes(payload[off:off + 8 * n])
    off += 8 * n
    dur = array(code)
    dur.frombytes(payload[off:off + 8 * n])
    off += 8 * n
    items = array("i")
    items.frombytes(payload[off:off + 4 * n])
    if sys.byteorder != "little":
        for a in (t_end, dur, items):
            a.byteswap()
    if code == "d":
        t_end, dur = _seconds_to_ns(t_end), _seconds_to_ns(dur)
    return t_end, dur, items, bool(flags & FLAG_WARMUP)


def _seconds_to_ns(seconds):
    """array('d') of seconds -> array('q') of nanoseconds (rounded); numpy when it is there."""
    try:
        import numpy as np
    except ImportError:
        return array("q", [int(round(x * 1e9)) for x in seconds])
    out = array("q")
    out.frombytes(np.rint(np.frombuffer(seconds, dtype=np.float64) * 1e9).astype(np.int64).tobytes())
    return out
