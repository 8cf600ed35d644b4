"""stress runner: burn CPU cores, fill memory (into swap), burn the GPU, alone or together.

Each iteration of the main thread is timed like an inference, so the dashboard
shows the stress as throughput and latency: one float32 matrix product for
``cpu`` (and ``cpu+...``), one CUDA matrix product for ``gpu``, one allocation
step (then one re-touch of a held step) for ``memory``. Everything else runs
beside it until the runner stops.

    python stress_runner.py --model cpu --opt workers=4 --opt mode=processes
    python stress_runner.py --model cpu+memory --opt mem_mb=6000   # past RAM into swap
    python stress_runner.py --model all

Models: cpu, memory, gpu, cpu+memory, cpu+gpu, all (all = cpu+memory, plus the GPU
when PyTorch with CUDA is present; otherwise it says why in the hello and an event).
On an emulated Jetson (EDGEMON_EMULATED_BOARD set) without CUDA the GPU burn is a
stand-in: a CPU matrix product of at most 512 x 512 that the board counts as GPU work.

Options (--opt key=value):
    workers=N       CPU burners including the timed main thread (default: all cores)
    mode=M          threads (default; numpy releases the GIL) or processes
    size=N          CPU matrix size (default 512)
    mem_mb=N        memory to hold (default 512); allocated and touched in steps
    mem_step_mb=N   allocation step (default 64); one "memory" event per step
    gpu=1           add the GPU burn to any model (error result without CUDA PyTorch)
    gpu_size=N      GPU matrix size (default 4096)
--threads sets the BLAS threads of each CPU burner (default 1).
"""

import os
import subprocess
import sys
import threading
import time

if __package__:
    from . import _common
else:  # started as a script
    import _common

RUNNER = "stress"
PAGE = 4096
CPU_SIZE = 512
GPU_SIZE = 4096
MEM_MB = 512
MEM_STEP_MB = 64

_PARTS = {
    "cpu": ("cpu",),
    "memory": ("memory",),
    "gpu": ("gpu",),
    "cpu+memory": ("cpu", "memory"),
    "cpu+gpu": ("cpu", "gpu"),
    "all": ("cpu", "memory", "gpu?"),  # "?": the GPU only where PyTorch with CUDA is present
}


def _matmul_gflops(n):
    return round(2.0 * n ** 3 / 1e9, 9)


MODELS = {
    "cpu": {"input_shape": [CPU_SIZE, CPU_SIZE], "params": None, "gflops": _matmul_gflops(CPU_SIZE),
            "description": "CPU burn: float32 matmul on every core (workers=N, mode=threads|processes); "
                           "timed: one N x N product"},
    "memory": {"input_shape": [], "params": None, "gflops": None,
               "description": "memory pressure: hold mem_mb MB, allocated and touched in mem_step_mb steps "
                              "(past RAM into swap); timed: one step, then one re-touch of a held step"},
    "gpu": {"input_shape": [GPU_SIZE, GPU_SIZE], "params": None, "gflops": _matmul_gflops(GPU_SIZE),
            "description": "GPU burn: CUDA float32 matmul through PyTorch; timed: one product + synchronise"},
    "cpu+memory": {"input_shape": [CPU_SIZE, CPU_SIZE], "params": None, "gflops": _matmul_gflops(CPU_SIZE),
                   "description": "CPU burn while memory fills to mem_mb; timed: one CPU product"},
    "cpu+gpu": {"input_shape": [CPU_SIZE, CPU_SIZE], "params": None, "gflops": _matmul_gflops(CPU_SIZE),
                "description": "CPU and GPU burn together; timed: one CPU product"},
    "all": {"input_shape": [CPU_SIZE, CPU_SIZE], "params": None, "gflops": _matmul_gflops(CPU_SIZE),
            "description": "CPU + memory + GPU (the GPU where PyTorch with CUDA is present); "
                           "timed: one CPU product"},
}

OPTIONS = {
    "workers": "CPU burners including the timed thread",
    "mode": "threads or processes",
    "size": "CPU matrix size",
    "mem_mb": "memory to hold in MB",
    "mem_step_mb": "allocation step in MB",
    "gpu": "1: add the GPU burn (needs PyTorch with CUDA)",
    "gpu_size": "GPU matrix size",
}
# What each option is when not given (`edgemon models --runner stress` prints both).
OPTION_DEFAULTS = {"workers": "all cores", "mode": "threads", "size": "512", "mem_mb": "512", "mem_step_mb": "64",
                   "gpu": "0", "gpu_size": "4096"}

# A CPU burner process: dies with its parent (PR_SET_PDEATHSIG, and a getppid check).
_BURNER = r"""
import os, sys
size, parent = int(sys.argv[1]), int(sys.argv[2])
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
import numpy as np
rng = np.random.RandomState(os.getpid())
a = rng.standard_normal((size, size)).astype(np.float32)
b = rng.standard_normal((size, size)).astype(np.float32)
c = np.empty_like(a)
while os.getppid() == parent:
    np.matmul(a, b, out=c)
"""


