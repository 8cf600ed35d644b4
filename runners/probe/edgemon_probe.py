"""edgemon_probe: time your own loop, and let edgemon record it next to the machine.

    import edgemon_probe

    edgemon_probe.phase("warmup")            # rows flagged warm-up until the next phase
    for batch in warmup_batches:
        with edgemon_probe.timed(items=8):
            model(batch)
    edgemon_probe.phase("measure")
    for batch in batches:
        with edgemon_probe.timed(items=8):   # one latency row: start, end, 8 items
            model(batch)
    for batch in edgemon_probe.loop(batches, items=8):   # the same, cheaper: each pass is a row
        model(batch)
    edgemon_probe.event("epoch", n=3)         # an event in the recording

Under ``edgemon run -- python loop.py`` the rows travel to edgemon as the built-in runners'
frames do (the same format, on the pipe edgemon passes in ``EDGEMON_FRAMES_FD``): the loop
only reads the clock twice and appends three numbers to a list; every ~100 ms they become one
frame. Per iteration (``benchmarks/runner_overhead.py``): ``loop()`` about half a microsecond
on Python 3.11 and 3.6; ``with timed()`` about one on 3.11 and 1.2-1.7 on 3.6 (where no
``with`` timer can go under one: see the README). Without edgemon the calls do almost nothing,
and ``EDGEMON_PROBE_SUMMARY=1`` (or :func:`summary_at_exit`) prints a latency summary when the
program ends.

Standard library only, Python 3.6 or newer: JetPack's system Python can use it. edgemon puts
this folder on the command's ``PYTHONPATH``; elsewhere, put it there yourself
(``edgemon info`` prints the folder).

Times are ``CLOCK_MONOTONIC`` nanoseconds (``time.monotonic_ns()``, or :func:`now_ns` on
Python 3.6), the clock every edgemon process shares.
"""

import atexit
import os
import struct
import sys
import threading
import time

__all__ = ["timed", "loop", "iteration", "event", "phase", "now_ns", "active", "summary", "summary_at_exit"]
__version__ = "1"

SUMMARY_ENV = "EDGEMON_PROBE_SUMMARY"
FLUSH_NS = 100 * 1000 * 1000          # one frame about every 100 ms
WARMUP_NAMES = ("warmup", "warm-up", "warm_up")


def _load_protocol():
    """The frame format (``runners/_protocol.py``, one folder up): one definition for the
    built-in runners and the probe. Loaded by path, so a module of the user's own called
    ``_protocol`` can never stand in for it."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "_protocol.py")
    spec = importlib.util.spec_from_file_location("edgemon_probe_protocol", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_NS_CLOCK = getattr(time, "monotonic_ns", None)
if _NS_CLOCK is not None:
    _clock = _NS_CLOCK                 # int nanoseconds
    _FLOAT_CLOCK = False
    _UNIT = FLUSH_NS

    def now_ns():
        """CLOCK_MONOTONIC in nanoseconds (``time.monotonic_ns``)."""
        return _NS_CLOCK()
else:  # Python 3.6: float seconds of the same clock, converted off the hot path
    _clock = time.monotonic
    _FLOAT_CLOCK = True
    _UNIT = FLUSH_NS / 1e9

    def now_ns():
        """CLOCK_MONOTONIC in nanoseconds."""
        return int(time.monotonic() * 1e9)

# Raw rows of the hot path: t_end, duration, items, t_end, duration, items, ... in clock units
# (int ns, or float seconds on 3.6). Never rebound: the timer holds its extend method.
_raw = []
_extend = _raw.extend
_next = [_clock() + _UNIT]            # when the next frame is due, in clock units
_sink = None                          # _Frames under edgemon, _Summary when asked, else None
_warmup = False
_phase_name = None
_warmup_started = None                # (now_ns, iterations) when the warm-up phase began
_count = [0]                          # rows handed to the sink so far


# ---------------------------------------------------------------- the hot path

class _Timed(object):
    """A timer from :func:`timed`: one row each time its ``with`` block ends without an exception."""

    __slots__ = ("items", "t0")

    def __enter__(self):
        self.t0 = _clock()
        return self

    def __exit__(self, exc_type, exc, tb):
        t1 = _clock()
        if exc_type is None:
            _extend((t1, t1 - self.t0, self.items))
            if t1 >= _next[0]:
                _flush()
        return False


def _enter_inert(self):
    return self


def _exit_inert(self, exc_type, exc, tb):
    return False


_ENTER, _EXIT = _Timed.__enter__, _Timed.__exit__
_new = object.__new__


def timed(items=1):
    """``with edgemon_probe.timed(items=8): model(x)``: the block is one row of 8 items.

    Making the timer costs about as much as using it; a loop that wants less makes it once
    (``t = timed(items=8)``, then ``with t:`` each time; not nested inside itself), or uses
    :func:`loop`, the cheapest form."""
    t = _new(_Timed)       # no __init__: a Python-level constructor would double the cost
    t.items = items
    return t


def loop(iterable, items=1):
    """``for x in edgemon_probe.loop(batches, items=8): model(x)``: each pass of the loop's body is
    one row (fetching the next ``x`` is not timed). The cheapest way to time a loop."""
    if _sink is None:
        for x in iterable:
            yield x
        return
    clock, extend, due = _clock, _extend, _next
    for x in iterable:
        t0 = clock()
        yield x
        t1 = clock()
        extend((t1, t1 - t0, items))
        if t1 >= due[0]:
            _flush()


def _set_recording(on):
    """Swap the timer's methods: nothing is read or kept while nobody listens."""
    _Timed.__enter__ = _ENTER if on else _enter_inert
    _Timed.__exit__ = _EXIT if on else _exit_inert


