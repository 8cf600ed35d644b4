"""Shared plumbing for runners: arguments, hello/bye, the timed loop, warm-up, pause/stop, errors.

A framework runner only supplies a ``MODELS`` catalogue and ``build(args) -> Model``
(build the model, make inputs, return a no-argument callable that runs one
inference of the whole batch), then calls :func:`run_main`.

Runs on Python 3.6+ (vermin-checked) with the standard library; numpy is used
when importable (every framework runner has it) to build frames cheaply. Never
import a framework here.

Exit codes: 0 = stopped as asked (BYE sent), 2 = bad command line (argparse),
3 = the model failed to build or run (EVENT "error" + BYE "error" sent),
4 = the monitor went away (the frame pipe closed).
"""

import argparse
import faulthandler
import functools
import json
import operator
import os
import platform
import sys
import time
import traceback
from array import array

if __package__:
    from . import _protocol
else:  # started as a script: siblings are on sys.path[0]
    import _protocol

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_MONITOR_GONE = 4

CHECK_NS = 10 * 1000 * 1000  # look at pause/stop/rate/deadline at most every 10 ms
_NEVER = 1 << 62
# Set by edgemon on an emulated Jetson: a file holding the board's CPU clock / its maximum.
CPU_SCALE_ENV = "EDGEMON_EMULATE_CPU_SCALE"
SCALE_READ_NS = 100 * 1000 * 1000  # re-read it at most every 100 ms (the board ticks at 10 Hz)


class Model(object):
    """What a runner's ``build(args)`` returns.

    ``run``: callable with no arguments, one inference of the whole batch (for
    CUDA frameworks it must synchronise before returning). ``inputs``: list of
    ``{name, shape, dtype}`` (see :func:`input_info`).
    """

    def __init__(self, run, inputs, params=None, device="cpu", framework_version=None,
                 gflops=None, info=None):
        self.run = run
        self.inputs = inputs
        self.params = params
        self.device = device
        self.framework_version = framework_version
        self.gflops = gflops  # per batch item, None if unknown
        self.info = info or {}  # extra hello fields (runner specific)


def input_info(name, array):
    """``{name, shape, dtype}`` of an array-like with ``.shape`` and ``.dtype``."""
    return {"name": name, "shape": [int(d) for d in array.shape], "dtype": str(array.dtype)}


def device_option(text, accelerator):
    """``(kind, index)`` from ``--opt device``: ("cpu", None), (accelerator, None) for the bare
    name, or (accelerator, N) for ``accelerator:N``. Needs no framework; ValueError otherwise."""
    text = (text or "cpu").strip().lower()
    if text == "cpu":
        return "cpu", None
    if text == accelerator:
        return accelerator, None
    if text.startswith(accelerator + ":"):
        try:
            return accelerator, int(text.split(":", 1)[1])
        except ValueError:
            raise ValueError("--opt device=%s: expected %s:N with N a number" % (text, accelerator))
    raise ValueError("--opt device=%s: use cpu, %s or %s:N" % (text, accelerator, accelerator))


# -- options and inputs, shared by the runners ----------------------------------------------------

def check_known_options(opts, known, runner_name):
    """ValueError naming the ``--opt`` keys the runner does not take, and the ones it does."""
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise ValueError("unknown option(s) %s; the %s runner knows: %s"
                         % (", ".join(unknown), runner_name, ", ".join(sorted(known))))