def _int_opt(opts, key, default, minimum=1):
    return _common.int_option(opts, key, default, minimum, blank_is_default=True)


def _bool_opt(opts, key):
    raw = opts.get(key, "0").lower()
    if raw not in ("0", "1", "true", "false", "yes", "no", ""):
        raise ValueError("--opt %s=%s: use 1 or 0" % (key, opts[key]))
    return raw in ("1", "true", "yes")


def _parse(opts):
    _common.check_known_options(opts, OPTIONS, "stress")
    mode = opts.get("mode", "threads")
    if mode not in ("threads", "processes"):
        raise ValueError("--opt mode=%s: use threads or processes" % mode)
    return {
        "workers": _int_opt(opts, "workers", os.cpu_count() or 1),
        "mode": mode,
        "size": _int_opt(opts, "size", CPU_SIZE),
        "mem_mb": _int_opt(opts, "mem_mb", MEM_MB),
        "mem_step_mb": _int_opt(opts, "mem_step_mb", MEM_STEP_MB),
        "gpu": _bool_opt(opts, "gpu"),
        "gpu_size": _int_opt(opts, "gpu_size", GPU_SIZE),
    }


def validate(spec):
    """Bad options and models before any worker starts (called by edgemon's registry)."""
    if spec.model not in MODELS:
        return None  # the registry says "unknown model"
    try:
        _parse(spec.options)
    except ValueError as exc:
        return str(exc)
    return None


def probe():
    """Why this runner cannot run under this interpreter, or None (nothing imported; GPU burn is optional)."""
    try:
        import importlib.util
        found = importlib.util.find_spec("numpy") is not None
    except (ImportError, ValueError):
        found = False
    return None if found else "numpy is not installed"


class _Background(object):
    """Stress that runs beside the timed loop; the first exception is re-raised in the loop."""

    def __init__(self):
        self.stop = threading.Event()
        self.threads = []
        self.procs = []
        self.error = None

    def thread(self, name, target):
        def guarded():
            try:
                target()
            except BaseException as exc:  # reported by the timed loop as the run's error
                if self.error is None:
                    self.error = exc
        t = threading.Thread(target=guarded, name="stress-" + name)
        t.daemon = True
        t.start()
        self.threads.append(t)

    def check(self):
        if self.error is not None:
            raise self.error
        for p in self.procs:
            if p.poll() is not None:
                raise RuntimeError("a CPU burner process (pid %d) exited with code %s" % (p.pid, p.returncode))

    def close(self):
        self.stop.set()
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for t in self.threads:
            t.join(timeout=5)


class _Memory(object):
    """Holds up to ``target_mb`` in touched pages, one step per call; then re-touches held steps."""

    def __init__(self, np, target_mb, step_mb, emit):
        self.np = np
        self.target_mb = target_mb
        self.step_mb = step_mb
        self.emit = emit
        self.chunks = []
        self.held_mb = 0
        self.next_touch = 0
        self.t0 = None

    @property
    def full(self):
        return self.held_mb >= self.target_mb

    def step(self):
        if self.t0 is None:
            self.t0 = time.monotonic()
        if not self.full:
            mb = min(self.step_mb, self.target_mb - self.held_mb)
            try:
                chunk = self.np.empty(mb * 1024 * 1024, dtype=self.np.uint8)
                chunk[::PAGE] = 1  # one write per page commits it
            except MemoryError:
                raise MemoryError("stress memory: could not allocate %d MB more while holding %d MB of %d MB"
                                  % (mb, self.held_mb, self.target_mb))
            self.chunks.append(chunk)
            self.held_mb += mb
            self.emit("memory", held_mb=self.held_mb, target_mb=self.target_mb,
                      seconds=round(time.monotonic() - self.t0, 3))
            if self.full:
                self.emit("memory_target_reached", held_mb=self.held_mb,
                          seconds=round(time.monotonic() - self.t0, 3))
            return
        chunk = self.chunks[self.next_touch]  # swapped-out pages come back in here
        chunk[::PAGE] += 1
        self.next_touch = (self.next_touch + 1) % len(self.chunks)

    def background(self, stop):
        while not stop.is_set():
            self.step()
            if self.full:
                stop.wait(0.1)

    def release(self):
        del self.chunks[:]


def _cpu_product(np, rng, size):
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)
    c = np.empty_like(a)

    def run():
        return np.matmul(a, b, out=c)

    return run, a


STANDIN_SIZE = 512
EMULATED_BOARD_ENV = "EDGEMON_EMULATED_BOARD"