def iteration(t_start_ns, t_end_ns, items=1):
    """One row timed by your own code: start and end in CLOCK_MONOTONIC nanoseconds."""
    if _sink is None:
        return
    if t_end_ns < t_start_ns:
        raise ValueError("edgemon_probe.iteration: t_end_ns %r is before t_start_ns %r" % (t_end_ns, t_start_ns))
    if _FLOAT_CLOCK:
        t_start_ns, t_end_ns = t_start_ns / 1e9, t_end_ns / 1e9
    _extend((t_end_ns, t_end_ns - t_start_ns, items))
    if t_end_ns >= _next[0]:
        _flush()


# ---------------------------------------------------------------- events and phases

def event(kind, **details):
    """An event in the recording (``kind`` a short name; details JSON-able)."""
    if _sink is not None:
        _flush()                       # rows before the event arrive before it
        _sink.event(str(kind), details)


class _Phase(object):
    """Returned by :func:`phase`; as a context manager it restores the previous phase."""

    def __init__(self, previous):
        self.previous = previous

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        phase(self.previous or "main")
        return False


def phase(name):
    """Start phase ``name``. ``"warmup"`` flags the rows that follow as warm-up (recorded, left out
    of statistics) until the next phase; ``"train"`` rows are left out of inference statistics."""
    global _warmup, _phase_name, _warmup_started
    previous = _phase_name
    name = str(name)
    _flush()                           # every frame is all warm-up or all measured
    warm = name.lower() in WARMUP_NAMES
    if _sink is not None:
        _sink.event("phase", {"name": name})
        if _warmup and not warm and _warmup_started is not None:
            t0, n0 = _warmup_started
            _sink.event("warmup_done", {"iterations": _count[0] - n0, "seconds": (now_ns() - t0) / 1e9})
    if warm and not _warmup:
        _warmup_started = (now_ns(), _count[0])
    _warmup = warm
    _phase_name = name
    return _Phase(previous)


# ---------------------------------------------------------------- flushing

_flush_lock = threading.Lock()


def _flush():
    """Hand the rows so far to the sink as one frame (at most one thread at a time; a thread
    that finds another flushing leaves its rows for the next flush)."""
    if not _flush_lock.acquire(False):
        return
    try:
        raw = _raw
        _next[0] = _clock() + _UNIT
        n = len(raw) // 3
        if not n:
            return
        cols = raw[0:3 * n:3], raw[1:3 * n:3], raw[2:3 * n:3]
        del raw[:3 * n]
        sink = _sink
        if sink is not None:
            _count[0] += n
            sink.rows(n, cols, _warmup)
    finally:
        _flush_lock.release()


def _pack_items(n, items):
    try:
        return struct.pack("<%di" % n, *items)
    except struct.error:               # floats, huge values: whole items within int32
        return struct.pack("<%di" % n, *[max(0, min(int(x), 2 ** 31 - 1)) for x in items])


class _Frames(object):
    """Frames to edgemon. Any trouble (edgemon gone, a forked child) makes the probe go quiet;
    it never raises into the program it measures."""

    def __init__(self, protocol, stream):
        self.protocol = protocol
        self.writer = protocol.FrameWriter(stream)
        self.pid = os.getpid()
        self.code = "<%dd" if _FLOAT_CLOCK else "<%dq"

    def _ok(self):
        return os.getpid() == self.pid   # a forked child must not write into the parent's pipe

    def hello(self):
        import platform
        self._send(self.writer.hello, {
            "runner": "command", "framework": "edgemon_probe", "framework_version": __version__,
            "pid": self.pid, "python": platform.python_version(), "python_executable": sys.executable,
            "argv": list(sys.argv[:20]),
        })

    def rows(self, n, cols, warmup):
        if not self._ok():
            return
        t_end, dur, items = cols
        fmt = self.code % n
        try:
            packed = struct.pack(fmt, *t_end), struct.pack(fmt, *dur), _pack_items(n, items)
        except struct.error:           # a time that is not a number (iteration() misuse): drop the frame
            return
        self._send(self.writer.latency_packed, n, packed[0], packed[1], packed[2], warmup, _FLOAT_CLOCK)

    def event(self, kind, details):
        if self._ok():
            self._send(self.writer.event, kind, **details)

    def bye(self):
        if self._ok():
            self._send(self.writer.bye, "done", iterations=_count[0])

    def _send(self, fn, *args, **kw):
        global _sink
        try:
            fn(*args, **kw)
        except (OSError, ValueError, TypeError):
            _sink = None               # edgemon went away, or details were not JSON-able: go quiet
            _set_recording(False)


