"""Per-iteration cost of the runner instrumentation and of edgemon_probe (target: well under 1 us).

Times (process CPU time), in the same process and interleaved, (a) a bare loop calling a trivial op and
(b) the real timed loop of runners/_common.py (two clock reads + two list appends, frames
built every 100 ms and written to /dev/null) calling the same op, and prints the difference
per iteration. (c) also times the plain design (monotonic_ns x2 + LatencyBuffer.add) for comparison.
(d)-(g) time a user's own loop instrumented with runners/probe/edgemon_probe.py, its frames written
to /dev/null as under `edgemon run -- CMD`: ``with edgemon_probe.timed(items=1):`` made each
iteration (d), one timer made once and reused (e), ``iteration(t0, t1)`` with the user's own clock
reads (f), ``for x in loop(...)`` (the generator form, compared with the bare loop although the
bare loop counts with ``while``), and ``timed()`` without edgemon (g, the probe idle). (h), for scale:
a ``with`` block around an empty Python context manager, the floor under any ``with timed()``, and (i)
around the least a ``with`` timer can do (two clock reads, one append).

    .venv/bin/python benchmarks/runner_overhead.py [--iterations N] [--repeats R]
    /root/.pyenv/versions/3.6.15/bin/python benchmarks/runner_overhead.py   # the 3.6 clock fallback

Plain Python 3.6+, standard library only, like the runners it measures (numpy is used by the
runner loop where present; the probe never uses it).
"""

import argparse
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "runners"))

import _common  # noqa: E402 - after the sys.path line
import _protocol  # noqa: E402 - after the sys.path line

sys.path.insert(0, os.path.join(HERE, os.pardir, "runners", "probe"))
os.environ.pop("EDGEMON_FRAMES_FD", None)
import edgemon_probe  # noqa: E402 - after the sys.path line, and idle (no frame pipe)


def op():
    pass


# CPU time of this process: other load on the machine (CI, other jobs) does not inflate it;
# the loop is single-threaded, so it equals the loop's own time on an idle machine.
_clock = time.process_time


class _Ctrl(object):
    paused = False
    stopped = False
    rate = None


class _Args(object):
    batch = 1
    warmup_iters = 0
    warmup_seconds = 0.0
    duration = None
    seed = 0
    opts = {}

    def __init__(self, iterations):
        self.iterations = iterations


def bare(n):
    """The same loop shape without instrumentation: the op, a counter, one compare."""
    t = _clock()
    i = 0
    while True:
        op()
        i += 1
        if i >= n:
            break
    return _clock() - t


def instrumented(n, sink):
    """runners/_common.py's real loop (it emits frames to /dev/null)."""
    writer = _protocol.FrameWriter(sink)
    session = _common._Session("bench", "none", _Args(n), None, writer)
    session.buf = _common.RawRows(writer, 1)
    t = _clock()
    session.loop(op, _Ctrl())
    elapsed = _clock() - t
    # n measured iterations plus the cold first inference, which the runner times on its own
    assert session.iterations == n + 1, session.iterations
    return elapsed


def latency_buffer_loop(n, sink):
    """For comparison: the plain design, monotonic_ns x2 + LatencyBuffer.add per iteration."""
    buf = _protocol.LatencyBuffer(_protocol.FrameWriter(sink))
    add = buf.add
    now = _protocol.monotonic_ns
    t = _clock()
    i = 0
    while True:
        t0 = now()
        op()
        t1 = now()
        add(t1, t1 - t0, 1)
        i += 1
        if i >= n:
            break
    elapsed = _clock() - t
    buf.flush()
    return elapsed


def _probe_to(sink):
    """Point the probe at ``sink`` as if edgemon had passed it (None: no edgemon)."""
    edgemon_probe._flush()
    edgemon_probe._sink = edgemon_probe._Frames(_protocol, sink) if sink is not None else None
    edgemon_probe._set_recording(sink is not None)


def _probe_case(loop):
    """A probe benchmark: ``loop(n)`` runs the instrumented loop; frames go to ``sink``."""
    def run(n, sink):
        _probe_to(sink)
        t = _clock()
        loop(n)
        elapsed = _clock() - t
        edgemon_probe._flush()
        return elapsed
    run.__doc__ = loop.__doc__
    return run


@_probe_case
def probe_timed(n):
    """(d) ``with timed(items=1):`` around the op, a new timer each iteration."""
    timed = edgemon_probe.timed
    i = 0
    while True:
        with timed(items=1):
            op()
        i += 1
        if i >= n:
            break


