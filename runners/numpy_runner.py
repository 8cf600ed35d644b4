"""numpy runner: small dense networks and a matmul stress test, with random float32 weights.

Needs nothing but numpy, so it runs wherever edgemon runs (and on JetPack's Python 3.6).
The dense models are the ones from Blanz, "Benchmarking NVIDIA's Jetson Nano for
Deep Learning Applications" (2019): same layer sizes and parameter counts.

    python numpy_runner.py --model mnist_1d --batch 1 [--opt key=value ...]
    python numpy_runner.py --list-models

Options (--opt key=value):
    size=N        matmul: multiply (batch, N, N) by (N, N); default 512
    dtype=NAME    float32 (default), float64 or float16

Test hooks (for edgemon's own death tests; not for benchmarking):
    crash_after=N         raise RuntimeError in iteration N+1
    segfault_after=N      die by a real SIGSEGV in iteration N+1
    hang_after=N          stop responding (sleep, ignore stop) from iteration N+1
    sleep_ms=X            sleep X ms inside every iteration (a slow, cheap model)
    print_every=N         print a line on stdout and on stderr every N iterations (output
                          must never reach the frames)
    alloc_mb_per_s=X      hold X more MB of touched memory per second (OOM tests)
    rlimit_as_extra_mb=X  cap the address space at its size after build + X MB, so
                          alloc_mb_per_s ends in a MemoryError instead of the OOM killer
"""

import os
import sys
import time

if __package__:
    from . import _common
    from . import _model_files
else:  # started as a script
    import _common
    import _model_files

RUNNER = "numpy"


def _dense_params(layers):
    return sum(n_in * n_out + n_out for n_in, n_out, _ in layers)


def _dense_gflops(layers):
    return round(sum(2.0 * n_in * n_out for n_in, n_out, _ in layers) / 1e9, 9)


_DENSE = {
    "mnist_1d": [(784, 512, "relu"), (512, 10, "softmax")],
    "imdb_dense": [(10000, 16, "relu"), (16, 16, "relu"), (16, 1, "sigmoid")],
    "reuters_dense": [(10000, 64, "relu"), (64, 64, "relu"), (64, 46, "softmax")],
}
_DENSE_TEXT = {
    "mnist_1d": "MNIST digits as 784-vectors: Dense 512 relu -> Dense 10 softmax",
    "imdb_dense": "IMDB reviews as 10000-word multi-hot vectors: Dense 16 relu -> 16 relu -> 1 sigmoid",
    "reuters_dense": "Reuters newswires as 10000-word multi-hot vectors: Dense 64 relu -> 64 relu -> 46 softmax",
}
MATMUL_SIZE = 512

# name -> input_shape (without the batch dimension), params, gflops (per item), description
MODELS = {}
for _name, _layers in _DENSE.items():
    MODELS[_name] = {
        "input_shape": [_layers[0][0]],
        "params": _dense_params(_layers),
        "gflops": _dense_gflops(_layers),
        "description": _DENSE_TEXT[_name],
    }
del _name, _layers
MODELS["matmul"] = {
    "input_shape": [MATMUL_SIZE, MATMUL_SIZE],
    "params": MATMUL_SIZE * MATMUL_SIZE,
    "gflops": round(2.0 * MATMUL_SIZE ** 3 / 1e9, 9),
    "description": "stress: (batch, N, N) @ (N, N) float32, N from --opt size=N (default 512)",
}

OPTIONS = {
    "size": "matmul matrix size N",
    "dtype": "float32, float64 or float16",
    "crash_after": "test hook: raise after N iterations",
    "segfault_after": "test hook: SIGSEGV after N iterations",
    "hang_after": "test hook: stop responding after N iterations",
    "sleep_ms": "test hook: sleep X ms per iteration",
    "print_every": "test hook: print a line on stdout and stderr every N iterations",
    "alloc_mb_per_s": "test hook: grow memory by X MB/s",
    "rlimit_as_extra_mb": "test hook: limit the address space to its size after build + X MB",
}
# What each option is when not given (`edgemon models --runner numpy` prints both).
OPTION_DEFAULTS = {"size": "512", "dtype": "float32", "crash_after": "never", "segfault_after": "never",
                   "hang_after": "never", "sleep_ms": "0", "alloc_mb_per_s": "0", "rlimit_as_extra_mb": "no limit",
                   "print_every": "never"}


def _activation(np, kind, h):
    if kind == "relu":
        np.maximum(h, 0, out=h)
    elif kind == "sigmoid":
        np.negative(h, out=h)
        np.exp(h, out=h)
        h += 1
        np.reciprocal(h, out=h)
    elif kind == "softmax":
        h -= h.max(axis=1, keepdims=True)
        np.exp(h, out=h)
        h /= h.sum(axis=1, keepdims=True)
    return h


def _build_dense(np, rng, layers, batch, dtype):
    weights = []
    for n_in, n_out, kind in layers:
        scale = (2.0 / n_in) ** 0.5  # He init keeps activations finite through the stack
        w = (rng.standard_normal((n_in, n_out)) * scale).astype(dtype)
        b = np.zeros(n_out, dtype=dtype)
        weights.append((w, b, kind))
    n_in = layers[0][0]
    if n_in == 10000:  # multi-hot word vectors, ~1% of the vocabulary present
        x = (rng.random_sample((batch, n_in)) < 0.01).astype(dtype)
    else:  # grey values in [0, 1)
        x = rng.random_sample((batch, n_in)).astype(dtype)

    def run():
        h = x
        for w, b, kind in weights:
            h = np.dot(h, w)
            h += b
            _activation(np, kind, h)
        return h

    params = sum(w.size + b.size for w, b, _ in weights)
    return run, x, params