class _Summary(object):
    """Without edgemon: a log-bucket histogram (8 buckets per doubling, ~9 % wide) of durations."""

    def __init__(self):
        self.buckets = {}
        self.n = 0
        self.items = 0
        self.first = None
        self.last = None

    def rows(self, n, cols, warmup):
        if warmup:
            return
        t_end, dur, items = cols
        if _FLOAT_CLOCK:
            t_end = [int(t * 1e9) for t in t_end]
            dur = [int(d * 1e9) for d in dur]
        buckets = self.buckets
        for d in dur:
            d = int(d)
            b = d.bit_length()
            key = (b << 3) | ((d >> (b - 4)) & 7) if b > 4 else d
            buckets[key] = buckets.get(key, 0) + 1
        self.n += n
        self.items += sum(items)
        start = t_end[0] - dur[0]
        self.first = start if self.first is None else min(self.first, start)
        self.last = t_end[-1] if self.last is None else max(self.last, t_end[-1])

    def event(self, kind, details):
        pass

    def stats(self):
        if not self.n:
            return {"count": 0}
        keys = sorted(self.buckets)
        out = {"count": self.n, "items": self.items}
        for label, q in (("p50_ms", 0.50), ("p90_ms", 0.90), ("p99_ms", 0.99)):
            rank = max(1, int(q * self.n + 0.999999))
            seen = 0
            for key in keys:
                seen += self.buckets[key]
                if seen >= rank:
                    out[label] = _bucket_ns(key) / 1e6
                    break
        wall = (self.last - self.first) / 1e9 if self.last > self.first else 0.0
        out["throughput_ips"] = self.items / wall if wall > 0 else None
        return out

    def print(self):
        s = self.stats()
        if not s["count"]:
            sys.stderr.write("edgemon_probe: no measured iterations\n")
            return
        rate = s["throughput_ips"]
        sys.stderr.write("edgemon_probe: %d iterations, %d items; latency p50 %.3g ms, p90 %.3g ms, p99 %.3g ms "
                         "(within ~9 %%)%s\n" % (s["count"], s["items"], s["p50_ms"], s["p90_ms"], s["p99_ms"],
                                                 ", %.4g items/s" % rate if rate else ""))

    def bye(self):
        self.print()


def _bucket_ns(key):
    """Middle of a histogram bucket, in ns."""
    if key < 32:                         # durations below 16 ns are their own bucket
        return float(key)
    b = key >> 3
    low = (8 | (key & 7)) << (b - 4)
    return low + (1 << (b - 4)) / 2.0


def active():
    """True when the rows go to edgemon."""
    return isinstance(_sink, _Frames)


def summary():
    """Latency summary of the measured rows so far (without edgemon, after :func:`summary_at_exit`)."""
    _flush()
    return _sink.stats() if isinstance(_sink, _Summary) else {"count": 0}


def summary_at_exit():
    """Without edgemon: keep the rows and print a latency summary on stderr when the program ends."""
    global _sink
    if _sink is None:
        _sink = _Summary()
        _set_recording(True)


def _at_exit():
    sink = _sink
    if sink is None:
        return
    try:
        _flush()
    except Exception:  # an exit hook must not turn a clean exit into a traceback
        pass
    sink.bye()


def _start():
    global _sink
    protocol = None
    stream = None
    if os.environ.get("EDGEMON_FRAMES_FD"):
        try:
            protocol = _load_protocol()
            stream = protocol.open_frames()
        except Exception as exc:  # a broken install must not stop the program being measured
            sys.stderr.write("edgemon_probe: cannot talk to edgemon (%s); timing is off\n" % (exc,))
    if stream is not None:
        _sink = _Frames(protocol, stream)
        _sink.hello()
    elif os.environ.get(SUMMARY_ENV, "") not in ("", "0"):
        _sink = _Summary()
    _set_recording(_sink is not None)
    atexit.register(_at_exit)


_start()
