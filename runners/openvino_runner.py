"""openvino runner: OpenVINO IR (.xml) and ONNX models on CPU, GPU, NPU, MYRIAD or AUTO.

Built-in models are written as IR into the model cache on first use (see
``_openvino_models``); any .xml (with its .bin) or .onnx file works too.

    python openvino_runner.py --model mobilenet_v1 --opt device=CPU
    python openvino_runner.py --model model.xml --opt api=async --opt nireq=4 --opt hint=throughput

Synchronous mode (default) is benchmark_app's ``-api sync``: inputs are set once
on one InferRequest and each iteration is one ``infer()``. Asynchronous mode
(``api=async``) keeps ``nireq`` requests in flight through an AsyncInferQueue; each
completed request is one recorded iteration whose latency runs from its start to
its completion callback (benchmark_app's per-request latency).

Options (--opt key=value):
    device=NAME     CPU (default), GPU, GPU.1, NPU, MYRIAD (OpenVINO < 2022.3), AUTO, AUTO:GPU,CPU, ...
    api=sync|async  default sync
    nireq=N         async requests in flight (default: the compiled model's optimal number)
    hint=H          latency | throughput | cumulative_throughput | none
                    (default: latency for sync, throughput for async, as benchmark_app)
    streams=N       NUM_STREAMS (or AUTO)
    precision=P     INFERENCE_PRECISION_HINT, e.g. f32, f16, bf16
--threads sets INFERENCE_NUM_THREADS.
"""

import os
import sys

if __package__:
    from . import _cache, _common, _model_defs, _model_files
else:  # started as a script
    import _cache
    import _common
    import _model_defs
    import _model_files

RUNNER = "openvino"
ACCEPTS_MODEL_FILES = True
MODEL_SUFFIXES = (".xml", ".onnx")

MODELS = _model_defs.catalogue(channels_first=True)

OPTIONS = {
    "device": "CPU, GPU, NPU, MYRIAD, AUTO, or AUTO:/MULTI:/HETERO: lists",
    "api": "sync or async",
    "nireq": "async: requests in flight",
    "hint": "latency, throughput, cumulative_throughput or none",
    "streams": "NUM_STREAMS: a number or AUTO",
    "precision": "INFERENCE_PRECISION_HINT: f32, f16, bf16",
}
# What each option is when not given (`edgemon models --runner openvino` prints both).
OPTION_DEFAULTS = {"device": "CPU", "api": "sync", "nireq": "the device's optimal number",
                   "hint": "latency (sync), throughput (async)", "streams": "OpenVINO's choice",
                   "precision": "the device's"}

# Device plugins OpenVINO has had (MYRIAD/HDDL until 2022.3, GNA until 2024, VPUX became NPU).
KNOWN_DEVICES = ("CPU", "GPU", "NPU", "MYRIAD", "HDDL", "GNA", "VPUX", "HPU")
VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")
HINTS = {"latency": "LATENCY", "throughput": "THROUGHPUT", "tput": "THROUGHPUT",
         "cumulative_throughput": "CUMULATIVE_THROUGHPUT", "ctput": "CUMULATIVE_THROUGHPUT", "none": None}


def _device_parts(device):
    """``(virtual or None, [physical device names])`` of a device string like AUTO:GPU.1,CPU."""
    head, sep, rest = device.partition(":")
    if head.upper() in VIRTUAL_DEVICES:
        return head.upper(), [d.strip() for d in rest.split(",") if d.strip()] if sep else []
    return None, [device]


def _unknown_device(device):
    virtual, parts = _device_parts(device)
    for part in parts:
        base = part.split(".")[0].upper()
        if base not in KNOWN_DEVICES:
            return part
    if virtual is None and not parts:
        return device
    return None


def _parse(opts):
    _common.check_known_options(opts, OPTIONS, "openvino")
    device = opts.get("device", "CPU") or "CPU"
    bad = _unknown_device(device)
    if bad is not None:
        raise ValueError("OpenVINO knows no device %r; use CPU, GPU, NPU, MYRIAD (OpenVINO < 2022.3), "
                         "AUTO, or lists like AUTO:GPU,CPU" % bad)
    api = opts.get("api", "sync")
    if api not in ("sync", "async"):
        raise ValueError("--opt api=%s: use sync or async" % api)
    hint = opts.get("hint", "latency" if api == "sync" else "throughput").lower()
    if hint not in HINTS:
        raise ValueError("--opt hint=%s: use latency, throughput, cumulative_throughput or none" % hint)
    nireq = opts.get("nireq")
    if nireq is not None:
        if not nireq.isdigit() or int(nireq) < 1:
            raise ValueError("--opt nireq=%s: must be a whole number >= 1" % nireq)
        if api != "async":
            raise ValueError("--opt nireq needs --opt api=async (sync mode uses one request)")
        nireq = int(nireq)
    streams = opts.get("streams")
    if streams is not None and not (streams.isdigit() and int(streams) >= 1) and streams.upper() != "AUTO":
        raise ValueError("--opt streams=%s: a number >= 1 or AUTO" % streams)
    return {"device": device, "api": api, "hint": hint, "nireq": nireq, "streams": streams,
            "precision": opts.get("precision")}