def _gpu_standin(size):
    """The GPU burn on an emulated board without CUDA: a CPU product the board counts as GPU use."""
    import numpy as np
    n = min(size, STANDIN_SIZE)
    rng = np.random.RandomState(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    c = np.empty_like(a)

    def run():
        np.matmul(a, b, out=c)

    name = "emulated %s GPU stand-in (CPU matmul %dx%d; no CUDA here)" % (os.environ[EMULATED_BOARD_ENV], n, n)
    return run, name, None


def _gpu_product(size):
    """``(run, name, torch version)``; RuntimeError with the reason when there is no CUDA PyTorch."""
    try:
        import torch
    except ImportError:
        if os.environ.get(EMULATED_BOARD_ENV):
            return _gpu_standin(size)
        raise RuntimeError("GPU stress needs PyTorch with CUDA; PyTorch is not installed for %s" % sys.executable)
    if not torch.cuda.is_available():
        if os.environ.get(EMULATED_BOARD_ENV):
            return _gpu_standin(size)
        raise RuntimeError("GPU stress needs PyTorch with CUDA; torch %s sees no CUDA device "
                           "(torch.cuda.is_available() is False)" % torch.__version__)
    a = torch.randn(size, size, device="cuda")
    b = torch.randn(size, size, device="cuda")
    c = torch.empty_like(a)
    sync = torch.cuda.synchronize

    def run():
        torch.matmul(a, b, out=c)
        sync()

    return run, torch.cuda.get_device_name(0), torch.__version__


def build(args):
    cfg = _parse(args.opts)
    if args.model not in MODELS:
        raise ValueError("unknown model %r; choose one of: %s" % (args.model, ", ".join(sorted(MODELS))))
    emit = getattr(args, "emit", None) or (lambda kind, **details: None)
    blas = str(args.threads or 1)  # each burner single-threaded unless --threads says otherwise
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = blas
    import numpy as np

    parts = list(_PARTS[args.model])
    gpu_note = None
    if "gpu?" in parts:
        parts.remove("gpu?")
        if cfg["gpu"]:
            parts.append("gpu")
    elif cfg["gpu"] and "gpu" not in parts:
        parts.append("gpu")
    gpu_optional = args.model == "all" and not cfg["gpu"]

    bg = _Background()
    rng = np.random.RandomState(args.seed)
    info = {"components": None, "mode": cfg["mode"], "blas_threads": int(blas)}
    try:
        gpu = None
        if "gpu" in parts or gpu_optional:
            try:
                gpu = _gpu_product(cfg["gpu_size"])
            except RuntimeError as exc:
                if not gpu_optional:
                    raise
                gpu_note = "skipped: %s" % exc
                emit("warning", message="GPU burn %s" % gpu_note, reason=str(exc))
            else:
                if "gpu" not in parts:
                    parts.append("gpu")
        info["components"] = parts
        if gpu is not None:
            info.update(gpu=gpu[1], torch_version=gpu[2], gpu_size=cfg["gpu_size"])
        elif gpu_note:
            info["gpu"] = gpu_note

        memory = None
        if "memory" in parts:
            memory = _Memory(np, cfg["mem_mb"], cfg["mem_step_mb"], emit)
            info.update(mem_mb=cfg["mem_mb"], mem_step_mb=cfg["mem_step_mb"])

        if "cpu" in parts:
            run, x = _cpu_product(np, rng, cfg["size"])
            timed, gflops = "cpu matmul %dx%d float32" % (cfg["size"], cfg["size"]), _matmul_gflops(cfg["size"])
            inputs = [_common.input_info("a", x)]
            info.update(workers=cfg["workers"], size=cfg["size"])
            for i in range(cfg["workers"] - 1):
                if cfg["mode"] == "threads":
                    burn, _ = _cpu_product(np, rng, cfg["size"])
                    bg.thread("cpu%d" % (i + 1), _loop_until(bg.stop, burn))
                else:
                    bg.procs.append(subprocess.Popen(
                        [sys.executable, "-c", _BURNER, str(cfg["size"]), str(os.getpid())],
                        stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(), close_fds=True))
            if bg.procs:
                info["burner_pids"] = [p.pid for p in bg.procs]
            if gpu is not None:
                bg.thread("gpu", _loop_until(bg.stop, gpu[0]))
            if memory is not None:
                bg.thread("memory", lambda: memory.background(bg.stop))
        elif "gpu" in parts:
            run = gpu[0]
            timed, gflops = "gpu matmul %dx%d float32" % (cfg["gpu_size"], cfg["gpu_size"]), \
                _matmul_gflops(cfg["gpu_size"])
            inputs = [{"name": "a", "shape": [cfg["gpu_size"], cfg["gpu_size"]], "dtype": "float32"}]
            if memory is not None:
                bg.thread("memory", lambda: memory.background(bg.stop))
        else:
            run = memory.step
            timed, gflops = "memory step %d MB, then re-touch" % cfg["mem_step_mb"], None
            inputs = []
        info["timed"] = timed
    except BaseException:
        bg.close()
        raise

    check = bg.check
    if bg.threads or bg.procs:
        def timed_run():
            check()
            return run()
    else:
        timed_run = run

    model = _common.Model(timed_run, inputs=inputs, params=None, device="gpu" if "gpu" in parts else "cpu",
                          framework_version=np.__version__, gflops=gflops, info=info)

    def close():
        bg.close()
        if memory is not None:
            memory.release()

    model.close = close
    return model


def _loop_until(stop, work):
    def loop():
        while not stop.is_set():
            work()
    return loop


def main(argv=None):
    return _common.run_main(RUNNER, "numpy", MODELS, build, argv)


if __name__ == "__main__":
    sys.exit(main())