def int_option(opts, key, default, minimum=None, expected="an integer", blank_is_default=False):
    """``--opt key=N`` as an int, ``default`` when absent (or empty, with ``blank_is_default``);
    ValueError ``--opt key=x: expected <expected>`` or ``must be >= <minimum>`` otherwise."""
    raw = opts.get(key)
    if raw is None or (blank_is_default and raw == ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("--opt %s=%s: expected %s" % (key, raw, expected))
    if minimum is not None and value < minimum:
        raise ValueError("--opt %s=%s: must be >= %d" % (key, raw, minimum))
    return value


def input_shapes(text, batch, example):
    """``--opt input_shape=1x3x224x224[,1x10]``: one shape per input, the first dimension
    replaced by the batch. ``example`` is shown when a part is not dimensions."""
    shapes = []
    for part in text.split(","):
        try:
            dims = [int(d) for d in part.strip().lower().split("x")]
        except ValueError:
            raise ValueError("--opt input_shape=%s: expected dimensions like %s" % (text, example))
        if not dims or min(dims) < 1:
            raise ValueError("--opt input_shape=%s: dimensions must be >= 1" % text)
        shapes.append([batch] + dims[1:])
    return shapes


def random_input(np, rng, shape, dtype):
    """Uniform [0, 1) floats, integers in [0, 100), 0/1 booleans (study 003's synthetic inputs);
    ``bfloat16``, which numpy lacks, comes as float32 for the framework to cast."""
    if str(dtype) == "bfloat16":
        return rng.random_sample(shape).astype(np.float32)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.randint(0, 2, size=shape).astype(dtype)
    if dtype.kind in "iu":
        return rng.randint(0, 100, size=shape).astype(dtype)
    return rng.random_sample(shape).astype(dtype)


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1, got %s" % text)
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0, got %s" % text)
    return value


def _non_negative_float(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0, got %s" % text)
    return value


def _option(text):
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError("expected KEY=VALUE, got %r" % text)
    return key.strip(), value.strip()


def make_parser(runner_name):
    p = argparse.ArgumentParser(
        prog=runner_name,
        description="edgemon runner: frames on the pipe named by EDGEMON_FRAMES_FD (stdout when "
        "run by hand), commands as JSON lines on stdin.")
    p.add_argument("--model", help="model name from --list-models (or a model file where supported)")
    p.add_argument("--batch", type=_positive_int, default=1)
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="intra-op threads (the monitor also sets OMP/OPENBLAS/MKL_NUM_THREADS)")
    p.add_argument("--warmup-iters", type=_non_negative_int, default=0)
    p.add_argument("--warmup-seconds", type=_non_negative_float, default=0.0)
    p.add_argument("--duration", type=_non_negative_float, default=None,
                   help="stop after this many seconds from the first inference (warm-up included)")
    p.add_argument("--iterations", type=_non_negative_int, default=0,
                   help="stop after this many measured (post-warm-up) iterations; 0 = no limit")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--opt", type=_option, action="append", default=[], metavar="KEY=VALUE",
                   help="runner-specific option, repeatable")
    p.add_argument("--list-models", action="store_true", help="print the model catalogue as JSON and exit")
    return p


def parse_args(runner_name, argv=None):
    parser = make_parser(runner_name)
    args = parser.parse_args(argv)
    args.opts = dict(args.opt)
    if not args.list_models and not args.model:
        parser.error("--model is required")
    return args


def _claim_stdout():
    """Run by hand (no frame pipe from edgemon): keep fd 1 for frames only; anything else
    printed (Python or C) goes to stderr, where it cannot corrupt the frame stream.
    """
    sys.stdout.flush()
    frames_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(frames_fd, "wb")  # buffered: write() is complete, the writer flushes


class RunnerError(Exception):
    """A failure the runner has already put into words for the user (framework missing,
    device absent, model does not convert): reported verbatim, without the type name."""


def _one_line(exc):
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    if isinstance(exc, RunnerError) and text:
        return text[:300]
    line = "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__
    return line[:300]