@_probe_case
def probe_reused(n):
    """(e) one timer made before the loop, ``with timer:`` each iteration."""
    timer = edgemon_probe.timed(items=1)
    i = 0
    while True:
        with timer:
            op()
        i += 1
        if i >= n:
            break


@_probe_case
def probe_loop(n):
    """(f2) ``for x in loop(range(n), items=1):`` around the op."""
    for _ in edgemon_probe.loop(range(n), items=1):
        op()


@_probe_case
def probe_iteration(n):
    """(f) the user's own clock reads, then ``iteration(t0, t1)``."""
    now = edgemon_probe.now_ns
    record = edgemon_probe.iteration
    i = 0
    while True:
        t0 = now()
        op()
        record(t0, now())
        i += 1
        if i >= n:
            break


class _EmptyContext(object):
    """A context manager that does nothing: what any ``with`` written in Python costs."""

    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return False


def with_loop(n, manager):
    """The bare loop with ``with manager:`` around the op (for scale, not the probe)."""
    t = _clock()
    i = 0
    while True:
        with manager:
            op()
        i += 1
        if i >= n:
            break
    return _clock() - t


_probe_clock = getattr(time, "monotonic_ns", time.monotonic)


class _MinimalTimer(object):
    """The least a ``with`` timer can do: two clock reads and one append, nothing kept per row."""

    __slots__ = ("t0", "out")

    def __init__(self):
        self.out = []

    def __enter__(self):
        self.t0 = _probe_clock()

    def __exit__(self, exc_type, exc, tb):
        self.out.append(_probe_clock() - self.t0)


def probe_idle(n, _sink):
    """(g) ``with timed(items=1):`` without edgemon (and without a summary): the probe idle."""
    return probe_timed(n, None)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=1000000)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    n = args.iterations
    with open(os.devnull, "wb") as sink:
        bare(n // 10)  # warm caches and the allocator
        instrumented(n // 10, sink)
        probes = (("probe: with timed(items=1), new each time", probe_timed),
                  ("probe: one timer reused, with timer:", probe_reused),
                  ("probe: for x in loop(range(n), items=1):", probe_loop),
                  ("probe: iteration(t0, t1), own clock reads", probe_iteration),
                  ("probe without edgemon (idle)", probe_idle))
        b, m, r, e, mt = [], [], [], [], []
        p = {name: [] for name, _ in probes}
        for _ in range(args.repeats):  # interleaved, so drifts in clock speed hit all alike
            b.append(bare(n) / n * 1e9)
            m.append(instrumented(n, sink) / n * 1e9)
            r.append(latency_buffer_loop(n, sink) / n * 1e9)
            e.append(with_loop(n, _EmptyContext()) / n * 1e9)           # (h)
            mt.append(with_loop(n, _MinimalTimer()) / n * 1e9)          # (i)
            for name, fn in probes:
                p[name].append(fn(n, sink) / n * 1e9)
    bare_ns, inst_ns, ref_ns = statistics.median(b), statistics.median(m), statistics.median(r)
    print("python %s, monotonic_ns %s" % (platform.python_version(),
                                           "native" if hasattr(time, "monotonic_ns") else "float fallback"))
    print("iterations per run: %d, runs: %d (medians of process CPU time below)" % (n, args.repeats))
    print("bare loop:          %8.1f ns/iteration" % bare_ns)
    print("_common timed loop: %8.1f ns/iteration" % inst_ns)
    print("  (for comparison: monotonic_ns x2 + LatencyBuffer.add: %.1f ns/iteration, overhead %.1f)"
          % (ref_ns, ref_ns - bare_ns))
    overhead = inst_ns - bare_ns
    print("overhead:           %8.1f ns/iteration  (target < 1000 ns: %s)"
          % (overhead, "met" if overhead < 1000 else "NOT met"))
    print("edgemon_probe, frames to /dev/null (overhead over the bare loop, target < 1000 ns):")
    for name, _ in probes:
        cost = statistics.median(p[name]) - bare_ns
        print("  %-44s %8.1f ns/iteration  (%s)" % (name, cost, "met" if cost < 1000 else "NOT met"))
    print("for scale, not the probe: `with` an empty Python context manager, made once:  %8.1f ns/iteration"
          % (statistics.median(e) - bare_ns))
    print("for scale, not the probe: `with` a minimal timer (2 clock reads, 1 append), made once: %8.1f ns/iteration"
          % (statistics.median(mt) - bare_ns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