def _build_matmul(np, rng, size, batch, dtype):
    a = rng.standard_normal((batch, size, size)).astype(dtype)
    w = rng.standard_normal((size, size)).astype(dtype)
    out = np.empty((batch, size, size), dtype=dtype)

    def run():
        return np.matmul(a, w, out=out)

    return run, a, w.size


def _int_opt(opts, key, default=0):
    return _common.int_option(opts, key, default)


def _float_opt(opts, key, default=0.0):
    try:
        return float(opts.get(key, default))
    except ValueError:
        raise ValueError("--opt %s=%s: expected a number" % (key, opts[key]))


def _segfault():
    try:
        import ctypes
        ctypes.string_at(0)  # a real invalid read in native code
    except Exception:
        pass
    import signal
    os.kill(os.getpid(), signal.SIGSEGV)


def _address_space_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _limit_address_space(extra_mb):
    import resource
    limit = (_address_space_mb() + extra_mb) * 1024 * 1024
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _with_test_hooks(np, run, opts):
    """Wrap ``run`` only when a hook is asked for, so normal runs pay nothing."""
    crash_after = _int_opt(opts, "crash_after")
    segfault_after = _int_opt(opts, "segfault_after")
    hang_after = _int_opt(opts, "hang_after")
    sleep_s = _float_opt(opts, "sleep_ms") / 1000.0
    alloc_rate = _float_opt(opts, "alloc_mb_per_s")
    print_every = _int_opt(opts, "print_every")
    if not (crash_after or segfault_after or hang_after or sleep_s or alloc_rate or print_every):
        return run
    state = {"n": 0, "t0": None, "held_mb": 0}
    hog = []

    def hooked():
        n = state["n"]
        if crash_after and n >= crash_after:
            raise RuntimeError("test hook crash_after=%d: simulated failure in iteration %d"
                               % (crash_after, n + 1))
        if segfault_after and n >= segfault_after:
            _segfault()
        if hang_after and n >= hang_after:
            sys.stderr.write("test hook hang_after=%d: hanging now\n" % hang_after)
            sys.stderr.flush()
            while True:  # unresponsive: never returns to the loop that reads stop
                time.sleep(3600)
        if alloc_rate:
            now = time.monotonic()
            if state["t0"] is None:
                state["t0"] = now
            want = int(alloc_rate * (now - state["t0"]))
            if want > state["held_mb"]:
                chunk = want - state["held_mb"]
                try:
                    hog.append(np.ones(chunk * 1024 * 1024, dtype=np.uint8))  # touched pages
                except MemoryError:
                    held = state["held_mb"]
                    del hog[:]
                    raise MemoryError("test hook alloc_mb_per_s: could not allocate %d MB more "
                                      "while holding %d MB" % (chunk, held))
                state["held_mb"] = want
        if sleep_s:
            time.sleep(sleep_s)
        if print_every and n % print_every == 0:
            print("test hook print_every: iteration %d" % (n + 1))
            sys.stdout.flush()
            sys.stderr.write("test hook print_every: iteration %d on stderr\n" % (n + 1))
        state["n"] = n + 1
        return run()

    return hooked


_DTYPES = ("float16", "float32", "float64")
_INT_OPTIONS = ("size", "crash_after", "segfault_after", "hang_after", "rlimit_as_extra_mb", "print_every")
_FLOAT_OPTIONS = ("sleep_ms", "alloc_mb_per_s")


def validate(spec):
    """A one-line problem with ``spec`` before any worker starts, or None."""
    return _model_files.problem_with(spec, MODELS, RUNNER, lambda s: _check_options(s.options))


def _check_options(opts):
    """``(dtype name, matmul size)``; ValueError for an option this runner cannot take."""
    _common.check_known_options(opts, OPTIONS, "numpy")
    dtype = opts.get("dtype", "float32").strip().lower()
    if dtype not in _DTYPES:
        raise ValueError("--opt dtype=%s: use float16, float32 or float64" % dtype)
    for key in _INT_OPTIONS:
        _int_opt(opts, key)
    for key in _FLOAT_OPTIONS:
        _float_opt(opts, key)
    size = _int_opt(opts, "size", MATMUL_SIZE)
    if size < 1:
        raise ValueError("--opt size=%d: must be >= 1" % size)
    return dtype, size


def build(args):
    import numpy as np

    opts = args.opts
    dtype, size = _check_options(opts)
    if args.model not in MODELS:
        raise ValueError("unknown model %r; choose one of: %s" % (args.model, ", ".join(sorted(MODELS))))
    dtype = np.dtype(dtype)
    rng = np.random.RandomState(args.seed)

    gflops = MODELS[args.model]["gflops"]
    if args.model == "matmul":
        run, x, params = _build_matmul(np, rng, size, args.batch, dtype)
        gflops = round(2.0 * size ** 3 / 1e9, 9)
    else:
        run, x, params = _build_dense(np, rng, _DENSE[args.model], args.batch, dtype)

    run = _with_test_hooks(np, run, opts)
    extra_mb = _int_opt(opts, "rlimit_as_extra_mb")
    if extra_mb:
        _limit_address_space(extra_mb)
    return _common.Model(
        run,
        inputs=[_common.input_info("input", x)],
        params=int(params),
        device="cpu",
        framework_version=np.__version__,
        gflops=gflops,
        info={"blas_threads": os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")},
    )


def main(argv=None):
    return _common.run_main(RUNNER, "numpy", MODELS, build, argv)


if __name__ == "__main__":
    sys.exit(main())