class RawRows(object):
    """Clock readings from the hot loop, turned into LATENCY frames off the hot path.

    The hot loop only appends its two raw clock readings to one list (two C-level
    appends); the slow path calls :meth:`flush` every ~100 ms, which converts with
    numpy when it is there. Frames are the same as LatencyBuffer's. Per iteration this
    costs about 2/3 of a LatencyBuffer.add on 3.11 and well under half on 3.6, whose
    monotonic_ns fallback is a Python function (benchmarks/runner_overhead.py).
    """

    def __init__(self, writer, batch, period_s=0.1):
        self.writer = writer
        self.batch = batch
        self.period_ns = int(period_s * 1e9)
        self.raw = []  # t0, t1, t0, t1, ... ; the hot loop holds raw.append, so never rebind
        self.warmup = False
        ns_clock = getattr(time, "monotonic_ns", None)
        if ns_clock is not None:
            self.clock = ns_clock
            self.to_ns = _identity
            self.from_ns = _identity
        else:  # Python 3.6: float seconds of the same CLOCK_MONOTONIC
            self.clock = time.monotonic
            self.to_ns = _seconds_to_ns
            self.from_ns = _ns_to_seconds
        try:  # every framework runner has numpy; the plain path below is the fallback
            import numpy as np
        except ImportError:
            np = None
        self._np = np
        self.next_flush = _protocol.monotonic_ns() + self.period_ns

    def flush(self):
        raw = self.raw
        if raw:
            t_end, dur = self._convert(raw)
            del raw[:]
            self.writer.latency(t_end, dur, array("i", [self.batch]) * len(t_end), self.warmup)
        self.next_flush = _protocol.monotonic_ns() + self.period_ns

    def _convert(self, raw):
        """``(t_end, duration)`` as array('q') of nanoseconds from the raw readings."""
        np = self._np
        float_clock = self.to_ns is not _identity
        if np is not None:  # several times cheaper per row than the Python-level conversion
            a = np.array(raw, dtype=np.float64 if float_clock else np.int64)
            if float_clock:
                a = (a * 1e9).astype(np.int64)  # same truncation as int(t * 1e9)
            a = a.reshape(-1, 2)
            t_end, dur = array("q"), array("q")
            t_end.frombytes(np.ascontiguousarray(a[:, 1]).tobytes())  # native byte order
            dur.frombytes((a[:, 1] - a[:, 0]).tobytes())
            return t_end, dur
        t0 = raw[0::2]
        t1 = raw[1::2]
        if float_clock:
            t0 = list(map(int, map(_times_1e9, t0)))
            t1 = list(map(int, map(_times_1e9, t1)))
        return array("q", t1), array("q", map(operator.sub, t1, t0))

    def set_warmup(self, warmup):
        """Flush at the boundary so every frame is all warm-up or all measured."""
        if warmup != self.warmup:
            self.flush()
            self.warmup = warmup


class ClockScale(object):
    """The emulated board's CPU clock as a fraction of its maximum, read from the file edgemon names.

    Outside an emulated board (no ``EDGEMON_EMULATE_CPU_SCALE``) there is none and the timed loop
    is the plain one. ``stretch`` (>= 1) is how much longer each iteration must take: the loop
    busy-waits the difference, so the CPU stays busy as it would at the lower clock.
    """

    def __init__(self, path):
        self.path = path
        self.stretch = 1.0
        self.next_read = 0

    @classmethod
    def from_env(cls):
        path = os.environ.get(CPU_SCALE_ENV)
        return cls(path) if path else None

    def poll(self, now_ns):
        """The current stretch factor, re-reading the file at most every SCALE_READ_NS."""
        if now_ns >= self.next_read:
            self.next_read = now_ns + SCALE_READ_NS
            try:
                with open(self.path) as f:
                    scale = float(f.read().strip() or "1")
            except (OSError, ValueError):
                scale = 1.0
            self.stretch = 1.0 / scale if 0.01 <= scale < 0.999 else 1.0
        return self.stretch


def _identity(x):
    return x


_times_1e9 = functools.partial(operator.mul, 1e9)


def _seconds_to_ns(t):
    return int(t * 1e9)


def _ns_to_seconds(t):
    return t / 1e9