def validate(spec):
    """A one-line problem with ``spec`` before any worker starts, or None (no framework imported)."""
    try:
        _parse(spec.options)
    except ValueError as exc:
        return str(exc)
    if spec.model not in MODELS and (_model_files.looks_like_path(spec.model) or os.path.exists(spec.model)):
        return _model_files.check(spec.model, MODEL_SUFFIXES, RUNNER)
    return None


def probe():
    """Why this runner cannot run under this interpreter, or None (nothing imported)."""
    if _model_files.missing_modules(("openvino",)):
        return "OpenVINO is not installed (pip install openvino)"
    return None


def _openvino():
    """``(ov module with Core/Tensor/AsyncInferQueue, version)``: 2023.1+ top level, older openvino.runtime."""
    try:
        import openvino as ov
        ov.Core  # noqa: B018 (2022.x has no top-level Core)
    except (ImportError, AttributeError):
        try:
            import openvino.runtime as ov
        except ImportError as exc:
            raise _common.RunnerError("OpenVINO is not installed (pip install openvino): %s" % exc)
    version = None
    try:
        version = ov.get_version()
    except Exception:
        pass
    return ov, version


def model_file(name, seed=0, root=None):
    """The cached IR (.xml; .bin beside it) of a built-in model, written on first use."""
    if __package__:
        from . import _openvino_models
    else:
        import _openvino_models
    ov, _ = _openvino()

    def write(path):
        model = _openvino_models.build(name, seed)
        save = getattr(ov, "save_model", None)
        if save is not None:
            save(model, path, compress_to_fp16=False)
        else:  # OpenVINO 2022.x
            from openvino.runtime import serialize
            serialize(model, path)

    filename = "%s-s%d-v%d.xml" % (name, seed, _openvino_models.GENERATOR_VERSION)
    return _cache.cached("openvino", filename, write, companions=(".bin",), root=root)


def _check_available(core, device):
    available = list(core.available_devices)
    virtual, parts = _device_parts(device)
    for part in parts:
        if part in available or (("." not in part) and any(a.split(".")[0] == part.upper() for a in available)):
            continue
        raise RuntimeError("device %s is not available to OpenVINO here; available devices: %s"
                           % (part, ", ".join(available) or "none"))
    return available


def _dtype(np, port):
    et = port.get_element_type()
    to_dtype = getattr(et, "to_dtype", None)
    if to_dtype is not None:
        return np.dtype(to_dtype())
    return np.dtype({"f32": "float32", "f16": "float16", "i64": "int64", "i32": "int32", "u8": "uint8",
                     "i8": "int8", "boolean": "bool"}.get(et.get_type_name(), "float32"))


def _reshape_for_batch(model, batch, name):
    new_shapes = {}
    for port in model.inputs:
        pshape = port.get_partial_shape()
        if pshape.rank.is_dynamic or len(pshape) == 0:
            continue
        dims = [d.get_length() if d.is_static else -1 for d in pshape]
        if dims[0] != batch or any(d < 0 for d in dims[1:]):
            if any(d < 0 for d in dims[1:]):
                raise ValueError("model %s has a dynamic input shape %s besides the batch; "
                                 "export it with fixed shapes" % (name, pshape))
            new_shapes[port] = [batch] + dims[1:]
    if new_shapes:
        try:
            model.reshape(new_shapes)
        except Exception as exc:
            raise ValueError("model %s cannot take batch %d: %s" % (name, batch, _ov_error(exc)))


class _Async(object):
    """An AsyncInferQueue whose completions become rows (start -> callback) for the timed loop.

    Completion callbacks run on OpenVINO threads and only append to ``done``; the
    main thread moves rows into the loop's buffer, so a flush never races a callback.
    """

    def __init__(self, queue):
        self.queue = queue
        self.done = []
        self.clock = None
        queue.set_callback(self._completed)

    def _completed(self, request, t0):
        self.done.extend((t0, self.clock()))  # one C call: atomic under the GIL

    def bind(self, clock):
        self.clock = clock

    def submit(self):
        self.queue.get_idle_request_id()  # wait for a free request, so t0 is its start, not our wait
        self.queue.start_async(None, self.clock())

    def move(self, raw):
        done = self.done
        n = len(done)
        if n:
            raw.extend(done[:n])
            del done[:n]

    def drain(self, raw):
        self.queue.wait_all()
        self.move(raw)


