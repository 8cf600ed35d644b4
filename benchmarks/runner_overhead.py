"""Per-iteration cost of the runner instrumentation (target: well under 1 us).

Times (process CPU time), in the same process and interleaved, (a) a bare loop calling a trivial op and
(b) the real timed loop of runners/_common.py (two clock reads + two list appends, frames
built every 100 ms and written to /dev/null) calling the same op, and prints the difference
per iteration. (c) also times the plain design (monotonic_ns x2 + LatencyBuffer.add) for comparison.

    .venv/bin/python benchmarks/runner_overhead.py [--iterations N] [--repeats R]
    /root/.pyenv/versions/3.6.15/bin/python benchmarks/runner_overhead.py   # the 3.6 clock fallback

Plain Python 3.6+, standard library only, like the runners it measures.
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
    assert session.iterations == n, session.iterations
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=1000000)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    n = args.iterations
    with open(os.devnull, "wb") as sink:
        bare(n // 10)  # warm caches and the allocator
        instrumented(n // 10, sink)
        b, m, r = [], [], []
        for _ in range(args.repeats):  # interleaved, so drifts in clock speed hit all alike
            b.append(bare(n) / n * 1e9)
            m.append(instrumented(n, sink) / n * 1e9)
            r.append(latency_buffer_loop(n, sink) / n * 1e9)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