class _Session(object):
    """One runner process: build, hello, timed loop, bye."""

    def __init__(self, runner_name, framework, args, build, writer):
        self.runner_name = runner_name
        self.framework = framework
        self.args = args
        self.build = build
        self.writer = writer
        self.buf = None
        self.iterations = 0
        self.clock_scale = ClockScale.from_env()

    def can_stretch(self, model):
        """Whether every timed iteration goes through :meth:`loop`'s hot loops (so it can be stretched)."""
        return True

    def main(self):
        args = self.args
        self.writer.event("phase", name="build")
        t_build = _protocol.monotonic_ns()
        try:
            model = self.build(args)
        except Exception as exc:
            return self.fail(exc, "build")
        build_ms = (_protocol.monotonic_ns() - t_build) / 1e6
        self.writer.hello(self.hello_info(model, build_ms))
        self.buf = RawRows(self.writer, args.batch)
        control = _protocol.Control()
        try:
            reason = self.loop(model.run, control)
        except KeyboardInterrupt:
            reason = "stopped"
        except Exception as exc:
            return self.fail(exc, "run")
        self.buf.flush()
        self.writer.bye(reason, iterations=self.iterations)
        return EXIT_OK

    def hello_info(self, model, build_ms):
        args = self.args
        info = {
            "runner": self.runner_name,
            "framework": self.framework,
            "framework_version": model.framework_version,
            "device": model.device,
            "model": args.model,
            "inputs": model.inputs,
            "params": model.params,
            "gflops": model.gflops,
            "batch": args.batch,
            "threads": args.threads,
            "seed": args.seed,
            "options": args.opts,
            "warmup_iters": args.warmup_iters,
            "warmup_seconds": args.warmup_seconds,
            "duration": args.duration,
            "iterations": args.iterations,
            "build_ms": round(build_ms, 3),
            "pid": os.getpid(),
            "python": platform.python_version(),
            "python_executable": sys.executable,
        }
        if self.clock_scale is not None and self.can_stretch(model):
            info["clock_stretch"] = True   # the emulated board need not stop/continue this process
        for key, value in model.info.items():
            info.setdefault(key, value)
        return info

    def fail(self, exc, stage):
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        sys.stderr.flush()
        reason = _one_line(exc)
        if self.buf is not None:
            try:
                self.buf.flush()  # keep the iterations that completed
            except (BrokenPipeError, ConnectionResetError):
                raise
            except Exception:  # e.g. a MemoryError again: the error report matters more
                del self.buf.raw[:]
        self.writer.event("error", message="%s failed: %s" % (stage, reason), reason=reason,
                          traceback=tb, exception=type(exc).__name__, stage=stage)
        self.writer.bye("error", iterations=self.iterations)
        return EXIT_ERROR

    def loop(self, run, ctrl):
        """The timed loop. The inner loop touches locals only; everything else runs at most every 10 ms."""
        args = self.args
        rows = self.buf
        writer = self.writer
        now = _protocol.monotonic_ns
        clock, to_ns = rows.clock, rows.to_ns
        append = rows.raw.append
        warmup_n = args.warmup_iters
        warming = warmup_n > 0 or args.warmup_seconds > 0
        measured_limit = args.iterations

        # The first inference is timed on its own and reported separately (benchmark_app,
        # TFLite benchmark_model): it often includes lazy initialisation. Its row is always
        # flagged warm-up, so the statistics never contain it, whatever --warmup says.
        rows.set_warmup(True)
        c0 = clock()
        run()
        c1 = clock()
        append(c0)
        append(c1)
        rows.set_warmup(warming)
        n = 1
        start, t1 = to_ns(c0), to_ns(c1)
        first_ms = (t1 - start) / 1e6
        deadline = start + int(args.duration * 1e9) if args.duration else _NEVER
        warmup_end = start + int(args.warmup_seconds * 1e9)
        measured_from = 1  # the first inference is never a measured one
        if not warming:
            writer.event("warmup_done", t_ns=t1, iterations=0, seconds=0.0, first_inference_ms=first_ms)
        pace_at = None  # next start time when a rate cap is set

        hot = self.hot_loop(run, append, rows.from_ns)
        scale = self.clock_scale
        stretched = self.stretched_loop(run, append, rows.from_ns) if scale is not None else None
        try:
            while True:
                # ---- slow path: control, deadlines, phase changes, flushing
                if t1 >= rows.next_flush:
                    rows.flush()
                if ctrl.stopped:
                    return "stopped"
                if t1 >= deadline:
                    return "duration"
                if warming and n >= warmup_n and t1 >= warmup_end:
                    warming = False
                    rows.set_warmup(False)
                    measured_from = n
                    writer.event("warmup_done", t_ns=t1, iterations=n, seconds=(t1 - start) / 1e9,
                                 first_inference_ms=first_ms)
                if measured_limit and not warming and n - measured_from >= measured_limit:
                    return "done"
                if ctrl.paused:
                    # Acknowledge with the exact count: every row before it is already flushed.
                    self.settle()
                    rows.flush()
                    writer.event("pause", iterations=n)
                    ctrl.wait_while_paused()
                    pace_at = None
                    if ctrl.stopped:
                        return "stopped"
                    writer.event("resume", iterations=n)
                rate = ctrl.rate
                if rate:
                    pace_at = self.pace(ctrl, rate, pace_at, now)
                    if ctrl.stopped:
                        return "stopped"
                next_t = min(now() + CHECK_NS, deadline, rows.next_flush)
                if warming:
                    next_n = warmup_n if n < warmup_n else _NEVER
                    next_t = min(next_t, warmup_end)
                else:
                    next_n = measured_from + measured_limit if measured_limit else _NEVER
                if rate:
                    next_t = 0  # pacing needs the slow path after every iteration

                # ---- hot path: two clock reads and two list appends per iteration
                if stretched is not None and scale.poll(t1) > 1.0:
                    n, t1 = stretched(n, next_n, min(next_t, scale.next_read), scale.stretch)
                else:
                    n, t1 = hot(n, next_n, next_t)
        finally:
            self.iterations = max(self.iterations, n)  # hot() records its own count if run() raised

    def settle(self):
        """Finish work still in flight so every started iteration has its row (a pause ack
        counts them). Synchronous runners have none; the OpenVINO async session drains."""

    def hot_loop(self, run, append, from_ns):
        """``hot(n, next_n, next_t) -> (n, t1_ns)``: iterate until n >= next_n or t1 >= next_t.

        Locals only: raw clock readings go to a list, converted to frames at flush.
        """
        session = self
        clock = self.buf.clock
        to_ns = self.buf.to_ns

        def hot(n, next_n, next_t):
            next_c = from_ns(next_t)
            try:
                while True:
                    t0 = clock()
                    run()
                    t1 = clock()
                    append(t0)
                    append(t1)
                    n += 1
                    if n >= next_n or t1 >= next_c:
                        return n, to_ns(t1)
            except BaseException:
                session.iterations = n
                raise

        return hot

    def stretched_loop(self, run, append, from_ns):
        """Like :meth:`hot_loop` on an emulated board whose CPU clock is below its maximum: each
        iteration is held (busy) until it took ``stretch`` times its real duration, as every
        iteration is slower on a board whose clock fell. A loop of its own, so that the plain hot
        loop (every real board, every benchmark) pays nothing for it."""
        session = self
        clock = self.buf.clock
        to_ns = self.buf.to_ns

        def hot(n, next_n, next_t, stretch):
            next_c = from_ns(next_t)
            try:
                while True:
                    t0 = clock()
                    run()
                    t1 = clock()
                    end = t0 + (t1 - t0) * stretch
                    while t1 < end:
                        t1 = clock()
                    append(t0)
                    append(t1)
                    n += 1
                    if n >= next_n or t1 >= next_c:
                        return n, to_ns(t1)
            except BaseException:
                session.iterations = n
                raise

        return hot

    @staticmethod
    def pace(ctrl, rate, pace_at, now):
        """Sleep until the next start slot for ``rate`` iterations/s; no catching up after a stall."""
        interval = int(1e9 / rate)
        t = now()
        if pace_at is None or pace_at < t - interval:
            return t + interval
        while t < pace_at and not ctrl.stopped and not ctrl.paused:
            time.sleep(min((pace_at - t) / 1e9, 0.05))
            t = now()
        return pace_at + interval