class _Session(_common._Session):
    """Asynchronous mode: the hot loop keeps requests in flight; one row per completed request.

    Requests in flight are drained (waited for) when an iteration limit is reached, on
    pause/stop, and at every check while warming up, so warm-up flags, --iterations
    and pause acknowledgements stay exact. In the measured phase the pipeline is never
    drained except at those limits; a time-based end (--duration) records the
    requests still in flight after it.
    """

    def can_stretch(self, model):
        return getattr(self.args, "async_pump", None) is None   # requests in flight are not stretched

    def loop(self, run, ctrl):
        pump = getattr(self.args, "async_pump", None)
        self._ctrl = ctrl
        try:
            return _common._Session.loop(self, run, ctrl)
        finally:
            if pump is not None:
                pump.drain(self.buf.raw)

    def settle(self):
        pump = getattr(self.args, "async_pump", None)
        if pump is not None:
            pump.drain(self.buf.raw)

    def hot_loop(self, run, append, from_ns):
        pump = getattr(self.args, "async_pump", None)
        if pump is None:
            return _common._Session.hot_loop(self, run, append, from_ns)
        session = self
        rows = self.buf
        clock, to_ns, raw = rows.clock, rows.to_ns, rows.raw
        ctrl = self._ctrl
        pump.bind(clock)

        def hot(n, next_n, next_t):
            next_c = from_ns(next_t)
            try:
                while True:
                    pump.submit()
                    n += 1
                    if n >= next_n or ctrl.paused or ctrl.stopped:
                        pump.drain(raw)
                        return n, to_ns(clock())
                    t = clock()
                    if t >= next_c:
                        if rows.warmup:  # so no warm-up request is flagged measured at the boundary
                            pump.drain(raw)
                            t = clock()
                        else:
                            pump.move(raw)
                        return n, to_ns(t)
            except BaseException:
                session.iterations = n
                raise

        return hot


def build(args):
    import numpy as np

    cfg = _parse(args.opts)
    ov, version = _openvino()
    core = ov.Core()
    _check_available(core, cfg["device"])
    if args.model in MODELS:
        path = model_file(args.model, args.seed)
    else:
        problem = _model_files.check(args.model, MODEL_SUFFIXES, RUNNER)
        if problem:
            raise ValueError(problem)
        path = os.path.abspath(args.model)
    try:
        model = core.read_model(path)
    except Exception as exc:
        raise ValueError("OpenVINO cannot read %s: %s" % (path, _ov_error(exc)))
    _reshape_for_batch(model, args.batch, args.model)

    config = {}
    hint = HINTS[cfg["hint"]]
    if hint:  # "none": no hint at all, the plugin's own defaults (benchmark_app -hint none)
        config["PERFORMANCE_HINT"] = hint
    if cfg["streams"]:
        config["NUM_STREAMS"] = cfg["streams"].upper()
    if args.threads:
        config["INFERENCE_NUM_THREADS"] = str(args.threads)
    if cfg["precision"]:
        config["INFERENCE_PRECISION_HINT"] = cfg["precision"]
    try:
        compiled = core.compile_model(model, cfg["device"], config)
    except Exception as exc:
        raise RuntimeError("OpenVINO could not compile %s for %s: %s" % (args.model, cfg["device"], _ov_error(exc)))

    rng = np.random.RandomState(args.seed)
    tensors, inputs = [], []
    for i, port in enumerate(compiled.inputs):
        if port.get_partial_shape().is_dynamic:
            raise ValueError("input %d of %s has a dynamic shape %s; export the model with fixed shapes"
                             % (i, args.model, port.get_partial_shape()))
        dtype = _dtype(np, port)
        shape = tuple(int(d) for d in port.get_shape())
        if dtype.kind == "f":
            x = rng.random_sample(shape).astype(dtype)
        elif dtype.kind == "b":
            x = rng.random_sample(shape) < 0.5
        else:
            x = rng.randint(0, 100, size=shape).astype(dtype)
        tensors.append(x)
        names = port.get_names()
        inputs.append(_common.input_info(sorted(names)[0] if names else "input%d" % i, x))

    def set_inputs(request):
        for i, x in enumerate(tensors):
            request.set_input_tensor(i, ov.Tensor(x))

    info = {"api": cfg["api"], "hint": cfg["hint"], "model_path": path,
            "available_devices": list(core.available_devices)}
    for key in ("NUM_STREAMS", "INFERENCE_NUM_THREADS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
                "INFERENCE_PRECISION_HINT"):
        try:
            info[key.lower()] = str(compiled.get_property(key))
        except Exception:
            pass
    args.async_pump = None
    if cfg["api"] == "sync":
        request = compiled.create_infer_request()
        set_inputs(request)
        run = request.infer
    else:
        nireq = cfg["nireq"] or 0  # 0: OpenVINO picks the optimal number
        queue = ov.AsyncInferQueue(compiled, nireq)
        for i in range(len(queue)):
            set_inputs(queue[i])
        info["nireq"] = len(queue)
        args.async_pump = _Async(queue)
        run = queue[0].infer  # the first inference (timed on its own) is synchronous, as in benchmark_app
    entry = MODELS.get(args.model, {})
    return _common.Model(run, inputs=inputs, params=entry.get("params"), device=cfg["device"],
                         framework_version=version, gflops=entry.get("gflops"), info=info)


def _ov_error(exc):
    """OpenVINO's messages start with "Exception from file:line" lines; keep the line that says why."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line for line in lines if not line.startswith("Exception from ")]
    text = reasons[0] if reasons else (lines[-1] if lines else type(exc).__name__)
    return text[:300]


def main(argv=None):
    return _common.run_main(RUNNER, "openvino", MODELS, build, argv, session_class=_Session)


if __name__ == "__main__":
    sys.exit(main())