def catalogue_json(models):
    return json.dumps(models, indent=2, sort_keys=True)


def run_main(runner_name, framework, models, build, argv=None, session_class=None):
    """Entry point of a runner script: ``sys.exit(run_main("numpy", "numpy", MODELS, build))``.

    ``build(args)`` may send events with ``args.emit(kind, **details)`` (also from the
    workload's own threads). When the built Model has a ``close()``, it is called as the
    timed loop ends, before the BYE frame, so nothing of the workload speaks after it.
    ``session_class``: a :class:`_Session` subclass for runners whose loop differs (the
    OpenVINO runner's asynchronous mode records one row per completed request).
    """
    args = parse_args(runner_name, argv)
    if args.list_models:
        sys.stdout.write(catalogue_json(models) + "\n")
        sys.stdout.flush()
        return EXIT_OK
    faulthandler.enable()  # a segfault in native code leaves a Python traceback on stderr
    out = _protocol.open_frames() or _claim_stdout()
    writer = _protocol.FrameWriter(out)
    args.emit = writer.event
    built = []

    def build_and_keep(a):
        model = build(a)
        built.append(model)
        return model

    def close_models():
        while built:
            close = getattr(built.pop(), "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:  # clean-up trouble must not hide the result
                    sys.stderr.write("%s: clean-up failed: %s\n" % (runner_name, exc))

    base = session_class or _Session

    class Session(base):
        def loop(self, run, ctrl):
            try:
                return base.loop(self, run, ctrl)
            finally:
                close_models()

    session = Session(runner_name, framework, args, build_and_keep, writer)
    try:
        try:
            return session.main()
        finally:
            close_models()
    except (BrokenPipeError, ConnectionResetError):
        # The monitor is gone; nobody is left to tell. Skip interpreter clean-up that
        # would try to flush into the dead pipe.
        os._exit(EXIT_MONITOR_GONE)
